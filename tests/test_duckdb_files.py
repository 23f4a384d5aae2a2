"""How the embedded engine follows its files: a change is seen by the next lookup (or, when asked, within
`file_check_interval`); small JSON/CSV tables are parsed once and kept in memory with the same answers,
and there is no snapshot (the view keeps reading the files) when a value anywhere fails to parse."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

import featurekit
from featurekit.engines.duckdb import SNAPSHOTS, DuckDBEngine
from featurekit.errors import InputError, QueryError
from featurekit.sample import write_sample

from .conftest import AS_OF
from .hardening_support import orders_as_csv

ALL = [f"C{i:05d}" for i in range(1, 61)]


def snapshotted(store: featurekit.FeatureStore, table: str) -> bool:
    engine = store.engine
    assert isinstance(engine, DuckDBEngine)
    with engine.sa.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", (SNAPSHOTS, table)
        ).scalar()
    return bool(found)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_snapshot_answers_exactly_as_the_files_do(tmp_path: Path, fmt: str) -> None:
    write_sample(tmp_path, customers=60, orders=400, as_of=AS_OF)
    catalog = orders_as_csv(tmp_path) if fmt == "csv" else featurekit.load()
    with (
        featurekit.FeatureStore(catalog, data=tmp_path, cache=False) as fast,
        featurekit.FeatureStore(catalog, data=tmp_path, cache=False, snapshot_max_bytes=0) as files,
    ):
        for view in catalog.views.values():
            if view.entity != "customer":
                continue
            for lookback in (7, 90, 365):
                params = {"lookback_days": lookback} if any(p.name == "lookback_days" for p in view.parameters) else {}
                got = fast.get(view.name, ALL, as_of=AS_OF, params=params).to_dicts()
                assert got == files.get(view.name, ALL, as_of=AS_OF, params=params).to_dicts()
        assert snapshotted(fast, "orders") and not snapshotted(files, "orders")
        assert fast.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] > 0


def test_parquet_and_large_tables_are_read_from_their_files(tmp_path: Path) -> None:
    write_sample(tmp_path / "pq", customers=20, orders=50, as_of=AS_OF, fmt="parquet")
    with featurekit.FeatureStore(data=tmp_path / "pq", cache=False) as store:
        store.get("customer_orders", "C00001", as_of=AS_OF)
        assert not snapshotted(store, "orders")  # DuckDB prunes Parquet files and row groups itself
    write_sample(tmp_path / "js", customers=20, orders=50, as_of=AS_OF)
    size = sum(p.stat().st_size for p in (tmp_path / "js" / "orders").rglob("*.json"))
    with featurekit.FeatureStore(data=tmp_path / "js", cache=False, snapshot_max_bytes=size - 1) as store:
        store.get("customer_orders", "C00001", as_of=AS_OF)
        assert not snapshotted(store, "orders")


def test_a_file_rewritten_with_the_same_size_and_mtime_is_seen(tmp_path: Path) -> None:
    """A copy that keeps times (rsync -t, cp -p) can leave size and mtime as they were: ctime still moves."""
    write_sample(tmp_path, customers=60, orders=400, as_of=AS_OF)
    file = next(p for p in sorted((tmp_path / "orders").rglob("*.json")) if "C00042" in p.read_text())
    with featurekit.FeatureStore(data=tmp_path) as store:
        before = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 365})
        text, st = file.read_text(), file.stat()
        # Same length, other customer: C00042's orders in this file now belong to C00043.
        file.write_text(text.replace('"C00042"', '"C00043"'))
        os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert file.stat().st_size == st.st_size and file.stat().st_mtime_ns == st.st_mtime_ns
        after = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 365})
    assert after.provenance.cache_hits == 0 and after.provenance.queries_run == 1
    assert after["order_count"] == before["order_count"] - text.count('"C00042"')


def test_a_bad_value_outside_the_window_still_fails_only_the_queries_that_reach_it(tmp_path: Path) -> None:
    write_sample(tmp_path, customers=60, orders=400, as_of=AS_OF)
    old = tmp_path / "orders" / "dt=2020-01-01"
    old.mkdir()
    row = {"order_id": "O-bad", "customer_id": "C00042", "order_date": "2020-01-01", "category": "books"}
    (old / "part-0.json").write_text(json.dumps({**row, "amount": "twelve", "refunded": False}) + "\n")
    with featurekit.FeatureStore(data=tmp_path, cache=False) as store:
        got = store.get("customer_orders", ALL, as_of=AS_OF)  # a 90-day window never reaches 2020
        assert not snapshotted(store, "orders")  # so the view reads the files, and only in the window
        with featurekit.FeatureStore(data=tmp_path, cache=False, snapshot_max_bytes=0) as files:
            assert got.to_dicts() == files.get("customer_orders", ALL, as_of=AS_OF).to_dicts()
        with pytest.raises(QueryError, match="twelve"):
            store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 3650})


def test_a_file_check_interval_trusts_the_last_check_for_that_long_and_no_longer(tmp_path: Path) -> None:
    write_sample(tmp_path, customers=60, orders=400, as_of=AS_OF)
    day = tmp_path / "orders" / f"dt={AS_OF.isoformat()}"
    row = {"order_id": "O-new", "customer_id": "C00042", "order_date": AS_OF.isoformat(), "category": "books"}
    with featurekit.FeatureStore(data=tmp_path, file_check_interval=2.0) as store:
        before = store.get("customer_orders", "C00042", as_of=AS_OF)
        (day / "part-9.json").write_text(json.dumps({**row, "amount": 1.0, "refunded": False}) + "\n")
        trusted = store.get("customer_orders", "C00042", as_of=AS_OF)
        time.sleep(2.1)  # 2 s, not less: a busy CI machine can take 0.5 s over the first lookup
        after = store.get("customer_orders", "C00042", as_of=AS_OF)
    # Within the interval the last check stands: the cache answers as the files were (documented).
    assert trusted.provenance.cache_hits == 1 and trusted["order_count"] == before["order_count"]
    assert after.provenance.cache_hits == 0 and after["order_count"] == before["order_count"] + 1


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_a_file_check_interval_must_be_seconds(value: float, tmp_path: Path, cli: Any) -> None:
    with pytest.raises(InputError, match=r"^file_check_interval: must be a number of seconds >= 0"):
        DuckDBEngine(tmp_path, file_check_interval=value)
    code, out, err = cli("serve", "--data", tmp_path, "--file-check-interval", str(value))
    assert code != 0 and out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "check" in lines[0], lines


def test_serve_passes_its_file_check_interval_to_the_engine(tmp_path: Path) -> None:
    from featurekit.serve.runtime import ServeSettings, open_store

    write_sample(tmp_path, customers=5, orders=20, as_of=AS_OF)
    with open_store(ServeSettings(data=str(tmp_path), file_check_interval=30.0)) as store:
        assert isinstance(store.engine, DuckDBEngine) and store.engine.file_check_interval == 30.0
