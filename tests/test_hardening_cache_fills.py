"""Hardening: the lazily indexed cache fills, the kept no-data verdict and the one-ID memos give the answers the
eager code gave (b7d5ca0, d85e842, 344b170 and the commits between).

A fill now waits on its shelf until a lookup reads its prefix; a fetch may hand its values over as `rows`, made
only when read; in-flight fetches build their ID sets lazily; a pure miss returns a lazy mapping. None of that may
change an answer: TTL, `max_entries` and `max_bytes` must act exactly as on an eagerly indexed cache (a plain
model below), a fetch that fails (at once, or later when its rows are made) must reach its waiters and never stay
in the cache, and the disk and Redis tiers must still return the rows an uncached store returns. The store keeps
the no-data verdict per cache key: new or removed files in the window are another key, so the flag must follow
them. The one-ID pattern check is memoised and DuckDB locates each folder once: neither may answer for another
entity's pattern or another engine's data root.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import gc
import json
import random
import re
import shutil
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import featurekit
from featurekit.cache import FeatureCache, Fetched, _entity_text, _prefix_text
from featurekit.catalog.loader import shipped_catalog
from featurekit.engines.duckdb import DuckDBEngine
from featurekit.render import check_ids
from featurekit.sample import write_sample

from .conftest import AS_OF
from .hardening_support import tried

LATER = AS_OF + dt.timedelta(days=400)  # the sample ends at AS_OF: this window holds no file


class Boom(Exception):
    """What the hostile fetches raise; carries the IDs the failing fetch was given."""

    def __init__(self, ids: list[Any]) -> None:
        super().__init__(f"fetch of {ids} failed")
        self.ids = list(ids)


def _run(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start `target` in a thread; its result or exception lands in the returned dict."""
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["value"] = target()
        except BaseException as exc:  # the test inspects it
            out["error"] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


# -- the in-process cache against a plain, eagerly indexed model ------------------------------------------------


class EagerModel:
    """What an eagerly indexed cache answers: every fetched entry is in a dict at once; after each fill the expired
    entries go, then the oldest entries (fill order, then the order the fetch was given its IDs) while over
    `max_entries`, or the oldest whole fills while over `max_bytes` (a model tests one limit at a time)."""

    def __init__(self, ttl: float, max_entries: int = 1 << 40, max_bytes: int = 1 << 60) -> None:
        self.ttl, self.max_entries, self.max_bytes = ttl, max_entries, max_bytes
        self.entries: collections.OrderedDict[tuple[str, str], tuple[str, float, int]] = collections.OrderedDict()
        self.fills: collections.deque[tuple[int, int, float]] = collections.deque()  # (number, nbytes, expires)
        self.bytes = 0
        self.fill_no = 0

    def hit(self, key: tuple[str, str], now: float) -> str | None:
        held = self.entries.get(key)
        return held[0] if held is not None and held[1] > now else None

    def store(self, prefix: str, ids: list[str], values: dict[str, str], now: float, nbytes: int) -> None:
        self.fill_no += 1
        for i in ids:  # a refetched entry is as new as its fill
            self.entries.pop((prefix, i), None)
            self.entries[(prefix, i)] = (values[i], now + self.ttl, self.fill_no)
        self.fills.append((self.fill_no, nbytes, now + self.ttl))
        self.bytes += nbytes
        while self.fills and (self.fills[0][2] <= now or self.bytes > self.max_bytes):
            number, size, _ = self.fills.popleft()  # expired, or the oldest while over max_bytes: whole
            self.bytes -= size
            for key in [k for k, (_, _, n) in self.entries.items() if n == number]:
                del self.entries[key]
        while len(self.entries) > self.max_entries:  # the oldest entries, one by one
            self.entries.popitem(last=False)


