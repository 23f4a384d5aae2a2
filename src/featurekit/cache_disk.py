"""The cache's disk layer: entries and counters in one SQLite file, shared by processes (kernels, CLI runs).

Its methods (get/put/flush/totals/clear/close, and optionally epoch) are the shape any second tier of
FeatureCache keeps. `epoch()` counts the clears the tier has seen, by any process: FeatureCache keys its
entries there by it, and forgets what it holds in memory when it changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import Codec

DISK_FILE = "featurekit-cache.sqlite3"
# SQLite's default bound-variable limit is 32,766 on current builds but 999 on old ones.
_SQLITE_IN = 900


@dataclass
class _Counters:
    hits: int = 0
    misses: int = 0
    queries_avoided: int = 0
    bytes_saved: float = 0.0
    usd_saved: float = 0.0
    disk_hits: int = 0

    def add(self, other: _Counters) -> None:  # on every lookup: plain attributes, no getattr loop
        self.hits += other.hits
        self.misses += other.misses
        self.queries_avoided += other.queries_avoided
        self.bytes_saved += other.bytes_saved
        self.usd_saved += other.usd_saved
        self.disk_hits += other.disk_hits


@dataclass
class _Disk:
    """Entries, counters and the epoch in one SQLite file. The main connection is used under the cache's disk lock;
    a second one only reads the epoch, under a lock of its own, so a lookup never waits for a write (WAL readers
    do not) and sees a file that was deleted or replaced (by another process's `cache clear`)."""

    path: Path
    conn: sqlite3.Connection = field(init=False)

    def __post_init__(self) -> None:
        self._epoch_lock = threading.Lock()
        self._moved = False  # the file was replaced: the main connection reopens at its next use
        self.conn = self._connect()
        self._reader, self._identity = self._connect(), _identity(self.path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: batches run in worker threads; every use holds FeatureCache._disk_lock.
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")  # several processes (kernels, CLI runs) may share it
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS entries (prefix TEXT, entity TEXT, expires REAL, saved_bytes REAL, "
            "saved_usd REAL, value BLOB, PRIMARY KEY (prefix, entity))"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL)")
        conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        # A new file is a new epoch: a process still holding a deleted one must not take its entries for current.
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)", [secrets.token_hex(8)])
        return conn

    def _main(self) -> sqlite3.Connection:
        if self._moved:
            self._moved = False
            self.conn.close()
            self.conn = self._connect()
        return self.conn

    def epoch(self) -> str:
        with self._epoch_lock:
            if _identity(self.path) != self._identity:
                self._reader.close()
                self._reader, self._identity, self._moved = self._connect(), _identity(self.path), True
            return _epoch_of(self._reader)

    def get(self, prefix: str, ids: list[str], now: float) -> dict[str, tuple[float, float, float, bytes]]:
        found: dict[str, tuple[float, float, float, bytes]] = {}
        for start in range(0, len(ids), _SQLITE_IN):
            part = ids[start : start + _SQLITE_IN]
            rows = self._main().execute(
                "SELECT entity, expires, saved_bytes, saved_usd, value FROM entries "
                f"WHERE prefix = ? AND expires > ? AND entity IN ({', '.join('?' * len(part))})",
                [prefix, now, *part],
            )
            found.update((r[0], (r[1], r[2], r[3], r[4])) for r in rows)
        return found

    def put(
        self, prefix: str, rows: list[tuple[str, float, float, float, bytes]], counters: _Counters, epoch: object = ""
    ) -> None:
        """Write entries and counters in one transaction, or nothing if the file was cleared since `epoch`."""
        conn = self._main()
        with conn:
            conn.execute("BEGIN IMMEDIATE")  # the write lock first: no clear between the check and the write
            if epoch and _epoch_of(conn) != epoch:
                return
            conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", [(prefix, *r) for r in rows])
            _add_counters(conn, counters)

    def flush(self, counters: _Counters) -> None:
        conn = self._main()
        with conn:
            conn.execute("BEGIN")
            _add_counters(conn, counters)

    def totals(self) -> tuple[_Counters, int]:
        conn = self._main()
        values = dict(conn.execute("SELECT name, value FROM counters").fetchall())
        counters = _Counters(**{k: type(getattr(_Counters, k))(v) for k, v in values.items() if hasattr(_Counters, k)})
        entries = conn.execute("SELECT count(*) FROM entries WHERE expires > ?", [time.time()]).fetchone()[0]
        return counters, int(entries)

    def clear(self) -> None:
        conn = self._main()
        with conn:
            conn.execute("BEGIN")
            conn.execute("DELETE FROM entries")
            conn.execute("DELETE FROM counters")
            conn.execute("UPDATE meta SET value = ? WHERE name = 'epoch'", [secrets.token_hex(8)])

    def close(self) -> None:
        self.conn.close()
        self._reader.close()


def _epoch_of(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE name = 'epoch'").fetchone()
    return str(row[0]) if row else ""


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _add_counters(conn: sqlite3.Connection, counters: _Counters) -> None:
    conn.executemany(
        "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        [(name, float(getattr(counters, name))) for name in counters.__dataclass_fields__],
    )


def open_disk(file: Path) -> _Disk:
    """The disk layer, or a ConfigError naming the file when it is not a usable SQLite cache (corrupt, a directory)."""
    from .errors import ConfigError

    try:
        return _Disk(file)
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(
            "cache_dir", f"{file} cannot be used as the cache ({exc}); delete it or pick another folder"
        ) from None


def _prefix_text(prefix: object, epoch: Hashable) -> str:
    """A cache key's prefix as the tier's text key in the tier's `epoch`: repr of str/int/float/bool/date/tuple is
    stable across processes; hashed to keep keys short."""
    return hashlib.sha256(f"{epoch}:{prefix!r}".encode()).hexdigest()


def _entity_text(entity_id: object) -> str:
    return f"{type(entity_id).__name__}:{entity_id}"


#: What a codec raises on bytes it cannot read (json, Arrow casts: ArrowInvalid is a ValueError; an int past int64
#: is an OverflowError, JSON nested too deep a RecursionError).
_UNDECODABLE = (ValueError, TypeError, KeyError, NotImplementedError, ArithmeticError, RecursionError)


def decoded(codec: Codec, blobs: Mapping[Hashable, bytes]) -> dict[Hashable, Any]:
    """The values of a tier's entries; one that does not decode (another version wrote it, the file was damaged)
    is left out, a miss that the fetch after it replaces."""
    try:
        return codec.decode(blobs)
    except _UNDECODABLE:  # keep the entries that decode on their own
        values: dict[Hashable, Any] = {}
        for entity_id, blob in blobs.items():
            with contextlib.suppress(*_UNDECODABLE):
                values.update(codec.decode({entity_id: blob}))
        return values
