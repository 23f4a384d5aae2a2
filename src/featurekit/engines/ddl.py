"""DDL from declarations: Athena CREATE EXTERNAL TABLE (with partition projection), CREATE DATABASE,
and `optimize`: raw JSON rewritten as compressed, dt-partitioned Parquet (Athena CTAS + INSERT INTO,
or DuckDB COPY ... PARTITION_BY locally).

Identifiers come only from declarations and are quoted; locations come from settings. Values a
caller gives (partition date ranges) are bound parameters, never written into the SQL by us.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..catalog import layouts
from ..catalog.declarations import Table
from ..errors import ConfigError, InputError

#: Hive DDL column types (CREATE EXTERNAL TABLE speaks Hive, not Trino).
HIVE_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(38,9)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "string": "STRING",
    "bool": "BOOLEAN",
}
#: Athena's CTAS writes at most 100 partitions per statement; longer ranges are split into INSERT INTOs.
MAX_PARTITIONS_PER_STATEMENT = 100
FILE_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
Compression = Literal["ZSTD", "SNAPPY", "GZIP"]


@dataclass(frozen=True)
class Statement:
    """One SQL statement to run, with the values bound to its `:name` binds."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = "ddl"


def hive_quote(identifier: str) -> str:
    """A Hive DDL identifier (backticks); declarations already restrict names to [a-z0-9_]."""
    return "`" + identifier.replace("`", "``") + "`"


def trino_quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    """A configuration string (a location, a format) as a Trino SQL literal; never used for caller values."""
    return "'" + value.replace("'", "''") + "'"


def hive_literal(value: str) -> str:
    """A string literal in Athena DDL, which is Hive: quotes are escaped with a backslash, not doubled."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def location(table: Table, data_root: str | None) -> str:
    """The table's s3:// folder, ending in `/`: absolute `path`, or data_root + path (default: the table name)."""
    folder = table.folder
    if not folder.startswith("s3://"):
        if not data_root:
            raise ConfigError(
                "data_root",
                f"table {table.name!r} has a relative path ({folder}); set data_root "
                "(s3://bucket/prefix/) in the profile or FEATUREKIT_ATHENA_DATA_ROOT",
            )
        folder = data_root.rstrip("/") + "/" + folder.strip("/")
    if folder.rsplit("/", 1)[-1].endswith(FILE_SUFFIXES):
        # Athena reads folders: a table declared as one file is the folder holding it (keep the file alone there).
        folder = folder.rsplit("/", 1)[0]
    return folder.rstrip("/") + "/"


def create_database(database: str) -> Statement:
    return Statement(f"CREATE DATABASE IF NOT EXISTS {hive_quote(database)}", label=f"create database {database}")


def create_table(
    table: Table,
    *,
    database: str,
    data_root: str | None,
    today: dt.date | None = None,
) -> Statement:
    """CREATE EXTERNAL TABLE for Athena, with partition projection for the table's declared layout.

    Projection lets Athena compute the partitions from the range instead of reading them from
    Glue, so new days need no MSCK REPAIR / ALTER TABLE ADD PARTITION. The range runs from the
    declared partition_start to today (layouts.projection_start).
    """
    where = location(table, data_root)
    columns = ",\n".join(f"  {hive_quote(c.name)} {HIVE_TYPES[c.type]}{_comment(c.description)}" for c in table.columns)
    lines = [f"CREATE EXTERNAL TABLE IF NOT EXISTS {hive_quote(database)}.{hive_quote(table.name)} (", columns, ")"]
    if table.description:
        lines.append(f"COMMENT {hive_literal(table.description)}")
    if table.partitioned_by:
        parts = ", ".join(f"{hive_quote(c.name)} {HIVE_TYPES[c.type]}" for c in table.partitioned_by)
        lines.append(f"PARTITIONED BY ({parts})")
    # Athena cannot look at the files before the table exists: `auto` is created over JSON lines, the format of
    # `sample-data` and the tutorial's upload; Parquet behind it fails loudly (HIVE_BAD_DATA), never silently.
    fmt = "json" if table.format == "auto" else table.format
    if fmt == "json":
        # One JSON object per line; pretty-printed JSON fails with HIVE_CANNOT_OPEN_SPLIT.
        lines += [
            "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
            "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false')",
            "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'",
            "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'",
        ]
    elif fmt == "csv":
        # LazySimpleSerDe types its columns (OpenCSVSerDe reads every column as a string) and skips the header.
        lines += ["ROW FORMAT DELIMITED FIELDS TERMINATED BY ','", "STORED AS TEXTFILE"]
    else:
        lines.append("STORED AS PARQUET")
    lines.append(f"LOCATION {hive_literal(where)}")
    props: dict[str, str] = {}
    if fmt == "csv":
        props["skip.header.line.count"] = "1"
    if fmt == "parquet":
        props["parquet.compression"] = "ZSTD"
    props.update(layouts.projection(table, where, today or dt.datetime.now(dt.timezone.utc).date()))
    if props:
        body = ",\n".join(f"  {hive_literal(k)} = {hive_literal(v)}" for k, v in props.items())
        lines.append(f"TBLPROPERTIES (\n{body}\n)")
    return Statement("\n".join(lines), label=f"create table {table.name}")


