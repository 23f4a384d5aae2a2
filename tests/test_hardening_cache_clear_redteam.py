"""Red team of a7dcf04: a clear reaches every process that shares the cache's tier (SQLite file or Redis).

The guarantee under attack: after `clear()` returns in one process (or thread), no lookup that starts afterwards,
in any process or thread sharing the tier, answers from data cached or fetched before it. Processes are simulated
by several `FeatureCache` objects over one file or Redis namespace (each with its own connection and memory);
threading Events and a clock that stops one thread right after its epoch read force the interleavings.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from featurekit.cache import FeatureCache

from .test_hardening_cache_fills import _run

KINDS = ["disk", "redis"]


class _Codec:
    def __init__(self) -> None:
        self.encoding = threading.Event()

    def encode(self, values: Any) -> dict[Any, bytes]:
        self.encoding.set()
        return {i: json.dumps(v).encode() for i, v in values.items()}

    def decode(self, blobs: Any) -> dict[Any, Any]:
        return {i: json.loads(b) for i, b in blobs.items()}


def _never(ids: list[Any]) -> Any:
    raise AssertionError(f"fetched {ids}: the cache should have answered")


def _const(value: str) -> Callable[[list[Any]], Any]:
    return lambda ids: dict.fromkeys(ids, value)


class _Held:
    """A fetch that signals `started` and returns `value` once `release` is set."""

    def __init__(self, value: str) -> None:
        self.value, self.started, self.release = value, threading.Event(), threading.Event()

    def __call__(self, ids: list[Any]) -> Any:
        self.started.set()
        assert self.release.wait(10)
        return dict.fromkeys(ids, self.value)


class _StopAfterEpochRead:
    """A cache clock: lookup() calls it right after `_sync_epoch`, before it takes the cache's lock. The first call
    from the thread named `who` signals `reached` and waits for `go`: that thread has read the tier's epoch and is
    preempted before it looks at memory, as the GIL may preempt any thread there."""

    def __init__(self, who: str) -> None:
        self.who, self.reached, self.go, self._stopped = who, threading.Event(), threading.Event(), False

    def __call__(self) -> float:
        if threading.current_thread().name == self.who and not self._stopped:
            self._stopped = True
            self.reached.set()
            assert self.go.wait(10)
        return time.monotonic()


def _tiers(kind: str, tmp_path: Path, request: pytest.FixtureRequest, n: int, **kw: Any) -> list[FeatureCache]:
    """`n` caches over one tier, as `n` processes have them; `kw` goes to the first one."""
    if kind == "disk":
        return [FeatureCache(path=tmp_path, **(kw if k == 0 else {})) for k in range(n)]
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    url, namespace = request.getfixturevalue("redis_url"), uuid.uuid4().hex
    return [FeatureCache(tier=RedisTier(url, namespace=namespace), **(kw if k == 0 else {})) for k in range(n)]


def _close(*caches: FeatureCache) -> None:
    for cache in caches:
        cache.close()


# -- findings: each of these fails on a7dcf04 ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_lookup_whose_epoch_read_predates_a_clear_does_not_seed_memory_for_later_lookups(
    kind: str, tmp_path: Path, request: Any
) -> None:
    """Interleaving (processes H = here, W = writer, X = clearer; threads A and C in H):
    1. W starts a lookup of ("p", a) at epoch 0; its fetch (of the old data) is held.
    2. H's thread A starts a lookup of ("p", a): it reads epoch 0 and is preempted before it takes H's lock.
    3. X clears: epoch 1, tier empty. The clear has returned.
    4. W's fetch returns; W (not cleared itself) writes a = old under the epoch-0 key. Harmless by design.
    5. H's thread C does any lookup: it reads epoch 1, forgets H's memory (new generation), H's epoch is 1.
    6. A resumes: it captures the new generation but keeps epoch 0, reads W's late row under the epoch-0 key and
       stores it in memory under the current generation.
    7. A lookup D in H, started after the clear: epoch 1 == H's, so it answers a = old from memory."""
    clock = _StopAfterEpochRead("A")
    here, writer, clearer = _tiers(kind, tmp_path, request, 3, clock=clock)
    codec = _Codec()
    held = _Held("old")
    w, w_out = _run(lambda: dict(writer.lookup(("p",), ["a"], held, codec)[0]))
    assert held.started.wait(10)
    out: dict[str, Any] = {}
    a = threading.Thread(
        name="A", daemon=True, target=lambda: out.update(a=dict(here.lookup(("p",), ["a"], _const("fresh"), codec)[0]))
    )
    a.start()
    assert clock.reached.wait(10)
    clearer.clear()  # step 3: returns here
    held.release.set()
    w.join(10)
    assert w_out == {"value": {"a": "old"}}  # its caller asked before the clear
    here.lookup(("q",), ["z"], _const("z"), codec)  # thread C (this one): sees epoch 1
    clock.go.set()
    a.join(10)
    assert not a.is_alive()
    assert out["a"] in ({"a": "old"}, {"a": "fresh"})  # A's own caller asked before the clear: either will do
    values, _ = here.lookup(("p",), ["a"], _const("new"), codec)  # D: starts after the clear
    _close(here, writer, clearer)
    # "fresh" (A fetched it after the clear) or "new" (D's own fetch) is right; "old" was fetched before the clear.
    assert dict(values) != {"a": "old"}, "a lookup after the clear answered what was fetched before it"


