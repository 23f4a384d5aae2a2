"""featurekit's cache: per entity, parameter-aware, TTL, single flight, never caches failures."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def test_overlapping_batches_in_threads_fetch_each_id_once():
    cache = FeatureCache()
    fetched: list[str] = []
    lock = threading.Lock()

    def fetch(ids: list[str]) -> Fetched:
        with lock:
            fetched.extend(ids)
        time.sleep(0.01)  # widen the window in which the others find these IDs in flight
        return Fetched(rows=lambda: (i.upper() for i in ids))

    batches = [[f"id{n}" for n in range(start, start + 50)] for start in range(0, 160, 10)]
    results: dict[int, Any] = {}
    threads = [
        threading.Thread(target=lambda k=k, b=b: results.__setitem__(k, cache.lookup(("p",), b, fetch)[0]))
        for k, b in enumerate(batches)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fetched) == sorted({i for b in batches for i in b})  # every ID fetched exactly once
    for k, batch in enumerate(batches):
        assert dict(results[k]) == {i: i.upper() for i in batch}


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


def test_a_batch_is_indexed_only_when_a_lookup_reads_it():
    cache = FeatureCache()
    made: list[int] = []

    def fetch(ids: list[str]) -> Fetched:
        return Fetched(rows=lambda: made.append(len(ids)) or (i.upper() for i in ids))

    values, hits = cache.lookup(("p",), ["a", "b", "c"], fetch, distinct=True)
    assert (made, hits) == ([], 0)  # stored as it came: no per-ID work for a batch nobody reads back
    assert dict(values) == {"a": "A", "b": "B", "c": "C"} and made == [3]
    assert cache.lookup(("p",), ["c", "a"], fetch) == ({"c": "C", "a": "A"}, 2)
    assert made == [3, 3]  # the first read of the shelf indexed it, once
    assert cache.lookup(("p",), ["b"], fetch) == ({"b": "B"}, 1) and made == [3, 3]
    assert cache.stats().entries == 3


def test_rows_that_do_not_match_the_ids_fail_loudly():
    cache = FeatureCache()
    cache.lookup(("p",), ["a", "b"], lambda ids: Fetched(rows=lambda: iter(["A"])))
    with pytest.raises(ValueError):
        cache.lookup(("p",), ["a"], lambda ids: {})


def test_pending_fills_are_evicted_and_counted_exactly():
    now = [0.0]
    cache = FeatureCache(ttl=10, max_entries=4, clock=lambda: now[0])
    rows = lambda ids: Fetched(rows=lambda: (f"{i}{now[0]:g}" for i in ids))  # noqa: E731
    cache.lookup(("p",), ["a", "b", "c"], rows)
    cache.lookup(("q",), ["c", "d"], rows)  # 5 > 4 entries: the oldest one goes, across shelves
    assert cache.stats().entries == 4
    assert cache.lookup(("p",), ["a"], rows) == ({"a": "a0"}, 0)  # `a` was the one evicted, so fetched again
    now[0] = 11  # everything expired: the next fill drops the old ones, pending or indexed, whole
    cache.lookup(("r",), ["z"], rows)
    assert cache.stats().entries == 1
    assert cache.lookup(("p",), ["b"], rows) == ({"b": "b11"}, 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["p", "q"]),
            st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=6),
            st.booleans(),  # the fetch returns `rows` (aligned) or `values` (a mapping)
            st.integers(0, 6),  # seconds that pass before the lookup
        ),
        max_size=25,
    ),
    st.integers(2, 12),
)
def test_hits_and_values_follow_a_plain_model(steps, max_entries):
    """Against a dict of (value, expiry): every answer is the latest fetch's value for that key, and a hit
    only where the model still holds an unexpired entry (eviction may only turn a hit into a miss)."""
    now = [0.0]
    cache = FeatureCache(ttl=10, max_entries=max_entries, clock=lambda: now[0])
    model: dict[tuple[str, str], tuple[str, float]] = {}
    version = [0]
    for prefix, ids, aligned, wait in steps:
        now[0] += wait
        version[0] += 1
        tag = f"{prefix}{version[0]}"

        def fetch(missing: list[str], aligned: bool = aligned, tag: str = tag) -> Any:
            if aligned:
                return Fetched(rows=lambda: (f"{i}@{tag}" for i in missing))
            return {i: f"{i}@{tag}" for i in missing}

        values, hits = cache.lookup((prefix,), ids, fetch)
        fetched = [i for i in dict.fromkeys(ids) if values[i] == f"{i}@{tag}"]
        for i in dict.fromkeys(ids):
            held = model.get((prefix, i))
            if i in fetched:
                model[(prefix, i)] = (values[i], now[0] + 10)
            else:  # a hit: exactly the model's live value
                assert held is not None and held[1] > now[0] and values[i] == held[0]
        assert hits == len(dict.fromkeys(ids)) - len(fetched)
    assert cache.stats().entries <= max_entries  # not per step: stats() indexes every pending fill
