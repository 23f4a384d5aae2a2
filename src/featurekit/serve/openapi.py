"""The OpenAPI 3.1 document of the feature server, generated from the declarations.

Each view gets its own path (`/v1/features/customer_orders`), so its request (the entity key's pattern, as_of,
each parameter's type, default and bounds) and its response (each feature's type) are typed.
"""

from __future__ import annotations

from typing import Any

from ..catalog.loader import Catalog
from ..llm.tools import JSON_TYPES, input_schema

FEATURE_TYPES: dict[str, dict[str, Any]] = {
    **{k: {"type": v} for k, v in JSON_TYPES.items()},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "timestamptz": {"type": "string", "format": "date-time"},  # the UTC instant, ISO 8601 with its +00:00
    "decimal": {"type": "number"},
}
_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {"description": "a problem", "content": {"application/problem+json": {"schema": _PROBLEM}}}
        for s in statuses
    }


def _request(catalog: Catalog, view: str, max_ids: int) -> dict[str, Any]:
    decl = catalog.view(view)
    single = input_schema(catalog, decl)
    key = catalog.entity(decl.entity).key
    id_schema = single["properties"][key]
    params = {k: v for k, v in single["properties"].items() if k not in (key, "as_of")}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": id_schema,
            "ids": {"type": "array", "items": id_schema, "minItems": 1, "maxItems": max_ids},
            "as_of": single["properties"]["as_of"],
            "params": {"type": "object", "additionalProperties": False, "properties": params},
        },
    }


def _response(catalog: Catalog, view: str) -> dict[str, Any]:
    decl = catalog.view(view)
    entity = catalog.entity(decl.entity)
    row: dict[str, Any] = {entity.key: {"type": "integer" if entity.key_type == "int" else "string"}}
    for f in decl.features:
        row[f.name] = {**FEATURE_TYPES[f.type], "description": f.description}
        if f.default is None:
            row[f.name] = {"anyOf": [row[f.name], {"type": "null"}]}
    return {
        "type": "object",
        "required": ["view", "rows", "provenance"],
        "properties": {
            "view": {"const": view},
            "rows": {"type": "array", "items": {"type": "object", "properties": row, "required": list(row)}},
            "provenance": {"$ref": "#/components/schemas/Provenance"},
        },
    }


def document(catalog: Catalog, max_ids: int) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/views": {"get": {"summary": "List the views this token may read", "responses": _ok("views")}},
        "/healthz": {"get": {"summary": "The process is up", "security": [], "responses": _ok("status")}},
        "/readyz": {
            "get": {
                "summary": "Catalog loaded, engine reachable, cache state",
                "security": [],
                "responses": {**_ok("status"), "503": {"description": "not ready"}},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}
                },
            }
        },
    }
    for name, decl in catalog.views.items():
        paths[f"/v1/views/{name}"] = {"get": {"summary": f"Describe {name}", "responses": _ok("view")}}
        paths[f"/v1/features/{name}"] = {
            "post": {
                "operationId": f"get_{name}",
                "summary": decl.description or name,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _request(catalog, name, max_ids)}},
                },
                "responses": {
                    "200": {
                        "description": "one row per ID, in the order asked",
                        "content": {
                            "application/json": {"schema": _response(catalog, name)},
                            "application/vnd.apache.arrow.stream": {
                                "schema": {"type": "string", "contentMediaType": "application/vnd.apache.arrow.stream"}
                            },
                        },
                    },
                    **_errors(401, 403, 404, 413, 422, 429, 502, 503, 504),
                },
            }
        }
    for name, prompt in catalog.prompts.items():
        paths[f"/v1/notes/{name}"] = {
            "post": {
                "operationId": f"note_{name}",
                "summary": prompt.description or f"Write the {name} note",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["id"],
                                "properties": {"id": {"type": "string"}, "as_of": {"type": "string", "format": "date"}},
                            }
                        }
                    },
                },
                "responses": {**_ok("note"), **_errors(401, 403, 404, 422, 429, 502, 504)},
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "featurekit feature server", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string", "description": "the CLI's one-line message"},
                    },
                },
                "Provenance": {
                    "type": "object",
                    "properties": {
                        "engine": {"type": "string"},
                        "view": {"type": "string"},
                        "as_of": {"type": "string", "format": "date"},
                        "queries_run": {"type": "integer"},
                        "cache_hits": {"type": "integer"},
                        "scanned_bytes": {"type": ["integer", "null"]},
                        "cost_usd": {"type": ["number", "null"]},
                        "queries": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    }


def _ok(what: str) -> dict[str, Any]:
    return {"200": {"description": what, "content": {"application/json": {"schema": {"type": "object"}}}}}
