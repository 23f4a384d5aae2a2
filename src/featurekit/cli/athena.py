"""CLI commands for running on Athena: `ddl`, `setup`, `optimize`. Registered on the main app by main.py.

Settings come from the profile file / environment (see featurekit.config); errors are typed
FeaturekitErrors, so the main entry point prints them as one line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from .. import config as config_mod
from ..catalog import loader as catalog_mod
from ..engines import ddl as ddl_mod
from ..errors import InputError, NotFoundError
from .formats import FormatOpt, emit
from .options import CatalogOpt, DataOpt, out

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", envvar=config_mod.ENV_PROFILE, help="Profile name in featurekit.yaml.")
]
ProfileFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--profile-file", envvar=config_mod.ENV_PROFILE_FILE, help="Profile file (default ./featurekit.yaml)."
    ),
]


def athena_settings(profile: str | None, profile_file: Path | None) -> config_mod.AthenaSettings:
    settings = config_mod.resolve("athena", profile=profile, profile_path=profile_file)
    assert isinstance(settings, config_mod.AthenaSettings)
    return settings


def parse_date(value: str | None, name: str, default: dt.date) -> dt.date:
    if value is None:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(name, f"{value!r} is not a date in YYYY-MM-DD form") from None


def compression_codec(value: str) -> ddl_mod.Compression:
    codec = value.upper()
    if codec not in ("ZSTD", "SNAPPY", "GZIP"):
        raise InputError("--compression", f"{value!r} is not one of ZSTD, SNAPPY, GZIP")
    return codec  # type: ignore[return-value]  # one of the three, checked above


def register(app: typer.Typer) -> None:
    """Add the Athena/DDL commands to `app`."""

    @app.command()
    def ddl(
        table: str,
        engine: Annotated[str, typer.Option("--engine", help="athena (CREATE EXTERNAL TABLE) or duckdb (view).")] = (
            "athena"
        ),
        catalog: CatalogOpt = None,
        data: DataOpt = None,
        profile: ProfileOpt = None,
        profile_file: ProfileFileOpt = None,
        format: FormatOpt = "table",
    ) -> None:
        """Print the DDL of a declared table: Athena CREATE EXTERNAL TABLE, or the DuckDB view."""
        decl = catalog_mod.load(catalog).table(table)
        if engine == "athena":
            s = athena_settings(profile, profile_file)
            statement = ddl_mod.create_table(decl, database=s.schema_name, data_root=s.data_root)
            sql = statement.sql
        elif engine == "duckdb":
            from ..engines.duckdb import DuckDBEngine

            with DuckDBEngine(data) as duck:
                sql = duck.view_sql(decl)
        else:
            raise NotFoundError("engine for ddl", engine, ("athena", "duckdb"))
        if format == "table":
            out.print(sql + ";", markup=False)
        else:
            emit(format, "ddl", [{"table": decl.name, "engine": engine, "sql": sql + ";"}], None)

    @app.command()
    def setup(
        engine: Annotated[str, typer.Option("--engine", help="athena")] = "athena",
        table: Annotated[list[str] | None, typer.Option("--table", help="Only these tables (repeatable).")] = None,
        via: Annotated[
            str, typer.Option("--via", help="ddl (Athena CREATE statements) or glue (the Glue CreateTable API).")
        ] = "ddl",
        catalog: CatalogOpt = None,
        profile: ProfileOpt = None,
        profile_file: ProfileFileOpt = None,
    ) -> None:
        """Create the Athena database and an external table for every declared table (IF NOT EXISTS)."""
        if engine != "athena":
            raise NotFoundError("engine for setup", engine, ("athena",))
        if via not in ("ddl", "glue"):
            raise NotFoundError("--via", via, ("ddl", "glue"))
        from ..engines.athena import AthenaEngine

        cat = catalog_mod.load(catalog)
        tables = [cat.table(t) for t in table] if table else list(cat.tables.values())
        s = athena_settings(profile, profile_file)
        athena = AthenaEngine(s)
        try:
            if via == "glue":
                glue = athena.aws_client("glue")
                for t in tables:
                    done = ddl_mod.register_in_glue(
                        glue, ddl_mod.definition(t, database=s.schema_name, data_root=s.data_root)
                    )
                    out.print(f"glue table {s.schema_name}.{t.name}: {done}", markup=False)
                return
            statements = [ddl_mod.create_database(s.schema_name)]
            statements += [ddl_mod.create_table(t, database=s.schema_name, data_root=s.data_root) for t in tables]
            for statement in statements:
                stats = athena.run_statement(statement.sql, statement.params, label=statement.label)
                out.print(f"{statement.label}: ok · query id {stats.query_id}", markup=False)
        finally:
            athena.close()

    @app.command()
    def optimize(
        table: str,
        engine: Annotated[str, typer.Option("--engine", help="duckdb (local COPY) or athena (CTAS).")] = "duckdb",
        out_dir: Annotated[Path | None, typer.Option("--out", help="duckdb: output folder.")] = None,
        since: Annotated[str | None, typer.Option("--since", help="athena: first dt (YYYY-MM-DD).")] = None,
        until: Annotated[str | None, typer.Option("--until", help="athena: last dt (default today, UTC).")] = None,
        append: Annotated[bool, typer.Option("--append", hidden=True)] = False,
        compression: Annotated[str, typer.Option("--compression", help="ZSTD, SNAPPY or GZIP.")] = "ZSTD",
        catalog: CatalogOpt = None,
        data: DataOpt = None,
        profile: ProfileOpt = None,
        profile_file: ProfileFileOpt = None,
    ) -> None:
        """Rewrite a raw (JSON) table as compressed Parquet partitioned by dt, and print its declaration."""
        if append:
            # INSERT INTO appended the days again on every retry, doubling their rows.
            raise InputError(
                "--append", "appending duplicates rows on a retry; use `featurekit load TABLE --since --until`"
            )
        codec = compression_codec(compression)
        decl = catalog_mod.load(catalog).table(table)
        target = ddl_mod.parquet_name(decl)
        if engine == "duckdb":
            from ..engines.duckdb import DuckDBEngine

            with DuckDBEngine(data, allow=[out_dir] if out_dir else ()) as duck:
                folder = out_dir or (duck.location(decl).parent / target)
                written = ddl_mod.optimize_duckdb(duck, decl, folder, codec)
            out.print(f"-- wrote {written}; declare it as tables/{target}.yaml:", markup=False)
            out.print(
                ddl_mod.parquet_declaration(decl, written.name if written.parent == duck.data else str(written)),
                markup=False,
            )
        elif engine == "athena":
            from ..engines.athena import AthenaEngine, summarize

            s = athena_settings(profile, profile_file)
            today = dt.datetime.now(dt.timezone.utc).date()
            end = parse_date(until, "--until", today)
            start = parse_date(since, "--since", end - dt.timedelta(days=ddl_mod.MAX_PARTITIONS_PER_STATEMENT - 1))
            statements = ddl_mod.optimize_athena(
                decl,
                database=s.schema_name,
                data_root=s.data_root,
                start=start,
                end=end,
                compression=codec,
            )
            athena = AthenaEngine(s)
            try:
                ran = [athena.run_statement(st.sql, st.params, label=st.label) for st in statements]
            finally:
                athena.close()
            for st, stats in zip(statements, ran, strict=True):
                out.print(
                    f"{st.label} {st.params['start']}..{st.params['end']}: query id {stats.query_id}", markup=False
                )
            out.print(f"· {summarize(ran)}", markup=False)
            out.print(ddl_mod.parquet_declaration(decl, target), markup=False)
        else:
            raise NotFoundError("engine for optimize", engine, ("duckdb", "athena"))
