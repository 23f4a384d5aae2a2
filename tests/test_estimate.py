"""The dry run's estimate of what a query reads, against what actually gets read: DuckDB's profiler
locally, the objects moto holds on the Athena path; and a budget that refuses a batch before it starts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import featurekit
from featurekit.engines.base import athena_cost
from featurekit.errors import CostLimitExceeded
from featurekit.sample import write_sample
from featurekit.testing.athena import BUCKET, C42, COLUMNS, REGION, AthenaFake

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year of daily partitions (the tutorial's shape, more orders)."""
    folder = tmp_path_factory.mktemp("year")
    write_sample(folder, customers=300, orders=6000, as_of=AS_OF)
    return folder


def profiled_bytes(store: featurekit.FeatureStore, query: Any, tmp_path: Path) -> int:
    """Bytes DuckDB's own profiler says the query read, running the exact SQL, views and binds featurekit runs.

    The store's own connection is locked (no profiling settings) and reads small JSON tables once into memory,
    so a fresh connection gets a plain view over the same files: what Athena would read per query.
    """
    import sqlalchemy as sa

    out = tmp_path / "profile.json"
    engine: Any = store.engine
    fresh = sa.create_engine("duckdb:///:memory:")
    with fresh.connect() as conn:
        for name in query.tables:
            table = store.catalog.table(name)
            glob = str(engine.location(table) / "**" / "*.json")
            conn.exec_driver_sql(
                f"CREATE VIEW {name} AS SELECT * FROM read_json('{glob}', format = 'newline_delimited', "
                "hive_partitioning = true, hive_types = {'dt': 'VARCHAR'})"
            )
        conn.exec_driver_sql("PRAGMA enable_profiling = 'json'")
        conn.exec_driver_sql(f"PRAGMA profiling_output = '{out}'")
        conn.execute(query.statement(), query.bind_values()).fetchall()
        conn.exec_driver_sql("PRAGMA disable_profiling")
    fresh.dispose()
    return int(json.loads(out.read_text())["query"]["total_bytes_scanned"])


@pytest.mark.parametrize("view", ["customer_orders", "spend_trend"])
@pytest.mark.parametrize("lookback", [7, 90, 365])
def test_estimate_matches_duckdb_profiler(year: Path, tmp_path: Path, view: str, lookback: int) -> None:
    with featurekit.FeatureStore(data=year, cache=False) as store:
        decl = store.catalog.view(view)
        params = {"lookback_days": lookback} if any(p.name == "lookback_days" for p in decl.parameters) else {}
        planned = store.dry_run(view, ["C00042", "C00013"], as_of=AS_OF, params=params)
        actual = profiled_bytes(store, planned.query, tmp_path)
    [scan] = planned.scans
    assert scan.pruned and scan.exact
    assert 0 < scan.partitions < scan.total_partitions or lookback == 365
    assert abs(scan.bytes - actual) <= 0.05 * actual, (scan.bytes, actual)
    assert planned.cost_usd == athena_cost(scan.bytes)
    assert f"reads orders: {scan.partitions:,} of {scan.total_partitions:,} partitions, {scan.files:,} files" in str(
        planned
    )


def test_cli_dry_run_prints_the_estimate(year: Path, cli) -> None:
    code, out, err = cli("get", "customer_orders", "C00042", "--data", year, "--as-of", "2026-06-30", "--dry-run")
    assert code == 0, err
    assert "reads orders:" in out and "after partition pruning" in out and "estimate:" in out


def _upload(s3: Any, folder: Path, prefix: str) -> dict[str, int]:
    sizes = {}
    for path in sorted(folder.rglob("*.json")):
        key = prefix + str(path.relative_to(folder))
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        sizes[key] = path.stat().st_size
    return sizes


def test_athena_estimate_is_the_s3_objects_under_the_pruned_prefixes(athena_fake: AthenaFake, year: Path) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=athena_fake.moto_endpoint)
    sizes = _upload(s3, year / "orders", "lake/orders/")
    s3.put_object(Bucket=BUCKET, Key="lake/orders/_SUCCESS", Body=b"")
    first, last = AS_OF - dt.timedelta(days=90), AS_OF
    want = {k: v for k, v in sizes.items() if first.isoformat() <= k.split("dt=")[1][:10] <= last.isoformat()}
    athena_fake.proxy.calls.clear()
    engine = athena_fake.engine(data_root=f"s3://{BUCKET}/lake/")
    with featurekit.FeatureStore(engine=engine) as store:
        planned = store.dry_run("customer_orders", ["C00042"], as_of=AS_OF)
    [scan] = planned.scans
    assert (scan.files, scan.bytes) == (len(want), sum(want.values()))
    days = {k.split("/")[2] for k in sizes}
    assert (scan.partitions, scan.total_partitions) == (len({k.split("/")[2] for k in want}), len(days))
    assert athena_fake.calls("StartQueryExecution") == []  # the estimate never runs an Athena query


def test_budget_refuses_a_batch_before_it_starts(athena_fake: AthenaFake, year: Path) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=athena_fake.moto_endpoint)
    sizes = _upload(s3, year / "orders", "lake/orders/")
    engine = athena_fake.engine(data_root=f"s3://{BUCKET}/lake/", max_bytes_per_query=1000)
    with featurekit.FeatureStore(engine=engine) as store, pytest.raises(CostLimitExceeded) as caught:
        store.get("customer_orders", ["C00042", "C00013"], as_of=AS_OF)
    assert "was not started" in str(caught.value) and "max_bytes_per_query=1,000" in str(caught.value)
    assert athena_fake.calls("StartQueryExecution") == []
    # Under a budget the estimate fits, the query runs.
    athena_fake.inject(COLUMNS, C42)
    engine = athena_fake.engine(data_root=f"s3://{BUCKET}/lake/", max_bytes_per_query=sum(sizes.values()))
    with featurekit.FeatureStore(engine=engine) as store:
        assert store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] == C42[1]