def _replay(cache: FeatureCache, model: EagerModel, now: list[float], rng: random.Random, steps: int) -> int:
    """Random lookups over several prefixes, each compared with the model: values, hits, and (now and then, since
    stats() indexes every pending fill) the entry count. Returns the number of lookups checked."""
    prefixes = [f"p{n}" for n in range(7)]
    alphabet = [f"e{n:02d}" for n in range(24)]
    for step in range(steps):
        now[0] += rng.choice([0, 0, 0, 0.5, 1, 3, 7])
        prefix = rng.choice(prefixes)
        ids = [rng.choice(alphabet) for _ in range(rng.randint(1, 9))]
        distinct = len(set(ids)) == len(ids) and rng.random() < 0.5
        tag, nbytes, shape = f"v{step}", rng.randint(0, 40), rng.choice(["rows", "values", "plain"])

        def fetch(missing: list[str], tag: str = tag, nbytes: int = nbytes, shape: str = shape) -> Any:
            assert len(set(missing)) == len(missing)
            if shape == "rows":  # made lazily, in the order the fetch was given its IDs
                return Fetched(rows=lambda: (f"{i}@{tag}" for i in missing), nbytes=nbytes)
            values = {i: f"{i}@{tag}" for i in missing}
            if shape == "values":
                values["not-asked"] = "extra"  # a fetch may return more than it was asked for
                return Fetched(values=values, nbytes=nbytes)
            return values

        want = {i: model.hit((prefix, i), now[0]) for i in dict.fromkeys(ids)}
        values, hits = cache.lookup((prefix,), iter(ids) if not distinct else ids, fetch, distinct=distinct)
        missed = [i for i, v in want.items() if v is None]
        assert hits == len(want) - len(missed), (step, prefix, ids, want)
        if missed:
            model.store(prefix, missed, {i: f"{i}@{tag}" for i in missed}, now[0], nbytes if shape != "plain" else 0)
        for i in ids:
            assert values[i] == (want[i] or f"{i}@{tag}"), (step, prefix, i)
        if step % 37 == 0:
            assert cache.stats().entries == len(model.entries), step
    return steps


def test_a_fill_nobody_read_expires_exactly_as_an_indexed_one() -> None:
    """A pending fill is as old as its fetch, not as its first read: at `ttl` it is a miss, whether or not
    another prefix's fill has since dropped it, and the refetched value replaces it."""
    now = [0.0]
    cache = FeatureCache(ttl=10, clock=lambda: now[0])
    calls: list[tuple[str, list[str]]] = []

    def fetch(prefix: str) -> Callable[[list[str]], Fetched]:
        def run(ids: list[str]) -> Fetched:
            calls.append((prefix, list(ids)))
            stamp = now[0]
            return Fetched(rows=lambda: (f"{i}@{stamp:g}" for i in ids))

        return run

    cache.lookup(("p",), ["a", "b"], fetch("p"))  # pending, never read
    now[0] = 5
    cache.lookup(("q",), ["a"], fetch("q"))  # another prefix: nothing of ("p",) is indexed yet
    now[0] = 9.999
    assert cache.lookup(("p",), ["b", "a"], fetch("p")) == ({"b": "b@0", "a": "a@0"}, 2)
    cache.lookup(("r",), ["x"], fetch("r"))  # pending again in r; p is indexed now
    now[0] = 10.0  # exactly ttl: expired (an entry lives while expires > now)
    values, hits = cache.lookup(("p",), ["a", "b"], fetch("p"))
    assert (dict(values), hits) == ({"a": "a@10", "b": "b@10"}, 0)
    now[0] = 14.999
    assert cache.lookup(("q",), ["a"], fetch("q")) == ({"a": "a@5"}, 1)  # q's fill was never read, still live
    assert dict(cache.lookup(("r",), ["x"], fetch("r"))[0]) == {"x": "x@9.999"}
    now[0] = 15.0
    cache.lookup(("s",), ["z"], fetch("s"))  # this fill drops q's expired one (and r's is still live)
    assert cache.lookup(("q",), ["a"], fetch("q")) == ({"a": "a@15"}, 0)
    assert calls == [("p", ["a", "b"]), ("q", ["a"]), ("r", ["x"]), ("p", ["a", "b"]), ("s", ["z"]), ("q", ["a"])]
    assert cache.stats().entries == 5  # p: a, b; q: a; r: x; s: z
    now[0] = 100
    cache.lookup(("t",), ["only"], fetch("t"))  # every other fill expired: gone, pending or indexed
    assert cache.stats().entries == 1
    tried("cache fills: TTL of pending fills", 11)


@pytest.mark.parametrize("max_entries", [1, 2, 5, 13, 40])
def test_eviction_by_count_over_pending_fills_matches_an_eager_cache(max_entries: int) -> None:
    """Many prefixes, fills left pending, mixed `rows`/`values`/plain fetches, repeats, TTL: every value, every
    hit count and the entry count are exactly an eagerly indexed cache's (oldest entries go first)."""
    now = [0.0]
    cache = FeatureCache(ttl=20, max_entries=max_entries, clock=lambda: now[0])
    model = EagerModel(ttl=20, max_entries=max_entries)
    tried("cache fills: lookups against the eager model", _replay(cache, model, now, random.Random(max_entries), 700))


@pytest.mark.parametrize("max_bytes", [0, 30, 100, 400])
def test_eviction_by_bytes_over_pending_fills_matches_an_eager_cache(max_bytes: int) -> None:
    """Over `max_bytes`, the oldest fills go whole, pending or indexed, and nothing else does."""
    now = [0.0]
    cache = FeatureCache(ttl=20, max_bytes=max_bytes, clock=lambda: now[0])
    model = EagerModel(ttl=20, max_bytes=max_bytes)
    tried("cache fills: lookups against the eager model", _replay(cache, model, now, random.Random(max_bytes), 700))


