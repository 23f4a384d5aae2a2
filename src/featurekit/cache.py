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
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Prefix = tuple[Hashable, ...]
ENV_CACHE_DIR = "FEATUREKIT_CACHE_DIR"
DISK_FILE = "featurekit-cache.sqlite3"
# SQLite's default bound-variable limit is 32,766 on current builds but 999 on old ones.
_SQLITE_IN = 900


@dataclass(frozen=True)
class Fetched:
    """What a fetch returns when it knows what its query cost; the cost is apportioned per entity."""

    values: Mapping[Hashable, Any]
    scanned_bytes: int = 0
    cost_usd: float = 0.0


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
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hit_rate, 4),
            "entries": self.entries,
            "queries_avoided": self.queries_avoided,
            "bytes_saved": self.bytes_saved,
            "usd_saved": self.usd_saved,
            "disk_hits": self.disk_hits,
            "disk_entries": self.disk_entries,
        }

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


@dataclass
class _Counters:
    hits: int = 0
    misses: int = 0
    queries_avoided: int = 0
    bytes_saved: float = 0.0
    usd_saved: float = 0.0
    disk_hits: int = 0

    def add(self, other: _Counters) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Disk:
    """Entries and counters in one SQLite file; one connection, used under the cache's disk lock."""

    path: Path
    conn: sqlite3.Connection = field(init=False)

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: batches run in worker threads; every use holds FeatureCache._disk_lock.
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")  # several processes (kernels, CLI runs) may share it
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS entries (prefix TEXT, entity TEXT, expires REAL, saved_bytes REAL, "
            "saved_usd REAL, value BLOB, PRIMARY KEY (prefix, entity))"
        )
        self.conn.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL)")

    def get(self, prefix: str, ids: list[str], now: float) -> dict[str, tuple[float, float, float, bytes]]:
        found: dict[str, tuple[float, float, float, bytes]] = {}
        for start in range(0, len(ids), _SQLITE_IN):
            part = ids[start : start + _SQLITE_IN]
            rows = self.conn.execute(
                "SELECT entity, expires, saved_bytes, saved_usd, value FROM entries "
                f"WHERE prefix = ? AND expires > ? AND entity IN ({', '.join('?' * len(part))})",
                [prefix, now, *part],
            )
            found.update((r[0], (r[1], r[2], r[3], r[4])) for r in rows)
        return found

    def put(self, prefix: str, rows: list[tuple[str, float, float, float, bytes]], counters: _Counters) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", [(prefix, *r) for r in rows]
            )
            self._add_counters(counters)

    def _add_counters(self, counters: _Counters) -> None:
        self.conn.executemany(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            [(name, float(getattr(counters, name))) for name in counters.__dataclass_fields__],
        )

    def flush(self, counters: _Counters) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self._add_counters(counters)

    def totals(self) -> tuple[_Counters, int]:
        values = dict(self.conn.execute("SELECT name, value FROM counters").fetchall())
        counters = _Counters(**{k: type(getattr(_Counters, k))(v) for k, v in values.items() if hasattr(_Counters, k)})
        entries = self.conn.execute("SELECT count(*) FROM entries WHERE expires > ?", [time.time()]).fetchone()[0]
        return counters, int(entries)

    def clear(self) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.execute("DELETE FROM entries")
            self.conn.execute("DELETE FROM counters")

    def close(self) -> None:
        self.conn.close()


def default_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """An explicit folder wins, then FEATUREKIT_CACHE_DIR; None means in-process only."""
    chosen = cache_dir or os.environ.get(ENV_CACHE_DIR)
    return Path(chosen).expanduser() if chosen else None


def _open_disk(file: Path) -> _Disk:
    """The disk layer, or a ConfigError naming the file when it is not a usable SQLite cache (corrupt, a directory)."""
    from .errors import ConfigError

    try:
        return _Disk(file)
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(
            "cache_dir", f"{file} cannot be used as the cache ({exc}); delete it or pick another folder"
        ) from None


