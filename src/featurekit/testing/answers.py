"""Answers for the Athena fake: each query the fake receives is run on DuckDB over local files, and its result is
handed back in Athena's wire shape (VarCharValue strings and ColumnInfo types), so PyAthena parses it as it would
parse Athena's.

The query text is the one featurekit sent to Athena (values inlined by PyAthena), with the Glue database stripped
from table names and transpiled to DuckDB by the same adapter the DuckDB engine uses.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from ..catalog import loader
from ..catalog.loader import Catalog
from ..engines.duckdb import DuckDBEngine
from .athena import column


def athena_type(arrow: pa.DataType) -> tuple[str, int, int]:
    """(Athena type name, precision, scale) of an Arrow column type, as GetQueryResults' ColumnInfo reports it."""
    if pa.types.is_decimal(arrow):
        return "decimal", arrow.precision, arrow.scale
    names = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "integer",
        pa.int64(): "bigint",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.date32(): "date",
    }
    if pa.types.is_timestamp(arrow):
        return "timestamp", 3, 0
    return names.get(arrow, "varchar"), 0, 0


def varchar_value(value: Any) -> dict[str, str]:
    """One cell as Athena sends it: absent for NULL, otherwise text the way Trino prints the value."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"VarCharValue": "true" if value else "false"}
    if isinstance(value, dt.datetime):
        return {"VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"}
    return {"VarCharValue": str(value)}


class DuckDBAnswers:
    """Computes the result of the Athena SQL the fake receives, on DuckDB over `data`, with the catalog's tables."""

    def __init__(self, catalog: Catalog | str | os.PathLike[str], data: str | os.PathLike[str]) -> None:
        self.catalog = catalog if isinstance(catalog, Catalog) else loader.load(catalog)
        self.engine = DuckDBEngine(data)
        self.engine.prepare(self.catalog.tables.values())

    def is_query(self, sql: str) -> bool:
        """True for a SELECT (a view's lookup); DDL and INSERT get moto's own empty answer."""
        try:
            return isinstance(sqlglot.parse_one(sql, read="athena"), exp.Query)
        except sqlglot.errors.SqlglotError:
            return False

    def result(self, sql: str) -> pa.Table:
        tree = sqlglot.parse_one(sql, read="athena")
        for table in tree.find_all(exp.Table):  # "default"."orders" on Athena is the view "orders" here
            table.set("db", None)
            table.set("catalog", None)
        duck = self.engine.adapt_sql(tree.sql(dialect="athena"), "the query sent to the Athena fake")
        with self.engine.sa.connect() as conn, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
            return conn.exec_driver_sql(duck).cursor.to_arrow_table()

    def results_body(self, sql: str, region: str) -> dict[str, Any]:
        """The body of moto's `/moto-api/static/athena/query-results` for the result of `sql`."""
        table = self.result(sql)
        columns: list[dict[str, Any]] = []
        for arrow_field in table.schema:
            kind, precision, scale = athena_type(arrow_field.type)
            columns.append({**column(arrow_field.name, kind), "Precision": precision, "Scale": scale})
        header = {"Data": [{"VarCharValue": n} for n in table.column_names]}
        rows = [{"Data": [varchar_value(v) for v in row.values()]} for row in table.to_pylist()]
        return {"region": region, "results": [{"rows": [header, *rows], "column_info": columns}]}

    def close(self) -> None:
        self.engine.close()
