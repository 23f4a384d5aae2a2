"""The embedded default engine: DuckDB in-process over local files, through one SQLAlchemy Engine.

The interface every engine keeps (`Engine`, `QueryStats`) lives in base.py.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from sqlalchemy.pool import QueuePool

from ..catalog.declarations import Table
from ..errors import DataError, InputError, QueryError
from ..render import RenderedQuery
from . import adapt
from .base import QueryStats, quote, sql_string
from .estimate import ScanEstimate, estimate_listing
from .files import Files, Fingerprint, check_columns, digest, find, scan

ENV_DATA = "FEATUREKIT_DATA"
DUCKDB_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(38, 9)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",  # an offset in the data is kept: the value is the instant, shown in UTC
    "string": "VARCHAR",
    "bool": "BOOLEAN",
}


#: Run once, after the views exist: catalog SQL then reads and writes only inside the allowed folders, loads
#: no extension, and cannot SET any of this back (FACTS.md: allowed_directories must come before the switch-off).
LOCKDOWN = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET lock_configuration = true",
)

#: Where small JSON/CSV tables are kept in memory (see DuckDBEngine._snapshot); catalog SQL cannot name it.
SNAPSHOTS = "featurekit_snapshots"
#: JSON and CSV tables up to this many bytes of files are read once and kept in memory until a file changes.
SNAPSHOT_MAX_BYTES = 64 * 2**20


def _normal_type(name: str) -> str:
    return name.replace(" ", "").upper()


class DuckDBEngine:
    """DuckDB in-process over local files: each declared table becomes a view over its folder."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        data: str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
        allow: Iterable[str | os.PathLike[str]] = (),
        snapshot_max_bytes: int = SNAPSHOT_MAX_BYTES,
        file_check_interval: float = 0.0,
    ) -> None:
        """`allow` names further folders the engine may read or write (e.g. an `optimize --out` folder);
        the data root and each prepared table's location are allowed without asking. JSON and CSV tables
        whose files total at most `snapshot_max_bytes` are parsed once and kept in memory (0: never).

        Before every query the engine stats each file of the tables it reads, so a changed file is seen
        at once (and is another cache key). `file_check_interval` > 0 trusts a check for that many seconds:
        cache hits then cost no `stat`, and answers may be that long behind a file change."""
        if not 0 <= file_check_interval < math.inf:  # NaN fails too
            raise InputError("file_check_interval", f"must be a number of seconds >= 0, got {file_check_interval!r}")
        if not isinstance(snapshot_max_bytes, int) or isinstance(snapshot_max_bytes, bool) or snapshot_max_bytes < 0:
            raise InputError("snapshot_max_bytes", f"must be a whole number of bytes >= 0, got {snapshot_max_bytes!r}")
        chosen = data or os.environ.get(ENV_DATA)
        self.data = Path(chosen).expanduser().resolve() if chosen else None
        self._allowed: set[Path] = {Path(a).expanduser().resolve() for a in allow}
        if self.data is not None:
            self._allowed.add(self.data)
        self._locked = False
        # Every pooled connection is a cursor of one root connection: all threads see the same views, and
        # each inherits the root's settings, which is the only way to keep the progress bar off (a
        # per-connection setting) once the configuration is locked.
        self._root = duckdb.connect(config={"threads": threads} if threads else {})
        # DuckDB's own progress bar would print into the CLI's output on queries over 2 s. In Jupyter without
        # ipywidgets DuckDB refuses to touch the setting; nothing prints there.
        with contextlib.suppress(duckdb.Error):
            self._root.execute("SET enable_progress_bar = false")
        # TIMESTAMPTZ values compare with naive binds (:as_of_time, UTC) and come back in the session zone: make it UTC.
        self._root.execute("SET TimeZone = 'UTC'")
        self._root.execute(f"CREATE SCHEMA {SNAPSHOTS}")
        self.snapshot_max_bytes, self.file_check_interval = snapshot_max_bytes, file_check_interval
        self.sa = sa.create_engine(
            "duckdb:///:memory:",
            creator=lambda: ConnectionWrapper(self._root.cursor()),
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=16,
        )
        # Per view name: the declaration and the files (see files.Fingerprint) it was built from, and their
        # digest. A new, changed or removed file, or another declaration of the same name (another catalog
        # sharing this engine), makes the next prepare() build it again.
        self._ready: dict[str, tuple[Table, Fingerprint, str]] = {}
        self._checked: dict[str, tuple[Table, float]] = {}  # when that declaration's files were last checked
        self._locations: dict[str, Path] = {}  # per declared folder: it depends on nothing else (data is fixed)
        self._lock = threading.Lock()

    def adapt_sql(self, sql: str, where: str) -> str:
        """Catalog SQL is Athena SQL; DuckDB gets it transpiled by sqlglot."""
        return adapt.adapt(sql, self.dialect, where)

    def table_sql(self, table: Table) -> str:
        return quote(table.name)

    def location(self, table: Table) -> Path:
        """Where `table`'s files are: its folder, under the data root when relative (asked on every lookup)."""
        place = self._locations.get(table.folder)
        if place is None:
            place = self._locations[table.folder] = self._locate(table)
        return place

    def _locate(self, table: Table) -> Path:
        folder = table.folder
        if folder.startswith("s3://"):
            raise DataError(f"table {table.name!r} lives on S3 ({folder}); query it with --engine athena")
        path = Path(folder).expanduser()
        if path.is_absolute():
            return path
        if self.data is None:
            raise DataError(
                f"table {table.name!r}: no data folder set; pass --data DIR (or set {ENV_DATA}), "
                "e.g. after `featurekit sample-data --out DIR`"
            )
        return self.data / path

    def fingerprint(self, table: Table) -> str:
        """A digest of the files `table` is read from, as the last prepare() found them (it checks them before
        every query): the part of a cache key that changes when a file does."""
        with self._lock:
            ready = self._ready.get(table.name)
        if ready is not None and ready[0] == table:
            return ready[2]
        return digest(scan(table, self.location(table).resolve()), table)

    def view_sql(self, table: Table, files: Files | None = None) -> str:
        """CREATE VIEW over the table's files (listed, so hidden files stay out), every column typed as declared."""
        files = files or self._files(table)
        listed = "[" + ", ".join(sql_string(str(p)) for p in files.paths) + "]"
        columns = (
            "{" + ", ".join(f"{sql_string(c.name)}: {sql_string(DUCKDB_TYPES[c.type])}" for c in table.columns) + "}"
        )
        hive = ""
        if table.partitioned_by:
            types = ", ".join(f"{sql_string(c.name)}: {sql_string(DUCKDB_TYPES[c.type])}" for c in table.partitioned_by)
            hive = f", hive_partitioning = true, hive_types = {{{types}}}"
        if files.format == "json":
            source = f"read_json({listed}, format = 'newline_delimited', columns = {columns}{hive})"
        elif files.format == "csv":
            # Each file sniffed on its own (union_by_name): one dialect for all would read a file with other
            # line ends than the first as one line and lose its rows without a word.
            source = f"read_csv({listed}, header = true, union_by_name = true, types = {columns}{hive})"
        else:
            source = f"read_parquet({listed}{hive})"
        return f"CREATE OR REPLACE VIEW {quote(table.name)} AS SELECT {self._projection(table, source)} FROM {source}"

    def _projection(self, table: Table, source: str) -> str:
        """The declared columns, cast only where the files' type differs from the declared one.

        A no-op CAST is not free: it is computed for every row the scan returns, and a filter on a cast
        column cannot use Parquet min/max statistics to skip row groups.
        """
        try:
            with self.sa.connect() as conn:
                described = conn.exec_driver_sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except sa.exc.DBAPIError as exc:  # DuckDB reads a file's schema here: a corrupt one fails
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DataError(f"table {table.name!r}: cannot read its files: {reason}") from None
        found = {row[0]: _normal_type(row[1]) for row in described}
        columns = []
        for c in table.all_columns:
            wanted = DUCKDB_TYPES[c.type]
            if found.get(c.name) == _normal_type(wanted):
                columns.append(quote(c.name))
            else:  # a different type, or a column the files lack (the CAST then names it in DuckDB's error)
                columns.append(f"CAST({quote(c.name)} AS {wanted}) AS {quote(c.name)}")
        return ", ".join(columns)

    def _files(self, table: Table, scanned: Fingerprint | None = None) -> Files:
        place = self.location(table).resolve()
        return find(table, place, scan(table, place) if scanned is None else scanned)

    def _json_keys(self, conn: sa.Connection, paths: Sequence[Path]) -> dict[Path, list[set[str]]]:
        """The distinct key sets of the rows of each JSON file, read by DuckDB (one scan). Malformed lines are
        skipped here: the query that reads them reports them, and only if its window reaches them."""
        listed = "[" + ", ".join(sql_string(str(p)) for p in paths) + "]"
        rows = conn.exec_driver_sql(
            f"SELECT DISTINCT filename, list_sort(json_keys(json)) "
            f"FROM read_ndjson_objects({listed}, filename = true, ignore_errors = true) WHERE json IS NOT NULL"
        ).fetchall()
        found: dict[Path, list[set[str]]] = {}
        for name, keys in rows:
            found.setdefault(Path(name), []).append(set(keys))
        return found

    def prepare(self, tables: Iterable[Table]) -> None:
        """Create (or refresh, when its files changed) the view of each table; the first call then locks
        DuckDB to the allowed folders."""
        with self._lock:
            now = time.monotonic()
            todo: list[tuple[Table, Files]] = []
            checked: list[Table] = []
            for table in tables:
                last = self._checked.get(table.name)
                if last is not None and last[0] == table and now - last[1] < self.file_check_interval:
                    continue
                scanned = scan(table, self.location(table).resolve())
                checked.append(table)
                ready = self._ready.get(table.name)
                if ready is None or ready[:2] != (table, scanned):
                    todo.append((table, self._files(table, scanned)))
            if todo:
                self._refresh(todo)
            self._checked.update((t.name, (t, now)) for t in checked)

    def _refresh(self, todo: list[tuple[Table, Files]]) -> None:
        """(Re)create the views of `todo`, lock DuckDB down after the first, and snapshot the small ones."""
        places = {t.name: self.location(t).resolve() for t, _ in todo}
        if self._locked:
            for name, place in places.items():
                if not any(place.is_relative_to(a) for a in self._allowed):
                    raise DataError(
                        f"table {name!r}: {place} is outside the folders this engine is locked to "
                        f"({', '.join(sorted(map(str, self._allowed)))}); use a data root that holds every table"
                    )
        else:
            self._allowed.update(places.values())
        # DDL is committed on its own, so a later failing query cannot roll the views back.
        with self.sa.begin() as conn:
            if not self._locked:  # a table declared as one file allows that file, not its siblings
                for setting, keep in (("allowed_directories", Path.is_dir), ("allowed_paths", Path.is_file)):
                    listed = ", ".join(sql_string(str(a)) for a in sorted(self._allowed) if keep(a))
                    conn.exec_driver_sql(f"SET {setting} = [{listed}]")
            for table, files in todo:
                try:
                    check_columns(table, files, lambda paths: self._json_keys(conn, paths))
                    conn.exec_driver_sql(self.view_sql(table, files))
                except sa.exc.DBAPIError as exc:  # DuckDB reads a file's schema here: a corrupt one fails
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                    raise DataError(f"table {table.name!r}: cannot read its files: {reason}") from None
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SNAPSHOTS}.{quote(table.name)}")
            if not self._locked:
                for statement in LOCKDOWN:
                    conn.exec_driver_sql(statement)
                self._locked = True
        for table, files in todo:
            self._snapshot(table, files)
        # The declaration is part of the digest: the same files read as other columns are other rows.
        self._ready.update((t.name, (t, f.fingerprint, digest(f.fingerprint, t))) for t, f in todo)

    def _snapshot(self, table: Table, files: Files) -> None:
        """Keep a small JSON/CSV table in memory: parsing many small text files costs more than the query.

        The snapshot is the typed view's rows, so every query over it answers as the files would; it is
        rebuilt when prepare() sees a file change. If any value anywhere in the files fails to parse, there is
        no snapshot and the view keeps reading the files, so that the error surfaces only in a query whose
        window reaches that value, as on Athena. Parquet is not snapshotted: DuckDB prunes its files and row
        groups, which a snapshot would undo.
        """
        size = sum(entry[1] for entry in files.fingerprint)
        if files.format == "parquet" or size > self.snapshot_max_bytes:
            return
        name = quote(table.name)
        try:
            with self.sa.begin() as conn:
                conn.exec_driver_sql(f"CREATE TABLE {SNAPSHOTS}.{name} AS SELECT * FROM {name}")
                conn.exec_driver_sql(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {SNAPSHOTS}.{name}")
        except sa.exc.DBAPIError:
            return  # the view over the files stays; a query that reaches the bad value reports it

    def execute(self, query: RenderedQuery) -> tuple[pa.Table, QueryStats]:
        start = time.perf_counter()
        try:
            with self.sa.connect() as conn:
                result = conn.execute(query.statement(), query.bind_values())
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
                    table = result.cursor.to_arrow_table()
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise QueryError(f"view {query.view!r} failed on duckdb", reason=reason) from None
        elapsed = (time.perf_counter() - start) * 1000
        return table, QueryStats(self.name, query.view, query.sql_hash, len(query.entity_ids), table.num_rows, elapsed)

    def scan_estimate(self, table: Table, query: RenderedQuery) -> ScanEstimate:
        """The files and bytes `query` would read from `table`'s local files after partition pruning."""
        place = self.location(table).resolve()
        files = self._files(table)
        root = place if place.is_dir() else place.parent
        sizes = {entry[0]: entry[1] for entry in files.fingerprint}  # every visible file; paths are the table's
        listing = [(str(path.relative_to(root)), sizes[str(path)]) for path in files.paths]
        return estimate_listing(table, listing, query.sql, self.dialect, query.params, files.format)

    def close(self) -> None:
        self.sa.dispose()
        self._root.close()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
