"""The Athena engine over real HTTP: PyAthena → (recording proxy) → moto's server on 127.0.0.1.

moto runs no SQL: results are injected (FIFO) and the tests assert the exact SQL text Athena
received. What moto cannot do (fail a query, throttle, report bytes scanned, BatchGetQueryExecution)
is done by the proxy in src/featurekit/testing/athena.py, on the same HTTP path the real service uses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest

import featurekit
from featurekit.engines import athena as athena_mod
from featurekit.engines.athena import AthenaEngine, summarize
from featurekit.engines.athena_driver import driver_error
from featurekit.engines.base import athena_cost
from featurekit.errors import ConfigError, NotFoundError, QueryError, QueryThrottled, QueryTimeout
from featurekit.testing.athena import C42, COLUMNS, REGION, STAGING, AthenaFake

C43 = ("C00043", 1, "20.00", "20.00", "2024-03-01", 0.0, "toys", 61)
AS_OF = "2024-05-01"


def expected_sql(store: featurekit.FeatureStore, ids: list[str], lookback: int = 90) -> str:
    """The catalog SQL with the values as PyAthena's client-side formatter writes them."""
    sql = store.render("customer_orders", ids, as_of=AS_OF).sql
    listed = ", ".join(f"'{i}'" for i in ids)
    return (
        sql.replace("IN :entity_ids", f"IN ({listed})")
        .replace(":lookback_days", str(lookback))
        .replace(":as_of", f"DATE '{AS_OF}'")
        .strip()  # PyAthena strips the statement
    )


@pytest.fixture
def athena_store(athena_fake: AthenaFake) -> Any:
    with featurekit.FeatureStore(engine=athena_fake.engine()) as s:
        yield s


def test_athena_receives_the_catalog_sql_with_values_bound(athena_fake: AthenaFake, athena_store: Any) -> None:
    athena_fake.inject(COLUMNS, C42, C43)
    athena_store.get("customer_orders", ["C00042", "C00043"], as_of=AS_OF, params={"lookback_days": 30})
    [execution] = athena_fake.executions()
    assert execution["Query"] == expected_sql(athena_store, ["C00042", "C00043"], lookback=30)
    assert '"default"."orders"' in execution["Query"]  # identifier from the declaration, quoted
    assert execution["QueryExecutionContext"] == {"Database": "default", "Catalog": "awsdatacatalog"}
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(STAGING)
    [start] = athena_fake.calls("StartQueryExecution")
    # Values are in the text (client-side pyformat), not ExecutionParameters: that is what makes
    # Athena's reuse and PyAthena's cursor cache key on them.
    assert "ExecutionParameters" not in start
    assert start["WorkGroup"] == "primary"
    # moto ignores (and does not echo) reuse settings; the request as sent shows them.
    assert start["ResultReuseConfiguration"] == {
        "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}
    }


def test_string_values_are_escaped_by_the_driver_not_formatted_by_us(athena_fake: AthenaFake) -> None:
    engine = athena_fake.engine()
    try:
        engine.run_statement("SELECT :v AS v", {"v": "x' OR 1=1 --"}, label="probe")
    finally:
        engine.close()
    assert athena_fake.executions()[0]["Query"] == "SELECT 'x'' OR 1=1 --' AS v"


def test_results_are_typed_as_declared_and_missing_ids_get_defaults(athena_fake: AthenaFake, athena_store: Any) -> None:
    athena_fake.inject(COLUMNS, C42)  # C00099 has no orders: no row comes back
    frame = athena_store.get("customer_orders", ["C00042", "C00099"], as_of=AS_OF)
    first, missing = frame.to_dicts()
    assert first == {
        "customer_id": "C00042",
        "order_count": 3,
        "total_spend": 412.5,
        "avg_order": 137.5,
        "last_order": dt.date(2024, 4, 20),
        "refund_rate": 0.333,
        "top_category": "books",
        "days_since_last_order": 11,
    }
    assert type(first["order_count"]) is int and type(first["total_spend"]) is float
    assert missing["customer_id"] == "C00099" and missing["order_count"] == 0 and missing["total_spend"] == 0.0
    assert missing["last_order"] is None
    assert frame.table.schema.field("last_order").type.id == __import__("pyarrow").date32().id