@pytest.mark.parametrize(
    "bad_rows",
    [
        pytest.param(lambda ids: iter(ids[:-1]), id="fewer-values-than-ids"),
        pytest.param(lambda ids: iter([*ids, "surplus"]), id="more-values-than-ids"),
        pytest.param(lambda ids: (i if n < 1 else 1 / 0 for n, i in enumerate(ids)), id="rows-raise-midway"),
    ],
)
def test_a_fill_whose_rows_fail_is_not_kept(bad_rows: Callable[[list[str]], Any]) -> None:
    """`rows` that cannot be paired with the IDs (or raise) fail loudly: the caller that fetched them is told
    (when it reads a pure miss's values, or at once when its lookup had hits), and a later read of the prefix
    is told at most once. The fill is then dropped, the next read fetches those IDs again, the entries beside
    it keep their values, and neither another prefix nor `stats()` inherits the error."""
    cache = FeatureCache(max_entries=1_000)
    fetched: list[list[str]] = []

    def good(ids: list[str]) -> Fetched:
        fetched.append(list(ids))
        return Fetched(rows=lambda: (i.upper() for i in ids))

    def bad(ids: list[str]) -> Fetched:
        return Fetched(rows=lambda: bad_rows(ids))

    def reads(ids: str) -> list[Any]:
        outcomes: list[Any] = []
        for _ in range(3):
            try:
                values, hits = cache.lookup(("p",), list(ids), good)
            except (ValueError, ZeroDivisionError):
                outcomes.append("failed")
                continue
            assert dict(values) == {i: i.upper() for i in ids}
            outcomes.append(hits)
        return outcomes

    cache.lookup(("p",), ["a", "b"], good)
    values, _ = cache.lookup(("p",), ["c", "d"], bad)  # a pure miss: its values are made when read
    with pytest.raises((ValueError, ZeroDivisionError)):
        dict(values)
    cache.lookup(("q",), ["x"], good)  # another prefix's fill, pending meanwhile
    # Loud at most once; a cache that fails every later read of the prefix has kept a failure.
    outcomes = reads("abcd")
    assert outcomes.count("failed") <= 1 and outcomes[-1] == 4, outcomes
    with pytest.raises((ValueError, ZeroDivisionError)):  # hits beside the misses: told at once
        cache.lookup(("p",), ["a", "f", "g"], bad)
    outcomes = reads("gfedcba")
    assert outcomes.count("failed") <= 1 and outcomes[-1] == 7, outcomes
    assert ["c", "d"] in fetched and ["g", "f", "e"] in fetched, fetched  # e was never fetched before
    assert cache.lookup(("q",), ["x"], good) == ({"x": "X"}, 1)
    assert cache.stats().entries == 8
    tried("cache fills: misaligned rows", 9)


def test_misaligned_rows_left_pending_do_not_break_eviction_of_other_prefixes() -> None:
    """A bad fill nobody reads is indexed by eviction once the cache is full: at most that one fill is lost and
    at most one call is told; every other prefix keeps working, under the bound."""
    cache = FeatureCache(max_entries=4)
    cache.lookup(("p",), ["a", "b"], lambda ids: Fetched(rows=lambda: iter(["only one"])))
    failures, answered = 0, 0
    for n in range(12):
        prefix = ("q", n % 3)
        try:
            values, _ = cache.lookup(prefix, [f"x{n}", f"y{n}"], lambda ids: Fetched(rows=lambda: iter(ids)))
            assert dict(values) == {f"x{n}": f"x{n}", f"y{n}": f"y{n}"}
            answered += 1
        except ValueError:
            failures += 1
    assert failures <= 1 and answered >= 11
    assert cache.stats().entries <= 4
    assert cache.lookup(("p",), ["a", "b"], lambda ids: {i: i * 2 for i in ids}) == ({"a": "aa", "b": "bb"}, 0)
    tried("cache fills: misaligned rows", 12)


