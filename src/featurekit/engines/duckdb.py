"""The embedded default engine: DuckDB in-process over local files, through one SQLAlchemy Engine.

The interface every engine keeps (`Engine`, `QueryStats`) lives in base.py.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.pool import QueuePool

from ..catalog.declarations import Table
from ..errors import DataError, QueryError
from ..render import RenderedQuery
from . import adapt
from .base import QueryStats, quote, sql_string

ENV_DATA = "FEATUREKIT_DATA"
DUCKDB_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(38, 9)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
}


def _normal_type(name: str) -> str:
    return name.replace(" ", "").upper()


def _quiet_progress_bar(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET enable_progress_bar = false")
    except Exception:  # in Jupyter without ipywidgets DuckDB refuses to touch the setting; nothing prints there
        pass
    finally:
        cursor.close()


class DuckDBEngine:
    """DuckDB in-process over local files: each declared table becomes a view over its folder."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, data: str | os.PathLike[str] | None = None, *, threads: int | None = None) -> None:
        chosen = data or os.environ.get(ENV_DATA)
        self.data = Path(chosen).expanduser().resolve() if chosen else None
        # A named in-memory database is shared by every pooled connection, so all threads see the
        # same views; plain :memory: would give each thread an empty database of its own.
        config = {"threads": threads} if threads else {}
        self.sa = sa.create_engine(
            f"duckdb:///:memory:featurekit_{uuid.uuid4().hex}",
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=16,
            connect_args={"config": config},
        )
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        # DuckDB's own progress bar would print into the CLI's output on queries over 2 s; it is per connection.
        sa.event.listen(self.sa, "connect", _quiet_progress_bar)

    def adapt_sql(self, sql: str, where: str) -> str:
        """Catalog SQL is Athena SQL; DuckDB gets it transpiled by sqlglot."""
        return adapt.adapt(sql, self.dialect, where)

    def table_sql(self, table: Table) -> str:
        return quote(table.name)

    def location(self, table: Table) -> Path:
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

    def view_sql(self, table: Table) -> str:
        """CREATE VIEW over the table's files, with every column typed as declared."""
        folder = self.location(table)
        pattern = {"json": "*.json", "parquet": "*.parquet", "csv": "*.csv"}[table.format]
        if not folder.is_dir():
            raise DataError(f"table {table.name!r}: data folder {folder} does not exist")
        if next(folder.rglob(pattern), None) is None:
            raise DataError(f"table {table.name!r}: data folder {folder} has no {pattern} files")
        glob = sql_string(str(folder / "**" / pattern))
        columns = (
            "{" + ", ".join(f"{sql_string(c.name)}: {sql_string(DUCKDB_TYPES[c.type])}" for c in table.columns) + "}"
        )
        hive = ""
        if table.partitioned_by:
            types = ", ".join(f"{sql_string(c.name)}: {sql_string(DUCKDB_TYPES[c.type])}" for c in table.partitioned_by)
            hive = f", hive_partitioning = true, hive_types = {{{types}}}"
        if table.format == "json":
            source = f"read_json({glob}, format = 'newline_delimited', columns = {columns}{hive})"
        elif table.format == "csv":
            source = f"read_csv({glob}, header = true, columns = {columns}{hive})"
        else:
            source = f"read_parquet({glob}{hive})"
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

    def prepare(self, tables: Iterable[Table]) -> None:
        with self._lock:
            todo = [t for t in tables if t.name not in self._ready]
            if not todo:
                return
            # DDL is committed on its own, so a later failing query cannot roll the views back.
            with self.sa.begin() as conn:
                for table in todo:
                    try:
                        conn.exec_driver_sql(self.view_sql(table))
                    except sa.exc.DBAPIError as exc:  # DuckDB reads a file's schema here: a corrupt one fails
                        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                        raise DataError(f"table {table.name!r}: cannot read its files: {reason}") from None
            self._ready.update(t.name for t in todo)

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

    def close(self) -> None:
        self.sa.dispose()