def test_provenance_carries_query_id_bytes_times_and_cost(athena_fake: AthenaFake, athena_store: Any) -> None:
    # moto reports 0 bytes and no times; the proxy reports what Athena would.
    athena_fake.proxy.statistics["*"] = {
        "DataScannedInBytes": 123_456_789,
        "EngineExecutionTimeInMillis": 900,
        "QueryQueueTimeInMillis": 40,
        "TotalExecutionTimeInMillis": 1000,
    }
    athena_fake.inject(COLUMNS, C42)
    row = athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    [q] = row.provenance.queries
    assert q.query_id == athena_fake.executions()[0]["QueryExecutionId"]
    assert (q.scanned_bytes, q.engine_ms, q.queue_ms, q.total_ms) == (123_456_789, 900, 40, 1000)
    assert q.reused is False and q.workgroup == "primary" and q.engine == "athena"
    assert q.cost_usd == pytest.approx(124 * 1e6 / 1e12 * 5)  # rounded up to the MB
    assert row.provenance.cost_usd == q.cost_usd and row.provenance.scanned_bytes == 123_456_789
    assert json.loads(json.dumps(row.to_json()))["provenance"]["queries"][0]["query_id"] == q.query_id


def test_a_reused_result_costs_nothing_and_the_minimum_is_10_mb(athena_fake: AthenaFake, athena_store: Any) -> None:
    athena_fake.proxy.statistics["*"] = {
        "DataScannedInBytes": 0,
        "ResultReuseInformation": {"ReusedPreviousResult": True},
    }
    athena_fake.inject(COLUMNS, C42)
    row = athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    assert row.provenance.queries[0].reused is True and row.provenance.cost_usd == 0.0
    assert athena_cost(1) == pytest.approx(10 * 1e6 / 1e12 * 5) == 0.00005
    assert athena_cost(10_000_001) == pytest.approx(11 * 5e-6)
    assert math.isclose(athena_cost(10**12), 5.0)


def test_second_identical_lookup_makes_zero_aws_calls(athena_fake: AthenaFake, athena_store: Any) -> None:
    athena_fake.inject(COLUMNS, C42)
    first = athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    calls = len(athena_fake.proxy.operations())
    assert calls >= 3  # start, poll, results
    again = athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    assert len(athena_fake.proxy.operations()) == calls
    assert again.to_dict() == first.to_dict() and again.provenance.cache_hits == 1
    assert again.provenance.queries == ()


def test_different_ids_and_parameters_never_share_a_result(athena_fake: AthenaFake, athena_store: Any) -> None:
    athena_fake.inject(COLUMNS, C42)
    athena_fake.inject(COLUMNS, C43)
    athena_fake.inject(COLUMNS, ("C00042", 1, "9.00", "9.00", "2024-04-30", 0.0, "food", 1))
    a = athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    b = athena_store.get("customer_orders", "C00043", as_of=AS_OF)
    c = athena_store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 7})
    assert (a["order_count"], b["order_count"], c["order_count"]) == (3, 1, 1)
    queries = [e["Query"] for e in athena_fake.executions()]
    assert len(queries) == 3 and len(set(queries)) == 3
    assert "IN ('C00043')" in queries[1] and "-7" in queries[2]


def test_pyathena_cursor_cache_keys_on_the_values(athena_fake: AthenaFake) -> None:
    # moto lacks BatchGetQueryExecution, which PyAthena's cursor cache needs (it would log a
    # warning and always miss); the proxy answers it from moto, so the cache really runs here.
    athena_fake.inject(COLUMNS, C42)
    athena_fake.inject(COLUMNS, C43)
    with featurekit.FeatureStore(engine=athena_fake.engine(cursor_cache_size=50), cache=False) as store:
        a = store.get("customer_orders", "C00042", as_of=AS_OF)
        b = store.get("customer_orders", "C00043", as_of=AS_OF)  # same SQL template, other value: must run
        again = store.get("customer_orders", "C00042", as_of=AS_OF)  # identical text: the cursor cache answers
    assert len(athena_fake.calls("StartQueryExecution")) == 2
    assert len(athena_fake.calls("BatchGetQueryExecution")) >= 2
    assert (a["order_count"], b["order_count"]) == (3, 1)
    assert b.entity_id == "C00043" and b["top_category"] == "toys"
    assert again.to_dict() == a.to_dict()
    qa, qb, qagain = (r.provenance.queries[0] for r in (a, b, again))
    assert qagain.query_id == qa.query_id != qb.query_id
    assert qagain.reused is True and qagain.cost_usd == 0.0 and qa.reused is False


