"""Batch retrieval: chunks, limits, Arrow assembly, single flight through the store, the disk cache, stats."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import featurekit
from featurekit import batch
from featurekit.cache import FeatureCache
from featurekit.engines.base import QueryStats
from featurekit.engines.duckdb import DuckDBEngine
from featurekit.render import RenderedQuery

from .conftest import AS_OF

ALL = [f"C{i:05d}" for i in range(1, 61)]


class CountingEngine(DuckDBEngine):
    """DuckDB that counts executions, can hold them at a gate, and reports Athena-like scanned bytes."""

    def __init__(self, data: Path, gate: threading.Event | None = None, scanned: int | None = None) -> None:
        super().__init__(data)
        self.gate, self.scanned = gate, scanned
        self.executed: list[tuple[Any, ...]] = []
        self.active = self.peak = 0
        self._count = threading.Lock()

    def execute(self, query: RenderedQuery) -> tuple[pa.Table, QueryStats]:
        with self._count:
            self.executed.append(query.entity_ids)
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if self.gate is not None:
                assert self.gate.wait(10), "the test never opened the gate"
            table, stats = super().execute(query)
        finally:
            with self._count:
                self.active -= 1
        if self.scanned is not None:
            stats = dataclasses.replace(stats, scanned_bytes=self.scanned, cost_usd=self.scanned * 5e-12)
        return table, stats


def test_chunks_run_in_parallel_under_the_limit_and_keep_the_order(sample_dir):
    engine = CountingEngine(sample_dir)
    ids = list(reversed(ALL))
    seen: list[tuple[int, int]] = []
    with featurekit.FeatureStore(engine=engine, chunk_size=7, max_concurrency=3, cache=False) as store:
        frame = store.get_frame("customer_orders", ids, as_of=AS_OF, progress=lambda d, t: seen.append((d, t)))
        whole = featurekit.FeatureStore(data=sample_dir, cache=False).get("customer_orders", ids, as_of=AS_OF)
    assert frame.provenance.queries_run == len(engine.executed) == 9  # ceil(60 / 7)
    assert sorted(len(c) for c in engine.executed) == [4] + [7] * 8
    assert 1 <= engine.peak <= 3
    assert frame.entity_ids == ids
    assert frame.to_dicts() == whole.to_dicts()
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (60, 60) and len(seen) == 9


def test_a_thousand_ids_are_one_query_on_duckdb_and_bind_as_one_list(store):
    ids = [f"C{i:05d}" for i in range(1, 1001)]
    frame = store.get("customer_orders", ids, as_of=AS_OF)
    assert frame.provenance.queries_run == 1 and len(frame) == 1000
    query = store.render("customer_orders", ids, as_of=AS_OF)
    # One list bind, not a thousand expanded ones (which took DuckDB 16 s at 50,000 IDs); still a bind, no values.
    assert not query.ids_expand and "UNNEST(:entity_ids)" in query.sql and "C00001" not in query.sql


def test_athena_chunks_fit_the_query_size_limit(store):
    sql = store.catalog.view_templates["customer_orders"].source * 3  # a long template leaves less room
    ids = [f"C{i:05d}" for i in range(1, 99_999)] + ["C1'23"]  # a quote doubles when escaped
    plan = batch.plan(ids, sql, dialect="athena")
    assert plan.entities == len(ids) and len(plan.chunks) > 1
    for chunk in plan.chunks:
        inline = "(" + ", ".join("'" + i.replace("'", "''") + "'" for i in chunk) + ")"
        assert len((sql + inline).encode()) <= batch.ATHENA_MAX_QUERY_BYTES
    assert batch.plan(ids, sql, dialect="athena", chunk_size=500).chunks[0] == tuple(ids[:500])
    assert len(batch.plan(ids, sql, dialect="duckdb").chunks) == 1  # DuckDB binds a list: no text limit


def test_token_bucket_spaces_starts_at_the_rate():
    now = [0.0]
    bucket = batch.TokenBucket(rate=10, burst=2, clock=lambda: now[0])
    assert bucket.acquire() == 0 and bucket.acquire() == 0  # the burst
    import time as time_mod

    slept: list[float] = []
    original = time_mod.sleep
    try:
        time_mod.sleep = lambda s: (slept.append(s), now.__setitem__(0, now[0] + s))  # type: ignore[assignment]
        assert bucket.acquire() == pytest.approx(0.1)
    finally:
        time_mod.sleep = original
    assert slept == [pytest.approx(0.1)]


def test_a_failing_chunk_fails_the_batch():
    plan = batch.BatchPlan(((1,), (2,), (3,)), max_concurrency=2, starts_per_second=None)

    def run(chunk: tuple[int, ...]) -> int:
        if chunk == (2,):
            raise RuntimeError("chunk 2 failed")
        return chunk[0]

    with pytest.raises(RuntimeError, match="chunk 2"):
        batch.run_chunks(plan, run)


def test_concurrent_identical_requests_run_one_query(sample_dir):
    gate = threading.Event()
    engine = CountingEngine(sample_dir, gate=gate)
    with featurekit.FeatureStore(engine=engine) as store:
        results: list[Any] = []
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                results.append(store.get("customer_orders", ["C00042", "C00007"], as_of=AS_OF))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        # Wait (not sleep) until one query is running and every other caller is parked on its future.
        while len(engine.executed) < 1 or not store.cache._inflight:  # type: ignore[union-attr]
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)  # give late threads the chance to (wrongly) start a second query
        gate.set()
        for t in threads:
            t.join()
    assert not errors
    assert engine.executed == [("C00042", "C00007")]
    assert sorted(r.provenance.queries_run for r in results) == [0] * 5 + [1]
    assert all(r.to_dicts() == results[0].to_dicts() for r in results)


def test_mixed_hits_and_misses_assemble_in_order(sample_dir):
    with featurekit.FeatureStore(data=sample_dir) as store:
        store.get("customer_orders", ALL[::3], as_of=AS_OF)
        store.get("customer_orders", ALL[1::5], as_of=AS_OF)
        frame = store.get("customer_orders", list(reversed(ALL)), as_of=AS_OF)
        fresh = store.get("customer_orders", list(reversed(ALL)), as_of=AS_OF, use_cache=False)
    assert frame.provenance.cache_hits == len(set(ALL[::3]) | set(ALL[1::5]))
    assert frame.to_arrow().equals(fresh.to_arrow())


def test_disk_cache_survives_a_restart_with_exact_types(sample_dir, tmp_path):
    ids = ["C00042", "C00007", "C00099"]
    with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as first:
        before = first.get("customer_orders", ids, as_of=AS_OF)
    assert before.provenance.queries_run == 1
    engine = CountingEngine(sample_dir)
    with featurekit.FeatureStore(engine=engine, cache_dir=tmp_path) as second:  # a new process, as far as it knows
        after = second.get("customer_orders", ids, as_of=AS_OF)
        stats = second.cache.stats()  # type: ignore[union-attr]
    assert engine.executed == [] and after.provenance.cache_hits == 3
    assert after.to_arrow().equals(before.to_arrow())
    assert isinstance(after["C00042"]["last_order"], dt.date)
    assert stats.disk_hits == 3 and stats.disk_entries == 3 and stats.misses == 3


def test_disk_cache_from_the_environment(sample_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FEATUREKIT_CACHE_DIR", str(tmp_path))
    with featurekit.FeatureStore(data=sample_dir) as store:
        assert store.cache is not None and store.cache.path is not None
        assert store.cache.path.parent == tmp_path


def test_row_codec_keeps_decimals_dates_and_timestamps_exact():
    schema = pa.schema(
        [("id", pa.string()), ("d", pa.decimal128(38, 9)), ("day", pa.date32()), ("ts", pa.timestamp("us"))]
    )
    row = {
        "id": "C00001",
        "d": Decimal("12345678901234567890.123456789"),
        "day": dt.date(2026, 2, 28),
        "ts": dt.datetime(2026, 2, 28, 13, 14, 15, 123456),
    }
    table = pa.Table.from_pylist([row, {**row, "id": "C00002", "d": None, "day": None, "ts": None}], schema=schema)
    codec = batch.RowCodec(schema)
    back = codec.decode(codec.encode({"a": (table, 0), "b": (table, 1)}))
    assert batch.assemble([back["a"], back["b"]]).equals(table)


def test_stats_count_hits_misses_queries_avoided_and_savings(sample_dir):
    engine = CountingEngine(sample_dir, scanned=40_000_000)
    with featurekit.FeatureStore(engine=engine) as store:
        store.get("customer_orders", ["C00001", "C00002", "C00003", "C00004"], as_of=AS_OF)
        store.get("customer_orders", ["C00001", "C00002"], as_of=AS_OF)  # all hits: a query avoided
        store.get("customer_orders", ["C00003", "C00005"], as_of=AS_OF)  # one hit, one miss: a query runs
        stats = store.cache.stats()  # type: ignore[union-attr]
    assert (stats.hits, stats.misses, stats.queries_avoided, stats.entries) == (3, 5, 1, 5)
    assert stats.bytes_saved == 30_000_000  # each entry saves a quarter of the 40 MB its query scanned
    assert stats.usd_saved == pytest.approx(30_000_000 * 5e-12)


def test_cache_lookup_without_a_codec_never_touches_disk(tmp_path):
    cache = FeatureCache(path=tmp_path)
    assert cache.lookup(("p",), ["a"], lambda ids: {i: i for i in ids}) == ({"a": "a"}, 0)
    assert cache.stats().disk_entries == 0


def test_cli_reads_ids_from_a_file_and_reports_the_disk_cache(cli, sample_dir, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("C00042\nC00007\n\nC00042\n")
    args = ["--data", sample_dir, "--cache-dir", tmp_path / "cache", "--as-of", AS_OF.isoformat()]
    code, out, _ = cli("get", "customer_orders", "--ids-from", ids, "-f", "json", *args)
    assert code == 0
    first = json.loads(out)
    assert [r["customer_id"] for r in first["rows"]] == ["C00042", "C00007", "C00042"]  # one row per ID given
    assert first["provenance"]["queries_run"] == 1
    code, out, _ = cli("get", "customer_orders", "C00007", "-f", "json", *args)  # a new process would do the same
    assert json.loads(out)["provenance"]["queries_run"] == 0
    code, out, _ = cli("cache", "stats", "--cache-dir", tmp_path / "cache", "-f", "json")
    (stats,) = json.loads(out)["items"]
    assert code == 0
    assert (stats["hits"], stats["misses"], stats["disk_entries"], stats["queries_avoided"]) == (1, 2, 2, 1)
    assert cli("cache", "clear", "--cache-dir", tmp_path / "cache")[0] == 0
    cleared = json.loads(cli("cache", "stats", "--cache-dir", tmp_path / "cache", "-f", "json")[1])
    assert cleared["items"][0]["disk_entries"] == 0
    code, _, err = cli("cache", "stats")
    assert code != 0 and "--cache-dir" in err