def test_a_failed_fetch_reaches_every_waiter_and_the_next_call_retries_only_its_ids() -> None:
    cache = FeatureCache()
    started, release = threading.Event(), threading.Event()
    calls: list[list[str]] = []

    def slow_failure(ids: list[str]) -> Any:
        calls.append(list(ids))
        started.set()
        release.wait(10)
        raise Boom(ids)

    def ok(ids: list[str]) -> Any:
        calls.append(list(ids))
        return Fetched(rows=lambda: (i.upper() for i in ids))

    first, first_out = _run(lambda: dict(cache.lookup(("p",), ["a", "b", "c"], slow_failure)[0]))
    assert started.wait(10)
    # Each of these registers what it waits for in the same step as its own fetch: once that fetch has been
    # called, the waiting is settled, and the failure is released only then.
    second, second_out = _run(lambda: cache.lookup(("p",), ["x", "b"], ok))  # fetches x, waits for b
    third, third_out = _run(lambda: cache.lookup(("p",), ["c", "y", "a"], ok))  # fetches y, waits for c and a
    other, other_out = _run(lambda: dict(cache.lookup(("q",), ["a"], ok)[0]))  # another prefix: not held up
    other.join(10)
    assert other_out == {"value": {"a": "A"}}
    deadline = time.monotonic() + 10
    while not (["x"] in calls and ["y"] in calls) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert second.is_alive() and third.is_alive()  # both wait on the one running fetch
    release.set()
    for thread in (first, second, third):
        thread.join(10)
        assert not thread.is_alive()
    error = first_out["error"]
    assert isinstance(error, Boom) and second_out["error"] is error and third_out["error"] is error
    assert calls[0] == ["a", "b", "c"] and sorted(calls[1:]) == [["a"], ["x"], ["y"]]
    values, hits = cache.lookup(("p",), ["c", "x", "a", "y", "b"], ok)  # x, y were kept; a, b, c go again
    assert (dict(values), hits) == ({"c": "C", "x": "X", "a": "A", "y": "Y", "b": "B"}, 2)
    assert calls[-1] == ["c", "a", "b"]
    assert cache.lookup(("p",), ["a", "b", "c", "x"], slow_failure)[1] == 4
    tried("cache fills: failing fetches", 5)


def test_threads_with_overlapping_batches_and_flaky_fetches_never_see_a_wrong_value() -> None:
    """12 threads, overlapping batches over three prefixes, one fetch in three failing. Every answer is right,
    every error came from a fetch of one of the caller's own IDs, no fetch is given an ID already held or in
    flight, and each entry is fetched successfully at most once."""
    cache = FeatureCache(ttl=600)
    lock = threading.Lock()
    counter = [0]
    flying: set[tuple[str, str]] = set()
    held: collections.Counter[tuple[str, str]] = collections.Counter()
    overlaps: list[Any] = []

    def fetch_for(prefix: str) -> Callable[[list[str]], Any]:
        def fetch(ids: list[str]) -> Any:
            keys = {(prefix, i) for i in ids}
            with lock:
                counter[0] += 1
                n = counter[0]
                if keys & flying or any(held[k] for k in keys):
                    overlaps.append((prefix, ids))
                flying.update(keys)
            time.sleep(0.002)
            with lock:
                flying.difference_update(keys)
                if n % 3 == 0:
                    raise Boom(ids)
                held.update(keys)
            if n % 2:
                return Fetched(rows=lambda: (f"{prefix}:{i}" for i in ids))
            return {i: f"{prefix}:{i}" for i in ids}

        return fetch

    ids = [f"C{n:03d}" for n in range(120)]
    answered, failed = [0], [0]
    problems: list[Any] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(120):
            prefix = rng.choice(["p", "q", "r"])
            start = rng.randrange(len(ids))
            batch = [ids[(start + k) % len(ids)] for k in range(rng.randint(1, 15))]
            batch += rng.sample(batch, k=min(2, len(batch)))  # repeats
            try:
                values, hits = cache.lookup((prefix,), batch, fetch_for(prefix))
                got = {i: values[i] for i in batch}
            except Boom as exc:
                if not set(exc.ids) & set(batch):
                    problems.append(("foreign error", prefix, batch, exc.ids))
                with lock:
                    failed[0] += 1
                continue
            if got != {i: f"{prefix}:{i}" for i in batch} or not 0 <= hits <= len(set(batch)):
                problems.append(("wrong", prefix, batch, got, hits))
            with lock:
                answered[0] += 1

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not problems and not overlaps
    assert failed[0] > 0 and answered[0] > 0 and failed[0] + answered[0] == 12 * 120
    assert max(held.values()) == 1
    for prefix in "pqr":  # whatever is left to fetch is fetched now, and everything is there
        values, hits = cache.lookup((prefix,), ids, lambda missing, p=prefix: {i: f"{p}:{i}" for i in missing})
        assert dict(values) == {i: f"{prefix}:{i}" for i in ids}
        assert hits == sum(1 for i in ids if held[(prefix, i)])
    assert cache.stats().entries == 3 * len(ids)
    tried("cache fills: concurrent flaky lookups", 12 * 120)