def test_failed_query_raises_with_query_id_and_reason_and_is_not_cached(
    athena_fake: AthenaFake, athena_store: Any
) -> None:
    athena_fake.proxy.fail["*"] = "SYNTAX_ERROR: line 3:5: Column 'amount' cannot be resolved"
    with pytest.raises(QueryError) as caught:
        athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    error = caught.value
    assert error.state == "FAILED" and error.query_id == athena_fake.executions()[0]["QueryExecutionId"]
    assert error.reason == "SYNTAX_ERROR: line 3:5: Column 'amount' cannot be resolved"
    assert error.query_id in str(error) and "\n" not in str(error)
    athena_fake.proxy.fail.clear()
    athena_fake.inject(COLUMNS, C42)
    assert athena_store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] == 3
    assert len(athena_fake.calls("StartQueryExecution")) == 2  # the failure was not cached


def test_cancelled_query_raises(athena_fake: AthenaFake, athena_store: Any) -> None:
    athena_fake.manual_progression()
    other = athena_fake.client()

    def stop_on_first_poll(operation: str, body: dict[str, Any]) -> None:
        if operation == "GetQueryExecution" and len(athena_fake.calls("GetQueryExecution")) == 1:
            other.stop_query_execution(QueryExecutionId=body["QueryExecutionId"])  # someone else stops it

    athena_fake.proxy.on_call = stop_on_first_poll
    with pytest.raises(QueryError) as caught:
        athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    assert caught.value.state == "CANCELLED" and caught.value.query_id


def test_timeout_stops_the_query_on_the_server(athena_fake: AthenaFake) -> None:
    athena_fake.manual_progression()  # the query stays RUNNING
    with (
        featurekit.FeatureStore(engine=athena_fake.engine(query_timeout=0.2)) as store,
        pytest.raises(QueryTimeout) as caught,
    ):
        store.get("customer_orders", "C00042", as_of=AS_OF)
    [stop] = athena_fake.calls("StopQueryExecution")
    assert stop["QueryExecutionId"] == caught.value.query_id
    assert athena_fake.executions()[0]["Status"]["State"] == "CANCELLED"
    assert "query_timeout=0.2s" in str(caught.value)


def test_ctrl_c_stops_the_query_then_propagates(athena_fake: AthenaFake, monkeypatch: pytest.MonkeyPatch) -> None:
    athena_fake.manual_progression()
    polls = []
    original = AthenaEngine._on_poll

    def interrupt_on_second_poll(self: AthenaEngine, execution: Any) -> None:
        polls.append(execution.query_id)
        if len(polls) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C while we wait
        original(self, execution)

    monkeypatch.setattr(AthenaEngine, "_on_poll", interrupt_on_second_poll)
    engine = athena_fake.engine()
    try:
        with pytest.raises(KeyboardInterrupt):
            featurekit.FeatureStore(engine=engine).get("customer_orders", "C00042", as_of=AS_OF)
    finally:
        engine.close()
    [stop] = athena_fake.calls("StopQueryExecution")
    assert stop["QueryExecutionId"] == polls[0]


def test_throttling_is_retried_with_backoff(athena_fake: AthenaFake, athena_store: Any) -> None:
    # moto never throttles; the proxy answers HTTP 400 ThrottlingException twice.
    athena_fake.proxy.throttle["StartQueryExecution"] = 2
    athena_fake.inject(COLUMNS, C42)
    assert athena_store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] == 3
    assert len(athena_fake.calls("StartQueryExecution")) == 3


def test_throttling_is_bounded_then_surfaced(athena_fake: AthenaFake) -> None:
    athena_fake.proxy.throttle["StartQueryExecution"] = 100
    with (
        featurekit.FeatureStore(engine=athena_fake.engine(retry_attempts=3)) as store,
        pytest.raises(QueryThrottled) as caught,
    ):
        store.get("customer_orders", "C00042", as_of=AS_OF)
    assert len(athena_fake.calls("StartQueryExecution")) == 3
    assert caught.value.reason == "ThrottlingException" and "retry_attempts" in str(caught.value)


def test_result_encryption_and_workgroup_are_sent(athena_fake: AthenaFake) -> None:
    athena_fake.client().create_work_group(Name="fk", Configuration={})
    athena_fake.inject(COLUMNS, C42)
    engine = athena_fake.engine(
        result_encryption="SSE_KMS", kms_key="arn:aws:kms:us-east-1:1:key/k", workgroup="fk", result_reuse=False
    )
    with featurekit.FeatureStore(engine=engine) as store:
        store.get("customer_orders", "C00042", as_of=AS_OF)
    [start] = athena_fake.calls("StartQueryExecution")
    assert start["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": "arn:aws:kms:us-east-1:1:key/k",
    }
    assert start["WorkGroup"] == "fk" and "ResultReuseConfiguration" not in start


