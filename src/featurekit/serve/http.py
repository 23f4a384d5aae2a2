"""The HTTP feature server: the catalog's views over HTTP, typed, authenticated, bounded and observable.

    GET  /v1/views                 the views this caller may read
    GET  /v1/views/{view}          one view: entity, parameters, features, input schema
    POST /v1/features/{view}       {"ids": [...]} or {"id": ...}, "as_of", "params" -> the same JSON as
                                   `featurekit get --format json` (Arrow IPC when the client accepts
                                   application/vnd.apache.arrow.stream)
    POST /v1/notes/{prompt}        {"id": ..., "as_of", "params"} -> a note; on an LLM failure, 502 with the features
    GET  /healthz, /readyz, /metrics, /openapi.json

Errors are application/problem+json whose `detail` is the CLI's one-line message. Lookups run in worker
threads; the event loop only parses, checks and answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .. import tracing
from ..errors import (
    ConfigError,
    DataError,
    FeaturekitError,
    InputError,
    LLMError,
    NotFoundError,
    QueryError,
    QueryThrottled,
    QueryTimeout,
)
from ..llm.providers import Provider, get_provider
from ..llm.tools import input_schema
from ..results import jsonable
from ..store import FeatureStore
from . import openapi
from .auth import Caller, Tokens
from .metrics import CONTENT_TYPE, Metrics

ARROW_STREAM = "application/vnd.apache.arrow.stream"
PROBLEM = "application/problem+json"
log = logging.getLogger("featurekit.serve")


@dataclass(frozen=True)
class Limits:
    """Bounds on one request; each exceeded bound is its own 4xx."""

    max_ids: int = 10_000
    max_body_bytes: int = 1_048_576
    request_timeout: float = 30.0
    max_concurrent_per_token: int = 4


class HTTPProblem(Exception):
    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, dict(headers or {}), extra


def problem_response(status: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    from http import HTTPStatus

    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status, headers=dict(headers or {}), media_type=PROBLEM)


def status_of(exc: FeaturekitError) -> int:
    """The HTTP status of a featurekit error: the caller's fault is 4xx, the engine's or model's 5xx."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, QueryTimeout):
        return 504
    if isinstance(exc, (QueryThrottled, DataError)):
        return 503
    if isinstance(exc, (QueryError, LLMError)):
        return 502
    return 500


