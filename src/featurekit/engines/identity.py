"""Where an engine reads, and (for local files) what is there now: the part of a cache key the SQL does not name.

Two engines running the same SQL answer differently when they point at different data: another
`--data` folder, another Athena database or workgroup, another Trino host. And the same folder
answers differently once its files change. `where()` names all of it, so the feature cache
(FeatureStore._cache_prefix) never answers one dataset's lookup with another's rows.

Local files are fingerprinted by name, size, mtime, ctime and inode (one `stat` per file, no reads):
rewriting, replacing, adding or removing any file of a table changes the key of exactly the
entries whose views read that table. Remote data (S3 behind Athena/Trino) is not listed: those
entries live until the cache TTL ends.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..catalog.declarations import Table

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
        for table in sorted(set(tables), key=lambda t: t.name):
            path = Path(locate(table))
            named.append((f"table {table.name}", f"{path} {fingerprint(path)}"))
    return tuple(named)


def fingerprint(path: Path) -> str:
    """A digest of the names, sizes and times of every file under `path` (or of `path` itself, a file)."""
    digest = hashlib.sha256()
    for name, st in sorted(_stat_all(path)):
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode())
    return digest.hexdigest()[:32]


def _stat_all(path: Path) -> Iterable[tuple[str, os.stat_result]]:
    try:
        if not path.is_dir():
            yield path.name, path.stat()
            return
    except FileNotFoundError:
        return  # a missing path is its own state; reading it fails with a DataError elsewhere
    stack = [(str(path), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = prefix + entry.name
                if entry.is_dir(follow_symlinks=True):
                    stack.append((entry.path, name + "/"))
                else:
                    yield name, entry.stat(follow_symlinks=True)
