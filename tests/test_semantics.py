"""Athena (Trino) semantics on DuckDB: the adapter's rewrites, run on real DuckDB, against Trino's rules.

The expected values are computed here with decimal.Decimal from the rules Trino documents (see
tests/oracle.py), never taken from DuckDB.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

import featurekit
from featurekit.engines import adapt
from featurekit.sample import write_sample

from .conftest import AS_OF
from .oracle import customer_orders, read_orders, spend_trend


def run(athena_sql: str, **binds: object) -> list[tuple[object, ...]]:
    sql = adapt.adapt(athena_sql, "duckdb", "test.sql")
    for name in binds:  # DuckDB's own client binds $name; the adapter keeps SQLAlchemy's :name
        sql = sql.replace(f":{name}", f"${name}")
    return duckdb.connect().execute(sql, binds or None).fetchall()


def test_integer_division_truncates_toward_zero_as_on_athena():
    assert run("SELECT 7 / 2, -7 / 2, 7 / -2, 7.0 / 2") == [(3, -3, -3, 3.5)]


@pytest.mark.parametrize("seed", range(20))
def test_avg_of_decimals_is_exact_and_half_up(seed):
    rng = random.Random(seed)
    cents = [rng.randint(-50_000, 50_000) for _ in range(rng.randint(1, 12))]
    values = ", ".join(f"(CAST('{Decimal(c) / 100}' AS DECIMAL(12, 2)))" for c in cents)
    [(got, total)] = run(f"SELECT round(avg(x), 2), sum(x) FROM (VALUES {values}) AS t(x)")
    exact = sum(Decimal(c) for c in cents) / 100 / len(cents)
    # ROUND_HALF_UP in decimal is Trino's HALF_UP: halves go away from zero, negatives too.
    assert got == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert total == sum(Decimal(c) for c in cents) / 100


def test_a_half_cent_average_rounds_up_where_a_double_would_not():
    # 27.02 and 27.03 average to 27.025; as a DOUBLE that is 27.02499.., which rounds down.
    [(avg,)] = run(
        "SELECT avg(x) FROM (VALUES (CAST(27.02 AS DECIMAL(12, 2))), (CAST(27.03 AS DECIMAL(12, 2)))) AS t(x)"
    )
    assert avg == Decimal("27.03")


def test_avg_of_a_low_scale_literal_keeps_athenas_one_decimal():
    # Trino types 1.0 as DECIMAL(2,1): 4 of 7 is 0.6 on Athena, so it is 0.6 on DuckDB too (validate flags it).
    rows = ", ".join(["(true)"] * 4 + ["(false)"] * 3)
    [(rate,)] = run(f"SELECT round(avg(CASE WHEN r THEN 1.0 ELSE 0.0 END), 3) FROM (VALUES {rows}) AS t(r)")
    assert rate == Decimal("0.6")


def test_avg_of_an_empty_group_is_null():
    assert run("SELECT avg(x) FROM (SELECT CAST(1 AS DECIMAL(12, 2)) AS x) AS t WHERE false") == [(None,)]


def test_date_add_on_a_date_stays_a_date():
    [(day, kind)] = run(
        "SELECT date_add('day', -3, :as_of), typeof(date_add('day', -3, :as_of))", as_of=dt.date(2026, 3, 2)
    )
    assert (day, kind) == (dt.date(2026, 2, 27), "DATE")


def test_double_rounding_is_half_away_from_zero_like_trino():
    # Trino: Math.round(x * 10^n) / 10^n; 0.0625 * 1000 = 62.5 exactly, so 0.063.
    assert run("SELECT round(CAST(1 AS DOUBLE) / 16, 3), round(2.5e0)") == [(0.063, 3.0)]


#: Order dates Athena reads as a day (trimmed, Joda's yyyy-MM-dd) and ones it reads as NULL (try_cast), which DuckDB
#: alone read as the day: a timestamp, slashes.
ODD_DATES = ["2026-13-45", "2026-06-29T10:00:00", "2026-06-29 10:00:00", "2026/06/29", " 2026-6-29\t", "+2026-06-28"]


@pytest.mark.parametrize("order_date", ODD_DATES)
def test_a_malformed_order_date_is_skipped_not_fatal(tmp_path, order_date):
    """try_cast in the shipped views: one bad value drops its row (or counts on the day Athena reads), the query
    and every other number stand."""
    write_sample(tmp_path, customers=60, orders=400, as_of=AS_OF)
    partition = sorted((tmp_path / "orders").glob("dt=*"))[-1]
    row = {"order_id": "BAD1", "customer_id": "C00042", "order_date": order_date, "category": "books"}
    bad = json.dumps({**row, "amount": 9.99, "refunded": False}) + "\n"
    with open(next(partition.glob("*.json")), "a") as f:
        f.write(bad)
    orders = read_orders(tmp_path)
    assert any(o["order_id"] == "BAD1" for o in orders)
    ids = [f"C{i:05d}" for i in range(1, 61)]
    with featurekit.FeatureStore(data=tmp_path) as store:
        got = {r["customer_id"]: r for r in store.get("customer_orders", ids, as_of=AS_OF).to_dicts()}
        trend = {r["customer_id"]: r for r in store.get("spend_trend", ids, as_of=AS_OF).to_dicts()}
    for view, rows, expected in (
        ("orders", got, customer_orders(orders, AS_OF)),
        ("trend", trend, spend_trend(orders, AS_OF)),
    ):
        assert {cid: {k: rows[cid][k] for k in want} for cid, want in expected.items()} == expected, view


@pytest.mark.parametrize("seed", range(5))
def test_a_double_cast_to_decimal_rounds_its_shortest_text_half_up(seed):
    """Trino: BigDecimal.valueOf(x).setScale(s, HALF_UP), so 0.285 -> 0.29 where DuckDB's own cast gives 0.28."""
    rng = random.Random(seed)
    values = [rng.randint(-(10**6), 10**6) / 1000 for _ in range(200)] + [0.285, 1.005, 2.675, -0.125, 0.1 + 0.2]
    rows = ", ".join(f"(CAST({v!r} AS DOUBLE))" for v in values)
    got = [r[0] for r in run(f"SELECT CAST(x AS DECIMAL(12, 2)) FROM (VALUES {rows}) AS t(x)")]
    assert got == [Decimal(repr(v)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) for v in values]