class _StopAfterTierEpochRead:
    """Wraps a tier's `epoch()`: the first call from the thread named `who` reads the epoch, signals `reached` and
    waits for `go`: that thread has read the epoch and is preempted before it compares it with the cache's."""

    def __init__(self, read: Callable[[], Any], who: str) -> None:
        self.read, self.who, self._stopped = read, who, False
        self.reached, self.go = threading.Event(), threading.Event()

    def __call__(self) -> Any:
        value = self.read()
        if threading.current_thread().name == self.who and not self._stopped:
            self._stopped = True
            self.reached.set()
            assert self.go.wait(10)
        return value


@pytest.mark.parametrize("kind", KINDS)
def test_a_stale_epoch_read_applied_late_does_not_take_the_epoch_backwards(
    kind: str, tmp_path: Path, request: Any
) -> None:
    """Interleaving (processes H, W, X; threads A, C, D in H). Fixing only the previous test (taking the epoch in
    the same locked step as the generation) is not enough while `_sync_epoch` applies whatever it read:
    1. W starts a lookup of a at epoch 0; its fetch (of the old data) is held.
    2. H's thread A starts a lookup of a: it reads epoch 0 and is preempted before it compares it with H's.
    3. X clears: epoch 1. The clear has returned.
    4. W's fetch returns; W writes a = old under the epoch-0 key.
    5. H's thread C does any lookup: epoch 1, H forgets its memory, H's epoch is 1.
    6. H's thread D starts a lookup of a: it reads epoch 1 (== H's: nothing to do) and is preempted before it takes
       H's lock.
    7. A resumes: 0 != 1, so H forgets again and its epoch goes back to 0; A reads W's late row under the epoch-0
       key and keeps it in memory.
    8. D resumes and answers a = old from memory, though it started after the clear."""
    clock = _StopAfterEpochRead("D")
    here, writer, clearer = _tiers(kind, tmp_path, request, 3, clock=clock)
    stop_a = here._disk.epoch = _StopAfterTierEpochRead(here._disk.epoch, "A")  # type: ignore[union-attr]
    codec = _Codec()
    held = _Held("old")
    w, w_out = _run(lambda: dict(writer.lookup(("p",), ["a"], held, codec)[0]))
    assert held.started.wait(10)
    out: dict[str, Any] = {}

    def look(name: str, value: str) -> threading.Thread:
        body = lambda: out.update({name: dict(here.lookup(("p",), ["a"], _const(value), codec)[0])})  # noqa: E731
        thread = threading.Thread(name=name, daemon=True, target=body)
        thread.start()
        return thread

    a = look("A", "fresh")
    assert stop_a.reached.wait(10)
    clearer.clear()  # step 3: returns here
    held.release.set()
    w.join(10)
    assert w_out == {"value": {"a": "old"}}
    # Thread C: sees epoch 1 and forgets; A, applying its older read after it, only forgets again.
    c = threading.Thread(name="C", daemon=True, target=lambda: here.lookup(("q",), ["z"], _const("z"), codec))
    c.start()
    d = look("D", "new")
    stop_a.go.set()
    a.join(10)
    c.join(10)
    assert clock.reached.wait(10)
    clock.go.set()
    d.join(10)
    assert not a.is_alive() and not c.is_alive() and not d.is_alive()
    assert out["A"] in ({"a": "old"}, {"a": "fresh"})  # A's own caller asked before the clear: either will do
    _close(here, writer, clearer)
    assert out["D"] != {"a": "old"}, "a lookup after the clear answered what was fetched before it"


