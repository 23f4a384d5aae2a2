"""What a DuckDB expert writes by hand for the two workloads, and the requests both sides answer.

Standard library only: a benchmark child that measures the hand-written side imports this and duckdb, and
nothing of featurekit or its dependencies, so its peak RSS is what such a script would hold.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

AS_OF = dt.date(2026, 6, 30)
TTL_DAYS = 30
LOOKBACK_DAYS = 90
VIEWS = {"orders": "customer_orders", "pit": "customer_latest"}

#: Hand-written DuckDB: `{source}` reads the files (the glob a literal, as an expert writes it); values are bound.
RAW_SQL = {
    "pit": """
WITH ids AS (SELECT unnest($ids) AS customer_id, generate_subscripts($ids, 1) AS pos),
latest AS (
    SELECT customer_id, balance, orders_30d, segment, active, feature_ts
    FROM {source}
    WHERE customer_id IN (SELECT customer_id FROM ids)
      AND dt BETWEEN $start AND $as_of AND CAST(feature_ts AS DATE) BETWEEN $start AND $as_of
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY feature_ts DESC) = 1
)
SELECT ids.customer_id, l.balance, coalesce(l.orders_30d, 0) AS orders_30d, l.segment,
       coalesce(l.active, false) AS active, l.feature_ts
FROM ids LEFT JOIN latest AS l USING (customer_id)
ORDER BY ids.pos
""",
    "orders": """
WITH ids AS (SELECT unnest($ids) AS customer_id, generate_subscripts($ids, 1) AS pos),
windowed AS (
    SELECT customer_id, CAST(order_date AS DATE) AS day, category, CAST(amount AS DECIMAL(12, 2)) AS amount, refunded
    FROM {source}
    WHERE customer_id IN (SELECT customer_id FROM ids)
      AND dt BETWEEN $start AND $as_of AND CAST(order_date AS DATE) BETWEEN $start AND $as_of
),
totals AS (
    SELECT customer_id, count(*) AS order_count, round(sum(amount), 2) AS total_spend,
           -- Athena's avg of a DECIMAL(12,2) is exact, rounded half up (DuckDB's avg goes through a DOUBLE).
           CAST((CAST(sum(amount) * 100 AS HUGEINT) * 2 + count(*)) // (2 * count(*)) AS DECIMAL(18, 0)) * 0.01
               AS avg_order,
           max(day) AS last_order, round(count_if(refunded)::DOUBLE / count(*), 3) AS refund_rate,
           date_diff('day', max(day), $as_of) AS days_since_last_order
    FROM windowed GROUP BY customer_id
),
top AS (
    SELECT customer_id, category AS top_category FROM windowed GROUP BY customer_id, category
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY count(*) DESC, category) = 1
)
SELECT ids.customer_id, coalesce(t.order_count, 0) AS order_count, coalesce(t.total_spend, 0) AS total_spend,
       t.avg_order, t.last_order, t.refund_rate, top.top_category, t.days_since_last_order
FROM ids LEFT JOIN totals AS t USING (customer_id) LEFT JOIN top USING (customer_id)
ORDER BY ids.pos
""",
}
WINDOW = {"pit": TTL_DAYS, "orders": LOOKBACK_DAYS}
FOLDER = {"pit": "customer_daily", "orders": "orders"}


def raw_source(workload: str, data: Path, fmt: str = "parquet") -> str:
    """What the hand-written query reads: DuckDB's own reader over the workload's files, hive partitions on."""
    glob = str(data / FOLDER[workload] / "**" / f"*.{fmt}").replace("'", "''")
    if fmt == "json":
        return f"read_json('{glob}', format = 'newline_delimited', hive_partitioning = true)"
    return f"read_parquet('{glob}', hive_partitioning = true)"


def raw_query(
    workload: str, data: Path, fmt: str = "parquet", source: str | None = None
) -> tuple[str, Callable[[list[str]], dict[str, object]]]:
    """The hand-written SQL over `data` (or over `source`, e.g. a table loaded once), and the bound values for a
    list of IDs."""
    source = source or raw_source(workload, data, fmt)
    start = AS_OF - dt.timedelta(days=WINDOW[workload])
    return RAW_SQL[workload].replace("{source}", source), lambda ids: {"ids": ids, "start": start, "as_of": AS_OF}


def entity_ids(workload: str, n: int, customers: int) -> list[str]:
    """N requested IDs: a fixed shuffle of the customers (IDs past the data have no rows and get defaults)."""
    width = 7 if workload == "pit" else 5
    order = random.Random(11).sample(range(1, max(n, customers) + 1), n)
    return [f"C{i:0{width}d}" if i <= customers else f"C{i:07d}" for i in order]
