"""Workload reports: from a store's session and from a query log file, on DuckDB and on the Athena
path over moto (bytes, cost, reuse, failures), printed by `featurekit report` and published to CloudWatch."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import featurekit
from featurekit.engines.base import athena_cost
from featurekit.errors import InvalidEntityId, QueryError
from featurekit.report import Lookup, QueryLog, WorkloadReport, metric_data, percentile, publish_cloudwatch
from featurekit.testing.athena import C42, COLUMNS, REGION, AthenaFake

AS_OF = dt.date(2026, 6, 30)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_store_session_and_log_file_give_the_same_report(sample_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "queries.jsonl"
    with featurekit.FeatureStore(data=sample_dir, query_log=log) as store:
        frame = store.get("customer_orders", ["C00042", "C00013", "C00007"], as_of=AS_OF)
        row = store.get("customer_orders", "C00042", as_of=AS_OF)  # answered by the cache
        with pytest.raises(InvalidEntityId):
            store.get("customer_orders", "not-an-id", as_of=AS_OF)
        session = store.workload()
    from_file = WorkloadReport.build(QueryLog(log).read())
    assert from_file.to_dict() == session.to_dict()
    assert session.lookups == 3
    assert session.failures == {"InvalidEntityId": 1}
    assert session.success_rate == pytest.approx(2 / 3)
    assert session.entities == 3 + 1 + 1
    assert session.cache_hits == frame.provenance.cache_hits + row.provenance.cache_hits == 1
    assert session.queries == frame.provenance.queries_run == 1
    assert session.max_ms == max(lk.elapsed_ms for lk in store.session_lookups)
    [view] = session.views
    assert (view.view, view.engine, view.lookups, view.failures) == ("customer_orders", "duckdb", 3, 1)


def test_athena_figures_bytes_cost_reuse_and_failure_reasons(athena_fake: AthenaFake, tmp_path: Path) -> None:
    athena_fake.proxy.statistics["*"] = {"DataScannedInBytes": 25_000_000}
    athena_fake.inject(COLUMNS, C42)
    log = tmp_path / "athena.jsonl"
    with featurekit.FeatureStore(engine=athena_fake.engine(), query_log=log) as store:
        store.get("customer_orders", "C00042", as_of=AS_OF)
        athena_fake.proxy.fail["*"] = "HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split"
        with pytest.raises(QueryError):
            store.get("customer_orders", "C00043", as_of=AS_OF)
    report = WorkloadReport.build(QueryLog(log).read())
    assert report.lookups == 2
    assert report.failures == {"QueryError": 1}
    assert report.scanned_bytes == 25_000_000
    assert report.cost_usd == athena_cost(25_000_000)
    assert report.queries == 1 and report.reused_queries == 0


def test_cli_report_table_json_and_plot(cli, sample_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    with featurekit.FeatureStore(data=sample_dir, query_log=log) as store:
        store.get("customer_orders", ["C00042", "C00013"], as_of=AS_OF)
        store.get("customer_orders", "C00042", as_of=AS_OF)
    code, out, err = cli("report", log, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["lookups"] == 2 and data["cache_hits"] == 1 and data["cache_hit_rate"] == pytest.approx(1 / 3, 1e-3)
    code, out, err = cli("report", log, "--plot", tmp_path / "latency.png")
    assert code == 0, err
    assert "lookups" in out and "customer_orders" in out
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_report_bad_log_is_one_line_with_file_and_line(cli, tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    good = Lookup("customer_orders", "duckdb", 1, 0, 1.5)
    log.write_text(json.dumps(good.to_dict()) + "\n{not json\n")
    code, _, err = cli("report", log)
    assert code == 1
    assert err.startswith(f"error: {log}:2: not a featurekit query log record")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("report", tmp_path / "missing.jsonl")
    assert code == 2 and "does not exist" in err


def test_publish_to_cloudwatch_over_moto(athena_fake: AthenaFake) -> None:
    import boto3

    lookups = [Lookup("customer_orders", "athena", 10, 2, ms, queries=()) for ms in (12.0, 30.0, 18.0)] + [
        Lookup("customer_orders", "athena", 1, 0, 5.0, error="QueryError", message="boom")
    ]
    report = WorkloadReport.build(lookups)
    client = boto3.client("cloudwatch", region_name=REGION, endpoint_url=athena_fake.moto_endpoint)
    sent = publish_cloudwatch(report, "featurekit-test", client=client)
    assert sent == len(metric_data(report)) == 8
    metrics = client.list_metrics(Namespace="featurekit-test")["Metrics"]
    names = {m["MetricName"] for m in metrics}
    assert {"Lookups", "Failures", "LatencyP95", "BytesScanned", "CostUSD"} <= names
    dims = {(d["Name"], d["Value"]) for m in metrics for d in m["Dimensions"]}
    assert dims == {("View", "customer_orders"), ("Engine", "athena")}
    now = dt.datetime.now(dt.timezone.utc)
    stats = client.get_metric_statistics(
        Namespace="featurekit-test",
        MetricName="LatencyP95",
        Dimensions=[{"Name": "View", "Value": "customer_orders"}, {"Name": "Engine", "Value": "athena"}],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(hours=1),
        Period=3600,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [p["Maximum"] for p in stats] == [30.0]
    failures = client.get_metric_statistics(
        Namespace="featurekit-test",
        MetricName="Failures",
        Dimensions=[{"Name": "View", "Value": "customer_orders"}, {"Name": "Engine", "Value": "athena"}],
        StartTime=now - dt.timedelta(hours=1),
        EndTime=now + dt.timedelta(hours=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    assert [p["Sum"] for p in failures] == [1.0]
