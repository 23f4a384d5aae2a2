"""The Redis cache tier against a real redis-server: shared entries, TTL, cross-process single flight, faults."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from featurekit import FeatureStore
from featurekit.cache import FeatureCache
from featurekit.cache_redis import RedisTier
from featurekit.engines.duckdb import DuckDBEngine
from featurekit.errors import QueryError
from tests.conftest import AS_OF
from tests.redis_server import free_port
from tests.serve_support import SlowEngine

pytest.importorskip("redis")


class FailingEngine(DuckDBEngine):
    def execute(self, query: Any) -> Any:
        raise QueryError("engine is down")


def _store(url: str, data: Path, namespace: str, *, engine: Any = None, ttl: float = 300.0) -> FeatureStore:
    cache = FeatureCache(ttl=ttl, tier=RedisTier(url, namespace=namespace))
    return FeatureStore(engine=engine or DuckDBEngine(data), cache=cache)


def _worker(url: str, data: str, namespace: str, ids: list[str], barrier: Any, out: Any) -> None:
    with _store(url, Path(data), namespace, engine=SlowEngine(data, 0.5)) as store:
        barrier.wait()
        frame = store.get_frame("customer_orders", ids, as_of=AS_OF)
        out.put((len(frame.provenance.queries), frame.provenance.cache_hits, frame.to_dicts()))


def test_entries_are_shared_by_caches_and_expire_with_the_ttl(redis_url: str, sample_dir: Path) -> None:
    ns = uuid.uuid4().hex
    with _store(redis_url, sample_dir, ns, ttl=30) as first:
        row = first.get("customer_orders", "C00042", as_of=AS_OF)
        assert row.provenance.queries_run == 1
    with _store(redis_url, sample_dir, ns, ttl=30) as second:  # a fresh process-local cache, same Redis
        again = second.get("customer_orders", "C00042", as_of=AS_OF)
        assert again.provenance.queries_run == 0 and again.provenance.cache_hits == 1
        assert again.to_dict() == row.to_dict()
        tier = second.cache.tier  # type: ignore[union-attr]
        (key,) = list(tier.client.scan_iter(match=f"{ns}:e:*"))
        assert 0 < tier.client.pttl(key) <= 30_000
        assert not list(tier.client.scan_iter(match=f"{ns}:lock:*"))  # the fetch released its lock
        stats = second.cache.stats()  # type: ignore[union-attr]
        assert (stats.hits, stats.misses, stats.disk_entries) == (1, 1, 1)
    with FeatureStore(data=sample_dir, cache=False) as plain:
        assert plain.get("customer_orders", "C00042", as_of=AS_OF).to_dict() == row.to_dict()


def test_two_worker_processes_asking_for_the_same_missing_entity_run_one_query(
    redis_url: str, sample_dir: Path
) -> None:
    ns = uuid.uuid4().hex
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    ids = ["C00042", "C00007"]
    procs = [ctx.Process(target=_worker, args=(redis_url, str(sample_dir), ns, ids, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(r[0] for r in results) == [0, 1]  # one query in all, and the waiter had two hits
    assert sorted(r[1] for r in results) == [0, 2]
    assert results[0][2] == results[1][2]


def test_an_entry_written_between_a_read_and_a_claim_is_used_not_fetched_again(
    redis_url: str, sample_dir: Path
) -> None:
    """The race the load benchmark hit (7 queries for 6 missing entities): B reads (nothing), A writes its entry
    and releases its lock, B claims the now free lock. B must find A's entry, not run the query again."""
    ns = uuid.uuid4().hex
    with _store(redis_url, sample_dir, ns) as a, _store(redis_url, sample_dir, ns) as b:
        tier = b.cache.tier  # type: ignore[union-attr]
        real_read, reads = tier._read, []

        def read_before_a_writes(prefix: str, ids: Any) -> Any:
            reads.append(list(ids))
            if len(reads) == 1:  # B's first read ran just before A's write: it saw nothing
                a.get("customer_orders", "C00042", as_of=AS_OF)
                return {}
            return real_read(prefix, ids)

        tier._read = read_before_a_writes
        row = b.get("customer_orders", "C00042", as_of=AS_OF)
        assert row.provenance.queries_run == 0 and row.provenance.cache_hits == 1
        assert not list(tier.client.scan_iter(match=f"{ns}:lock:*"))  # B let go of the lock it had claimed


def test_a_failed_fetch_is_not_cached_and_releases_its_lock(redis_url: str, sample_dir: Path) -> None:
    ns = uuid.uuid4().hex
    with _store(redis_url, sample_dir, ns, engine=FailingEngine(sample_dir)) as broken:
        with pytest.raises(QueryError, match="engine is down"):
            broken.get("customer_orders", "C00042", as_of=AS_OF)
        tier = broken.cache.tier  # type: ignore[union-attr]
        assert not [k for k in tier.client.scan_iter(match=f"{ns}:*") if k != f"{ns}:epoch".encode()]  # entry, lock
    start = time.monotonic()
    with _store(redis_url, sample_dir, ns) as healthy:  # does not wait for a stale lock
        assert healthy.get("customer_orders", "C00042", as_of=AS_OF).provenance.queries_run == 1
    assert time.monotonic() - start < 10


def test_redis_down_still_answers_from_the_engine_and_says_degraded(sample_dir: Path) -> None:
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"  # nothing listens there
    with _store(url, sample_dir, "down") as store:
        row = store.get("customer_orders", "C00042", as_of=AS_OF)
        assert row.provenance.queries_run == 1
        tier = store.cache.tier  # type: ignore[union-attr]
        assert tier.degraded and "s3cret" not in tier.degraded
        assert tier.ping() is False
        # the in-process tier still serves the repeat
        assert store.get("customer_orders", "C00042", as_of=AS_OF).provenance.cache_hits == 1
