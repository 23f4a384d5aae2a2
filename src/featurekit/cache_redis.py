"""A Redis tier for FeatureCache, shared by every worker and replica that points at the same server.

    cache = FeatureCache(tier=RedisTier("redis://127.0.0.1:6379/0"))
    store = FeatureStore(cache=cache)

It has the disk tier's shape (get/put/flush/totals/clear/close/epoch) and keys: one entry per (prefix, entity),
written with the cache's TTL, valued as the codec's bytes. Single flight spans processes: a miss takes a lock
(SET NX with an expiry) for its key before the engine is asked; a process that finds the lock taken waits for
the holder's entry instead of running the same query. A failed fetch releases its locks, so the next caller
tries again (nothing wrong is cached).

Redis being down is not an outage: every call degrades to "not cached" (lookups answer from the engine),
`degraded` says why, and `/readyz` reports it.
"""

from __future__ import annotations

import secrets
import struct
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import _Counters

#: Entry header: wall-clock expiry, bytes and dollars one hit saves; the codec's bytes follow.
_HEADER = struct.Struct("<ddd")
#: Deletes a lock only if this process still holds it (another may have taken it after it expired).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisTier:
    """Cache entries, counters and single-flight locks in Redis (redis-py, from the `serve` extra)."""

    #: Not a file: `FeatureCache.path` stays None, so nothing shows a Redis URL (it may hold a password).
    path = None

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "featurekit",
        lock_timeout: float = 120.0,
        poll_interval: float = 0.01,
        socket_timeout: float = 1.0,
    ) -> None:
        """`lock_timeout` bounds how long a crashed holder can keep others waiting (longer than a slow query)."""
        import redis

        self._redis_errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._watch_error: type[BaseException] = redis.WatchError
        self._failed_at = 0.0
        self.client: Any = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout, health_check_interval=30
        )
        self.namespace, self.lock_timeout, self.poll_interval = namespace, lock_timeout, poll_interval
        self._epoch_key = f"{namespace}:epoch"
        self._release = self.client.register_script(_RELEASE)
        self._token = secrets.token_hex(8)  # whose lock it is: this process
        self._lock = threading.Lock()
        self.degraded: str | None = None

    def _entry(self, prefix: str, entity: str) -> str:
        return f"{self.namespace}:e:{prefix}:{entity}"

    def _flight(self, prefix: str, entity: str) -> str:
        return f"{self.namespace}:lock:{prefix}:{entity}"

    def _failed(self, exc: BaseException) -> None:
        # The reason only: redis-py's messages name host and port, never the URL's password.
        with self._lock:
            self._failed_at = time.monotonic()
            self.degraded = f"redis unavailable: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def _ok(self) -> None:
        if self.degraded is not None:
            with self._lock:
                self.degraded = None

    def ping(self) -> bool:
        """True if the server answers; a failure marks the tier degraded."""
        try:
            self.client.ping()
        except self._redis_errors as exc:
            self._failed(exc)
            return False
        self._ok()
        return True

    def get(self, prefix: str, ids: list[str], now: float) -> dict[str, tuple[float, float, float, bytes]]:
        """Entries present; waits for keys another process is fetching. IDs left out are this caller's to fetch."""
        try:
            found = self._read(prefix, ids)
            pending = [i for i in ids if i not in found]
            while pending:
                mine = self._claim(prefix, pending)
                if mine:  # a holder may have written its entry and let go between our read and our claim
                    late = self._read(prefix, sorted(mine))
                    found.update(late)
                    self.release(prefix, list(late))
                theirs = [i for i in pending if i not in mine]
                if not theirs:
                    break
                found.update(self._await(prefix, theirs))
                # What is still missing was released without an entry (the holder failed): claim it again.
                pending = [i for i in theirs if i not in found]
        except self._redis_errors as exc:
            self._failed(exc)
            return {}
        self._ok()
        return found

    def _read(self, prefix: str, ids: Sequence[str]) -> dict[str, tuple[float, float, float, bytes]]:
        found: dict[str, tuple[float, float, float, bytes]] = {}
        if not ids:
            return found
        for entity, raw in zip(ids, self.client.mget([self._entry(prefix, i) for i in ids]), strict=True):
            if raw is not None and len(raw) >= _HEADER.size:
                expires, saved_bytes, saved_usd = _HEADER.unpack_from(raw)
                found[entity] = (expires, saved_bytes, saved_usd, bytes(raw[_HEADER.size :]))
        return found

    def _claim(self, prefix: str, ids: Sequence[str]) -> set[str]:
        pipe = self.client.pipeline(transaction=False)
        for entity in ids:
            pipe.set(self._flight(prefix, entity), self._token, nx=True, px=int(self.lock_timeout * 1000))
        return {entity for entity, won in zip(ids, pipe.execute(), strict=True) if won}

    def _await(self, prefix: str, ids: list[str]) -> dict[str, tuple[float, float, float, bytes]]:
        """Wait until each key has an entry or no lock (its holder finished or failed), within the lock timeout."""
        deadline = time.monotonic() + self.lock_timeout
        found: dict[str, tuple[float, float, float, bytes]] = {}
        waiting = list(ids)
        while waiting and time.monotonic() < deadline:
            found.update(self._read(prefix, waiting))
            waiting = [i for i in waiting if i not in found]
            if not waiting:
                break
            locked = self.client.exists(*[self._flight(prefix, i) for i in waiting])
            if locked < len(waiting):
                # Some lock is gone without an entry; one more read settles which, then the caller re-claims.
                found.update(self._read(prefix, waiting))
                break
            time.sleep(self.poll_interval)
        return found

    def put(
        self, prefix: str, rows: list[tuple[str, float, float, float, bytes]], counters: _Counters, epoch: str = ""
    ) -> None:
        """Write fetched entries (expiring with the cache's TTL) and the counters, unless the cache was cleared since
        `epoch` (WATCH: a clear between the check and the write aborts it); release their locks either way."""
        try:
            with self.client.pipeline() as pipe:
                if epoch:
                    pipe.watch(self._epoch_key)  # immediate mode until multi(): the GET answers now
                if not epoch or pipe.get(self._epoch_key) == epoch.encode():
                    pipe.multi()
                    wall = time.time()
                    for entity, expires, saved_bytes, saved_usd, blob in rows:
                        ttl_ms = max(1, int((expires - wall) * 1000))
                        value = _HEADER.pack(expires, saved_bytes, saved_usd) + blob
                        pipe.set(self._entry(prefix, entity), value, px=ttl_ms)
                    self._add_counters(pipe, counters)
                    pipe.execute()
        except self._watch_error:
            pass  # cleared while writing: nothing was written
        except self._redis_errors as exc:
            self._failed(exc)
            return
        self.release(prefix, [r[0] for r in rows])

    def release(self, prefix: str, ids: Sequence[str]) -> None:
        """Give up this process's locks on `ids` (after a failed fetch, or once the entries are written)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for entity in ids:
                self._release(keys=[self._flight(prefix, entity)], args=[self._token], client=pipe)
            pipe.execute()
        except self._redis_errors as exc:
            self._failed(exc)

    def _add_counters(self, pipe: Any, counters: _Counters) -> None:
        key = f"{self.namespace}:counters"
        for name in counters.__dataclass_fields__:
            value = float(getattr(counters, name))
            if value:
                pipe.hincrbyfloat(key, name, value)

    def flush(self, counters: _Counters) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            self._add_counters(pipe, counters)
            pipe.execute()
        except self._redis_errors as exc:
            self._failed(exc)

    def totals(self) -> tuple[_Counters, int]:
        from .cache import _Counters

        try:
            values = {k.decode(): float(v) for k, v in self.client.hgetall(f"{self.namespace}:counters").items()}
            entries = sum(1 for _ in self.client.scan_iter(match=f"{self.namespace}:e:*", count=1000))
        except self._redis_errors as exc:
            self._failed(exc)
            return _Counters(), 0
        fields = _Counters.__dataclass_fields__
        return _Counters(**{k: type(getattr(_Counters(), k))(v) for k, v in values.items() if k in fields}), entries

    def epoch(self) -> str | None:
        """A token every clear replaces (and a flushed or restarted Redis lacks, so it gets a new one); None while
        Redis does not answer, without asking again for a second after a failure: a memory hit must not wait."""
        if self.degraded is not None and time.monotonic() - self._failed_at < 1.0:
            return None
        try:
            value = self.client.get(self._epoch_key)
            if value is None:
                self.client.set(self._epoch_key, secrets.token_hex(8), nx=True)
                value = self.client.get(self._epoch_key)
        except self._redis_errors as exc:
            self._failed(exc)
            return None
        self._ok()
        return None if value is None else value.decode()

    def clear(self) -> None:
        """Empty the cache for every process. The epoch changes first: a fetch begun before the clear writes nothing
        after it (put checks the epoch), and each process drops its memory at its next lookup."""
        try:
            self.client.set(self._epoch_key, secrets.token_hex(8))
            found = self.client.scan_iter(match=f"{self.namespace}:*", count=1000)
            keys = [k for k in found if k != self._epoch_key.encode()]
            for start in range(0, len(keys), 1000):
                self.client.delete(*keys[start : start + 1000])
        except self._redis_errors as exc:
            self._failed(exc)

    def close(self) -> None:
        self.client.close()