class _JsonCodec:
    def encode(self, values: Any) -> dict[Any, bytes]:
        return {i: json.dumps(v).encode() for i, v in values.items()}

    def decode(self, blobs: Any) -> dict[Any, Any]:
        return {i: json.loads(b) for i, b in blobs.items()}


@pytest.mark.parametrize("on_disk", [False, True])
def test_clear_while_a_fetch_is_in_flight(tmp_path: Path, on_disk: bool) -> None:
    """`clear()` during a fetch: its caller still gets its values, but nothing it fetched is kept (in memory or
    on disk: it may be what the clear was for), and a lookup after the clear fetches afresh instead of waiting
    on it. What stats() counts afterwards is what lookups find."""
    cache = FeatureCache(path=tmp_path if on_disk else None)
    codec = _JsonCodec() if on_disk else None
    started, release = threading.Event(), threading.Event()
    calls: collections.Counter[str] = collections.Counter()

    def slow(ids: list[str]) -> Any:
        calls.update(ids)
        started.set()
        release.wait(10)
        return Fetched(rows=lambda: (i.upper() for i in ids))

    def quick(ids: list[str]) -> Any:
        calls.update(ids)
        return {i: i.upper() for i in ids}

    cache.lookup(("p",), ["old"], quick, codec)
    first, first_out = _run(lambda: dict(cache.lookup(("p",), ["a", "b"], slow, codec)[0]))
    assert started.wait(10)
    cache.clear()
    after = dict(cache.lookup(("p",), ["b", "c"], quick, codec)[0])  # does not wait for the slow fetch
    assert after == {"b": "B", "c": "C"} and first.is_alive()
    release.set()
    first.join(10)
    assert first_out == {"value": {"a": "A", "b": "B"}}
    assert calls == {"old": 1, "a": 1, "b": 2, "c": 1}
    if on_disk:  # the disk holds what was fetched after the clear, and nothing from the slow fetch
        kept = cache.tier.get(_prefix_text(("p",), cache.tier.epoch()), [_entity_text(i) for i in "abc"], time.time())
        assert sorted(kept) == sorted(_entity_text(i) for i in "bc")
    entries = cache.stats().entries
    values, hits = cache.lookup(("p",), ["old", "a", "b", "c"], quick, codec)
    assert dict(values) == {"old": "OLD", "a": "A", "b": "B", "c": "C"}
    assert calls == {"old": 2, "a": 2, "b": 2, "c": 1}  # old: cleared; a: fetched before the clear, not kept
    assert hits == entries == 2 and cache.stats().entries == 4
    if on_disk:  # a new process reads what the disk kept: the four entries, none from before the clear
        cache.close()
        fresh = FeatureCache(path=tmp_path)
        assert fresh.lookup(("p",), ["old", "a", "b", "c"], quick, codec)[1] == 4
        fresh.close()
    tried("cache fills: clear during a fetch", 4)


# -- the disk and Redis tiers through a store ------------------------------------------------------------------

SETS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("customer_orders", {"lookback_days": 30}, ["C00042", "C00007", "C00013", "C99999"]),
    ("customer_orders", {"lookback_days": 365}, ["C00001", "C00042", "C00060", "C00042"]),
    ("spend_trend", {"window_days": 7}, ["C00013", "bad id", "C00099", "C00013", "C00002"]),
]


def _tier_round_trip(sample_dir: Path, make_cache: Callable[[], FeatureCache]) -> int:
    """Two stores, each with a fresh in-process cache over one shared tier: the second answers what the first
    fetched from the tier, queries only what is new, and every frame equals an uncached store's."""
    tried_n = 0
    with featurekit.FeatureStore(data=sample_dir, cache=False) as plain:

        def want(view: str, params: dict[str, Any], ids: list[str]) -> list[dict[str, Any]]:
            return plain.get_frame(view, ids, as_of=AS_OF, params=params, on_invalid="null").to_dicts()

        with featurekit.FeatureStore(data=sample_dir, cache=make_cache()) as first:
            for view, params, ids in SETS:
                frame = first.get_frame(view, ids, as_of=AS_OF, params=params, on_invalid="null")
                assert frame.to_dicts() == want(view, params, ids) and frame.provenance.queries_run == 1
                tried_n += len(ids)
            assert first.cache is not None
            first.cache.close()
        with featurekit.FeatureStore(data=sample_dir, cache=make_cache()) as second:
            for view, params, ids in SETS:
                valid = [i for i in dict.fromkeys(ids) if i != "bad id"]
                more = [*reversed(ids), "C00031", "C00031", "nope"]
                frame = second.get_frame(view, more, as_of=AS_OF, params=params, on_invalid="null")
                assert frame.to_dicts() == want(view, params, more)
                assert (frame.provenance.cache_hits, frame.provenance.queries_run) == (len(valid), 1)
                again = second.get_frame(view, more[::-1], as_of=AS_OF, params=params, on_invalid="null")
                assert again.to_dicts() == want(view, params, more[::-1])  # memory hits: the pending fills
                assert (again.provenance.cache_hits, again.provenance.queries_run) == (len(valid) + 1, 0)
                tried_n += len(more) * 2
            assert second.cache is not None
            second.cache.close()
    return tried_n


