"""featurekit's own per-entity cache, in front of every engine.

A key is (engine, view, template version, parameters, as_of) plus one entity ID, so a batch
asks the engine only for the IDs it misses, and no parameter set can ever be answered with
another's row. Concurrent requests for the same key share one query (single flight).
Failures are never cached: waiters get the error, and the next call tries again.

Values are opaque here. With `path=` the cache also keeps entries in a SQLite file, so a
notebook kernel restart keeps them; a `Codec` passed per lookup turns values into bytes and
back, because only the caller knows their types.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .cache_disk import DISK_FILE, _Counters, _entity_text, _prefix_text, decoded, open_disk
from .cache_memory import Fill, Flight, Later, Shelf, Source, pairs

Prefix = tuple[Hashable, ...]
ENV_CACHE_DIR = "FEATUREKIT_CACHE_DIR"


@dataclass(frozen=True)
class Fetched:
    """What a fetch returns when it knows what its query cost; the cost is apportioned per entity.

    `values` maps each fetched ID to its value. Instead, `rows` may make the values in the order of the IDs
    the fetch was given, one per ID: it is called only when a lookup first reads them, so a batch that is
    never read back costs no per-ID work at all. It may be called later and more than once, so it must
    close over the fetch's own result (as the store's closes over the Arrow table its query returned).
    """

    values: Mapping[Hashable, Any] = field(default_factory=dict)
    scanned_bytes: int = 0
    cost_usd: float = 0.0
    #: Memory the values hold (e.g. the Arrow table's nbytes), counted against `max_bytes`.
    nbytes: int = 0
    rows: Callable[[], Iterable[Any]] | None = None


@dataclass(frozen=True)
class CacheStats:
    """Counters since the cache was created (or cleared); with a disk cache, since the file was."""

    hits: int
    misses: int
    entries: int
    queries_avoided: int = 0
    bytes_saved: int = 0
    usd_saved: float = 0.0
    disk_hits: int = 0
    disk_entries: int | None = None

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "hit_rate": round(self.hit_rate, 4), **asdict(self)}

    def __str__(self) -> str:
        line = (
            f"{self.hits:,} hits, {self.misses:,} misses ({self.hit_rate:.0%}), {self.entries:,} entries, "
            f"{self.queries_avoided:,} queries avoided, {self.bytes_saved:,} bytes and ${self.usd_saved:.6f} saved"
        )
        if self.disk_entries is not None:
            line += f", {self.disk_hits:,} disk hits, {self.disk_entries:,} entries on disk"
        return line


class Codec(Protocol):
    """Turns cached values into bytes for the disk and back; one call per batch, not per entity."""

    def encode(self, values: Mapping[Hashable, Any]) -> dict[Hashable, bytes]: ...

    def decode(self, blobs: Mapping[Hashable, bytes]) -> dict[Hashable, Any]: ...


def default_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """An explicit folder wins, then FEATUREKIT_CACHE_DIR; None means in-process only."""
    chosen = cache_dir or os.environ.get(ENV_CACHE_DIR)
    return Path(chosen).expanduser() if chosen else None


class FeatureCache:
    """In-process, TTL-bounded, thread-safe; oldest entries go first when `max_entries` or `max_bytes` is reached.

    `path` (a folder) adds a disk layer: misses in memory are looked up there before the engine is
    asked, and every fetched entry is written there too (only for lookups given a `codec`). `tier` is
    another such layer with the disk's methods (get/put/flush/totals/clear/close, and `epoch` for clears that
    reach other processes), e.g. a `cache_redis.RedisTier` that workers share; it takes the disk's place.
    Work per lookup is a dict probe per ID. A fill is kept as it came and indexed (C-level dict updates) by
    the first lookup that reads its prefix, so a miss costs about what no cache costs.
    """

    def __init__(
        self,
        ttl: float = 300.0,
        max_entries: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
        *,
        path: str | os.PathLike[str] | None = None,
        tier: Any = None,
        max_bytes: int = 1 << 30,
    ) -> None:
        self.ttl, self.max_entries, self.max_bytes, self.clock = ttl, max_entries, max_bytes, clock
        self._shelves: dict[Prefix, Shelf] = {}
        self._fills: deque[tuple[Shelf, Fill]] = deque()  # oldest first: every fill has the same TTL
        self._bytes = 0
        # One Future per fetch, shared by its keys: a Future per entity costs ~1 KB (it holds a Condition).
        self._inflight: dict[Prefix, list[Flight]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # clear() starts a new one: a fetch begun before it is not kept
        self._epoch: Hashable = 0  # the tier's, as last read: tier keys carry it, and a tier writes only in its own
        self._counters = _Counters()
        self._unflushed = _Counters()
        # A shared tier is thread-safe and may wait on another process's fetch: holding a lock there would let
        # two processes each wait for an entry the other cannot write (the writer needs the lock).
        self._disk_lock: Any = threading.Lock() if tier is None else contextlib.nullcontext()
        # Held by clear() emptying the tier and by a fetch's generation check and write: a fetch begun before a
        # clear never writes after it (held around a put, which never waits on another process).
        self._keeping = threading.Lock()
        self._disk = tier if tier is not None else open_disk(Path(path) / DISK_FILE) if path is not None else None
        self._closed = False

    @property
    def path(self) -> Path | None:
        return self._disk.path if self._disk is not None else None

    @property
    def tier(self) -> Any:
        """The layer behind memory (disk or a shared tier), or None: lookups then need no codec."""
        return self._disk

    def lookup(
        self,
        prefix: Prefix,
        ids: Iterable[Hashable],
        fetch: Callable[[list[Hashable]], Mapping[Hashable, Any] | Fetched],
        codec: Codec | None = None,
        *,
        distinct: bool = False,
    ) -> tuple[Mapping[Hashable, Any], int]:
        """Values for `ids`; `fetch` is called once with the IDs nobody has or is fetching. Returns (values, hits).

        `distinct` says `ids` has no repeats (the caller deduplicated them), which saves a pass over them.
        """
        if self._disk is not None:
            self._sync_epoch()
        now = self.clock()
        found: dict[Hashable, Any] = {}
        waiting: dict[Hashable, Future[Mapping[Hashable, Any]]] = {}
        saved_bytes = saved_usd = 0.0
        with self._lock:
            generation, epoch = self._generation, self._epoch  # one step: what this lookup keeps is of this epoch
            shelf = self._shelves.get(prefix)
            flights = self._inflight.get(prefix)
            if shelf is None and not flights:  # nothing cached or in flight: every ID is a miss
                mine = list(ids) if distinct else list(dict.fromkeys(ids))
            else:
                mine = []
                if shelf is not None and shelf.pending:
                    shelf.index()
                values, fills = (shelf.values, shelf.fills) if shelf is not None else ({}, {})
                for entity_id in ids:
                    fill = fills.get(entity_id)
                    if fill is not None and fill.expires > now:
                        found[entity_id] = values[entity_id]
                        saved_bytes += fill.saved_bytes
                        saved_usd += fill.saved_usd
                        continue
                    flying = next((f for f in flights if entity_id in f), None) if flights else None
                    if flying is not None:
                        waiting[entity_id] = flying.future
                    else:
                        mine.append(entity_id)
                if len(mine) > 1 and not distinct:
                    mine = list(dict.fromkeys(mine))
            # Only a miss needs a future for others to wait on; a pure hit should not pay for one.
            flight: Flight | None = None
            if mine:
                flight = Flight(mine)
                self._inflight.setdefault(prefix, []).append(flight)
        cached = len(found)
        if flight is None:  # every ID was cached or already being fetched
            return self._finish(found, waiting, cached, saved_bytes, saved_usd, 0)
        disk_hits = 0
        result: Mapping[Hashable, Any] = found
        try:
            if self._disk is not None and codec is not None:
                from_disk = self._disk_get(prefix, epoch, mine, codec)
                if from_disk:
                    disk_hits = len(from_disk)
                    got = {i: e[0] for i, e in from_disk.items()}
                    disk_bytes = sum(e[1] for e in from_disk.values())
                    disk_usd = sum(e[2] for e in from_disk.values())
                    share = disk_bytes / disk_hits, disk_usd / disk_hits
                    self._store(prefix, lambda: got, list(got), *share, 0, generation)
                    saved_bytes, saved_usd = saved_bytes + disk_bytes, saved_usd + disk_usd
                    found.update(got)
                    mine = [i for i in mine if i not in from_disk]
            if mine:
                fetched = fetch(mine)
                if not isinstance(fetched, Fetched):
                    fetched = Fetched(fetched)
                share_bytes, share_usd = fetched.scanned_bytes / len(mine), fetched.cost_usd / len(mine)
                source = pairs(mine, fetched.rows, fetched.values)
                if self._disk is not None and codec is not None:
                    rows = dict(source())
                    self._disk_put((prefix, epoch), rows, share_bytes, share_usd, codec, generation)
                    source = lambda: rows  # noqa: E731
                self._store(prefix, source, mine, share_bytes, share_usd, fetched.nbytes, generation, flight)
                if found or waiting:
                    found.update(source())
                else:  # all of it was fetched: the caller may not even read the values one by one
                    result = Later(lambda: dict(source()))
        except BaseException as exc:
            self._land(prefix, flight)
            release = getattr(self._disk, "release", None)  # a shared tier's cross-process locks
            if release is not None and codec is not None and mine:
                release(_prefix_text(prefix, epoch), [_entity_text(i) for i in mine])
            flight.future.set_exception(exc)
            raise
        self._land(prefix, flight)
        flight.future.set_result(result)  # waiters read their IDs from it (disk hits and fetched rows are in it)
        return self._finish(result, waiting, cached, saved_bytes, saved_usd, disk_hits, len(mine))

    def _finish(
        self,
        found: Mapping[Hashable, Any],
        waiting: Mapping[Hashable, Future[Mapping[Hashable, Any]]],
        cached: int,
        saved_bytes: float,
        saved_usd: float,
        disk_hits: int,
        fetched: int = 0,
    ) -> tuple[Mapping[Hashable, Any], int]:
        """Collect what other fetches were bringing, and count the lookup: `cached` hits in memory, `disk_hits`
        in the tier, `fetched` misses."""
        if waiting:
            assert isinstance(found, dict)  # with waiters, lookup() collects into its own dict
            for entity_id, future in waiting.items():
                found[entity_id] = future.result()[entity_id]
        hits = cached + len(waiting) + disk_hits
        with self._lock:
            delta = _Counters(hits, fetched, 0 if fetched else 1, saved_bytes, saved_usd, disk_hits)
            self._counters.add(delta)
            self._unflushed.add(delta)
        return found, hits

    def _store(
        self,
        prefix: Prefix,
        source: Source,
        ids: Sequence[Hashable],
        saved_bytes: float,
        saved_usd: float,
        nbytes: int,
        generation: int,
        flight: Flight | None = None,
    ) -> None:
        """Keep a fill (indexed later, by the first lookup that reads it) unless the cache was cleared since
        `generation` (it may predate what the clear was for); with `flight`, that fetch is over."""
        with self._lock:
            if flight is not None:  # one lock for both: a lookup must see the entries or the flight, never neither
                self._land(prefix, flight, locked=True)
            if generation != self._generation:
                return
            fill = Fill(ids, self.clock() + self.ttl, saved_bytes, saved_usd, nbytes, source)
            shelf = self._shelves.get(prefix)
            if shelf is None:
                shelf = self._shelves[prefix] = Shelf()
            shelf.pending.append(fill)
            self._fills.append((shelf, fill))
            self._bytes += nbytes
            self._evict()

    def _land(self, prefix: Prefix, flight: Flight, *, locked: bool = False) -> None:
        """Stop counting `flight` as running (a no-op if it already landed)."""
        with contextlib.nullcontext() if locked else self._lock:
            flights = self._inflight.get(prefix, [])
            if flight in flights:
                flights.remove(flight)
                if not flights:
                    del self._inflight[prefix]

    def _evict(self) -> None:
        """Drop expired fills, then the oldest entries while over `max_entries` or `max_bytes` (lock held)."""
        now = self.clock()
        entries = sum(s.size() for s in self._shelves.values())
        if entries > self.max_entries:  # a pending fill may repeat IDs: index them all for the exact count
            entries = self._index_all()
        while self._fills:
            shelf, fill = self._fills[0]
            over = entries - self.max_entries
            if fill.expires > now and over <= 0 and self._bytes <= self.max_bytes:
                return
            if fill.source is not None:  # still pending: nothing of it is indexed, it goes as a whole
                shelf.pending.remove(fill)
                self._fills.popleft()
                self._bytes -= fill.nbytes
                entries -= len(fill.ids)
                continue
            if 0 < over < len(fill.ids) and fill.expires > now and self._bytes <= self.max_bytes:
                gone, fill.ids = fill.ids[:over], fill.ids[over:]  # only as many of the oldest as needed
            else:
                gone = fill.ids
                self._fills.popleft()
                self._bytes -= fill.nbytes
            for entity_id in gone:
                if shelf.fills.get(entity_id) is fill:
                    del shelf.fills[entity_id]
                    del shelf.values[entity_id]
                    entries -= 1

    def _index_all(self) -> int:
        """Index every pending fill and return the exact number of entries (lock held)."""
        for shelf in self._shelves.values():
            shelf.index()
        return sum(len(s.values) for s in self._shelves.values())

    def _sync_epoch(self) -> None:
        """Read the tier's epoch (a token every clear replaces), once per lookup. When another process cleared the
        tier since the last read, forget what this one holds in memory and counts: it may be what the clear was for.
        A read applied after a newer one only forgets again: the tier takes no rows of an old epoch, and no fetch
        begun before a forget keeps anything."""
        read = getattr(self._disk, "epoch", None)
        if read is None:  # a tier without epochs: clears reach other processes' memory only with the TTL
            return
        epoch = read()  # not under _disk_lock: a hit must not wait for a write (the tier reads on its own)
        with self._lock:
            if epoch is not None and epoch != self._epoch:  # None: a shared tier that does not answer now
                self._forget()
                self._epoch, self._counters, self._unflushed = epoch, _Counters(), _Counters()

    def _disk_get(
        self, prefix: Prefix, epoch: Hashable, ids: list[Hashable], codec: Codec
    ) -> dict[Hashable, tuple[Any, float, float]]:
        """Entries on disk; one that no longer decodes (another version wrote it, the file was damaged) is a
        miss, and the fetch that follows replaces it."""
        assert self._disk is not None
        as_text = {_entity_text(i): i for i in ids}
        with self._disk_lock:
            rows = self._disk.get(_prefix_text(prefix, epoch), list(as_text), time.time())
        if not rows:
            return {}
        values = decoded(codec, {as_text[k]: r[3] for k, r in rows.items()})
        return {as_text[k]: (values[as_text[k]], r[1], r[2]) for k, r in rows.items() if as_text[k] in values}

    def _disk_put(
        self,
        key: tuple[Prefix, Hashable],
        values: Mapping[Hashable, Any],
        share_bytes: float,
        share_usd: float,
        codec: Codec,
        generation: int,
    ) -> None:
        """Write fetched entries to the tier under `key` (prefix, and the tier epoch the lookup read), unless this
        process cleared the cache since `generation`. The check and the write hold `_keeping`, which clear() takes
        before it empties the tier: a clear during the (slow) encoding is seen here, and one after the check
        empties the tier only once these rows are in it. A tier with epochs writes nothing once another process
        cleared it since that epoch."""
        assert self._disk is not None
        if generation == self._generation:  # skip the encoding when already stale; decided under the lock below
            blobs = codec.encode(values)
            # Wall-clock expiry on disk: the monotonic clock of this process means nothing to the next one.
            expires = time.time() + self.ttl
            rows = [(_entity_text(i), expires, share_bytes, share_usd, blobs[i]) for i in values]
            with self._keeping:
                if generation == self._generation:
                    with self._lock:
                        counters, self._unflushed = self._unflushed, _Counters()
                    epoch = {"epoch": key[1]} if hasattr(self._disk, "epoch") else {}
                    with self._disk_lock:  # a shared tier's put releases its locks, whether it writes or not
                        self._disk.put(_prefix_text(*key), rows, counters, **epoch)
                    return
        # Not kept: still give up a shared tier's single-flight locks, or other lookups of these IDs (this
        # process's too, after the clear) would wait for an entry that never comes, up to the lock timeout.
        release = getattr(self._disk, "release", None)
        if release is not None:
            release(_prefix_text(*key), [_entity_text(i) for i in values])

    def flush(self) -> None:
        """Write the counters not yet on disk (fetches write them anyway; hits alone only count in memory)."""
        if self._disk is None or self._closed:
            return
        with self._lock:
            counters, self._unflushed = self._unflushed, _Counters()
        with self._disk_lock:
            self._disk.flush(counters)

    def close(self) -> None:
        """Flush and release the disk layer's SQLite connection; closing twice is harmless."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._disk is not None:
            with self._disk_lock:
                self._disk.close()

    def clear(self) -> None:
        """Forget every entry, here and in the disk or shared tier. A fetch still running answers the lookups
        already waiting on it, but stores nothing, and a lookup after the clear does not wait on it."""
        with self._lock:
            self._forget()
            self._counters, self._unflushed = _Counters(), _Counters()
        if self._disk is not None:
            with self._keeping, self._disk_lock:  # after any write that checked the generation before it changed
                self._disk.clear()
            # A lookup that began while the tier was being emptied may have read an old entry from it (and kept
            # it, or be fetching for waiters with it): a second generation keeps nothing of it either.
            with self._lock:
                self._forget()

    def _forget(self) -> None:
        """Start a new generation with nothing in memory and no fetch to wait on (lock held)."""
        self._generation += 1
        self._inflight.clear()
        self._shelves.clear()
        self._fills.clear()
        self._bytes = 0

    def stats(self) -> CacheStats:
        """This process's counters; with a disk cache, the totals recorded in the file (all processes)."""
        if self._disk is not None:
            self.flush()
            with self._disk_lock:
                c, disk_entries = self._disk.totals()
        else:
            with self._lock:
                c, disk_entries = _Counters(**vars(self._counters)), None
        with self._lock:
            entries = self._index_all()
        return CacheStats(
            c.hits, c.misses, entries, c.queries_avoided, round(c.bytes_saved), c.usd_saved, c.disk_hits, disk_entries
        )
