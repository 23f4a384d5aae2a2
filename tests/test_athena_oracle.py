"""The Athena path with the result types Athena returns (decimal, not double), against the Trino oracle.

moto runs no SQL, so the rows Athena would compute come from the independent oracle (tests/oracle.py),
written as Athena's result CSV writes them (`412.50` for a decimal(38,2)), with the column types
inferred from the catalog. What is tested is everything after the engine: type conversion, order,
missing entities and defaults must give exactly the oracle's numbers, and exactly what DuckDB gives.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import featurekit
from featurekit.testing.athena import AthenaFake, athena_columns

from .conftest import AS_OF
from .oracle import customer_orders, read_orders, spend_trend

IDS = [f"C{i:05d}" for i in range(1, 61)] + ["C99999"]


def athena_text(value: Any, type_: str) -> Any:
    """A value as it appears in Athena's result set for a column of `type_`."""
    if value is None:
        return None
    if type_.startswith("decimal("):
        scale = int(type_.rstrip(")").split(",")[1])
        return str(Decimal(repr(value)).quantize(Decimal(1).scaleb(-scale)))
    return value


def rows_for(view: str, expected: dict[str, dict[str, Any]]) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    columns = athena_columns(view)
    rows = [
        tuple(cid if name == "customer_id" else athena_text(want[name], t) for name, t in columns)
        for cid, want in expected.items()
    ]
    return columns, rows


def test_decimal_typed_athena_results_equal_the_oracle_and_duckdb(athena_fake: AthenaFake, sample_dir) -> None:
    orders = read_orders(sample_dir)
    wanted = {"customer_orders": customer_orders(orders, AS_OF), "spend_trend": spend_trend(orders, AS_OF)}
    assert ("total_spend", "decimal(38,2)") in athena_columns("customer_orders")
    assert ("avg_order", "decimal(12,2)") in athena_columns("customer_orders")
    for view, expected in wanted.items():
        columns, rows = rows_for(view, expected)
        athena_fake.inject(columns, *rows)
    with (
        featurekit.FeatureStore(engine=athena_fake.engine()) as athena,
        featurekit.FeatureStore(data=sample_dir) as duck,
    ):
        for view, expected in wanted.items():
            got = athena.get(view, IDS, as_of=AS_OF).to_dicts()
            local = duck.get(view, IDS, as_of=AS_OF).to_dicts()
            assert got == local  # the same rows, types and numbers from both engines
            for row in got:
                want = expected.get(row["customer_id"])
                if want is not None:
                    assert {k: row[k] for k in want} == want
    assert [e["Query"].count("DATE '2026-06-30'") > 0 for e in athena_fake.executions()] == [True, True]
