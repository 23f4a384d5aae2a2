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

from . import config as config_mod
from .config import AthenaSettings
from .declarations import Table
from .engines import QueryStats, athena_cost, quote
from .errors import ConfigError, CostLimitExceeded, QueryError, QueryThrottled, QueryTimeout
from .render import RenderedQuery

log = logging.getLogger("featurekit.athena")
# A library logs, the application configures: without this, warnings would reach stderr via lastResort.
log.addHandler(logging.NullHandler())

THROTTLING_CODES = ("ThrottlingException", "TooManyRequestsException")
#: Athena result types that map to one Arrow type; anything else is inferred from the values.
ATHENA_ARROW: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "char": pa.string(),
    "string": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int64(),
    "int": pa.int64(),
    "smallint": pa.int64(),
    "tinyint": pa.int64(),
    "double": pa.float64(),
    "real": pa.float64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


@dataclass(frozen=True)
class _Outcome:
    """What a finished cursor said, captured before SQLAlchemy closes it."""

    table: pa.Table
    query_id: str | None
    scanned_bytes: int | None
    reused_previous_result: bool
    from_cursor_cache: bool
    engine_ms: float | None
    queue_ms: float | None
    total_ms: float | None
    workgroup: str | None

    @classmethod
    def of(cls, cursor: Any, table: pa.Table) -> _Outcome:
        return cls(
            table=table,
            query_id=cursor.query_id,
            scanned_bytes=cursor.data_scanned_in_bytes,
            reused_previous_result=bool(cursor.reused_previous_result),
            from_cursor_cache=bool(getattr(cursor, "reused_from_cursor_cache", False)),
            engine_ms=_ms(cursor.engine_execution_time_in_millis),
            queue_ms=_ms(cursor.query_queue_time_in_millis),
            total_ms=_ms(cursor.total_execution_time_in_millis),
            workgroup=cursor.work_group,
        )


class _Deadline(Exception):
    """Raised from PyAthena's poll callback when a query has run past its timeout."""


class _OverBudget(Exception):
    """Raised from PyAthena's poll callback when a query passes a bytes-scanned limit (the cost guard)."""

    def __init__(self, reason: str, scanned: int, state: str) -> None:
        super().__init__(reason)
        self.reason, self.scanned, self.state = reason, scanned, state


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


#: Adaptive polling (see adaptive_poll_wait): the first waits, and the share of the elapsed run time later.
POLL_FIRST_WAIT = 0.1
POLL_GROWTH = 0.05


def adaptive_poll_wait(elapsed: float, longest: float) -> float:
    """Seconds to wait before the next status call of a query running for `elapsed` seconds.

    A fixed 0.5 s sleep adds 0.25 s on average to a 1 s query; polling every 10 ms costs 100
    calls a second against a 100/s account quota. Waiting a fixed share of the time run so far
    bounds both: at most ~5% added wall time, at most one call per 100 ms, `longest` at the most.
    """
    return min(longest, max(min(POLL_FIRST_WAIT, longest), elapsed * POLL_GROWTH))