@dataclass
class Server:
    """What every request handler shares: the store, who may call, the bounds, the counters."""

    store: FeatureStore
    tokens: Tokens
    limits: Limits = field(default_factory=Limits)
    provider: Provider | None = None
    metrics: Metrics = field(default_factory=Metrics)
    running: dict[str, int] = field(default_factory=dict)

    def caller(self, request: Request) -> Caller:
        if not self.tokens.enabled:
            return Caller("anonymous", None)
        caller = self.tokens.check(request.headers.get("authorization"))
        if caller is None:
            detail = "missing bearer token" if "authorization" not in request.headers else "invalid bearer token"
            raise HTTPProblem(401, detail, {"WWW-Authenticate": 'Bearer realm="featurekit"'})
        return caller

    def readable(self, caller: Caller, view: str) -> None:
        self.store.catalog.view(view)  # unknown view: 404 before any scope question
        if not caller.may_read(view):
            raise HTTPProblem(403, f"this token may not read view {view!r}")

    async def body(self, request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            raise HTTPProblem(413, f"request body is {declared} bytes; at most {self.limits.max_body_bytes}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise HTTPProblem(413, f"request body exceeds {self.limits.max_body_bytes} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPProblem(400, f"request body is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise HTTPProblem(400, "request body must be a JSON object")
        return value

    async def run(self, caller: Caller, work: Callable[[], Any]) -> Any:
        """Run a lookup in a worker thread, within this caller's concurrency and the request time limit."""
        if self.running.get(caller.name, 0) >= self.limits.max_concurrent_per_token:
            raise HTTPProblem(
                429,
                f"at most {self.limits.max_concurrent_per_token} concurrent lookups per token",
                {"Retry-After": "1"},
            )
        self.running[caller.name] = self.running.get(caller.name, 0) + 1
        self.metrics.inflight.inc()

        def release(_: object = None) -> None:
            self.running[caller.name] -= 1
            self.metrics.inflight.dec()

        task = asyncio.ensure_future(run_in_threadpool(work))
        try:
            result = await asyncio.wait_for(asyncio.shield(task), self.limits.request_timeout)
        except BaseException as exc:
            # A worker thread cannot be stopped: its slot stays taken until it ends, so the limit bounds real work.
            if task.done():
                release()
            else:
                task.add_done_callback(release)
            if isinstance(exc, asyncio.TimeoutError):
                raise HTTPProblem(504, f"request took longer than {self.limits.request_timeout:g} s") from None
            raise
        release()
        return result

    def ready(self) -> tuple[int, dict[str, Any]]:
        """Catalog loaded, engine reachable (every table's files readable), cache tier up or degraded."""
        checks: dict[str, Any] = {"catalog": f"{len(self.store.catalog.views)} views"}
        status = 200
        try:
            self.store.engine.prepare(self.store.catalog.tables.values())
            checks["engine"] = f"{self.store.engine.name}: ok"
        except FeaturekitError as exc:
            checks["engine"] = f"{self.store.engine.name}: {str(exc).splitlines()[0]}"
            status = 503
        tier = self.store.cache.tier if self.store.cache is not None else None
        ping = getattr(tier, "ping", None)
        if ping is None:
            checks["cache"] = "in-process" if tier is None else "disk"
        elif ping():
            checks["cache"] = "shared: ok"
        else:
            checks["cache"] = f"degraded ({getattr(tier, 'degraded', None)}); lookups answer from the engine"
        degraded = ping is not None and checks["cache"] != "shared: ok"
        state = "unavailable" if status != 200 else "degraded" if degraded else "ok"
        return status, {"status": state, "checks": checks}


def _ids(body: Mapping[str, Any], limits: Limits) -> list[Any]:
    if "ids" in body and "id" in body:
        raise HTTPProblem(422, "ids: give either 'id' or 'ids', not both")
    ids = body.get("ids", [body["id"]] if "id" in body else None)
    if ids is None:
        raise HTTPProblem(422, "ids: no IDs given; send {'id': ...} or {'ids': [...]}")
    if not isinstance(ids, list) or not ids:
        raise HTTPProblem(422, "ids: must be a non-empty list of IDs")
    if len(ids) > limits.max_ids:
        raise HTTPProblem(422, f"ids: {len(ids)} IDs; at most {limits.max_ids} per request")
    for entity_id in ids:
        if isinstance(entity_id, bool) or not isinstance(entity_id, (str, int)):
            raise HTTPProblem(422, f"ids: {json.dumps(entity_id)[:60]} is not a string or integer ID")
    return ids


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    params = body.get("params")
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise HTTPProblem(422, "params: must be an object of parameter names to values")
    unknown = set(body) - {"id", "ids", "as_of", "params"}
    if unknown:
        raise HTTPProblem(422, f"unknown field(s) {', '.join(sorted(unknown))}; expected id, ids, as_of, params")
    return params


def create_app(
    store: FeatureStore,
    *,
    tokens: Tokens | None = None,
    limits: Limits | None = None,
    provider: Provider | str = "offline",
    extra_routes: list[BaseRoute] | None = None,
    lifespan: Any = None,
) -> Starlette:
    """The ASGI app over one store. `extra_routes` mounts more (the MCP endpoint) behind the same auth."""
    server = Server(
        store,
        tokens or Tokens(()),
        limits or Limits(),
        get_provider(provider) if isinstance(provider, str) else provider,
    )

    async def respond(
        request: Request, handler: Callable[..., Awaitable[Response]], auth: bool
    ) -> tuple[Response, str]:
        """The handler's response, or the problem it raised; and who asked (a name safe to log)."""
        caller = Caller("-", None)
        try:
            caller = server.caller(request) if auth else Caller("anonymous", None)
            return await handler(request, caller), caller.name
        except HTTPProblem as exc:
            return problem_response(exc.status, exc.detail, exc.headers, **exc.extra), caller.name
        except LLMError as exc:  # the features survive a model failure: they are in `partial`
            partial = exc.partial.to_json() if hasattr(exc.partial, "to_json") else None
            return problem_response(502, str(exc).splitlines()[0], partial=partial), caller.name
        except FeaturekitError as exc:
            return problem_response(status_of(exc), str(exc).splitlines()[0]), caller.name

    def route(path: str, methods: list[str], auth: bool = True):
        def wrap(handler: Callable[..., Awaitable[Response]]) -> Route:
            async def endpoint(request: Request) -> Response:
                start = time.perf_counter()
                attributes = {"http.request.method": request.method, "http.route": path}
                parent = tracing.extract(request.headers)  # the caller's trace continues here
                with tracing.span(f"{request.method} {path}", attributes, context=parent, kind="server") as span:
                    response, caller_name = await respond(request, handler, auth)
                    span.set_attribute("http.response.status_code", response.status_code)
                elapsed = time.perf_counter() - start
                server.metrics.requests.labels(path, request.method, str(response.status_code)).inc()
                server.metrics.latency.labels(path).observe(elapsed)
                # The route template and the caller's name only: no IDs, values or tokens reach the log.
                log.info("%s %s %s %s %.1fms", request.method, path, response.status_code, caller_name, elapsed * 1e3)
                return response

            return Route(path, endpoint, methods=methods)

        return wrap

    @route("/healthz", ["GET"], auth=False)
    async def healthz(request: Request, caller: Caller) -> Response:
        return JSONResponse({"status": "ok"})

    @route("/readyz", ["GET"], auth=False)
    async def readyz(request: Request, caller: Caller) -> Response:
        status, body = await run_in_threadpool(server.ready)
        return JSONResponse(body, status)

    @route("/metrics", ["GET"])
    async def metrics(request: Request, caller: Caller) -> Response:
        return Response(server.metrics.text(), media_type=CONTENT_TYPE)

    @route("/openapi.json", ["GET"], auth=False)
    async def openapi_json(request: Request, caller: Caller) -> Response:
        return JSONResponse(openapi.document(store.catalog, server.limits.max_ids))

    @route("/v1/views", ["GET"])
    async def views(request: Request, caller: Caller) -> Response:
        return JSONResponse({"views": [describe(store, v) for v in store.catalog.views if caller.may_read(v)]})

    @route("/v1/views/{view}", ["GET"])
    async def view(request: Request, caller: Caller) -> Response:
        name = request.path_params["view"]
        server.readable(caller, name)
        return JSONResponse(describe(store, name))

    @route("/v1/features/{view}", ["POST"])
    async def features(request: Request, caller: Caller) -> Response:
        name = request.path_params["view"]
        server.readable(caller, name)
        body = await server.body(request)
        ids, params = _ids(body, server.limits), _params(body)
        frame = await server.run(caller, lambda: store.get_frame(name, ids, as_of=body.get("as_of"), params=params))
        server.metrics.lookup(name, store.engine.name, frame.provenance, len(frame))
        if ARROW_STREAM in request.headers.get("accept", ""):
            return Response(arrow_bytes(frame.table), media_type=ARROW_STREAM)
        return JSONResponse(frame.to_json())

    @route("/v1/notes/{prompt}", ["POST"])
    async def notes(request: Request, caller: Caller) -> Response:
        name = request.path_params["prompt"]
        decl = store.catalog.prompt(name)
        for v in decl.views:
            server.readable(caller, v)
        body = await server.body(request)
        ids, params = _ids(body, Limits(max_ids=1)), _params(body)
        assert server.provider is not None
        written = server.provider
        note = await server.run(
            caller, lambda: store.note(name, ids[0], provider=written, as_of=body.get("as_of"), params=params)
        )
        server.metrics.tokens(name, note.completion.usage)
        return JSONResponse(note.to_json())

    routes: list[BaseRoute] = [healthz, readyz, metrics, openapi_json, views, view, features, notes]

    async def no_route(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        detail = f"no route {request.method} {request.url.path[:200]!r}" if status in (404, 405) else str(exc)
        return problem_response(status, detail)

    app = Starlette(
        routes=routes + list(extra_routes or []),
        lifespan=lifespan,
        exception_handlers={404: no_route, 405: no_route},
    )
    app.state.server = server
    return app


def describe(store: FeatureStore, name: str) -> dict[str, Any]:
    """A view as the API shows it: what it is, what it takes, what it returns."""
    decl = store.catalog.view(name)
    entity = store.catalog.entity(decl.entity)
    return {
        "name": decl.name,
        "description": decl.description,
        "entity": {"name": entity.name, "key": entity.key, "pattern": entity.pattern, "type": entity.key_type},
        "parameters": [
            {
                "name": p.name,
                "type": p.type,
                "default": jsonable(p.default),
                "min": p.min,
                "max": p.max,
                "description": p.description,
            }
            for p in decl.parameters
        ],
        "features": [{"name": f.name, "type": f.type, "description": f.description} for f in decl.features],
        "input_schema": input_schema(store.catalog, decl),
    }


def arrow_bytes(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def check_bind(host: str, tokens: Tokens) -> None:
    """Refuse to serve beyond this machine without tokens: an open feature API is a data leak."""
    if not tokens.enabled and host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("--host", f"binding {host} needs tokens (--tokens-file or FEATUREKIT_TOKENS)")
