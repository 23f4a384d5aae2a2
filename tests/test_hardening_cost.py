"""Hardening (issue 7): the cost guard on Athena, per query and per session, over moto.

moto always reports 0 bytes scanned; the recording proxy patches DataScannedInBytes into
GetQueryExecution, the way Athena reports it while a query runs and when it ends.
"""

from __future__ import annotations

from typing import Any

import pytest

import featurekit
from featurekit.errors import CostLimitExceeded, QueryError
from featurekit.testing.athena import C42, COLUMNS, AthenaFake
from tests.hardening_support import immediate, tried

MB = 1_000_000


def scans(fake: AthenaFake, n: int) -> None:
    fake.proxy.statistics["*"] = {"DataScannedInBytes": n}


def test_per_query_limit_discards_the_result_and_caches_nothing(athena_fake: AthenaFake) -> None:
    tried("cost guard: Athena")
    immediate(athena_fake)
    scans(athena_fake, 50 * MB)
    athena_fake.inject(COLUMNS, C42)
    with featurekit.FeatureStore(engine=athena_fake.engine(max_bytes_per_query=10 * MB)) as store:
        with pytest.raises(CostLimitExceeded) as caught:
            store.get("customer_orders", "C00042", as_of="2024-05-01")
        error = caught.value
        assert isinstance(error, QueryError) and error.query_id and error.state == "SUCCEEDED"
        assert "50,000,000" in str(error) and "max_bytes_per_query=10,000,000" in str(error)
        assert "\n" not in str(error)
        assert athena_fake.calls("StopQueryExecution") == []  # it had finished: nothing to stop
        assert athena_fake.calls("GetQueryResults") == []  # and its rows were never read
        # Under the limit the next call runs a query again (the refused one was not cached).
        scans(athena_fake, 1 * MB)
        athena_fake.inject(COLUMNS, C42)
        row = store.get("customer_orders", "C00042", as_of="2024-05-01")
        assert row["order_count"] == 3 and row.provenance.cache_hits == 0
    assert len(athena_fake.calls("StartQueryExecution")) == 2


def test_per_query_limit_stops_a_running_query_on_the_server(athena_fake: AthenaFake) -> None:
    tried("cost guard: Athena")
    athena_fake.manual_progression()  # the query stays RUNNING while it reports bytes
    scans(athena_fake, 20 * MB)
    engine = athena_fake.engine(max_bytes_per_query=10 * MB)
    with featurekit.FeatureStore(engine=engine) as store, pytest.raises(CostLimitExceeded) as caught:
        store.get("customer_orders", "C00042", as_of="2024-05-01")
    [stop] = athena_fake.calls("StopQueryExecution")
    assert stop["QueryExecutionId"] == caught.value.query_id and caught.value.state == "CANCELLED"
    assert "was stopped on Athena" in str(caught.value)


def test_session_limit_stops_the_query_that_would_pass_it_then_refuses_to_start(athena_fake: AthenaFake) -> None:
    tried("cost guard: Athena", 4)
    immediate(athena_fake)
    scans(athena_fake, 10 * MB)
    engine = athena_fake.engine(max_bytes_per_session=25 * MB)
    with featurekit.FeatureStore(engine=engine) as store:
        for cid in ("C00042", "C00043"):
            athena_fake.inject(COLUMNS, (cid, *C42[1:]))
            assert store.get("customer_orders", cid, as_of="2024-05-01")["order_count"] == 3
        assert engine.session_scanned_bytes() == 20 * MB
        athena_fake.inject(COLUMNS, ("C00044", *C42[1:]))
        with pytest.raises(CostLimitExceeded, match="max_bytes_per_session=25,000,000"):
            store.get("customer_orders", "C00044", as_of="2024-05-01")  # would reach 30 MB
        assert engine.session_scanned_bytes() == 30 * MB  # billed, though nothing was returned
        starts = len(athena_fake.calls("StartQueryExecution"))
        with pytest.raises(CostLimitExceeded, match="was not started") as caught:
            store.get("customer_orders", "C00045", as_of="2024-05-01")
        assert caught.value.query_id is None
        assert len(athena_fake.calls("StartQueryExecution")) == starts  # refused before any AWS call
        # What was fetched under the limit is still served from the cache.
        assert store.get("customer_orders", "C00042", as_of="2024-05-01").provenance.cache_hits == 1