def _own_db(redis_url: str) -> str:
    """The session's server, another database: FLUSHDB there touches no other test's keys."""
    assert redis_url.endswith("/0")
    return redis_url[:-1] + "9"


def test_a_redis_flush_after_a_clear_does_not_bring_this_processs_old_epoch_back(redis_url: str) -> None:
    """Interleaving (processes H and X over one Redis):
    1. H looks up a (old): kept in H's memory at epoch 0.
    2. X clears: epoch 1. The clear has returned; H has not looked anything up since.
    3. Redis loses its keys (FLUSHALL/FLUSHDB, or a restart of a server without persistence, or eviction):
       the epoch key is gone, so the epoch reads 0 again.
    4. H looks up a: epoch 0 == H's last read, so H keeps its memory and answers old."""
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    url, namespace = _own_db(redis_url), uuid.uuid4().hex
    here, there = (FeatureCache(tier=RedisTier(url, namespace=namespace)) for _ in range(2))
    codec = _Codec()
    assert dict(here.lookup(("p",), ["a"], _const("old"), codec)[0]) == {"a": "old"}
    there.clear()
    there.tier.client.flushdb()
    values, hits = here.lookup(("p",), ["a"], _const("new"), codec)
    _close(here, there)
    assert (dict(values), hits) == ({"a": "new"}, 0), "the clear was lost when Redis lost the epoch key"


def test_a_redis_flush_after_a_clear_makes_a_late_writers_old_epoch_rows_readable_again(redis_url: str) -> None:
    """Interleaving (processes W, X, R over one Redis):
    1. W starts a lookup of a at epoch 0; its fetch (of the old data) is held.
    2. X clears: epoch 1. The clear has returned.
    3. Redis loses its keys (FLUSHDB, or a restart without persistence): the epoch reads 0 again.
    4. W's fetch returns and W writes a = old under the epoch-0 key: the key every process now reads.
    5. R, which starts after the clear, reads a = old from Redis."""
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    url, namespace = _own_db(redis_url), uuid.uuid4().hex
    writer, clearer, reader = (FeatureCache(tier=RedisTier(url, namespace=namespace)) for _ in range(3))
    codec = _Codec()
    held = _Held("old")
    w, w_out = _run(lambda: dict(writer.lookup(("p",), ["a"], held, codec)[0]))
    assert held.started.wait(10)
    clearer.clear()
    clearer.tier.client.flushdb()
    held.release.set()
    w.join(10)
    assert w_out == {"value": {"a": "old"}}
    values, hits = reader.lookup(("p",), ["a"], _const("new"), codec)
    _close(writer, clearer, reader)
    assert (dict(values), hits) == ({"a": "new"}, 0), "a fetch begun before the clear was shared after it"


