"""Hardening: the snapshot of small JSON/CSV tables, the per-lookup file listing and `file_check_interval`,
checked against a fresh uncached store that reads the files (`snapshot_max_bytes=0`); and CSV files read as their
own header, line ends and bytes say. Written as a red-team pass over that change; each case it found is fixed."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import featurekit
from featurekit.engines.duckdb import SNAPSHOTS, DuckDBEngine
from featurekit.errors import FeaturekitError, InputError
from featurekit.sample import write_sample
from tests.conftest import AS_OF
from tests.hardening_support import orders_as_csv, tried

IDS = [f"C{i:05d}" for i in range(1, 21)]
ROW = {"order_id": "O-x", "customer_id": "C00001", "order_date": "2026-06-29", "category": "books"}
LOOKUPS = [("customer_orders", {"lookback_days": 3650}), ("spend_trend", {}), ("customer_latest", {})]


def answers(store: featurekit.FeatureStore) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view, params in LOOKUPS:
        try:
            out[view] = store.get(view, IDS, as_of=AS_OF, params=params).to_dicts()
        except FeaturekitError as exc:  # a typed error is an answer too: both paths must give the same one
            out[view] = type(exc).__name__
    return out


def reference(data: Path, catalog: featurekit.Catalog | None = None) -> dict[str, Any]:
    with warnings.catch_warnings(), featurekit.FeatureStore(catalog, data=data, cache=False, snapshot_max_bytes=0) as s:
        warnings.simplefilter("ignore")
        return answers(s)


def snapshotted(store: featurekit.FeatureStore, table: str) -> bool:
    with store.engine.sa.connect() as conn:  # type: ignore[attr-defined]
        sql = "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?"
        return bool(conn.exec_driver_sql(sql, (SNAPSHOTS, table)).scalar())


def outcome(call: Any) -> Any:
    """What `call()` returns, or the exception it raises."""
    try:
        return call()
    except Exception as exc:
        return exc


def line(**changes: Any) -> str:
    return json.dumps({**ROW, "amount": 1.5, "refunded": False, **changes}) + "\n"


def test_every_kind_of_file_change_answers_as_the_files_do(tmp_path: Path) -> None:
    """Snapshot and file stores, cached (one shared disk cache dir) or not, follow every change in turn."""
    data, cache_dir = tmp_path / "data", tmp_path / "cache"
    write_sample(data, customers=20, orders=300, as_of=AS_OF)
    orders, daily = data / "orders", sorted((data / "customer_daily").rglob("*.json"))[-1]
    last = sorted(orders.rglob("*.json"))[-1]
    old = last.read_text()

    def append_daily(who: str, count: int, at: str) -> None:
        row = {"customer_id": who, "orders_to_date": count, "spend_to_date": 1.25, "updated_at": at}
        daily.write_text(daily.read_text() + json.dumps(row) + "\n")

    def rename_over(text: str) -> None:
        (last.parent / "_tmp").write_text(text)
        os.replace(last.parent / "_tmp", last)

    changes = [
        lambda: last.write_text(old + line()),
        lambda: last.write_text(last.read_text().replace('"C00001"', '"C00002"')),  # same size, in place
        lambda: rename_over(old),
        lambda: shutil.rmtree(sorted(orders.iterdir())[-2]),
        lambda: (last.parent / "empty.json").write_text(""),
        lambda: (last.parent / "_hidden.json").write_text(line(amount=1000.0)),
        lambda: os.utime(last),
        lambda: (last.parent / "bad.json").write_text('{"order_id": oops\n'),  # malformed: no snapshot
        lambda: (last.parent / "bad.json").unlink(),
        lambda: (last.parent / "bad.json").write_text(line(amount="twelve")),  # a value that does not parse
        lambda: (last.parent / "bad.json").write_text(line(amount=None, customer_id="C00003")),
        lambda: append_daily("C00001", 999, "2026-06-30T01:30:00-07:00"),  # timestamptz with an offset
        lambda: append_daily("C00002", 5, "2026-06-30 23:59:59"),  # and without one
    ]
    stores = [
        featurekit.FeatureStore(data=data, cache=cache, cache_dir=cache_dir if cache else None, snapshot_max_bytes=size)
        for cache in (False, True)
        for size in (64 * 2**20, 0)
    ]
    try:
        for i, change in enumerate([lambda: None, *changes]):
            change()
            want = reference(data)
            for store in stores:
                assert answers(store) == want, (i, store.cache, store.engine.snapshot_max_bytes)  # type: ignore
        tried("snapshot: file changes", len(changes))
    finally:
        for store in stores:
            store.close()


def test_a_table_growing_over_the_limit_is_read_from_its_files_and_back(tmp_path: Path) -> None:
    write_sample(tmp_path, customers=20, orders=100, as_of=AS_OF)
    extra = tmp_path / "orders" / "dt=2026-06-29" / "part-9.json"
    size = sum(p.stat().st_size for p in (tmp_path / "orders").rglob("*.json"))
    with featurekit.FeatureStore(data=tmp_path, snapshot_max_bytes=size + 10) as store:
        assert answers(store) == reference(tmp_path) and snapshotted(store, "orders")
        extra.parent.mkdir(exist_ok=True)
        extra.write_text(line() * 5)  # now over the limit
        assert answers(store) == reference(tmp_path) and not snapshotted(store, "orders")
        extra.unlink()
        assert answers(store) == reference(tmp_path) and snapshotted(store, "orders")


def test_a_table_declared_as_one_file_follows_that_file(tmp_path: Path) -> None:
    write_sample(tmp_path, customers=20, orders=100, as_of=AS_OF)
    one = tmp_path / "orders.json"
    one.write_text("".join(p.read_text() for p in sorted((tmp_path / "orders").rglob("*.json"))))
    base = featurekit.load()
    table = replace(base.tables["orders"], path=str(one), format="json", partitioned_by=(), partition_start=None)
    catalog = replace(base, tables={**base.tables, "orders": table})
    with featurekit.FeatureStore(catalog, data=tmp_path) as store:
        for step in ("append", "rewrite", "rename"):
            if step == "append":
                one.write_text(one.read_text() + line())
            elif step == "rewrite":
                one.write_text(one.read_text().replace('"C00001"', '"C00004"'))
            else:
                (tmp_path / "new.json").write_text(line() * 3)
                os.replace(tmp_path / "new.json", one)
            assert answers(store) == reference(tmp_path, catalog), step


def test_readers_while_a_writer_replaces_a_file_never_see_a_raw_error_and_end_fresh(tmp_path: Path) -> None:
    write_sample(tmp_path, customers=20, orders=200, as_of=AS_OF)
    day = tmp_path / "orders" / "dt=2026-06-29"
    day.mkdir(exist_ok=True)
    stop, raw = threading.Event(), []
    with featurekit.FeatureStore(data=tmp_path) as store:

        def write() -> None:
            for n in range(1, 400):
                if stop.is_set():
                    return
                (day / "_tmp").write_text(line() * n)
                os.replace(day / "_tmp", day / "part-9.json")

        def read(view: str) -> None:
            while not stop.is_set():
                try:
                    store.get(view, IDS, as_of=AS_OF)
                except FeaturekitError:
                    pass
                except Exception as exc:
                    raw.append(repr(exc))

        readers = ("customer_orders", "spend_trend", "customer_orders")
        threads = [threading.Thread(target=read, args=(v,)) for v in readers] + [threading.Thread(target=write)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        assert raw == []
        assert answers(store) == reference(tmp_path)


# A partition folder removed while the engine lists the table (a concurrent writer) is not there: the answer
# is the files' state after the removal, not a raw FileNotFoundError from os.scandir.
def test_a_partition_removed_during_the_file_check_is_not_a_raw_error(tmp_path: Path, monkeypatch: Any) -> None:
    write_sample(tmp_path, customers=20, orders=100, as_of=AS_OF)
    doomed = sorted((tmp_path / "orders").iterdir())[-1]
    real = os.scandir
    with featurekit.FeatureStore(data=tmp_path, cache=False) as store:
        store.get("customer_orders", IDS, as_of=AS_OF)

        def racing(path: Any = ".") -> Any:  # the folder goes between its parent's listing and its own
            if str(path) == str(doomed) and doomed.exists():
                shutil.rmtree(doomed)
            return real(path)

        monkeypatch.setattr(os, "scandir", racing)
        got = outcome(lambda: store.get("customer_orders", IDS, as_of=AS_OF, params={"lookback_days": 3650}).to_dicts())
        monkeypatch.undo()
    assert isinstance(got, (list, FeaturekitError)), repr(got)


# With file_check_interval, a second catalog sharing the engine, whose `orders` lives elsewhere, is answered
# from its own files, not from the first catalog's (the last check belongs to a declaration, not a name).
def test_a_file_check_interval_never_answers_from_another_catalogs_files(tmp_path: Path) -> None:
    write_sample(tmp_path / "a", customers=10, orders=80, as_of=AS_OF, seed=1)
    write_sample(tmp_path / "b", customers=10, orders=20, as_of=AS_OF, seed=2)
    base = featurekit.load()
    orders = {k: replace(base.tables["orders"], path=str(tmp_path / k / "orders")) for k in "ab"}
    cat = {k: replace(base, tables={**base.tables, "orders": orders[k]}) for k in "ab"}
    with DuckDBEngine(tmp_path, file_check_interval=30.0) as engine:
        a = featurekit.FeatureStore(cat["a"], engine=engine, cache=False)
        b = featurekit.FeatureStore(cat["b"], engine=engine, cache=False)
        a.get("customer_orders", IDS, as_of=AS_OF)
        got = b.get("customer_orders", IDS[:10], as_of=AS_OF, params={"lookback_days": 3650}).to_dicts()
    with featurekit.FeatureStore(cat["b"], data=tmp_path, cache=False) as fresh:
        want = fresh.get("customer_orders", IDS[:10], as_of=AS_OF, params={"lookback_days": 3650}).to_dicts()
    assert got == want


# snapshot_max_bytes is checked up front, as file_check_interval is: not a raw TypeError at the first lookup.
@pytest.mark.parametrize("value", [None, "10", -1, 1.5, True])
def test_snapshot_max_bytes_must_be_a_number_of_bytes(tmp_path: Path, value: Any) -> None:
    write_sample(tmp_path, customers=5, orders=20, as_of=AS_OF)
    with pytest.raises(InputError, match=r"^snapshot_max_bytes: must be a whole number of bytes >= 0"):
        featurekit.FeatureStore(data=tmp_path, cache=False, snapshot_max_bytes=value)


def csv_orders(data: Path) -> featurekit.Catalog:
    """The sample's orders as CSV (CRLF line ends) and a catalog reading them."""
    write_sample(data, customers=20, orders=100, as_of=AS_OF)
    return orders_as_csv(data)


