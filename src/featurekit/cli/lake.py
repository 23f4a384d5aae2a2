"""CLI commands for running the lake behind the features: `load` (idempotent incremental loads),
`doctor` (file-size health) and `report` (workload figures, CloudWatch).

Registered on the main app by main.py; errors are typed FeaturekitErrors, printed as one line.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from ..catalog import loader as catalog_mod
from ..engines import ddl as ddl_mod
from ..engines import health
from ..engines import load as load_mod
from ..errors import InputError, NotFoundError
from ..report import ENV_QUERY_LOG, QueryLog, WorkloadReport, publish_cloudwatch
from .athena import ProfileFileOpt, ProfileOpt, athena_settings, compression_codec, parse_date
from .options import CatalogOpt, DataOpt, out


def register(app: typer.Typer) -> None:
    """Add the lake commands to `app`."""

    @app.command()
    def report(
        log: Annotated[
            Path | None,
            typer.Argument(envvar=ENV_QUERY_LOG, help="Query log (JSON lines) written with FEATUREKIT_QUERY_LOG."),
        ] = None,
        format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
        plot: Annotated[Path | None, typer.Option("--plot", help="Also write a latency chart (PNG) here.")] = None,
        cloudwatch: Annotated[
            str | None, typer.Option("--cloudwatch", help="Also publish to CloudWatch under this namespace.")
        ] = None,
    ) -> None:
        """Workload figures of a query log: lookups, failures, p50/p95 latency, bytes, cost, hit rates."""
        if format not in ("table", "json"):
            raise InputError("--format", f"{format!r} is not one of table, json")
        if log is None:
            raise InputError("log", f"give a query log file, or set {ENV_QUERY_LOG}")
        result = WorkloadReport.build(QueryLog(log).read())
        if format == "json":
            out.print(json.dumps(result.to_dict(), indent=2, default=str), markup=False)
        else:
            table = RichTable("figure", "value", title=f"workload in {log}")
            for name, value in result.rows():
                table.add_row(name, value)
            out.print(table)
            views = RichTable("view", "engine", "lookups", "failures", "queries", "p50 ms", "p95 ms", "bytes", "cost")
            for v in result.views:
                views.add_row(
                    v.view,
                    v.engine,
                    str(v.lookups),
                    str(v.failures),
                    str(v.queries),
                    f"{v.p50_ms:.1f}" if v.p50_ms is not None else "-",
                    f"{v.p95_ms:.1f}" if v.p95_ms is not None else "-",
                    f"{v.scanned_bytes:,}",
                    f"${v.cost_usd:.6f}",
                )
            out.print(views)
        if plot is not None:
            out.print(f"wrote {result.plot(plot)}", markup=False)
        if cloudwatch:
            sent = publish_cloudwatch(result, cloudwatch)
            out.print(f"published {sent} metric data points to CloudWatch namespace {cloudwatch}", markup=False)

    @app.command()
    def load(
        table: str,
        since: Annotated[str, typer.Option("--since", help="First day to (re)load, YYYY-MM-DD.")],
        until: Annotated[str | None, typer.Option("--until", help="Last day (default: --since).")] = None,
        engine: Annotated[str, typer.Option("--engine", help="duckdb (local Parquet) or athena (S3).")] = "duckdb",
        out_dir: Annotated[Path | None, typer.Option("--out", help="duckdb: the Parquet folder.")] = None,
        compression: Annotated[str, typer.Option("--compression", help="ZSTD, SNAPPY or GZIP.")] = "ZSTD",
        catalog: CatalogOpt = None,
        data: DataOpt = None,
        profile: ProfileOpt = None,
        profile_file: ProfileFileOpt = None,
    ) -> None:
        """Replace days [--since, --until] of TABLE's Parquet copy; safe to retry, never duplicates a row."""
        codec = compression_codec(compression)
        start = parse_date(since, "--since", dt.date.today())
        end = parse_date(until, "--until", start)
        decl = catalog_mod.load(catalog).table(table)
        if engine == "duckdb":
            from ..engines.duckdb import DuckDBEngine

            with DuckDBEngine(data) as duck:
                folder = out_dir or (duck.location(decl).parent / ddl_mod.parquet_name(decl))
                result = load_mod.load_local(duck, decl, folder, start, end, codec)
        elif engine == "athena":
            from ..engines.athena import AthenaEngine

            s = athena_settings(profile, profile_file)
            plan = load_mod.plan_athena(
                decl, database=s.schema_name, data_root=s.data_root, start=start, end=end, compression=codec
            )
            athena = AthenaEngine(s)
            try:
                result = load_mod.load_athena(athena, athena.aws_client("s3"), plan, start, end)
            finally:
                athena.close()
        else:
            raise NotFoundError("engine for load", engine, ("duckdb", "athena"))
        out.print(str(result), markup=False)

    @app.command()
    def doctor(
        table: str,
        engine: Annotated[str, typer.Option("--engine", help="duckdb (local files) or athena (S3).")] = "duckdb",
        format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
        catalog: CatalogOpt = None,
        data: DataOpt = None,
        profile: ProfileOpt = None,
        profile_file: ProfileFileOpt = None,
    ) -> None:
        """File-size health of TABLE: partitions with too many small files or files over 1 GB."""
        if format not in ("table", "json"):
            raise InputError("--format", f"{format!r} is not one of table, json")
        decl = catalog_mod.load(catalog).table(table)
        if engine == "duckdb":
            from ..engines.duckdb import DuckDBEngine

            with DuckDBEngine(data) as duck:
                folder = duck.location(decl)
            if not folder.exists():
                raise InputError("table", f"{table!r}: {folder} does not exist")
            result = health.diagnose(table, str(folder), health.local_files(folder))
        elif engine == "athena":
            from ..engines.athena import AthenaEngine

            s = athena_settings(profile, profile_file)
            where = ddl_mod.location(decl, s.data_root)
            athena = AthenaEngine(s)
            try:
                result = health.diagnose(table, where, health.s3_files(athena.aws_client("s3"), where))
            finally:
                athena.close()
        else:
            raise NotFoundError("engine for doctor", engine, ("duckdb", "athena"))
        if format == "json":
            out.print(json.dumps(result.to_dict(), indent=2), markup=False)
        else:
            out.print(str(result), markup=False)
