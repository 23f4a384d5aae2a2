"""The embedded engine end to end: real DuckDB over the files sample-data wrote."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pyarrow as pa
import pytest

import featurekit
from featurekit.errors import DataError, InvalidEntityId
from featurekit.sample import write_sample

from .conftest import AS_OF
from .oracle import customer_orders, read_orders, spend_trend

ALL = [f"C{i:05d}" for i in range(1, 61)]


def test_every_customer_matches_an_independent_computation(store, sample_dir):
    expected = customer_orders(read_orders(sample_dir), AS_OF)
    frame = store.get("customer_orders", ALL, as_of=AS_OF)
    assert frame.provenance.queries_run == 1
    assert len(expected) > 30, "the sample should give most customers orders in the window"
    for row in frame.to_dicts():
        want = expected.get(row["customer_id"])
        if want is None:
            assert row["order_count"] == 0 and row["total_spend"] == 0.0 and row["last_order"] is None
            continue
        assert {k: row[k] for k in want} == want  # exact: Athena's types and rounding, no tolerance


def test_window_is_inclusive_at_both_ends(store, sample_dir):
    orders = read_orders(sample_dir)
    cid = "C00042"
    days = sorted({dt.date.fromisoformat(o["order_date"]) for o in orders if o["customer_id"] == cid})
    last = days[-1]
    # A window that ends exactly on the last order day and starts exactly on it holds that day's orders only.
    row = store.get("customer_orders", cid, as_of=last, params={"lookback_days": 1})
    expected = customer_orders(orders, last, 1)[cid]
    assert row["order_count"] == expected["order_count"] >= 1
    assert row["days_since_last_order"] == 0


def test_lookback_parameter_changes_the_answer(store, sample_dir):
    orders = read_orders(sample_dir)
    short = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 30})
    long = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 365})
    assert short["order_count"] == customer_orders(orders, AS_OF, 30).get("C00042", {"order_count": 0})["order_count"]
    assert long["order_count"] == customer_orders(orders, AS_OF, 365)["C00042"]["order_count"]
    assert long["order_count"] > short["order_count"]


def test_unknown_entity_gets_declared_defaults(store):
    row = store.get("customer_orders", "C99999", as_of=AS_OF)
    assert dict(row) == {
        "order_count": 0,
        "total_spend": 0.0,
        "avg_order": None,
        "last_order": None,
        "refund_rate": None,
        "top_category": None,
        "days_since_last_order": None,
    }


def test_thousand_customers_run_exactly_one_query(store):
    ids = [f"C{i:05d}" for i in range(1, 1001)]
    frame = store.get("customer_orders", ids, as_of=AS_OF)
    assert len(frame) == 1000
    assert frame.provenance.queries_run == 1
    assert frame.entity_ids == ids  # one row per ID, in the order asked


def test_results_are_typed_as_declared(store):
    table = store.get("customer_orders", ["C00042", "C00001"], as_of=AS_OF).to_arrow()
    assert table.schema.field("order_count").type == pa.int64()
    assert table.schema.field("total_spend").type == pa.float64()
    assert table.schema.field("last_order").type == pa.date32()
    assert table.schema.field("top_category").type == pa.string()
    row = store.get("customer_orders", "C00042", as_of=AS_OF)
    assert isinstance(row["last_order"], dt.date)
    assert isinstance(row["order_count"], int)


def test_second_view_of_another_shape(store, sample_dir):
    expected = spend_trend(read_orders(sample_dir), AS_OF, 30)
    frame = store.get("spend_trend", ALL, as_of=AS_OF, params={"window_days": 30})
    assert {r["trend"] for r in frame.to_dicts()} >= {"up", "down", "new"}
    for row in frame.to_dicts():
        want = expected.get(row["customer_id"])
        if want is None:
            assert (row["recent_spend"], row["prior_spend"], row["trend"]) == (0.0, 0.0, "none")
            continue
        assert {k: row[k] for k in want} == want


def test_a_large_sample_matches_the_trino_oracle_exactly(tmp_path):
    """Thousands of customers, so the half-cent averages and the thirds of refund rates all occur."""
    folder = tmp_path / "large"
    write_sample(folder, customers=3000, orders=60000, as_of=AS_OF)
    orders = read_orders(folder)
    ids = [f"C{i:05d}" for i in range(1, 3001)]
    with featurekit.FeatureStore(data=folder) as large:
        got = {r["customer_id"]: r for r in large.get("customer_orders", ids, as_of=AS_OF).to_dicts()}
        trend = {r["customer_id"]: r for r in large.get("spend_trend", ids, as_of=AS_OF).to_dicts()}
    expected = customer_orders(orders, AS_OF)
    halves = [
        w for w in expected.values() if 2 * round(w["total_spend"] * 100) % (2 * w["order_count"]) == w["order_count"]
    ]
    assert len(expected) > 2000 and len(halves) > 10, "the sample should hold averages that end in half a cent"
    assert {cid: {k: got[cid][k] for k in want} for cid, want in expected.items()} == expected
    want_trend = spend_trend(orders, AS_OF)
    assert {cid: {k: trend[cid][k] for k in want} for cid, want in want_trend.items()} == want_trend


def test_injection_string_is_rejected_before_any_sql(store):
    with pytest.raises(InvalidEntityId, match="does not match the pattern"):
        store.get("customer_orders", "C1' OR '1'='1", as_of=AS_OF)
    assert store.session_queries == []


def test_engine_is_safe_from_many_threads(store):
    errors: list[BaseException] = []
    results: dict[str, int] = {}

    def work(cid: str) -> None:
        try:
            results[cid] = store.get("customer_orders", cid, as_of=AS_OF, use_cache=False)["order_count"]
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(cid,)) for cid in ALL[:24]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    serial = store.get("customer_orders", ALL[:24], as_of=AS_OF, use_cache=False)
    assert results == {r["customer_id"]: r["order_count"] for r in serial.to_dicts()}


def test_parquet_tables_give_the_same_features(tmp_path, sample_dir):
    write_sample(tmp_path, customers=60, orders=400, as_of=AS_OF, fmt="parquet")
    catalog = featurekit.load()
    from dataclasses import replace

    tables = dict(catalog.tables)
    tables["orders"] = replace(tables["orders"], format="parquet")
    parquet_catalog = replace(catalog, tables=tables)
    with featurekit.FeatureStore(parquet_catalog, data=tmp_path) as pq, featurekit.FeatureStore(data=sample_dir) as js:
        assert (
            pq.get("customer_orders", ALL, as_of=AS_OF).to_dicts()
            == js.get("customer_orders", ALL, as_of=AS_OF).to_dicts()
        )


def test_missing_and_empty_data_folders_are_clear_errors(tmp_path):
    with featurekit.FeatureStore(data=tmp_path / "nope") as s, pytest.raises(DataError, match="does not exist"):
        s.get("customer_orders", "C00042", as_of=AS_OF)
    (tmp_path / "orders").mkdir()
    with (
        featurekit.FeatureStore(data=tmp_path) as s,
        pytest.raises(DataError, match=r"has no \.json, \.csv or \.parquet files"),
    ):
        s.get("customer_orders", "C00042", as_of=AS_OF)
    with featurekit.FeatureStore() as s, pytest.raises(DataError, match="no data folder set"):
        s.get("customer_orders", "C00042", as_of=AS_OF)


def test_provenance_describes_the_query(store):
    frame = store.get("customer_orders", ["C00042"], as_of=AS_OF, params={"lookback_days": 30})
    p = frame.provenance
    assert p.engine == "duckdb" and p.view == "customer_orders"
    assert p.parameters == {"lookback_days": 30}
    assert p.as_of == AS_OF
    assert p.queries_run == 1 and p.queries[0].entities == 1
    assert len(p.sql_hash) == 16 and len(p.template_version) == 12
    assert p.to_dict()["queries_run"] == 1


def test_csv_tables_are_read_too(tmp_path):
    folder = tmp_path / "orders" / "dt=2026-06-29"
    folder.mkdir(parents=True)
    (folder / "part-0.csv").write_text(
        "order_id,customer_id,order_date,category,amount,refunded\n"
        "O1,C00001,2026-06-29,books,10.5,false\nO2,C00001,2026-06-29,toys,2.25,true\n"
    )
    catalog = featurekit.load()
    from dataclasses import replace

    tables = {**catalog.tables, "orders": replace(catalog.tables["orders"], format="csv")}
    with featurekit.FeatureStore(replace(catalog, tables=tables), data=tmp_path) as s:
        row = s.get("customer_orders", "C00001", as_of=AS_OF)
    assert (row["order_count"], row["total_spend"], row["refund_rate"]) == (2, 12.75, 0.5)
    assert row["top_category"] == "books"  # a 1-1 tie goes to the alphabetically first


def test_as_of_defaults_to_today(store):
    assert store.render("customer_orders", "C00042").params["as_of"] == dt.datetime.now(dt.timezone.utc).date()


def test_data_folder_from_environment(monkeypatch, sample_dir: Path):
    monkeypatch.setenv("FEATUREKIT_DATA", str(sample_dir))
    with featurekit.FeatureStore() as s:
        assert s.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] > 0


def test_only_columns_whose_file_type_differs_are_cast(tmp_path):
    """A no-op CAST costs per row and hides Parquet statistics; a needed one keeps the declared type."""
    import pyarrow.parquet as pq

    from featurekit.catalog.declarations import Column, Table
    from featurekit.engines.duckdb import DuckDBEngine

    folder = tmp_path / "t" / "dt=2026-01-01"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table({"k": ["a"], "small": pa.array([7], pa.int32()), "ts": pa.array([dt.datetime(2026, 1, 1)])}),
        folder / "part-0.parquet",
    )
    table = Table(
        name="t",
        columns=tuple(Column(name=n, type=t) for n, t in (("k", "string"), ("small", "int"), ("ts", "timestamp"))),
        format="parquet",
        partitioned_by=(Column(name="dt", type="string"),),
    )
    engine = DuckDBEngine(tmp_path)
    try:
        sql = engine.view_sql(table)
        assert 'SELECT "k", CAST("small" AS BIGINT) AS "small", "ts", "dt" FROM' in sql
        engine.prepare([table])
        with engine.sa.connect() as conn:
            types = {r[0]: r[1] for r in conn.exec_driver_sql('DESCRIBE SELECT * FROM "t"')}
        assert types == {"k": "VARCHAR", "small": "BIGINT", "ts": "TIMESTAMP", "dt": "VARCHAR"}
    finally:
        engine.close()
