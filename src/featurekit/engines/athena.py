"""Amazon Athena through PyAthena's SQLAlchemy dialect (`awsathena+rest`, or `awsathena+arrow`).

The catalog SQL runs as written. Values travel as SQLAlchemy binds; PyAthena formats them
client-side (pyformat, escaped), so the query text Athena receives contains the values. That is
deliberate: Athena's result reuse and PyAthena's cursor cache both match on query text, so a
lookup for C00042 can never be answered with C00043's result by either layer.

Every query is recorded (QueryStats) and logged as one key=value line on the
`featurekit.athena` logger. Failures become typed errors carrying the query ID and Athena's
reason; a timeout stops the query on the server before QueryTimeout is raised.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from .. import config as config_mod
from ..catalog.declarations import Table
from ..config import AthenaSettings
from ..errors import ConfigError, CostLimitExceeded, QueryTimeout
from ..render import RenderedQuery, as_written
from . import redact
from .athena_driver import (
    THROTTLING_CODES,
    Deadline,
    Outcome,
    OverBudget,
    cursor_class,
    driver_error,
    rows_to_arrow,
)
from .base import QueryStats, athena_cost, quote
from .estimate import ScanEstimate

log = logging.getLogger("featurekit.athena")
# A library logs, the application configures: without this, warnings would reach stderr via lastResort.
log.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class SessionSummary:
    """Totals over the queries an engine ran in this process."""

    queries: int
    reused: int
    scanned_bytes: int
    cost_usd: float

    def __str__(self) -> str:
        return (
            f"{self.queries} Athena queries, {self.reused} reused, {self.scanned_bytes:,} bytes scanned, "
            f"est. cost ${self.cost_usd:.6f}"
        )


def summarize(queries: Iterable[QueryStats]) -> SessionSummary:
    """Totals of a list of QueryStats (e.g. FeatureStore.session_queries)."""
    items = list(queries)
    return SessionSummary(
        queries=len(items),
        reused=sum(1 for q in items if q.reused),
        scanned_bytes=sum(q.scanned_bytes or 0 for q in items),
        cost_usd=sum(q.cost_usd or 0.0 for q in items),
    )


class AthenaEngine:
    """Queries on Athena. Settings: explicit arguments > profile file > FEATUREKIT_ATHENA_* > defaults.

    One SQLAlchemy Engine (and connection pool) per AthenaEngine, created once and shared by threads.
    """

    name = "athena"
    dialect = "athena"

    def __init__(
        self,
        settings: AthenaSettings | None = None,
        *,
        profile: str | None = None,
        profile_file: str | None = None,
        **overrides: Any,
    ) -> None:
        if settings is None:
            resolved = config_mod.resolve("athena", overrides, profile=profile, profile_path=profile_file)
            assert isinstance(resolved, AthenaSettings)
            settings = resolved
        elif overrides:
            settings = settings.model_copy(update=overrides)
        self.settings = settings
        # Checked on the first query, not here: rendering SQL (`featurekit render --engine athena`) needs no AWS.
        self._checked = False
        self._local = threading.local()
        self._lock = threading.Lock()
        self._queries: list[QueryStats] = []
        # Bytes scanned by queries the cost guard stopped: billed, but they returned nothing.
        self._stopped_bytes = 0
        self.sa = sa.create_engine(
            self.url(), connect_args=self.connect_args(), pool_size=8, max_overflow=8, pool_pre_ping=False
        )
        self._client: Any = None

    # -- configuration -------------------------------------------------------------------------

    def _check_settings(self) -> None:
        s = self.settings
        if not s.region:
            raise ConfigError(
                "region", "no AWS region; set region in the profile, FEATUREKIT_ATHENA_REGION or AWS_REGION"
            )
        if not s.s3_staging_dir and s.workgroup == "primary":
            raise ConfigError(
                "s3_staging_dir",
                "no result location; set s3_staging_dir (s3://bucket/prefix/) "
                "or a workgroup that has one (FEATUREKIT_ATHENA_S3_STAGING_DIR)",
            )
        import boto3

        session = boto3.Session(profile_name=s.aws_profile, region_name=s.region)
        if session.get_credentials() is None:
            raise ConfigError(
                "credentials",
                "no AWS credentials found; set AWS_PROFILE (or aws_profile in the "
                "profile), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`",
            )

    def url(self) -> sa.URL:
        s = self.settings
        return sa.URL.create(
            f"awsathena+{s.driver}",
            host=f"athena.{s.region or 'us-east-1'}.amazonaws.com",
            port=443,
            database=s.schema_name,
        )

    def connect_args(self) -> dict[str, Any]:
        """Arguments for `pyathena.connect`, passed through SQLAlchemy's connect_args."""
        from botocore.config import Config
        from pyathena.util import RetryConfig

        redact.install()

        s = self.settings
        args: dict[str, Any] = {
            "region_name": s.region,
            "schema_name": s.schema_name,
            "catalog_name": s.data_catalog,
            "work_group": s.workgroup,
            # "" stops PyAthena from falling back to $AWS_ATHENA_S3_STAGING_DIR behind our resolution order.
            "s3_staging_dir": s.s3_staging_dir or "",
            "poll_interval": s.poll_interval,
            "kill_on_interrupt": s.kill_on_interrupt,
            "result_reuse_enable": s.result_reuse,
            "result_reuse_minutes": s.result_reuse_minutes,
            # One retry layer only: PyAthena's, which retries throttling with bounded exponential backoff.
            # botocore's own retries would multiply the attempts.
            "retry_config": RetryConfig(
                exceptions=THROTTLING_CODES,
                attempt=s.retry_attempts,
                # Typed int in PyAthena, but tenacity's backoff takes seconds as floats.
                multiplier=s.retry_multiplier,  # type: ignore[arg-type]
                max_delay=s.retry_max_delay,  # type: ignore[arg-type]
            ),
            "config": Config(retries={"mode": "standard", "total_max_attempts": 1}, user_agent_extra="featurekit"),
            "cursor_class": cursor_class(s.driver),
            "cursor_kwargs": {"cache_size": s.cursor_cache_size, "cache_expiration_time": s.cursor_cache_expiration},
            "on_poll": self._on_poll,
        }
        if s.result_encryption:
            args["encryption_option"] = s.result_encryption
            args["kms_key"] = s.kms_key
        if s.aws_profile:
            args["profile_name"] = s.aws_profile
        if s.endpoint_url:
            args["endpoint_url"] = s.endpoint_url
        return args

    def client(self) -> Any:
        """A boto3 Athena client with the engine's settings (for StopQueryExecution and admin calls)."""
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                s = self.settings
                session = boto3.Session(profile_name=s.aws_profile, region_name=s.region)
                redact.install()
                self._client = session.client(
                    "athena",
                    endpoint_url=s.endpoint_url,
                    config=Config(retries={"mode": "standard", "total_max_attempts": max(3, s.retry_attempts)}),
                )
            return self._client

    def aws_client(self, service: str) -> Any:
        """A boto3 client for another service (s3, glue, cloudwatch) with the engine's region, profile, endpoint."""
        import boto3

        s = self.settings
        return boto3.Session(profile_name=s.aws_profile, region_name=s.region).client(
            service, endpoint_url=s.endpoint_url
        )

    def scan_estimate(self, table: Table, query: RenderedQuery) -> ScanEstimate:
        """The objects and bytes `query` would read from `table` on S3 after partition pruning (S3 listing only)."""
        from .ddl import location
        from .estimate import estimate_s3

        where = location(table, self.settings.data_root)
        return estimate_s3(self.aws_client("s3"), where, table, query.sql, self.dialect, query.params)

    # -- the Engine interface --------------------------------------------------------------------

    def adapt_sql(self, sql: str, where: str) -> str:
        return as_written(sql, where)

    def table_sql(self, table: Table) -> str:
        return f"{quote(self.settings.schema_name)}.{quote(table.name)}"

    def prepare(self, tables: Iterable[Table]) -> None:
        """Nothing to do: Athena tables are created once with `featurekit setup --engine athena`."""

    def execute(self, query: RenderedQuery) -> tuple[pa.Table, QueryStats]:
        outcome, elapsed = self._run(query.statement(), query.bind_values(), query.view)
        stats = self._stats(outcome, query.view, query.sql_hash, len(query.entity_ids), elapsed)
        self._log(stats, {k: v for k, v in query.params.items() if k != "entity_ids"})
        return outcome.table, stats

    def run_statement(
        self, sql: str, params: Mapping[str, Any] | None = None, *, label: str = "statement"
    ) -> QueryStats:
        """Run DDL, CTAS or INSERT (setup, optimize, load); values in `params` are bound, never formatted by us."""
        return self._statement(sql, params, label, fetch=False)[1]

    def fetch_statement(
        self, sql: str, params: Mapping[str, Any] | None = None, *, label: str = "statement"
    ) -> tuple[pa.Table, QueryStats]:
        """Run an administrative SELECT (a load's row count) and return its rows; values are bound."""
        return self._statement(sql, params, label, fetch=True)

    def _statement(
        self, sql: str, params: Mapping[str, Any] | None, label: str, *, fetch: bool
    ) -> tuple[pa.Table, QueryStats]:
        import hashlib

        outcome, elapsed = self._run(sa.text(sql), dict(params or {}), label, fetch=fetch)
        stats = self._stats(outcome, label, hashlib.sha256(sql.encode()).hexdigest()[:16], 0, elapsed)
        self._log(stats, dict(params or {}))
        return outcome.table, stats

    def close(self) -> None:
        self.sa.dispose()

    def session_summary(self) -> SessionSummary:
        with self._lock:
            return summarize(self._queries)

    # -- internals -------------------------------------------------------------------------------

    def _on_poll(self, execution: Any) -> None:
        # Runs in the calling thread (the synchronous cursor polls there), so thread-local state is right.
        self._local.execution = execution
        deadline = getattr(self._local, "deadline", None)
        if deadline is not None and time.monotonic() > deadline and execution.state in ("QUEUED", "RUNNING"):
            raise Deadline(execution.query_id)
        scanned = int(getattr(execution, "data_scanned_in_bytes", None) or 0)
        over = self._over_budget(scanned) if scanned else None
        if over:
            raise OverBudget(over, scanned, str(execution.state))

    def session_scanned_bytes(self) -> int:
        """Bytes scanned by this engine's queries so far, stopped ones included (what the session limit counts)."""
        with self._lock:
            return sum(q.scanned_bytes or 0 for q in self._queries) + self._stopped_bytes

    def _over_budget(self, scanned: int) -> str | None:
        """Why a query that has scanned `scanned` bytes breaks a cost limit, or None."""
        s = self.settings
        if s.max_bytes_per_query is not None and scanned > s.max_bytes_per_query:
            return f"scanned {scanned:,} bytes, more than max_bytes_per_query={s.max_bytes_per_query:,}"
        if s.max_bytes_per_session is not None:
            total = self.session_scanned_bytes() + scanned
            if total > s.max_bytes_per_session:
                return (
                    f"the session would reach {total:,} bytes scanned, more than "
                    f"max_bytes_per_session={s.max_bytes_per_session:,}"
                )
        return None

    def _started(self, query_id: str) -> None:
        self._local.query_id = query_id

    def _run(self, statement: Any, params: dict[str, Any], label: str, *, fetch: bool = True) -> tuple[Outcome, float]:
        timeout = self.settings.query_timeout
        if not self._checked:
            self._check_settings()
            self._checked = True
        limit = self.settings.max_bytes_per_session
        if limit is not None and self.session_scanned_bytes() >= limit:
            raise CostLimitExceeded(
                f"view {label!r} was not started: this session has scanned {self.session_scanned_bytes():,} bytes, "
                f"max_bytes_per_session={limit:,}"
            )
        local = self._local
        local.query_id, local.execution = None, None
        start = time.perf_counter()
        local.deadline = time.monotonic() + timeout if timeout else None
        try:
            with self.sa.connect() as conn:
                result = conn.execution_options(on_start_query_execution=self._started).execute(statement, params)
                cursor = result.cursor
                # Read the statistics first: SQLAlchemy closes the cursor once all rows are fetched.
                outcome = Outcome.of(cursor, pa.table({}))
                if fetch and self.settings.driver == "arrow":
                    outcome = dataclasses.replace(outcome, table=cursor.as_arrow())
                elif fetch:
                    description = cursor.description
                    rows = [tuple(r) for r in result.fetchall()]
                    outcome = dataclasses.replace(outcome, table=rows_to_arrow(description, rows))
        except Deadline:
            query_id = local.query_id
            self._stop(query_id)
            log.warning(
                "athena query view=%s query_id=%s state=TIMEOUT timeout_s=%s stopped=true", label, query_id, timeout
            )
            raise QueryTimeout(
                f"view {label!r} ran longer than query_timeout={timeout:g}s and was stopped on Athena",
                query_id=query_id,
                state="CANCELLED",
            ) from None
        except OverBudget as over:
            query_id = local.query_id
            running = over.state in ("QUEUED", "RUNNING")
            if running:
                self._stop(query_id)
            with self._lock:
                self._stopped_bytes += over.scanned
            log.warning(
                "athena query view=%s query_id=%s state=OVER_BUDGET scanned_bytes=%d stopped=%s",
                label,
                query_id,
                over.scanned,
                str(running).lower(),
            )
            raise CostLimitExceeded(
                f"view {label!r} {'was stopped on Athena' if running else 'result discarded'}",
                query_id=query_id,
                reason=over.reason,
                state="CANCELLED" if running else over.state,
            ) from None
        except KeyboardInterrupt:
            # PyAthena has already sent StopQueryExecution when kill_on_interrupt is on.
            log.warning(
                "athena query view=%s query_id=%s state=INTERRUPTED stopped=%s",
                label,
                local.query_id,
                str(self.settings.kill_on_interrupt).lower(),
            )
            raise
        except sa.exc.DBAPIError as exc:
            raise driver_error(exc, label, self._local, self.settings.retry_attempts) from None
        finally:
            local.deadline = None
        return outcome, (time.perf_counter() - start) * 1000

    def _stop(self, query_id: str | None) -> None:
        if not query_id:
            return
        try:
            self.client().stop_query_execution(QueryExecutionId=query_id)
        except Exception as exc:  # the timeout is still raised; the log says the stop failed
            log.error("athena stop failed query_id=%s error=%s", query_id, type(exc).__name__)

    def _stats(self, out: Outcome, label: str, sql_hash: str, entities: int, elapsed: float) -> QueryStats:
        reused = out.reused_previous_result or out.from_cursor_cache
        # A cursor-cache hit ran nothing now; an Athena reuse scanned nothing. Neither is billed.
        scanned = 0 if out.from_cursor_cache else int(out.scanned_bytes or 0)
        stats = QueryStats(
            engine=self.name,
            view=label,
            sql_hash=sql_hash,
            entities=entities,
            rows=out.table.num_rows,
            elapsed_ms=elapsed,
            query_id=out.query_id,
            scanned_bytes=scanned,
            reused=reused,
            engine_ms=out.engine_ms,
            queue_ms=out.queue_ms,
            total_ms=out.total_ms,
            workgroup=out.workgroup or self.settings.workgroup,
            cost_usd=0.0 if reused else athena_cost(scanned),
        )
        with self._lock:
            self._queries.append(stats)
        return stats

    def _log(self, stats: QueryStats, params: Mapping[str, Any]) -> None:
        shown = ",".join(f"{k}={_log_value(v, self.settings.log_parameter_values)}" for k, v in sorted(params.items()))
        log.info(
            "athena query view=%s query_id=%s state=SUCCEEDED workgroup=%s entities=%d rows=%d scanned_bytes=%d "
            "reused=%s engine_ms=%s queue_ms=%s total_ms=%s elapsed_ms=%.1f cost_usd=%.6f sql_hash=%s params=%s",
            stats.view,
            stats.query_id,
            stats.workgroup,
            stats.entities,
            stats.rows,
            stats.scanned_bytes or 0,
            str(stats.reused).lower(),
            stats.engine_ms,
            stats.queue_ms,
            stats.total_ms,
            stats.elapsed_ms,
            stats.cost_usd or 0.0,
            stats.sql_hash,
            shown or "-",
        )


def _log_value(value: Any, show: bool) -> str:
    """A parameter value for the log line: redacted, or escaped so no value can start a forged log line."""
    if not show:
        return "<redacted>"
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
