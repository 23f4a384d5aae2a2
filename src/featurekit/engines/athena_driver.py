"""The PyAthena side of the Athena engine: the cursor, its polling, and what it returns or raises.

featurekit's cursor adds a connection-wide cursor cache, knows when that cache hit, and polls
adaptively. Results become Arrow tables typed by Athena's (and Trino's) column types; driver
and botocore errors become featurekit's typed errors with the query ID and Athena's reason.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from ..errors import ConfigError, QueryError, QueryThrottled

log = logging.getLogger("featurekit.athena")

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
class Outcome:
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
    def of(cls, cursor: Any, table: pa.Table) -> Outcome:
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


class Deadline(Exception):
    """Raised from PyAthena's poll callback when a query has run past its timeout."""


class OverBudget(Exception):
    """Raised from PyAthena's poll callback when a query passes a bytes-scanned limit (the cost guard)."""

    def __init__(self, reason: str, scanned: int, state: str) -> None:
        super().__init__(reason)
        self.reason, self.scanned, self.state = reason, scanned, state


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


#: Statements whose result Athena may reuse (deterministic reads); anything else changes the catalog or data.
_READS = re.compile(r"\A(?:\s|--[^\n]*\n|/\*.*?\*/)*(?:SELECT|WITH|VALUES|TABLE|EXECUTE)\b", re.IGNORECASE | re.DOTALL)


def reusable(sql: str) -> bool:
    """Whether a statement is a read that result reuse and the cursor cache may answer."""
    return _READS.match(sql) is not None


def cursor_class(driver: str) -> type:
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
            self.reused_from_cursor_cache = False
            if not reusable(operation):
                # DDL, CTAS and INSERT must run every time: no cursor cache, and no ResultReuseConfiguration
                # at all (PyAthena sends one whenever the connection enables reuse, even with Enabled false).
                enabled: bool = getattr(self, "_result_reuse_enable", False)
                self._result_reuse_enable = False
                try:
                    return super().execute(operation, parameters, **kwargs)
                finally:
                    self._result_reuse_enable = enabled
            size, expiration = self._fk_cache
            if size > 0:
                kwargs.setdefault("cache_size", size)
                kwargs.setdefault("cache_expiration_time", expiration)
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


def driver_error(exc: sa.exc.DBAPIError, label: str, local: Any, retry_attempts: int) -> Exception:
    """A typed featurekit error from what PyAthena/botocore raised; `local` holds the query ID and last status."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

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
            log.warning("athena throttled view=%s operation=%s attempts=%d", label, operation, retry_attempts)
            return QueryThrottled(
                f"Athena throttled {operation} for view {label!r} {retry_attempts} times (retry_attempts)",
                query_id=query_id,
                reason=code,
            )
        if code == "InvalidRequestException" and "outputlocation" in message.replace(" ", "").lower():
            return ConfigError(
                "s3_staging_dir",
                f"Athena has no result location: {message} "
                "(set s3_staging_dir to an s3:// URL ending in /, or use a workgroup with one)",
            )
        return QueryError(f"view {label!r}: Athena {operation} failed", query_id=query_id, reason=f"{code}: {message}")
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


def _ms(value: Any) -> float | None:
    return float(value) if value is not None else None
