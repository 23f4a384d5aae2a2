"""What every engine keeps: the Engine protocol, QueryStats, Athena's price and SQL quoting.

`duckdb` is the embedded default over local files; `athena` and `trino` run the same rendered
queries remotely. Each keeps the same small interface: `dialect`, `table_sql()`, `prepare()`,
`execute()`, `close()`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from ..catalog.declarations import Table
    from ..render import RenderedQuery

#: Athena bills $5 per TB scanned (decimal units), rounded up to the MB, 10 MB minimum per query.
PRICE_PER_TB = 5.0
MIN_BILLED_MB = 10


def athena_cost(scanned_bytes: int) -> float:
    """The cost estimate of one Athena query, in dollars."""
    billed_mb = max(math.ceil(scanned_bytes / 1e6), MIN_BILLED_MB)
    return billed_mb * 1e6 / 1e12 * PRICE_PER_TB


@dataclass(frozen=True)
class QueryStats:
    """What one query did: where it ran, how long, what it read and cost."""

    engine: str
    view: str
    sql_hash: str
    entities: int
    rows: int
    elapsed_ms: float
    query_id: str | None = None
    scanned_bytes: int | None = None
    reused: bool | None = None
    engine_ms: float | None = None
    queue_ms: float | None = None
    total_ms: float | None = None
    workgroup: str | None = None
    cost_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine(Protocol):
    """What the feature store needs from an engine."""

    name: str
    dialect: str

    def table_sql(self, table: Table) -> str: ...

    def adapt_sql(self, sql: str, where: str) -> str: ...

    def prepare(self, tables: Iterable[Table]) -> None: ...

    def execute(self, query: RenderedQuery) -> tuple[pa.Table, QueryStats]: ...

    def close(self) -> None: ...


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    """A configuration string (a path) as a SQL literal; never used for caller values."""
    return "'" + value.replace("'", "''") + "'"