class FeatureCache:
    """In-process, TTL-bounded, thread-safe; oldest entries go first when `max_entries` is reached.

    `path` (a folder) adds a disk layer: misses in memory are looked up there before the engine is
    asked, and every fetched entry is written there too (only for lookups given a `codec`). `tier` is
    another such layer with the disk's methods (get/put/flush/totals/clear/close), e.g. a
    `cache_redis.RedisTier` that workers share; it takes the disk's place.
    """

    def __init__(
        self,
        ttl: float = 300.0,
        max_entries: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
        *,
        path: str | os.PathLike[str] | None = None,
        tier: Any = None,
    ) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        # entry: (expires, value, bytes saved per hit, dollars saved per hit)
        self._data: dict[tuple[Prefix, Hashable], tuple[float, Any, float, float]] = {}
        # One Future per fetch, shared by its keys: a Future per entity costs ~1 KB (it holds a Condition),
        # which was 1.9 GB of a 1,000,000-entity batch.
        self._inflight: dict[tuple[Prefix, Hashable], Future[Mapping[Hashable, Any]]] = {}
        self._lock = threading.Lock()
        self._counters = _Counters()
        self._unflushed = _Counters()
        # A shared tier is thread-safe and may wait on another process's fetch: holding a lock there would let
        # two processes each wait for an entry the other cannot write (the writer needs the lock).
        self._disk_lock: Any = threading.Lock() if tier is None else contextlib.nullcontext()
        self._disk = tier if tier is not None else _open_disk(Path(path) / DISK_FILE) if path is not None else None

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
    ) -> tuple[dict[Hashable, Any], int]:
        """Values for `ids`; `fetch` is called once with the IDs nobody has or is fetching. Returns (values, hits)."""
        now = self.clock()
        found: dict[Hashable, Any] = {}
        mine: list[Hashable] = []
        waiting: dict[Hashable, Future[Mapping[Hashable, Any]]] = {}
        # Only a miss needs a future for others to wait on; a pure hit should not pay for one.
        flight: Future[Mapping[Hashable, Any]] | None = None
        saved_bytes = saved_usd = 0.0
        data, inflight = self._data, self._inflight
        with self._lock:
            for entity_id in ids:
                key = (prefix, entity_id)
                entry = data.get(key)
                if entry is not None and entry[0] > now:
                    found[entity_id] = entry[1]
                    saved_bytes += entry[2]
                    saved_usd += entry[3]
                elif key in inflight:
                    waiting[entity_id] = inflight[key]
                else:
                    if flight is None:
                        flight = Future()
                    inflight[key] = flight
                    mine.append(entity_id)
        disk_hits = 0
        if flight is None:  # every ID was cached or already being fetched
            return self._finish(found, waiting, mine, saved_bytes, saved_usd, disk_hits)
        try:
            if mine and self._disk is not None and codec is not None:
                from_disk = self._disk_get(prefix, mine, codec)
                if from_disk:
                    disk_hits = len(from_disk)
                    self._store(prefix, from_disk, flight)
                    for entity_id, (value, entry_bytes, entry_usd) in from_disk.items():
                        found[entity_id] = value
                        saved_bytes += entry_bytes
                        saved_usd += entry_usd
                    mine = [i for i in mine if i not in from_disk]
            if mine:
                fetched = fetch(mine)
                values = fetched.values if isinstance(fetched, Fetched) else fetched
                share_bytes = fetched.scanned_bytes / len(mine) if isinstance(fetched, Fetched) else 0.0
                share_usd = fetched.cost_usd / len(mine) if isinstance(fetched, Fetched) else 0.0
                entries = {i: (values[i], share_bytes, share_usd) for i in mine}
                self._store(prefix, entries, flight)
                if self._disk is not None and codec is not None:
                    self._disk_put(prefix, entries, codec)
                found.update((i, values[i]) for i in mine)
        except BaseException as exc:
            with self._lock:
                for entity_id in mine:
                    if inflight.get((prefix, entity_id)) is flight:
                        del inflight[(prefix, entity_id)]
            release = getattr(self._disk, "release", None)  # a shared tier's cross-process locks
            if release is not None and codec is not None and mine:
                release(_prefix_text(prefix), [_entity_text(i) for i in mine])
            flight.set_exception(exc)
            raise
        if not flight.done():
            flight.set_result(found)  # waiters read their IDs from it (disk hits and fetched rows are in it)
        return self._finish(found, waiting, mine, saved_bytes, saved_usd, disk_hits)

    def _finish(
        self,
        found: dict[Hashable, Any],
        waiting: Mapping[Hashable, Future[Mapping[Hashable, Any]]],
        mine: list[Hashable],
        saved_bytes: float,
        saved_usd: float,
        disk_hits: int,
    ) -> tuple[dict[Hashable, Any], int]:
        """Collect what other fetches were bringing, and count the lookup."""
        for entity_id, future in waiting.items():
            found[entity_id] = future.result()[entity_id]
        hits = len(found) - len(mine)
        with self._lock:
            delta = _Counters(hits, len(mine), 0 if mine else 1, saved_bytes, saved_usd, disk_hits)
            self._counters.add(delta)
            self._unflushed.add(delta)
        return found, hits

    def _store(self, prefix: Prefix, entries: Mapping[Hashable, tuple[Any, float, float]], flight: Future[Any]) -> None:
        with self._lock:
            expires = self.clock() + self.ttl
            for entity_id, (value, entry_bytes, entry_usd) in entries.items():
                self._data[(prefix, entity_id)] = (expires, value, entry_bytes, entry_usd)
                if self._inflight.get((prefix, entity_id)) is flight:
                    del self._inflight[(prefix, entity_id)]
            self._evict()

    def _disk_get(self, prefix: Prefix, ids: list[Hashable], codec: Codec) -> dict[Hashable, tuple[Any, float, float]]:
        assert self._disk is not None
        as_text = {_entity_text(i): i for i in ids}
        with self._disk_lock:
            rows = self._disk.get(_prefix_text(prefix), list(as_text), time.time())
        if not rows:
            return {}
        values = codec.decode({as_text[k]: r[3] for k, r in rows.items()})
        return {as_text[k]: (values[as_text[k]], r[1], r[2]) for k, r in rows.items()}

    def _disk_put(self, prefix: Prefix, entries: Mapping[Hashable, tuple[Any, float, float]], codec: Codec) -> None:
        assert self._disk is not None
        blobs = codec.encode({i: e[0] for i, e in entries.items()})
        # Wall-clock expiry on disk: the monotonic clock of this process means nothing to the next one.
        expires = time.time() + self.ttl
        rows = [(_entity_text(i), expires, e[1], e[2], blobs[i]) for i, e in entries.items()]
        with self._lock:
            counters, self._unflushed = self._unflushed, _Counters()
        with self._disk_lock:
            self._disk.put(_prefix_text(prefix), rows, counters)

    def flush(self) -> None:
        """Write the counters not yet on disk (fetches write them anyway; hits alone only count in memory)."""
        if self._disk is None:
            return
        with self._lock:
            counters, self._unflushed = self._unflushed, _Counters()
        with self._disk_lock:
            self._disk.flush(counters)

    def close(self) -> None:
        self.flush()
        if self._disk is not None:
            with self._disk_lock:
                self._disk.close()

    def _evict(self) -> None:
        excess = len(self._data) - self.max_entries
        if excess > 0:
            for key in list(self._data)[:excess]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._counters = _Counters()
            self._unflushed = _Counters()
        if self._disk is not None:
            with self._disk_lock:
                self._disk.clear()

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
            entries = len(self._data)
        return CacheStats(
            c.hits, c.misses, entries, c.queries_avoided, round(c.bytes_saved), c.usd_saved, c.disk_hits, disk_entries
        )


def _prefix_text(prefix: Prefix) -> str:
    # repr of str/int/float/bool/date/tuple is stable across processes; hashed to keep keys short.
    return hashlib.sha256(repr(prefix).encode()).hexdigest()


def _entity_text(entity_id: Hashable) -> str:
    return f"{type(entity_id).__name__}:{entity_id}"