def test_the_disk_tier_returns_an_uncached_stores_rows(sample_dir: Path, tmp_path: Path) -> None:
    tried("cache fills: disk tier rows", _tier_round_trip(sample_dir, lambda: FeatureCache(path=tmp_path)))
    with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as store:  # the store-made disk cache too
        frame = store.get_frame("customer_orders", ["C00042", "C00007"], as_of=AS_OF, params={"lookback_days": 30})
        assert frame.provenance.queries_run == 0 and frame.provenance.cache_hits == 2


def test_the_redis_tier_returns_an_uncached_stores_rows(redis_url: str, sample_dir: Path) -> None:
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    namespace = uuid.uuid4().hex
    made = lambda: FeatureCache(tier=RedisTier(redis_url, namespace=namespace))  # noqa: E731
    tried("cache fills: Redis tier rows", _tier_round_trip(sample_dir, made))


# -- the no-data verdict, kept per cache key ---------------------------------------------------------------------


def _order(day: dt.date, customer: str, n: int) -> str:
    return json.dumps(
        {"order_id": f"X{n:08d}", "customer_id": customer, "order_date": day.isoformat(),
         "category": "books", "amount": 12.5, "refunded": False}
    )  # fmt: skip


def test_no_data_follows_the_files_in_the_window(sample_dir: Path, tmp_path: Path) -> None:
    """Adding a file to an empty window, or taking every file out of a full one, is another cache key: the flag
    follows the files, on the first lookup and on the hits after it, in this store and in one sharing its cache."""
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    shared = FeatureCache()
    ids = ["C00042", "C00013"]

    def look(store: featurekit.FeatureStore, as_of: dt.date, who: list[str] = ids) -> tuple[bool, list[int], int]:
        frame = store.get_frame("customer_orders", who, as_of=as_of)
        return frame.provenance.no_data, [r["order_count"] for r in frame], frame.provenance.queries_run

    with featurekit.FeatureStore(data=data, cache=shared) as store:
        assert look(store, LATER) == (True, [0, 0], 1)
        assert look(store, LATER) == (True, [0, 0], 0)
        added = data / "orders" / f"dt={(LATER - dt.timedelta(days=5)).isoformat()}"
        added.mkdir()
        (added / "part-0.json").write_text(_order(LATER - dt.timedelta(days=5), "C00013", 1) + "\n")
        assert look(store, LATER) == (False, [0, 1], 1)  # a file in the window: not "no data", even for C00042
        assert look(store, LATER) == (False, [0, 1], 0)
        assert look(store, LATER, ["C00042"]) == (False, [0], 0)  # a hit on the new key, inactive customer
        with featurekit.FeatureStore(data=data, cache=shared) as other:  # shares the entries, not the verdicts
            assert look(other, LATER) == (False, [0, 1], 0)
        shutil.rmtree(added)
        assert look(store, LATER)[:2] == (True, [0, 0])  # the files as they were: empty again
        assert look(store, LATER) == (True, [0, 0], 0)
        assert look(store, AS_OF)[0] is False
        # The other way: a window with data whose files are all taken out of it.
        first = (AS_OF - dt.timedelta(days=90)).isoformat()
        moved = tmp_path / "moved"
        moved.mkdir()
        for part in sorted((data / "orders").iterdir()):
            if part.name >= f"dt={first}":
                shutil.move(str(part), moved / part.name)
        assert look(store, AS_OF) == (True, [0, 0], 1)
        assert look(store, AS_OF) == (True, [0, 0], 0)
        with featurekit.FeatureStore(data=data, cache=shared) as other:
            assert look(other, AS_OF) == (True, [0, 0], 0)
        for part in moved.iterdir():
            shutil.move(str(part), data / "orders" / part.name)
        flag, counts, _ = look(store, AS_OF)
        assert flag is False and sum(counts) > 0
    tried("time: no-data verdict as files change", 13)