def test_a_clear_of_a_recreated_cache_file_reaches_a_process_still_holding_the_old_one(tmp_path: Path) -> None:
    """Interleaving (processes H and X, one --cache-dir):
    1. H looks up a (old): kept in memory; H's SQLite connection holds the file open.
    2. The cache folder is deleted (rm -rf ~/.cache/featurekit, a tmp cleaner) and X, e.g. `featurekit cache
       clear --cache-dir`, recreates the file and clears it: epoch 1 in the new file. The clear has returned.
    3. H looks up a: it reads the epoch from the deleted file it still has open (0, its own) and answers old,
       and whatever H fetches from now on goes to a file no other process can see."""
    folder = tmp_path / "cache"
    here = FeatureCache(path=folder)
    codec = _Codec()
    assert dict(here.lookup(("p",), ["a"], _const("old"), codec)[0]) == {"a": "old"}
    shutil.rmtree(folder)
    there = FeatureCache(path=folder)
    there.clear()
    values, hits = here.lookup(("p",), ["a"], _const("new"), codec)
    _close(here, there)
    assert (dict(values), hits) == ({"a": "new"}, 0), "the clear did not reach the process holding the old file"


@pytest.mark.parametrize("kind", KINDS)
def test_hits_counted_before_a_clear_elsewhere_are_not_recorded_after_it(
    kind: str, tmp_path: Path, request: Any
) -> None:
    """Interleaving (processes H and X):
    1. H fetches a, then answers it three times from memory: three hits, counted in memory only (not flushed).
    2. X clears: every entry and counter goes (`featurekit cache clear` says so). The clear has returned.
    3. H's next lookup sees the new epoch and forgets its entries, but not its unflushed counters: its fetch
       writes the three pre-clear hits into the emptied counters, and `cache stats` shows hits that nobody
       had after the clear."""
    here, there = _tiers(kind, tmp_path, request, 2)
    codec = _Codec()
    here.lookup(("p",), ["a"], _const("old"), codec)
    for _ in range(3):
        assert here.lookup(("p",), ["a"], _never, codec)[1] == 1
    there.clear()
    assert there.stats().hits == 0
    assert here.lookup(("p",), ["b"], _const("b"), codec)[1] == 0  # a miss: no hit after the clear
    hits = there.stats().hits
    _close(here, there)
    assert hits == 0, f"{hits} hits from before the clear were recorded after it"


@pytest.mark.parametrize("kind", KINDS)
def test_rows_written_under_an_old_epoch_are_not_counted_as_entries(kind: str, tmp_path: Path, request: Any) -> None:
    """Interleaving (processes W and X):
    1. W starts a lookup of a at epoch 0; its fetch is held.
    2. X clears: epoch 1, the tier is empty. The clear has returned.
    3. W's fetch returns; it writes a under the epoch-0 key, which no lookup reads any more.
    4. `cache stats` counts that row as an entry on disk / in Redis (in SQLite it stays for good: nothing deletes
       rows of an old epoch until the next clear), though no lookup can read it."""
    writer, clearer = _tiers(kind, tmp_path, request, 2)
    codec = _Codec()
    held = _Held("old")
    w, _ = _run(lambda: writer.lookup(("p",), ["a"], held, codec))
    assert held.started.wait(10)
    clearer.clear()
    held.release.set()
    w.join(10)
    assert dict(clearer.lookup(("p",), ["a"], _const("new"), codec)[0]) == {"a": "new"}  # the late row is not read
    entries = clearer.stats().disk_entries
    _close(writer, clearer)
    assert entries == 1, f"{entries} entries counted where one lookup can read one"