def _cursor_class(driver: str) -> type:
    """PyAthena's cursor with two additions: a connection-wide cursor cache, and knowing when it hit.

    SQLAlchemy's `do_execute` passes no per-statement `cache_size`, and cursor constructors do not
    accept one, so the defaults are applied here.
    """
    from pyathena.arrow.cursor import ArrowCursor
    from pyathena.cursor import Cursor

    base: Any = ArrowCursor if driver == "arrow" else Cursor

    class FeaturekitCursor(base):
        def __init__(self, *, cache_size: int = 0, cache_expiration_time: int = 0, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._fk_cache = (cache_size, cache_expiration_time)
            self.reused_from_cursor_cache = False

        def execute(self, operation: str, parameters: Any = None, **kwargs: Any) -> Any:
            size, expiration = self._fk_cache
            if size > 0:
                kwargs.setdefault("cache_size", size)
                kwargs.setdefault("cache_expiration_time", expiration)
            self.reused_from_cursor_cache = False
            return super().execute(operation, parameters, **kwargs)

        def _find_previous_query_id(self, *args: Any, **kwargs: Any) -> str | None:
            found: str | None = super()._find_previous_query_id(*args, **kwargs)
            self.reused_from_cursor_cache = found is not None
            return found

        def _poll_until_terminal(self, query_id: str) -> Any:
            self._fk_poll_start = time.monotonic()
            # PyAthena asks for the status right after starting; no query is done that fast, and waiting
            # first makes every poll cycle at least POLL_FIRST_WAIT long (at most one call per 100 ms).
            time.sleep(POLL_FIRST_WAIT)
            return super()._poll_until_terminal(query_id)

        def _wait_poll_interval(self) -> None:
            time.sleep(adaptive_poll_wait(time.monotonic() - self._fk_poll_start, self._poll_interval))

    return FeaturekitCursor


def rows_to_arrow(description: Any, rows: list[tuple[Any, ...]]) -> pa.Table:
    """DB-API rows as an Arrow table, typed by Athena's column types where they are plain."""
    names = [d[0] for d in description or ()]
    columns = []
    for i, d in enumerate(description or ()):
        values = [row[i] for row in rows]
        wanted = ATHENA_ARROW.get(str(d[1]).lower())
        try:
            columns.append(pa.array(values, type=wanted) if wanted is not None else pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns.append(pa.array(values))
    return pa.Table.from_arrays(columns, names=names)


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
            "cursor_class": _cursor_class(s.driver),
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
                self._client = session.client(
                    "athena",
                    endpoint_url=s.endpoint_url,
                    config=Config(retries={"mode": "standard", "total_max_attempts": max(3, s.retry_attempts)}),
                )
            return self._client

    # -- the Engine interface --------------------------------------------------------------------

    def table_sql(self, table: Table) -> str:
        return f"{quote(self.settings.schema_name)}.{quote(table.name)}"

    def prepare(self, tables: Iterable[Table]) -> None:
        """Nothing to do: Athena tables are created once with `featurekit setup --engine athena`."""

    def execute(self, query: RenderedQuery) -> tuple[pa.Table, QueryStats]:
        outcome, elapsed = self._run(query.statement(), dict(query.params), query.view)
        stats = self._stats(outcome, query.view, query.sql_hash, len(query.entity_ids), elapsed)
        self._log(stats, {k: v for k, v in query.params.items() if k != "entity_ids"})
        return outcome.table, stats

    def run_statement(
        self, sql: str, params: Mapping[str, Any] | None = None, *, label: str = "statement"
    ) -> QueryStats:
        """Run DDL, CTAS or INSERT (setup, optimize); values in `params` are bound, never formatted by us."""
        import hashlib

        statement = sa.text(sql)
        outcome, elapsed = self._run(statement, dict(params or {}), label, fetch=False)
        stats = self._stats(outcome, label, hashlib.sha256(sql.encode()).hexdigest()[:16], 0, elapsed)
        self._log(stats, dict(params or {}))
        return stats

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
            raise _Deadline(execution.query_id)
        scanned = int(getattr(execution, "data_scanned_in_bytes", None) or 0)
        over = self._over_budget(scanned) if scanned else None
        if over:
            raise _OverBudget(over, scanned, str(execution.state))

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

    def _run(self, statement: Any, params: dict[str, Any], label: str, *, fetch: bool = True) -> tuple[_Outcome, float]:
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
                outcome = _Outcome.of(cursor, pa.table({}))
                if fetch and self.settings.driver == "arrow":
                    outcome = dataclasses.replace(outcome, table=cursor.as_arrow())
                elif fetch:
                    description = cursor.description
                    rows = [tuple(r) for r in result.fetchall()]
                    outcome = dataclasses.replace(outcome, table=rows_to_arrow(description, rows))
        except _Deadline:
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
        except _OverBudget as over:
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
            raise self._error(exc, label) from None
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

    def _error(self, exc: sa.exc.DBAPIError, label: str) -> Exception:
        """A typed featurekit error from what PyAthena/botocore raised."""
        from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

        local = self._local
        query_id = getattr(local, "query_id", None)
        cause: BaseException | None = exc.orig
        while cause is not None and not isinstance(
            cause, (ClientError, NoCredentialsError, PartialCredentialsError, NoRegionError)
        ):
            cause = cause.__cause__
        if isinstance(cause, (NoCredentialsError, PartialCredentialsError)):
            return ConfigError("credentials", "no usable AWS credentials; set AWS_PROFILE or AWS_ACCESS_KEY_ID")
        if isinstance(cause, NoRegionError):
            return ConfigError("region", "no AWS region; set region or AWS_REGION")
        if isinstance(cause, ClientError):
            code = cause.response.get("Error", {}).get("Code", "")
            message = cause.response.get("Error", {}).get("Message", "")
            operation = getattr(cause, "operation_name", "an Athena call")
            if code in THROTTLING_CODES:
                log.warning(
                    "athena throttled view=%s operation=%s attempts=%d", label, operation, self.settings.retry_attempts
                )
                return QueryThrottled(
                    f"Athena throttled {operation} for view {label!r} "
                    f"{self.settings.retry_attempts} times (retry_attempts)",
                    query_id=query_id,
                    reason=code,
                )
            if code == "InvalidRequestException" and "outputlocation" in message.replace(" ", "").lower():
                return ConfigError(
                    "s3_staging_dir",
                    f"Athena has no result location: {message} "
                    "(set s3_staging_dir to an s3:// URL ending in /, or use a workgroup with one)",
                )
            return QueryError(
                f"view {label!r}: Athena {operation} failed", query_id=query_id, reason=f"{code}: {message}"
            )
        execution = getattr(local, "execution", None)
        if execution is not None and execution.state in ("FAILED", "CANCELLED"):
            reason = execution.state_change_reason or execution.state
            log.warning(
                "athena query view=%s query_id=%s state=%s reason=%r",
                label,
                execution.query_id,
                execution.state,
                reason,
            )
            return QueryError(
                f"view {label!r} {execution.state.lower()} on Athena",
                query_id=execution.query_id,
                reason=reason,
                state=execution.state,
            )
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None and str(exc.orig).strip() else repr(exc)
        return QueryError(f"view {label!r} failed on Athena", query_id=query_id, reason=reason)

    def _stats(self, out: _Outcome, label: str, sql_hash: str, entities: int, elapsed: float) -> QueryStats:
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


def _ms(value: Any) -> float | None:
    return float(value) if value is not None else None
