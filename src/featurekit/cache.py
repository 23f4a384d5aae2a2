"""featurekit's own per-entity cache, in front of every engine.

A key is (engine, view, template version, parameters, as_of) plus one entity ID, so a batch
asks the engine only for the IDs it misses, and no parameter set can ever be answered with
another's row. Concurrent requests for the same key share one query (single flight).
Failures are never cached: waiters get the error, and the next call tries again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

Prefix = tuple[Hashable, ...]


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class FeatureCache:
    """In-process, TTL-bounded, thread-safe; oldest entries go first when `max_entries` is reached."""

    def __init__(
        self, ttl: float = 300.0, max_entries: int = 1_000_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._data: dict[tuple[Prefix, Hashable], tuple[float, Any]] = {}
        self._inflight: dict[tuple[Prefix, Hashable], Future[Any]] = {}
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    def lookup(
        self, prefix: Prefix, ids: Iterable[Hashable], fetch: Callable[[list[Hashable]], Mapping[Hashable, Any]]
    ) -> tuple[dict[Hashable, Any], int]:
        """Values for `ids`; `fetch` is called once with the IDs nobody has or is fetching. Returns (values, hits)."""
        now = self.clock()
        found: dict[Hashable, Any] = {}
        mine: list[Hashable] = []
        waiting: dict[Hashable, Future[Any]] = {}
        with self._lock:
            for entity_id in ids:
                key = (prefix, entity_id)
                entry = self._data.get(key)
                if entry is not None and entry[0] > now:
                    found[entity_id] = entry[1]
                elif key in self._inflight:
                    waiting[entity_id] = self._inflight[key]
                else:
                    self._inflight[key] = Future()
                    mine.append(entity_id)
            hits = len(found)
            self._hits += hits + len(waiting)
            self._misses += len(mine)
        if mine:
            try:
                fetched = fetch(mine)
            except BaseException as exc:
                with self._lock:
                    for entity_id in mine:
                        self._inflight.pop((prefix, entity_id)).set_exception(exc)
                raise
            with self._lock:
                expires = self.clock() + self.ttl
                for entity_id in mine:
                    value = fetched[entity_id]
                    self._data[(prefix, entity_id)] = (expires, value)
                    self._inflight.pop((prefix, entity_id)).set_result(value)
                self._evict()
            found.update((i, fetched[i]) for i in mine)
        for entity_id, future in waiting.items():
            found[entity_id] = future.result()
        return found, hits + len(waiting)

    def _evict(self) -> None:
        excess = len(self._data) - self.max_entries
        if excess > 0:
            for key in list(self._data)[:excess]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._hits = self._misses = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._data))