def test_one_log_line_per_query_without_credentials(athena_fake: AthenaFake, athena_store: Any, caplog: Any) -> None:
    athena_fake.inject(COLUMNS, C42)
    with caplog.at_level(logging.INFO, logger="featurekit.athena"):
        row = athena_store.get("customer_orders", "C00042", as_of=AS_OF)
        athena_store.get("customer_orders", "C00042", as_of=AS_OF)  # cached: no query, no line
    lines = [r.getMessage() for r in caplog.records if r.name == "featurekit.athena"]
    assert len(lines) == 1
    assert f"query_id={row.provenance.queries[0].query_id}" in lines[0]
    assert "cost_usd=0.000050" in lines[0] and "params=as_of=2024-05-01,lookback_days=90" in lines[0]
    assert "testing" not in lines[0] and "C00042" not in lines[0]


def test_session_summary(athena_fake: AthenaFake, athena_store: Any) -> None:
    athena_fake.inject(COLUMNS, C42)
    athena_fake.inject(COLUMNS, C43)
    athena_store.get("customer_orders", "C00042", as_of=AS_OF)
    athena_store.get("customer_orders", "C00043", as_of=AS_OF)
    summary = summarize(athena_store.session_queries)
    assert (summary.queries, summary.reused, summary.scanned_bytes) == (2, 0, 0)
    assert summary.cost_usd == pytest.approx(0.0001)
    assert athena_store.engine.session_summary() == summary
    assert "2 Athena queries" in str(summary)


# -- settings ----------------------------------------------------------------------------------


def test_missing_region_names_the_setting(athena_fake: AthenaFake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ConfigError) as caught:
        AthenaEngine(s3_staging_dir=STAGING).run_statement("SELECT 1")
    assert caught.value.setting == "region" and "\n" not in str(caught.value)


def test_missing_result_location_names_the_setting(athena_fake: AthenaFake) -> None:
    with pytest.raises(ConfigError) as caught:
        AthenaEngine(region=REGION).run_statement("SELECT 1")
    assert caught.value.setting == "s3_staging_dir"


def test_missing_credentials_names_the_setting(
    athena_fake: AthenaFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError) as caught:
        AthenaEngine(region=REGION, s3_staging_dir=STAGING).run_statement("SELECT 1")
    assert caught.value.setting == "credentials"


def test_workgroup_without_result_location_is_a_config_error(athena_fake: AthenaFake) -> None:
    # Real Athena answers InvalidRequestException about OutputLocation; moto does not check, so the
    # proxy cannot produce it either without faking the body. The mapping is tested on the error itself.
    from botocore.exceptions import ClientError

    engine = athena_fake.engine()
    err = ClientError(
        {
            "Error": {
                "Code": "InvalidRequestException",
                "Message": "No output location provided. "
                "An output location is required either through the Workgroup result configuration setting "
                "or as an API input.",
            }
        },
        "StartQueryExecution",
    )
    import sqlalchemy as sa

    wrapped = sa.exc.DatabaseError("stmt", {}, Exception("x"))
    wrapped.orig.__cause__ = err  # type: ignore[union-attr]
    # Athena's message says "output location" in words; both spellings are recognised.
    mapped = driver_error(wrapped, "customer_orders", engine._local, engine.settings.retry_attempts)
    engine.close()
    assert isinstance(mapped, ConfigError) and mapped.setting == "s3_staging_dir"


