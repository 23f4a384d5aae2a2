"""The two benchmark workloads: their data and their catalogs (the hand-written queries: handwritten.py).

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
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.handwritten import AS_OF
from featurekit.catalog import loader as catalog_mod
from featurekit.sample import write_sample

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
