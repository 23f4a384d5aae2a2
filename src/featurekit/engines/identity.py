"""Where an engine reads, and (for local files) what is there now: the part of a cache key the SQL does not name.

Two engines running the same SQL answer differently when they point at different data: another
`--data` folder, another Athena database or workgroup, another Trino host. And the same folder
answers differently once its files change. `where()` names all of it, so the feature cache
(cache_prefix) never answers one dataset's lookup with another's rows.

Local files are fingerprinted by name, size, mtime, ctime and inode (one `stat` per file, no reads;
the engine's own check before each query, files.scan, so a lookup lists the files once): rewriting,
replacing, adding or removing any file of a table changes the key of exactly the entries whose views
read that table. Hidden files (`_x`, `.x`), which no query reads, are not part of it. Remote data
(S3 behind Athena/Trino) is not listed: those entries live until the cache TTL ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable
from typing import Any

from ..catalog.declarations import Table
from ..render import RenderedQuery

#: What a feature cache entry's key is made of (shown by `featurekit cache stats`); any change is another key.
KEY_PARTS = (
    "view and its declaration (template version)",
    "the exact SQL the engine runs, qualified table names included",
    "engine location: DuckDB data root and table paths; Athena region, catalog, database, workgroup; "
    "Trino host, port, catalog, schema, user",
    "local files read: names, sizes, mtimes (a changed, added or removed file is another key)",
    "bound values: parameters and as_of",
    "the entity ID",
)

#: Engine settings that choose which data a query sees. Settings that only change how a query runs
#: (timeouts, retries, result reuse, cost guards) are left out: they do not change an answer.
LOCATION_SETTINGS = (
    "region",
    "data_catalog",
    "schema_name",
    "workgroup",
    "data_root",
    "endpoint_url",
    "aws_profile",
    "host",
    "port",
    "http_scheme",
    "user",
)


def where(engine: Any, tables: Iterable[Table]) -> tuple[tuple[str, str], ...]:
    """The engine's location settings and, for an engine over local files, each table's path and fingerprint."""
    named: list[tuple[str, str]] = [("engine", str(engine.name))]
    settings = getattr(engine, "settings", None)
    if settings is not None:
        named += [(k, str(getattr(settings, k))) for k in LOCATION_SETTINGS if hasattr(settings, k)]
    locate = getattr(engine, "location", None)  # engines over local files (DuckDB) say where a table's files are
    if locate is not None:
        named.append(("data", str(getattr(engine, "data", None))))
        for table in sorted({t.name: t for t in tables}.values(), key=lambda t: t.name):  # no dataclass hashing
            named.append((f"table {table.name}", f"{locate(table)} {engine.fingerprint(table)}"))
    return tuple(named)


def cache_prefix(engine: Any, query: RenderedQuery, tables: Iterable[Table]) -> tuple[Hashable, ...]:
    """Everything that decides a row besides the entity ID: the exact SQL this engine runs (qualified table
    names included), the view's declaration (template version), where the engine reads and what is there now
    (`where`), and every bound value, `as_of` included. Computed once per lookup."""
    params = tuple(sorted((k, v) for k, v in query.params.items() if k != "entity_ids"))
    decides = (query.template_version, query.sql, where(engine, tables), params)
    # One digest, not the nested tuple: a tuple's hash is not cached, and the key is hashed once per entity.
    # Not memoised on the tuple: 0.0 == -0.0 and True == 1 as keys, but their repr (and a query's answer) differ.
    return (query.view, hashlib.sha256(repr(decides).encode()).hexdigest())
