"""Reuse-friendly Athena SQL: IDs in canonical order, no result reuse for DDL/CTAS/INSERT, honest `render`."""

from __future__ import annotations

from typing import Any

import featurekit
from featurekit.testing.athena import C42, COLUMNS, AthenaFake

from .conftest import AS_OF

C43 = ("C00043", 1, "20.00", "20.00", "2024-03-01", 0.0, "toys", 61)


def test_ids_are_sorted_in_the_sql_and_results_keep_the_request_order(athena_fake: AthenaFake) -> None:
    athena_fake.inject(COLUMNS, C42, C43)
    athena_fake.inject(COLUMNS, C42, C43)
    with featurekit.FeatureStore(engine=athena_fake.engine(), cache=False) as store:
        first = store.get("customer_orders", ["C00043", "C00042"], as_of=AS_OF)
        second = store.get("customer_orders", ["C00042", "C00043"], as_of=AS_OF)
    assert first.entity_ids == ["C00043", "C00042"]
    assert [r["order_count"] for r in first.to_dicts()] == [1, 3]
    a, b = (e["Query"] for e in athena_fake.executions())
    assert "IN ('C00042', 'C00043')" in a
    assert a == b  # byte-identical, so Athena's result reuse can answer the repeat batch
    assert second.to_dicts() == first.to_dicts()[::-1]


def test_ddl_ctas_and_insert_are_sent_without_result_reuse(athena_fake: AthenaFake) -> None:
    athena_fake.inject([("x", "integer")], (1,))
    engine = athena_fake.engine(result_reuse=True)
    try:
        for sql in (
            "CREATE EXTERNAL TABLE t (x int) LOCATION 's3://b/t/'",
            "-- optimize\nCREATE TABLE t2 WITH (format = 'PARQUET') AS SELECT 1 AS x",
            "INSERT INTO t2 SELECT 2",
            "SELECT 1 AS x",
        ):
            engine.run_statement(sql, label="probe")
    finally:
        engine.close()
    starts: list[dict[str, Any]] = athena_fake.calls("StartQueryExecution")
    assert ["ResultReuseConfiguration" in s for s in starts] == [False, False, False, True]


def test_render_for_athena_says_values_are_escaped_literals_on_the_client(cli: Any) -> None:
    code, out, _ = cli("render", "customer_orders", "C00043", "C00042", "--engine", "athena", "--as-of", str(AS_OF))
    assert code == 0
    assert "escaped SQL literal on the client" in out and "only DuckDB receives true bind parameters" in out
    assert out.index('"C00042"') < out.index('"C00043"')  # what is sent: the canonical order
