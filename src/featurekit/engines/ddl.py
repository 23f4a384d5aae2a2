"""DDL from declarations: Athena CREATE EXTERNAL TABLE (with partition projection), CREATE DATABASE,
and `optimize`: raw JSON rewritten as compressed, dt-partitioned Parquet (Athena CTAS + INSERT INTO,
or DuckDB COPY ... PARTITION_BY locally).

Identifiers come only from declarations and are quoted; locations come from settings. Values a
caller gives (partition date ranges) are bound parameters, never written into the SQL by us.
"""

from __future__ import annotations

import contextlib
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
    "timestamptz": "TIMESTAMP",  # Hive has no zoned type: Athena reads the instant as a UTC TIMESTAMP
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


#: What each file format is in the Glue Data Catalog: SerDe, its parameters, input and output formats.
_TEXT_IN, _TEXT_OUT = (
    "org.apache.hadoop.mapred.TextInputFormat",
    "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
)
STORAGE = {
    "json": ("org.openx.data.jsonserde.JsonSerDe", {"ignore.malformed.json": "false"}, _TEXT_IN, _TEXT_OUT),
    "csv": ("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", {"field.delim": ","}, _TEXT_IN, _TEXT_OUT),
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        {},
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    ),
}


@dataclass(frozen=True)
class TableDefinition:
    """One declared table as Athena/Glue stores it; the DDL and the Glue `CreateTable` are both made from this."""

    database: str
    name: str
    description: str
    columns: tuple[tuple[str, str, str], ...]  # (name, Hive type, comment)
    partitions: tuple[tuple[str, str], ...]  # (name, Hive type)
    format: str  # json, csv or parquet (`auto` is created over JSON lines)
    location: str
    properties: dict[str, str]


def definition(table: Table, *, database: str, data_root: str | None, today: dt.date | None = None) -> TableDefinition:
    """The table definition of a declaration, with partition projection for its layout.

    Projection lets Athena compute the partitions from the range instead of reading them from
    Glue, so new days need no MSCK REPAIR / ALTER TABLE ADD PARTITION. The range runs from the
    declared partition_start to today (layouts.projection_start).
    """
    where = location(table, data_root)
    # Athena cannot look at the files before the table exists: `auto` is created over JSON lines, the format of
    # `sample-data` and the tutorial's upload; Parquet behind it fails loudly (HIVE_BAD_DATA), never silently.
    fmt = "json" if table.format == "auto" else table.format
    props: dict[str, str] = {}
    if fmt == "csv":
        props["skip.header.line.count"] = "1"
    if fmt == "parquet":
        props["parquet.compression"] = "ZSTD"
    props.update(layouts.projection(table, where, today or dt.datetime.now(dt.timezone.utc).date()))
    return TableDefinition(
        database=database,
        name=table.name,
        description=table.description,
        columns=tuple((c.name, HIVE_TYPES[c.type], c.description) for c in table.columns),
        partitions=tuple((c.name, HIVE_TYPES[c.type]) for c in table.partitioned_by),
        format=fmt,
        location=where,
        properties=props,
    )


def create_table(
    table: Table,
    *,
    database: str,
    data_root: str | None,
    today: dt.date | None = None,
) -> Statement:
    """CREATE EXTERNAL TABLE for Athena (see `definition`)."""
    d = definition(table, database=database, data_root=data_root, today=today)
    columns = ",\n".join(f"  {hive_quote(n)} {t}{_comment(c)}" for n, t, c in d.columns)
    lines = [f"CREATE EXTERNAL TABLE IF NOT EXISTS {hive_quote(database)}.{hive_quote(d.name)} (", columns, ")"]
    if d.description:
        lines.append(f"COMMENT {hive_literal(d.description)}")
    if d.partitions:
        lines.append(f"PARTITIONED BY ({', '.join(f'{hive_quote(n)} {t}' for n, t in d.partitions)})")
    if d.format == "json":
        # One JSON object per line; pretty-printed JSON fails with HIVE_CANNOT_OPEN_SPLIT.
        lines += [
            "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
            "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false')",
            f"STORED AS INPUTFORMAT '{_TEXT_IN}'",
            f"OUTPUTFORMAT '{_TEXT_OUT}'",
        ]
    elif d.format == "csv":
        # LazySimpleSerDe types its columns (OpenCSVSerDe reads every column as a string) and skips the header.
        lines += ["ROW FORMAT DELIMITED FIELDS TERMINATED BY ','", "STORED AS TEXTFILE"]
    else:
        lines.append("STORED AS PARQUET")
    lines.append(f"LOCATION {hive_literal(d.location)}")
    if d.properties:
        body = ",\n".join(f"  {hive_literal(k)} = {hive_literal(v)}" for k, v in d.properties.items())
        lines.append(f"TBLPROPERTIES (\n{body}\n)")
    return Statement("\n".join(lines), label=f"create table {d.name}")


def glue_table_input(d: TableDefinition) -> dict[str, Any]:
    """The Glue `CreateTable` TableInput of a definition: what the DDL path registers, written explicitly."""
    serde, serde_params, input_format, output_format = STORAGE[d.format]
    return {
        "Name": d.name,
        "Description": d.description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "classification": d.format, **d.properties},
        "PartitionKeys": [{"Name": n, "Type": t.lower()} for n, t in d.partitions],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t.lower(), "Comment": c} for n, t, c in d.columns],
            "Location": d.location,
            "InputFormat": input_format,
            "OutputFormat": output_format,
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": dict(serde_params)},
        },
    }


def register_in_glue(glue: Any, d: TableDefinition) -> str:
    """Create the database (if missing) and the table in the Glue Data Catalog; returns what was done."""
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": d.database})
    try:
        glue.create_table(DatabaseName=d.database, TableInput=glue_table_input(d))
        return "created"
    except glue.exceptions.AlreadyExistsException:
        glue.update_table(DatabaseName=d.database, TableInput=glue_table_input(d))
        return "updated"


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