def test_settings_resolution_order(athena_fake: AthenaFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEATUREKIT_ATHENA_WORKGROUP", "from-env")
    monkeypatch.setenv("FEATUREKIT_ATHENA_S3_STAGING_DIR", STAGING)
    monkeypatch.setenv("FEATUREKIT_ATHENA_POLL_INTERVAL", "0.25")
    engine = AthenaEngine()
    assert (engine.settings.workgroup, engine.settings.poll_interval, engine.settings.region) == (
        "from-env",
        0.25,
        REGION,
    )
    engine.close()
    (tmp_path / "featurekit.yaml").write_text(
        "default: prod\nprofiles:\n  prod:\n    engine: athena\n    workgroup: from-profile\n    schema: features\n"
        "  other:\n    engine: athena\n    workgroup: other\n"
    )
    engine = AthenaEngine()
    assert engine.settings.workgroup == "from-profile" and engine.settings.schema_name == "features"
    assert engine.settings.poll_interval == 0.25  # env still fills what the profile leaves out
    engine.close()
    engine = AthenaEngine(workgroup="explicit")
    assert engine.settings.workgroup == "explicit"
    engine.close()
    engine = AthenaEngine(profile="other")
    assert engine.settings.workgroup == "other"
    engine.close()
    with pytest.raises(NotFoundError, match="did you mean 'prod'"):
        AthenaEngine(profile="prd")
    with pytest.raises(NotFoundError, match="did you mean 'workgroup'"):
        AthenaEngine(work_group="x")
    with pytest.raises(ConfigError) as caught:
        AthenaEngine(result_reuse_minutes=20000)
    assert caught.value.setting == "result_reuse_minutes"


def test_feature_store_routes_athena_settings(athena_fake: AthenaFake) -> None:
    with featurekit.FeatureStore(
        engine="athena", region=REGION, s3_staging_dir=STAGING, endpoint_url=athena_fake.endpoint, poll_interval=0.01
    ) as store:
        assert isinstance(store.engine, athena_mod.AthenaEngine)
        assert store.engine.sa.url.drivername == "awsathena+rest"
        athena_fake.inject(COLUMNS, C42)
        assert store.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] == 3


def test_arrow_driver_is_configured(athena_fake: AthenaFake) -> None:
    # PyAthena's arrow cursor reads the result file with pyarrow's S3 filesystem, which ignores
    # endpoint_url, so against moto only its configuration can be checked.
    engine = athena_fake.engine(driver="arrow")
    from pyathena.arrow.cursor import ArrowCursor

    assert engine.sa.url.drivername == "awsathena+arrow"
    assert issubclass(engine.connect_args()["cursor_class"], ArrowCursor)
    engine.close()


# -- command line --------------------------------------------------------------------------------


def test_cli_get_on_athena_prints_features_query_id_and_cost(
    athena_fake: AthenaFake, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATUREKIT_ATHENA_S3_STAGING_DIR", STAGING)
    monkeypatch.setenv("FEATUREKIT_ATHENA_ENDPOINT_URL", athena_fake.endpoint)
    monkeypatch.setenv("FEATUREKIT_ATHENA_POLL_INTERVAL", "0.01")
    athena_fake.inject(COLUMNS, C42)
    code, out, err = cli("get", "customer_orders", "C00042", "--engine", "athena", "--as-of", AS_OF)
    assert code == 0, err
    qid = athena_fake.executions()[0]["QueryExecutionId"]
    assert "412.5" in out and "books" in out and qid in out and "est. cost $0.000050" in out
    athena_fake.inject(COLUMNS, C42)
    code, out, err = cli("get", "customer_orders", "C00042", "--engine", "athena", "--as-of", AS_OF, "--format", "json")
    doc = json.loads(out)
    assert doc["rows"][0]["order_count"] == 3
    assert doc["provenance"]["queries"][0]["query_id"] and doc["provenance"]["cost_usd"] == 0.00005


def test_cli_athena_errors_are_one_line(athena_fake: AthenaFake, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli("get", "customer_orders", "C00042", "--engine", "athena")
    assert code == 2 and err.count("\n") == 1 and "s3_staging_dir" in err and "Traceback" not in err
    monkeypatch.setenv("FEATUREKIT_ATHENA_S3_STAGING_DIR", STAGING)
    monkeypatch.setenv("FEATUREKIT_ATHENA_ENDPOINT_URL", athena_fake.endpoint)
    monkeypatch.setenv("FEATUREKIT_ATHENA_POLL_INTERVAL", "0.01")
    athena_fake.proxy.fail["*"] = "HIVE_CANNOT_OPEN_SPLIT: Error opening Hive split"
    code, _out, err = cli("get", "customer_orders", "C00042", "--engine", "athena")
    assert code == 1 and err.count("\n") == 1 and "HIVE_CANNOT_OPEN_SPLIT" in err and "query " in err


def test_cli_render_on_athena_shows_athena_sql_and_values(cli: Any) -> None:
    code, out, err = cli("render", "customer_orders", "C00042", "--engine", "athena", "--as-of", AS_OF)
    assert code == 0, err
    assert "date_add('day', -:lookback_days, :as_of)" in out and "C00042" in out
