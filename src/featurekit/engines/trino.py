"""Self-hosted Trino through the `trino` SQLAlchemy dialect (install the `trino` extra).

Trino speaks the SQL the catalog is written in (Athena is Trino underneath), so the SQL runs as
written. The trino package is imported only when a TrinoEngine is created: the core never needs it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from .. import config as config_mod
from ..catalog.declarations import Table
from ..config import TrinoSettings
from ..errors import ConfigError, QueryError, QueryTimeout
from ..render import RenderedQuery, as_written
from .athena_driver import rows_to_arrow
from .base import QueryStats, quote


class TrinoEngine:
    """Queries on a Trino cluster. Settings: explicit arguments > profile file > FEATUREKIT_TRINO_* > defaults."""

    name = "trino"
    dialect = "trino"

    def __init__(
        self,
        settings: TrinoSettings | None = None,
        *,
        profile: str | None = None,
        profile_file: str | None = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            resolved = config_mod.resolve("trino", overrides, profile=profile, profile_path=profile_file)
            assert isinstance(resolved, TrinoSettings)
            settings = resolved
        elif overrides:
            settings = settings.model_copy(update=overrides)
        self.settings = settings
        if not settings.host:
            raise ConfigError("host", "no Trino host; set host in the profile or FEATUREKIT_TRINO_HOST")
        try:
            import trino.sqlalchemy  # noqa: F401  (registers the dialect)
        except ImportError:
            raise ConfigError(
                "engine", "the trino engine needs the trino extra: pip install 'featurekit[trino]'"
            ) from None
        self.sa = sa.create_engine(self.url(), connect_args=self.connect_args(), pool_size=8, max_overflow=8)

    def url(self) -> sa.URL:
        s = self.settings
        return sa.URL.create(
            "trino", username=s.user, host=s.host, port=s.port, database=f"{s.data_catalog}/{s.schema_name}"
        )

    def connect_args(self) -> dict[str, Any]:
        """Arguments for `trino.dbapi.connect`; secrets stay in auth objects, never in the URL or logs."""
        from trino.auth import BasicAuthentication, JWTAuthentication

        s = self.settings
        args: dict[str, Any] = {"http_scheme": s.http_scheme, "source": s.source, "verify": s.verify}
        if s.query_timeout:
            args["request_timeout"] = s.query_timeout
            # Trino enforces the limit itself and fails the query, so nothing keeps running.
            args["session_properties"] = {"query_max_run_time": f"{int(s.query_timeout)}s"}
        if s.auth == "basic" and s.password is not None:
            args["auth"] = BasicAuthentication(s.user, s.password.get_secret_value())
        elif s.auth == "jwt" and s.jwt_token is not None:
            args["auth"] = JWTAuthentication(s.jwt_token.get_secret_value())
        return args

    def adapt_sql(self, sql: str, where: str) -> str:
        return as_written(sql, where)

    def table_sql(self, table: Table) -> str:
        s = self.settings
        return f"{quote(s.data_catalog)}.{quote(s.schema_name)}.{quote(table.name)}"

    def prepare(self, tables: Iterable[Table]) -> None:
        """Nothing to do: the tables exist in the Trino catalog (Hive connector over the same files)."""

    def execute(self, query: RenderedQuery) -> tuple[pa.Table, QueryStats]:
        start = time.perf_counter()
        try:
            with self.sa.connect() as conn:
                result = conn.execute(query.statement(), query.bind_values())
                cursor = result.cursor
                description = cursor.description
                table = rows_to_arrow(description, [tuple(r) for r in result.fetchall()])
                query_id = getattr(cursor, "query_id", None)
                stats: Mapping[str, Any] = getattr(cursor, "stats", None) or {}
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            error = QueryTimeout if "EXCEEDED_TIME_LIMIT" in reason else QueryError
            raise error(f"view {query.view!r} failed on trino", reason=reason) from None
        elapsed = (time.perf_counter() - start) * 1000
        return table, QueryStats(
            engine=self.name,
            view=query.view,
            sql_hash=query.sql_hash,
            entities=len(query.entity_ids),
            rows=table.num_rows,
            elapsed_ms=elapsed,
            query_id=query_id,
            scanned_bytes=stats.get("processedBytes"),
            queue_ms=stats.get("queuedTimeMillis"),
            total_ms=stats.get("elapsedTimeMillis"),
        )

    def close(self) -> None:
        self.sa.dispose()