def test_no_data_with_invalid_ids(sample_dir: Path) -> None:
    """Invalid IDs get null rows and are never queried: all-invalid says nothing about the window (False, and it
    does not borrow a flagged key's verdict); a valid ID beside them in an empty window is flagged, hit or not."""
    with featurekit.FeatureStore(data=sample_dir, cache=FeatureCache()) as store:
        none = store.get_frame("customer_orders", ["nope", "C1"], as_of=LATER, on_invalid="null")
        assert not none.provenance.no_data and none.provenance.queries_run == 0 and len(none.invalid) == 2
        mixed = store.get_frame("customer_orders", ["nope", "C00042"], as_of=LATER, on_invalid="null")
        assert mixed.provenance.no_data and mixed.provenance.queries_run == 1
        again = store.get_frame("customer_orders", ["C00042", "nope", "C00042"], as_of=LATER, on_invalid="null")
        assert again.provenance.no_data and again.provenance.cache_hits == 1 and again.provenance.queries_run == 0
        none = store.get_frame("customer_orders", ["nope", "C1"], as_of=LATER, on_invalid="null")
        assert not none.provenance.no_data and [r["order_count"] for r in none] == [None, None]
        full = store.get_frame("customer_orders", ["nope", "C00042"], as_of=AS_OF, on_invalid="null")
        assert not full.provenance.no_data
        uncached = store.get_frame("customer_orders", ["C00042", "x"], as_of=LATER, on_invalid="null", use_cache=False)
        assert uncached.provenance.no_data
    tried("time: no-data verdict with invalid IDs", 6)


# -- the one-ID pattern memo and the per-folder location memo ----------------------------------------------------

PATTERNS: list[tuple[str, str, int, str]] = [
    ("five", r"^C\d{5}$", 256, "string"),
    ("four", r"^C\d{4}$", 256, "string"),
    ("five-short", r"^C\d{5}$", 5, "string"),  # the same pattern text, a shorter max_length
    ("lower", r"^c\d{5}$", 256, "string"),
    ("any", r"^C\d+$", 256, "string"),
    ("int", r"^\d{1,6}$", 256, "int"),
    ("lookaround", r"^(?!C0)C\d{5}$", 256, "string"),  # not RE2: Python's re checks it
]
IDS: list[Any] = [
    "C00042", "C0042", "C000042", "c00042", "C00042\n", "\nC00042", " C00042", "C0004２", "Ｃ00042", "C12345",
    "C", "", "C00042C00042", "C1", "42", "0042", "4200000", 42, 4200000, True, "C0\u0000042", "C\ud800042",
]  # fmt: skip


def _expected(pattern: str, max_length: int, key_type: str, given: Any) -> bool:
    if key_type == "int":
        given = int(given) if isinstance(given, str) and given.isascii() and given.isdigit() else given
        ok = isinstance(given, int) and not isinstance(given, bool)
    else:
        ok = isinstance(given, str)
    text = str(given)
    return ok and len(text) <= max_length and re.fullmatch(pattern, text, re.ASCII) is not None


def test_one_id_checks_answer_for_their_own_pattern() -> None:
    """The memoised one-ID check answers per (pattern, text): an ID checked for one entity first is still judged
    by the other's pattern and max_length, alone or in a batch, in every order."""
    entity = shipped_catalog_entity()
    entities = {name: dataclasses.replace(entity, pattern=p, max_length=m, key_type=k) for name, p, m, k in PATTERNS}
    rng = random.Random(7)
    checks = 0
    for _ in range(6):
        order = [(name, given) for name in entities for given in IDS]
        rng.shuffle(order)
        for name, given in order:
            _, pattern, max_length, key_type = next(p for p in PATTERNS if p[0] == name)
            want = _expected(pattern, max_length, key_type, given)
            single = check_ids(entities[name], [given], "null")
            assert (not single.invalid) == want, (name, given)
            checks += 1
    for name, pattern, max_length, key_type in PATTERNS:  # the batch path agrees with the one-ID path
        batch = check_ids(entities[name], IDS, "null")
        assert [i not in batch.invalid for i in range(len(IDS))] == [
            _expected(pattern, max_length, key_type, g) for g in IDS
        ], name
        checks += len(IDS)
    tried("ids: one-ID memo across patterns", checks)


def test_the_one_id_memo_does_not_keep_long_ids() -> None:
    """The memo is bounded in entries (4,096); an entity may accept IDs of up to 1,000,000 characters, and a
    server checks one untrusted ID per request. Distinct long IDs, each checked once, must not stay in memory:
    4,096 of them would pin gigabytes for as long as the process lives."""
    entity = dataclasses.replace(shipped_catalog_entity(), pattern=r"^C\d+$", max_length=1_000_000)
    tail = "7" * 150_000
    check_ids(entity, ["C1" + tail], "null")  # whatever the first call sets up once
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(64):
            assert not check_ids(entity, [f"C{n:05d}{tail}"], "null").invalid
            assert check_ids(entity, [f"C{n:05d}{tail}x"], "null").invalid
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 2_000_000, f"{kept:,} bytes kept after checking 128 distinct 150,000-character IDs"
    tried("ids: long IDs through the one-ID memo", 128)