def test_a_memory_hit_does_not_wait_for_another_threads_disk_write(tmp_path: Path) -> None:
    """Interleaving (process H with threads X and Y; process Q):
    1. H holds a in memory.
    2. Q holds SQLite's write lock (a long write: a big batch, a clear of a large file).
    3. X misses b, fetches it and writes it to disk: it holds H's disk lock while SQLite waits for Q (up to its
       30 s busy timeout).
    4. Y looks up a, which is in memory. Before a7dcf04 that never touched the disk; now every lookup reads the
       epoch under H's disk lock, so Y waits for X's write, i.e. for Q."""
    here = FeatureCache(path=tmp_path)
    codec = _Codec()
    here.lookup(("p",), ["a"], _const("old"), codec)
    other = sqlite3.connect(tmp_path / "featurekit-cache.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # Q's write lock
    codec.encoding.clear()
    x, x_out = _run(lambda: dict(here.lookup(("p",), ["b"], _const("b"), codec)[0]))
    assert codec.encoding.wait(10)
    time.sleep(0.2)  # X is in its disk write, waiting for Q
    started = time.monotonic()
    y, y_out = _run(lambda: here.lookup(("p",), ["a"], _never, codec))
    y.join(1.0)
    waited = time.monotonic() - started
    other.execute("ROLLBACK")
    other.close()
    y.join(10), x.join(10)
    _close(here)
    assert y_out == {"value": ({"a": "old"}, 1)} and x_out == {"value": {"b": "b"}}
    assert waited < 0.5, f"a memory hit waited {waited:.2f} s for another thread's disk write"


def test_a_memory_hit_does_not_wait_on_a_stalled_redis() -> None:
    """Interleaving (process H; Redis stalls, e.g. CLIENT PAUSE during a failover, a fork for a snapshot, or a
    network partition that drops packets):
    1. H holds a in memory.
    2. Redis stops answering.
    3. H looks up a: before a7dcf04 a memory hit never touched Redis; then each one waited for the epoch GET to time
       out (socket_timeout, times redis-py's retries) before it answered from memory anyway. Now the first waits
       for one socket timeout and marks the tier degraded; the hits after it, for a second, do not ask Redis."""
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    from .redis_server import start_redis

    with start_redis() as url:  # its own server: the pause stops every client of it
        here = FeatureCache(tier=RedisTier(url, socket_timeout=0.3))
        codec = _Codec()
        here.lookup(("p",), ["a"], _const("old"), codec)
        admin = RedisTier(url).client
        admin.execute_command("CLIENT", "PAUSE", "1000", "ALL")  # it ends on its own (UNPAUSE would wait too)
        started = time.monotonic()
        first = here.lookup(("p",), ["a"], _never, codec)
        waited_first = time.monotonic() - started
        started = time.monotonic()
        values, hits = here.lookup(("p",), ["a"], _never, codec)
        waited = time.monotonic() - started
        admin.close()
        here.tier.client.close()  # no flush into the paused server
    assert (dict(first[0]), first[1]) == (dict(values), hits) == ({"a": "old"}, 1)
    assert waited_first < 0.9, f"the first memory hit waited {waited_first:.2f} s on a stalled Redis"
    assert waited < 0.1, f"a memory hit waited {waited:.2f} s on a stalled Redis"


# -- attacks that held: kept as regression tests -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_lookup_after_a_clear_elsewhere_does_not_wait_on_a_fetch_begun_before_it(
    kind: str, tmp_path: Path, request: Any
) -> None:
    """Interleaving (process H with threads A and B; process X):
    1. H's thread A misses a and fetches it (held); it is H's single flight for a (and, with Redis, holds the
       cross-process lock for a under the epoch-0 key).
    2. X clears. The clear has returned.
    3. H's thread B looks up a: it sees the new epoch, drops A's flight and fetches a itself (under the new
       epoch's lock), without waiting for A. A's caller still gets A's value; nobody after the clear does."""
    here, clearer = _tiers(kind, tmp_path, request, 2)
    codec = _Codec()
    held = _Held("old")
    a, a_out = _run(lambda: dict(here.lookup(("p",), ["a"], held, codec)[0]))
    assert held.started.wait(10)
    clearer.clear()
    started = time.monotonic()
    b, b_out = _run(lambda: here.lookup(("p",), ["a"], _const("new"), codec))
    b.join(3)
    waited = time.monotonic() - started
    held.release.set()
    a.join(10)
    assert waited < 2 and b_out == {"value": ({"a": "new"}, 0)}
    assert a_out == {"value": {"a": "old"}}
    assert here.lookup(("p",), ["a"], _never, codec) == ({"a": "new"}, 1)
    assert dict(clearer.lookup(("p",), ["a"], _never, codec)[0]) == {"a": "new"}
    _close(here, clearer)


