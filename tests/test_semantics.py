"""Athena (Trino) semantics on DuckDB: the adapter's rewrites, run on real DuckDB, against Trino's rules.

The expected values are computed here with decimal.Decimal from the rules Trino documents (see
tests/oracle.py), never taken from DuckDB.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from featurekit.engines import adapt


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