def _comment(text: str) -> str:
    return f" COMMENT {hive_literal(text)}" if text else ""


def parquet_name(table: Table) -> str:
    return f"{table.name}_parquet"


def optimize_athena(
    table: Table,
    *,
    database: str,
    data_root: str | None,
    start: dt.date,
    end: dt.date,
    target: str | None = None,
    compression: Compression = "ZSTD",
    external_location: str | None = None,
) -> list[Statement]:
    """CTAS to Parquet for the first ≤100 days of [start, end], then INSERT INTO for the rest.

    The target is written under data_root/<target>/ unless `external_location` says where. To add days
    to an existing table, use `featurekit load` (engines/load.py): it replaces days instead of appending.
    """
    if end < start:
        raise InputError("--until", f"{end} is before --since {start}")
    if not any(c.name == "dt" for c in table.partitioned_by):
        raise InputError("table", f"{table.name!r} has no dt partition column to optimize by")
    target = target or parquet_name(table)
    source = f"{trino_quote(database)}.{trino_quote(table.name)}"
    dest = f"{trino_quote(database)}.{trino_quote(target)}"
    # Partition columns last, as CTAS requires.
    select = ", ".join(trino_quote(c.name) for c in table.columns + table.partitioned_by)
    where_root = external_location or location(Table(name=target, columns=table.columns, path=target), data_root)
    statements: list[Statement] = []
    day = start
    while day <= end:
        last = min(end, day + dt.timedelta(days=MAX_PARTITIONS_PER_STATEMENT - 1))
        params = {"start": day.isoformat(), "end": last.isoformat()}
        query = f"SELECT {select} FROM {source} WHERE dt BETWEEN :start AND :end"
        if not statements:
            props = (
                f"format = 'PARQUET', write_compression = {sql_literal(compression)}, "
                f"external_location = {sql_literal(where_root)}, partitioned_by = ARRAY['dt']"
            )
            statements.append(Statement(f"CREATE TABLE {dest}\nWITH ({props})\nAS {query}", params, f"ctas {target}"))
        else:
            statements.append(Statement(f"INSERT INTO {dest}\n{query}", params, f"insert {target}"))
        day = last + dt.timedelta(days=1)
    return statements


def optimize_duckdb(engine: Any, table: Table, out: Path, compression: Compression = "ZSTD") -> Path:
    """Rewrite a local table as dt-partitioned Parquet under `out` (dt=YYYY-MM-DD/*.parquet)."""
    from .base import quote, sql_string

    if not any(c.name == "dt" for c in table.partitioned_by):
        raise InputError("table", f"{table.name!r} has no dt partition column to optimize by")
    engine.prepare([table])
    out = out.expanduser().resolve()
    select = ", ".join(quote(c.name) for c in table.columns + table.partitioned_by)
    sql = (
        f"COPY (SELECT {select} FROM {quote(table.name)}) TO {sql_string(str(out))} "
        f"(FORMAT PARQUET, PARTITION_BY (dt), COMPRESSION {compression.lower()}, OVERWRITE_OR_IGNORE)"
    )
    with engine.sa.begin() as conn:
        conn.exec_driver_sql(sql)
    return out


def parquet_declaration(table: Table, path: str, name: str | None = None) -> str:
    """The YAML of a Parquet table over the optimized folder, for tables/<name>.yaml."""
    import yaml

    doc = {
        "name": name or parquet_name(table),
        "description": f"{table.name} rewritten as ZSTD Parquet, partitioned by dt (featurekit optimize).",
        "format": "parquet",
        "path": path,
        "columns": [
            {"name": c.name, "type": c.type, **({"description": c.description} if c.description else {})}
            for c in table.columns
        ],
        "partitioned_by": [{"name": c.name, "type": c.type} for c in table.partitioned_by],
    }
    return yaml.safe_dump(doc, sort_keys=False, width=120)