def test_a_waiter_on_another_processs_redis_lock_is_freed_by_a_clear(redis_url: str) -> None:
    """Interleaving (processes W, H, X over one Redis, lock timeout 120 s):
    1. W misses a: it takes the Redis lock for a (epoch 0) and fetches (held).
    2. H misses a: it finds W's lock and waits for W's entry.
    3. X clears: the epoch moves and the lock key goes with the rest.
    4. H sees the lock gone without an entry, takes it again and fetches: it does not wait out the 120 s.
    5. Neither W's nor H's row (both under epoch 0: their lookups began before the clear) is read by a lookup
       after the clear in another process."""
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    namespace = uuid.uuid4().hex
    writer, here, clearer, later = (
        FeatureCache(tier=RedisTier(redis_url, namespace=namespace, lock_timeout=120)) for _ in range(4)
    )
    codec = _Codec()
    held = _Held("old")
    w, _ = _run(lambda: writer.lookup(("p",), ["a"], held, codec))
    assert held.started.wait(10)
    h, h_out = _run(lambda: here.lookup(("p",), ["a"], _const("mid"), codec))
    h.join(0.3)
    assert h.is_alive()  # waiting on W's lock
    clearer.clear()
    h.join(3)
    assert h_out == {"value": ({"a": "mid"}, 0)}
    held.release.set()
    w.join(10)
    assert later.lookup(("p",), ["a"], _const("new"), codec) == ({"a": "new"}, 0)
    _close(writer, here, clearer, later)


def test_a_redis_that_is_down_degrades_and_raises_nothing() -> None:
    """Redis down from the start: lookups fetch, memory still answers (the epoch reads None: no forgetting),
    clear() and stats() raise nothing, and `degraded` says why."""
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    from .redis_server import free_port

    here = FeatureCache(tier=RedisTier(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2))
    codec = _Codec()
    assert here.lookup(("p",), ["a"], _const("old"), codec) == ({"a": "old"}, 0)
    assert here.lookup(("p",), ["a"], _never, codec) == ({"a": "old"}, 1)
    here.clear()
    assert here.lookup(("p",), ["a"], _const("new"), codec) == ({"a": "new"}, 0)
    assert here.stats().disk_entries == 0
    assert here.tier.degraded and here.tier.degraded.startswith("redis unavailable: ConnectionError")
    here.close()


def test_the_cache_clear_command_in_another_process_reaches_a_redis_cache(redis_url: str) -> None:
    """A real process: `featurekit cache clear --redis URL` runs in a subprocess while this one holds a in memory
    (default namespace, on a database of its own); the next lookup here fetches again."""
    pytest.importorskip("redis")
    import subprocess
    import sys

    from featurekit.cache_redis import RedisTier

    url = _own_db(redis_url)
    here = FeatureCache(tier=RedisTier(url))
    codec = _Codec()
    here.lookup(("p",), ["a"], _const("old"), codec)
    assert here.lookup(("p",), ["a"], _never, codec)[1] == 1
    done = subprocess.run(
        [sys.executable, "-m", "featurekit.cli", "cache", "clear", "--redis", url], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert here.lookup(("p",), ["a"], _const("new"), codec) == ({"a": "new"}, 0)
    here.close()