HEADER = "order_id,customer_id,order_date,category,amount,refunded"


# CSV files are each read as their own header and line ends say: a file with LF line ends among CRLF ones
# keeps its rows; a header in another order than declared is a DataError (Athena reads CSV by position);
# a file that is not UTF-8 is a DataError naming it, not a raw UnicodeDecodeError.
@pytest.mark.parametrize(
    "content",
    [
        f"{HEADER}\nO-9,C00001,2026-06-29,books,5.00,false\nO-10,C00001,2026-06-29,books,7.00,false\n".encode(),
        b"customer_id,order_id,order_date,category,amount,refunded\r\nC00001,O-9,2026-06-29,books,5.00,false\r\n",
        f"{HEADER}\r\nO-9,C00001,2026-06-29,caf\xe9,5.00,false\r\n".encode("latin-1"),
    ],
    ids=["lf-among-crlf", "header-in-another-order", "latin-1"],
)
def test_a_csv_file_is_read_as_its_header_line_ends_and_bytes_say(tmp_path: Path, content: bytes) -> None:
    catalog = csv_orders(tmp_path)
    params = {"lookback_days": 3650}
    with featurekit.FeatureStore(catalog, data=tmp_path, cache=False, snapshot_max_bytes=0) as store:
        before = store.get("customer_orders", "C00001", as_of=AS_OF, params=params)["order_count"]
        (tmp_path / "orders" / "dt=2026-06-29").mkdir(exist_ok=True)
        (tmp_path / "orders" / "dt=2026-06-29" / "x.csv").write_bytes(content)
        got = outcome(lambda: store.get("customer_orders", "C00001", as_of=AS_OF, params=params)["order_count"])
    # The right answer counts the new orders; a typed error naming the file would keep the promise too.
    assert isinstance(got, FeaturekitError) or got == before + content.count(b"C00001"), repr(got)