def test_limits_are_settings_with_bounds(athena_fake: AthenaFake, monkeypatch: pytest.MonkeyPatch) -> None:
    from featurekit.errors import ConfigError, FeaturekitError

    tried("cost guard: Athena")
    monkeypatch.setenv("FEATUREKIT_ATHENA_MAX_BYTES_PER_QUERY", "12345")
    assert athena_fake.engine().settings.max_bytes_per_query == 12345
    with pytest.raises((ConfigError, FeaturekitError, ValueError)):
        athena_fake.engine(max_bytes_per_session=0)


def test_cli_reports_the_limit_in_one_line(athena_fake: AthenaFake, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tried("cost guard: Athena")
    for name, value in {
        "FEATUREKIT_ATHENA_S3_STAGING_DIR": "s3://featurekit-results/athena/",
        "FEATUREKIT_ATHENA_ENDPOINT_URL": athena_fake.endpoint,
        "FEATUREKIT_ATHENA_POLL_INTERVAL": "0.01",
        "FEATUREKIT_ATHENA_MAX_BYTES_PER_QUERY": str(10 * MB),
    }.items():
        monkeypatch.setenv(name, value)
    scans(athena_fake, 11 * MB)
    athena_fake.inject(COLUMNS, C42)
    code, out, err = cli("get", "customer_orders", "C00042", "--engine", "athena", "--as-of", "2024-05-01")
    assert code == 1 and "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert line.startswith("error: view 'customer_orders' ") and "max_bytes_per_query=10,000,000" in line


# -- dry run ------------------------------------------------------------------------------------


def test_athena_dry_run_shows_what_and_where_without_any_aws_call(athena_fake: AthenaFake) -> None:
    tried("dry run")
    engine = athena_fake.engine(workgroup="analysts", max_bytes_per_query=10 * MB)
    with featurekit.FeatureStore(engine=engine) as store:
        planned = store.dry_run("customer_orders", ["C00042", "C00043"], as_of="2024-05-01")
    assert athena_fake.proxy.calls == []  # nothing reached Athena (or S3)
    assert planned.where["engine"] == "athena" and planned.where["workgroup"] == "analysts"
    assert planned.where["region"] == "us-east-1" and planned.where["s3_staging_dir"].startswith("s3://")
    assert planned.where["max_bytes_per_query"] == 10 * MB
    assert planned.chunks == (2,) and planned.query.entity_ids == ("C00042", "C00043")
    assert '"default"."orders"' in planned.query.sql and "IN :entity_ids" in planned.query.sql
    text = str(planned)
    assert text.startswith("dry run: nothing was executed; 1 query for 2 IDs at most")
    assert "workgroup: analysts" in text and "testing" not in text


def test_dry_run_validates_like_get(athena_fake: AthenaFake) -> None:
    from featurekit.errors import InvalidEntityId

    tried("dry run")
    with featurekit.FeatureStore(engine=athena_fake.engine()) as store, pytest.raises(InvalidEntityId):
        store.dry_run("customer_orders", ["C00042' OR '1'='1"], as_of="2024-05-01")
    assert athena_fake.proxy.calls == []


def test_duckdb_dry_run_names_the_files_and_runs_nothing(store: featurekit.FeatureStore, sample_dir: Any) -> None:
    tried("dry run")
    planned = store.dry_run("customer_orders", [f"C{n:05d}" for n in range(1, 61)], as_of="2026-06-30")
    assert store.session_queries == []
    assert planned.where == {"engine": "duckdb", "data": str(sample_dir), "table orders": str(sample_dir / "orders")}
    assert sum(planned.chunks) == 60


def test_cli_get_dry_run(athena_fake: AthenaFake, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tried("dry run")
    monkeypatch.setenv("FEATUREKIT_ATHENA_S3_STAGING_DIR", "s3://featurekit-results/athena/")
    monkeypatch.setenv("FEATUREKIT_ATHENA_ENDPOINT_URL", athena_fake.endpoint)
    code, out, err = cli(
        "get",
        "customer_orders",
        "C00042",
        "--engine",
        "athena",
        "--as-of",
        "2024-05-01",
        "--param",
        "lookback_days=30",
        "--dry-run",
    )
    assert code == 0, err
    assert out.startswith("dry run: nothing was executed; 1 query for 1 IDs at most")
    assert "s3_staging_dir: s3://featurekit-results/athena/" in out and "IN :entity_ids" in out
    assert '"lookback_days": 30' in out and '"C00042"' in out
    assert athena_fake.proxy.calls == []
