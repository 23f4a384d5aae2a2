"""`featurekit serve` (the HTTP feature server, with MCP at /mcp) and `featurekit mcp` (MCP over stdio)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .options import CatalogOpt, DataOpt, RedisOpt, need_extra


def register(app: typer.Typer) -> None:
    """Add the serving commands to `app`."""

    @app.command()
    def serve(
        host: Annotated[
            str, typer.Option("--host", help="Address to bind; beyond loopback needs tokens.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
        workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (share --redis).")] = 1,
        redis: RedisOpt = None,
        tokens_file: Annotated[
            Path | None,
            typer.Option("--tokens-file", envvar="FEATUREKIT_TOKENS_FILE", help="Bearer tokens, one a line."),
        ] = None,
        max_ids: Annotated[int, typer.Option("--max-ids", min=1, help="Most IDs per request.")] = 10_000,
        max_body: Annotated[int, typer.Option("--max-body-bytes", min=1, help="Largest request body.")] = 1_048_576,
        timeout: Annotated[float, typer.Option("--request-timeout", min=0.001, help="Seconds per request.")] = 30.0,
        concurrency: Annotated[
            int, typer.Option("--max-concurrent", min=1, help="Lookups running at once per token.")
        ] = 4,
        engine: Annotated[str, typer.Option("--engine", envvar="FEATUREKIT_ENGINE")] = "duckdb",
        catalog: CatalogOpt = None,
        data: DataOpt = None,
        no_mcp: Annotated[bool, typer.Option("--no-mcp", help="Do not mount the MCP endpoint at /mcp.")] = False,
        file_check_interval: Annotated[
            float,
            typer.Option(
                "--file-check-interval",
                min=0,
                help="duckdb: trust the last check of the data files for this many seconds (0: every lookup).",
            ),
        ] = 0.0,
    ) -> None:
        """Serve the catalog's views over HTTP (and MCP at /mcp): JSON or Arrow, metrics, tokens, limits."""
        need_extra("serve", "serve", "mcp", "starlette", "uvicorn")
        import uvicorn

        from ..serve import auth
        from ..serve.http import Limits, check_bind
        from ..serve.runtime import ENV_SETTINGS, ServeSettings, build_app

        check_bind(host, auth.load(tokens_file))
        settings = ServeSettings(
            catalog=str(catalog) if catalog else None,
            data=str(data) if data else None,
            engine=engine,
            redis=redis,
            tokens_file=str(tokens_file) if tokens_file else None,
            mcp=not no_mcp,
            limits=Limits(max_ids, max_body, timeout, concurrency),
            file_check_interval=file_check_interval,
        )
        build_app(settings)  # fail here, in one line, rather than in every worker
        os.environ[ENV_SETTINGS] = settings.to_env()
        uvicorn.run(
            "featurekit.serve.runtime:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=False,  # our own request log: route templates, never IDs or tokens in a query string
        )

    @app.command("mcp")
    def mcp_(
        engine: Annotated[str, typer.Option("--engine", envvar="FEATUREKIT_ENGINE")] = "duckdb",
        catalog: CatalogOpt = None,
        data: DataOpt = None,
    ) -> None:
        """Run the MCP server on stdio: one tool per feature view, the catalog's prompts as MCP prompts."""
        need_extra("serve", "serve", "mcp", "starlette", "uvicorn")
        from ..serve.mcp import run_stdio
        from ..serve.runtime import ServeSettings, open_store

        store = open_store(ServeSettings(str(catalog) if catalog else None, str(data) if data else None, engine))
        run_stdio(store)
