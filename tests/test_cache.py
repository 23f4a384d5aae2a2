"""featurekit's cache: per entity, parameter-aware, TTL, single flight, never caches failures."""

from __future__ import annotations

import threading
import time

import pytest

from featurekit.cache import FeatureCache

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
