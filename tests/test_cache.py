"""featurekit's cache: per entity, parameter-aware, TTL, single flight, never caches failures."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import featurekit
from featurekit.cache import DISK_FILE, FeatureCache, Fetched

from .conftest import AS_OF


def test_repeat_lookup_is_answered_from_cache(store):
    first = store.get("customer_orders", ["C00042", "C00007"], as_of=AS_OF)
    again = store.get("customer_orders", ["C00042", "C00007"], as_of=AS_OF)
    assert (first.provenance.queries_run, again.provenance.queries_run) == (1, 0)
    assert again.provenance.cache_hits == 2
    assert again.to_dicts() == first.to_dicts()


def test_batch_queries_only_its_misses(store):
    store.get("customer_orders", ["C00042"], as_of=AS_OF)
    frame = store.get("customer_orders", ["C00001", "C00042", "C00002"], as_of=AS_OF)
    assert frame.provenance.cache_hits == 1
    assert frame.provenance.queries[0].entities == 2
    assert frame.entity_ids == ["C00001", "C00042", "C00002"]


def test_parameters_and_as_of_are_part_of_the_key(store):
    a = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 30})
    b = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 365})
    c = store.get("customer_orders", "C00042", as_of="2026-01-01", params={"lookback_days": 30})
    assert [x.provenance.queries_run for x in (a, b, c)] == [1, 1, 1]
    assert a["order_count"] != b["order_count"]


def test_no_cache_bypasses(store):
    store.get("customer_orders", "C00042", as_of=AS_OF)
    assert store.get("customer_orders", "C00042", as_of=AS_OF, use_cache=False).provenance.queries_run == 1


def test_ttl_expires_entries():
    now = [0.0]
    cache = FeatureCache(ttl=10, clock=lambda: now[0])
    calls = []

    def fetch(ids):
        calls.append(list(ids))
        return {i: i.upper() for i in ids}

    assert cache.lookup(("p",), ["a"], fetch) == ({"a": "A"}, 0)
    now[0] = 9.9
    assert cache.lookup(("p",), ["a"], fetch) == ({"a": "A"}, 1)
    now[0] = 10.1
    assert cache.lookup(("p",), ["a"], fetch) == ({"a": "A"}, 0)
    assert calls == [["a"], ["a"]]


def test_single_flight_shares_one_fetch_between_threads():
    cache = FeatureCache()
    calls = []
    gate = threading.Event()

    def fetch(ids):
        calls.append(list(ids))
        gate.wait(5)
        return {i: i * 2 for i in ids}

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.lookup(("p",), ["x", "y"], fetch)[0])) for _ in range(8)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)  # let every thread register before the one fetch finishes; correctness does not depend on it
    gate.set()
    for t in threads:
        t.join()
    assert calls == [["x", "y"]]
    assert results == [{"x": "xx", "y": "yy"}] * 8


def test_failures_are_not_cached_and_reach_waiters():
    cache = FeatureCache()
    attempts = []

    def failing(ids):
        attempts.append(ids)
        raise RuntimeError("engine down")

    with pytest.raises(RuntimeError):
        cache.lookup(("p",), ["a"], failing)
    assert cache.lookup(("p",), ["a"], lambda ids: {"a": 1}) == ({"a": 1}, 0)
    assert len(attempts) == 1


def test_eviction_bounds_the_size():
    cache = FeatureCache(max_entries=3)
    cache.lookup(("p",), list("abcde"), lambda ids: {i: i for i in ids})
    assert cache.stats().entries == 3


def test_eviction_bounds_the_bytes_whole_fills_oldest_first():
    cache = FeatureCache(max_bytes=100)
    cache.lookup(("p",), ["a", "b"], lambda ids: Fetched({i: i for i in ids}, nbytes=60))
    cache.lookup(("p",), ["c"], lambda ids: Fetched({i: i for i in ids}, nbytes=60))
    assert cache.stats().entries == 1
    calls = []
    cache.lookup(("p",), ["a", "c"], lambda ids: calls.append(ids) or {i: i for i in ids})
    assert calls == [["a"]]


def test_hits_are_answered_from_any_fill_in_any_order():
    cache = FeatureCache()
    cache.lookup(("p",), list("abcdef"), lambda ids: {i: i.upper() for i in ids})
    cache.lookup(("p",), ["x"], lambda ids: {"x": "X"})
    assert cache.lookup(("p",), ["x", "f", "a"], lambda ids: {}) == ({"x": "X", "f": "F", "a": "A"}, 3)


def test_an_undecodable_disk_entry_is_a_miss_and_is_replaced(sample_dir, tmp_path):
    ids = ["C00042", "C00007"]
    with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as first:
        before = first.get("customer_orders", ids, as_of=AS_OF)
    file = tmp_path / DISK_FILE
    with sqlite3.connect(file) as conn:
        conn.execute("UPDATE entries SET value = ? WHERE entity = 'str:C00042'", [b"\xff not json"])
    with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as second:
        after = second.get("customer_orders", ids, as_of=AS_OF)
    assert after.to_dicts() == before.to_dicts()
    assert after.provenance.cache_hits == 1 and after.provenance.queries[0].entities == 1
    with sqlite3.connect(file) as conn:
        blob = conn.execute("SELECT value FROM entries WHERE entity = 'str:C00042'").fetchone()[0]
    assert json.loads(blob)["customer_id"] == "C00042"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_closing_a_store_releases_every_descriptor(sample_dir, tmp_path):
    catalog = featurekit.load()

    def store(n: int) -> None:
        with featurekit.FeatureStore(catalog, data=sample_dir, cache_dir=tmp_path) as s:
            if n % 100 == 0:  # a query now and then: the engine's connections are released too
                s.get("customer_orders", "C00042", as_of=AS_OF, use_cache=n % 200 == 0)

    store(0)  # first use opens what stays open for the process (imports, DuckDB's own files)
    before = len(os.listdir("/proc/self/fd"))
    for n in range(1, 1_001):
        store(n)
    assert len(os.listdir("/proc/self/fd")) <= before  # a leak would add a descriptor (or three) per store
