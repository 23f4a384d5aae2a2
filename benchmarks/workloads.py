"""The two benchmark workloads, their data, their catalogs and the queries a DuckDB expert would hand-write.

- `orders`: the shipped `customer_orders` view (a 90-day aggregation) over daily Parquet partitions.
- `pit`: a point-in-time lookup, "the latest row on or before as_of within a TTL", over a daily feature table.

The hand-written side reads the same files with `read_parquet(..., hive_partitioning = true)` and returns
what featurekit returns: one row per requested ID, in the order asked, defaults where an ID has no rows.
It shares nothing with featurekit (no view, no rendered SQL, no typing code).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurekit.catalog import loader as catalog_mod
from featurekit.sample import write_sample

AS_OF = dt.date(2026, 6, 30)
TTL_DAYS = 30
LOOKBACK_DAYS = 90
VIEWS = {"orders": "customer_orders", "pit": "customer_latest"}

PIT_TABLE = """\
name: customer_daily
description: A daily feature snapshot per customer (only customers with activity that day have a row).
format: parquet
path: customer_daily
columns:
  - {name: customer_id, type: string, description: The customer}
  - {name: feature_ts, type: timestamp, description: When the snapshot was computed}
  - {name: balance, type: float, description: Account balance}
  - {name: orders_30d, type: int, description: Orders in the 30 days before the snapshot}
  - {name: segment, type: string, description: Marketing segment}
  - {name: active, type: bool, description: Whether the customer is active}
partitioned_by:
  - {name: dt, type: string, description: "Snapshot day 'YYYY-MM-DD'"}
"""
PIT_VIEW = """\
name: customer_latest
entity: customer
description: The customer's latest daily snapshot on or before as_of, if it is at most ttl_days old.
parameters:
  - {name: ttl_days, type: int, default: 30, min: 1, max: 365, description: "Oldest snapshot accepted, in days"}
features:
  - {name: balance, type: float, description: Account balance}
  - {name: orders_30d, type: int, default: 0, description: Orders in the 30 days before the snapshot}
  - {name: segment, type: string, description: Marketing segment}
  - {name: active, type: bool, default: false, description: Whether the customer is active}
  - {name: feature_ts, type: timestamp, description: When the snapshot was computed}
"""
PIT_SQL = """\
SELECT customer_id, balance, orders_30d, segment, active, feature_ts
FROM (
    SELECT customer_id, balance, orders_30d, segment, active, feature_ts,
           row_number() OVER (PARTITION BY customer_id ORDER BY feature_ts DESC) AS rn
    FROM {{ table('customer_daily') }}
    WHERE customer_id IN :entity_ids
      AND dt BETWEEN date_format(date_add('day', -:ttl_days, :as_of), '%Y-%m-%d') AND date_format(:as_of, '%Y-%m-%d')
      AND CAST(feature_ts AS DATE) BETWEEN date_add('day', -:ttl_days, :as_of) AND :as_of
) AS ranked
WHERE rn = 1
"""

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
    order = np.random.default_rng(11).permutation(max(n, customers))[:n] + 1
    return [f"C{i:0{width}d}" if i <= customers else f"C{i:07d}" for i in order.tolist()]


# ---------------------------------------------------------------- data


def write_orders(folder: Path, orders: int, customers: int) -> Path:
    """The shipped sample's orders as Parquet, sorted by customer_id within each day (row groups can be skipped)."""
    write_sample(folder, customers=customers, orders=orders, as_of=AS_OF, days=365, fmt="parquet")
    for file in (folder / "orders").glob("dt=*/*.parquet"):
        pq.write_table(pq.read_table(file).sort_by("customer_id"), file, row_group_size=2048)
    return folder


def write_daily(folder: Path, customers: int, days: int, rows_per_day: int) -> Path:
    """`customer_daily/dt=.../part-0.parquet`: `rows_per_day` distinct customers a day, deterministic."""
    rng = np.random.default_rng(5)
    table_dir = folder / "customer_daily"
    shutil.rmtree(table_dir, ignore_errors=True)
    names = pa.array([f"C{i:07d}" for i in range(1, customers + 1)])
    segments = pa.array(["new", "regular", "vip", "lapsed"]).take(pa.array(rng.integers(0, 4, customers)))
    for back in range(days):
        day = AS_OF - dt.timedelta(days=back)
        who = np.sort(rng.choice(customers, min(rows_per_day, customers), replace=False))
        seconds = rng.integers(0, 86_400, who.size)
        stamp = np.datetime64(day, "s") + seconds.astype("timedelta64[s]")
        table = pa.table(
            {
                "customer_id": names.take(pa.array(who)),
                "feature_ts": pa.array(stamp.astype("datetime64[us]")),
                "balance": np.round(rng.normal(500.0, 200.0, who.size), 2),
                "orders_30d": rng.integers(0, 40, who.size),
                "segment": segments.take(pa.array(who)),
                "active": rng.random(who.size) < 0.8,
            }
        )
        part = table_dir / f"dt={day.isoformat()}"
        part.mkdir(parents=True)
        pq.write_table(table, part / "part-0.parquet", row_group_size=16_384)
    return folder


def catalog(root: Path, fmt: str) -> Path:
    """The shipped catalog, with `orders` in `fmt`, a key pattern wide enough for 1,000,000 IDs, and the
    point-in-time view added."""
    folder = root / f"catalog-{fmt}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(catalog_mod.load().root, folder)
    orders = folder / "tables" / "orders.yaml"
    orders.write_text(orders.read_text().replace("format: json", f"format: {fmt}"))
    entity = folder / "entities" / "customer.yaml"
    entity.write_text(re.sub(r"pattern: .*", r"pattern: '^C\\d{5,7}$'", entity.read_text()))
    (folder / "tables" / "customer_daily.yaml").write_text(PIT_TABLE)
    (folder / "views" / "customer_latest.yaml").write_text(PIT_VIEW)
    (folder / "views" / "customer_latest.sql").write_text(PIT_SQL)
    return folder