def shipped_catalog_entity() -> Any:
    return featurekit.load(shipped_catalog()).entity("customer")


def test_two_catalogs_with_different_patterns_refuse_each_others_ids(sample_dir: Path, tmp_path: Path) -> None:
    catalog_four = tmp_path / "catalog"
    shutil.copytree(shipped_catalog(), catalog_four)
    entity_file = catalog_four / "entities" / "customer.yaml"
    entity_file.write_text(entity_file.read_text().replace(r"^C\d{5}$", r"^C\d{4}$"))
    with (
        featurekit.FeatureStore(data=sample_dir) as five,
        featurekit.FeatureStore(catalog_four, data=sample_dir) as four,
    ):
        assert four.catalog.entity("customer").pattern == r"^C\d{4}$"
        for _ in range(3):
            assert five.get("customer_orders", "C00042", as_of=AS_OF)["order_count"] > 0
            with pytest.raises(featurekit.InvalidEntityId):
                four.get("customer_orders", "C00042", as_of=AS_OF)
            assert four.get("customer_orders", "C0042", as_of=AS_OF)["order_count"] == 0
            with pytest.raises(featurekit.InvalidEntityId):
                five.get("customer_orders", "C0042", as_of=AS_OF)
    tried("ids: one-ID memo across catalogs", 12)


def test_the_same_folder_under_two_data_roots_is_two_places(sample_dir: Path, tmp_path: Path) -> None:
    """One catalog (the same Table objects, folder `orders`) over two engines with different data roots, sharing a
    cache: each answers from its own files. And one engine shared by two catalogs whose `orders` differ in path."""
    other = tmp_path / "other"
    write_sample(other, customers=60, orders=120, as_of=AS_OF, seed=7)
    catalog = featurekit.load()
    shared = FeatureCache()
    ids = ["C00042", "C00007", "C00013", "C00001", "C00060"]
    with (
        featurekit.FeatureStore(catalog, data=sample_dir, cache=False) as plain_a,
        featurekit.FeatureStore(catalog, data=other, cache=False) as plain_b,
    ):
        want_a = plain_a.get_frame("customer_orders", ids, as_of=AS_OF).to_dicts()
        want_b = plain_b.get_frame("customer_orders", ids, as_of=AS_OF).to_dicts()
        one_a = [plain_a.get("customer_orders", i, as_of=AS_OF).to_dict() for i in ids]
        one_b = [plain_b.get("customer_orders", i, as_of=AS_OF).to_dict() for i in ids]
    assert want_a != want_b
    with (
        featurekit.FeatureStore(catalog, engine=DuckDBEngine(sample_dir), cache=shared) as a,
        featurekit.FeatureStore(catalog, engine=DuckDBEngine(other), cache=shared) as b,
    ):
        for round_ in range(3):
            for store, want in ((a, want_a), (b, want_b), (b, want_b), (a, want_a)):
                frame = store.get_frame("customer_orders", ids, as_of=AS_OF)
                assert frame.to_dicts() == want, round_
            assert [a.get("customer_orders", i, as_of=AS_OF).to_dict() for i in ids] == one_a
            assert [b.get("customer_orders", i, as_of=AS_OF).to_dict() for i in ids] == one_b
    # One engine, two catalogs: `orders` at `orders` and at `orders_b` under the same data root.
    root = tmp_path / "root"
    shutil.copytree(sample_dir, root)
    shutil.copytree(other / "orders", root / "orders_b")
    moved = dataclasses.replace(
        catalog, tables={**catalog.tables, "orders": dataclasses.replace(catalog.tables["orders"], path="orders_b")}
    )
    engine = DuckDBEngine(root)
    try:
        first = featurekit.FeatureStore(catalog, engine=engine, cache=shared)
        second = featurekit.FeatureStore(moved, engine=engine, cache=shared)
        for _ in range(2):
            assert first.get_frame("customer_orders", ids, as_of=AS_OF).to_dicts() == want_a
            assert second.get_frame("customer_orders", ids, as_of=AS_OF).to_dicts() == want_b
            assert first.get("customer_orders", "C00007", as_of=AS_OF).to_dict() == one_a[1]
            assert second.get("customer_orders", "C00007", as_of=AS_OF).to_dict() == one_b[1]
    finally:
        engine.close()
    tried("engines: location memo across roots and catalogs", 3 * 4 * len(ids) + 2 * 4)
