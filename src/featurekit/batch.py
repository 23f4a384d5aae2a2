"""Batch retrieval: split many IDs into chunks, run them in parallel under limits, assemble Arrow.

Athena caps a query string at 262,144 bytes, and the IDs travel inside it (PyAthena formats
them client-side), so the chunk size follows from the ID length. StartQueryExecution is
rate-limited (historically 20/s, burst 80) and concurrent queries are capped per account, so
chunks run under a semaphore and a token bucket. DuckDB binds the IDs as one list and every
chunk rescans the data, so a DuckDB batch is one query unless `chunk_size` asks otherwise.

Results stay in Arrow: a chunk's typed table is used as is; cached rows are references
(table, row) and a batch of them is assembled with one `take`, not a Python loop over values.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa

from . import arrays
from .render import INT64, CheckedIds, is_text

T = TypeVar("T")
#: A cached row: the typed table a query returned and the row's index in it.
RowRef = tuple[pa.Table, int]
#: Called with (entities done, entities in the batch) after each chunk.
Progress = Callable[[int, int], None]

ATHENA_MAX_QUERY_BYTES = 262_144
#: Room left in an Athena query for the template text beyond its own length (whitespace, a longer table prefix).
QUERY_BYTES_MARGIN = 4_096
#: Athena: StartQueryExecution default quota 20/s (burst 80); half of it leaves room for the account's other clients.
ATHENA_STARTS_PER_SECOND = 10.0
DEFAULT_MAX_CONCURRENCY = 4


@dataclass(frozen=True)
class BatchPlan:
    """How one batch runs: the chunks of IDs, how many run at once and how fast they may start."""

    chunks: tuple[tuple[Any, ...], ...]
    max_concurrency: int
    starts_per_second: float | None

    @property
    def entities(self) -> int:
        return sum(len(c) for c in self.chunks)


def athena_chunk_size(sql: str, ids: Sequence[Any], max_query_bytes: int = ATHENA_MAX_QUERY_BYTES) -> int:
    """How many of `ids` fit one Athena query: each becomes `'id', ` in the text (quotes doubled when escaped)."""
    widest = max((len(str(i).replace("'", "''").encode()) for i in ids), default=1)
    room = max_query_bytes - len(sql.encode()) - QUERY_BYTES_MARGIN
    return max(1, room // (widest + 4))


def plan(
    ids: Sequence[Any],
    sql: str,
    *,
    dialect: str,
    chunk_size: int | None = None,
    max_concurrency: int | None = None,
    starts_per_second: float | None = None,
    max_query_bytes: int | None = None,
) -> BatchPlan:
    """Chunks for `ids`; explicit settings win, Athena's query-size limit always applies to the IDs inline."""
    inline = dialect in ("athena", "trino") or max_query_bytes is not None
    rate: float | None
    if inline:
        limit = athena_chunk_size(sql, ids, max_query_bytes or ATHENA_MAX_QUERY_BYTES)
        size = min(chunk_size, limit) if chunk_size else limit
        rate = starts_per_second if starts_per_second is not None else ATHENA_STARTS_PER_SECOND
    else:
        # One query: 1,000,000 IDs in 10 chunks of 100k took 1.5-1.8x one query, each chunk scanning the files.
        size, rate = chunk_size or max(1, len(ids)), starts_per_second
    chunks = tuple(tuple(ids[i : i + size]) for i in range(0, len(ids), size))
    return BatchPlan(chunks, max(1, max_concurrency or DEFAULT_MAX_CONCURRENCY), rate)


class TokenBucket:
    """At most `rate` acquisitions per second on average, `burst` at once; shared by the threads of a store."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.capacity, self.clock = rate, burst if burst is not None else max(1.0, rate), clock
        self._tokens, self._last = self.capacity, clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping until one is free; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                pause = (1 - self._tokens) / self.rate
            time.sleep(pause)
            waited += pause


def run_chunks(
    batch: BatchPlan,
    run: Callable[[tuple[Any, ...]], T],
    *,
    progress: Progress | None = None,
    bucket: TokenBucket | None = None,
) -> list[T]:
    """`run` for every chunk, at most `max_concurrency` at once; results in chunk order.

    The first failure cancels the chunks not yet started and is raised; chunks already running finish.
    """
    total, done = batch.entities, 0
    lock = threading.Lock()
    if bucket is None and batch.starts_per_second:
        bucket = TokenBucket(batch.starts_per_second, burst=float(batch.max_concurrency))

    def one(chunk: tuple[Any, ...]) -> T:
        nonlocal done
        if bucket is not None:
            bucket.acquire()
        result = run(chunk)
        if progress is not None:
            with lock:
                done += len(chunk)
                progress(done, total)
        return result

    if len(batch.chunks) == 1 or batch.max_concurrency == 1:
        return [one(c) for c in batch.chunks]
    with ThreadPoolExecutor(batch.max_concurrency, thread_name_prefix="featurekit-batch") as pool:
        futures = [pool.submit(one, c) for c in batch.chunks]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def assemble(refs: Sequence[RowRef]) -> pa.Table:
    """One table from cached row references, in order, touching only the rows asked for.

    One row is a zero-copy slice; rows of one table are one `take`; rows of several tables are one
    `take` over the tables concatenated once. Nothing is proportional to the size of a cached table.
    """
    first, row = refs[0]
    if len(refs) == 1:
        return first.slice(row, 1)
    rows = [r for _, r in refs]
    if all(t is first for t, _ in refs):
        if len(rows) == first.num_rows and rows == list(range(len(rows))):
            return first  # the whole result of one query, in order: nothing to copy
        return first.take(arrays.int64s(rows))
    position: dict[int, int] = {}
    parts: list[pa.Table] = []
    offsets: list[int] = []
    seen = 0
    for n, (table, r) in enumerate(refs):
        at = position.get(id(table))
        if at is None:
            at = position[id(table)] = len(parts)
            parts.append(table)
            offsets.append(seen)
            seen += table.num_rows
        rows[n] = offsets[at] + r
    return pa.concat_tables(parts).take(arrays.int64s(rows))


class RowCodec:
    """Cached rows as JSON for the disk cache, decoded back to the view's exact Arrow types.

    Dates, timestamps and decimals travel as strings and are cast by Arrow, so nothing is lost:
    a Decimal keeps every digit, a date stays a date.
    """

    def __init__(self, schema: pa.Schema, key: str | None = None) -> None:
        """`key`: the column that holds the ID each row is cached under (checked when a row is read back)."""
        self.schema, self.key = schema, key
        self._wire = pa.schema(
            [pa.field(f.name, _wire_type(f.type)) for f in schema]  # strings where JSON has no type
        )
        self._names = set(schema.names)

    def encode(self, values: Mapping[Hashable, RowRef]) -> dict[Hashable, bytes]:
        ids = list(values)
        rows = assemble([values[i] for i in ids]).to_pylist()
        return {
            i: json.dumps(row, default=_json_default, separators=(",", ":")).encode()
            for i, row in zip(ids, rows, strict=True)
        }

    def decode(self, blobs: Mapping[Hashable, bytes]) -> dict[Hashable, RowRef]:
        ids = list(blobs)
        rows = [json.loads(blobs[i]) for i in ids]
        if not all(type(row) is dict for row in rows):
            raise TypeError("a cached row is not a JSON object")
        # Every column, and the key of the entity it was stored for: a damaged entry or one another version wrote
        # must not come back as nulls for what it lacks, or as the row of another ID.
        if any(row.keys() != self._names for row in rows):
            raise KeyError("a cached row does not have the view's columns")
        key = self.key
        if key is not None and any(type(r[key]) is not type(i) or r[key] != i for r, i in zip(rows, ids, strict=True)):
            raise KeyError("a cached row is keyed by another ID")
        # exact: each JSON value is of the Python type its column encodes to; another one is damage, which
        # pyarrow would convert (a float 2.5 to an int 2) instead of refusing
        columns = [arrays.column([row[f.name] for row in rows], f.type, exact=True) for f in self._wire]
        wire = pa.Table.from_arrays(columns, schema=self._wire)
        table = wire.cast(self.schema)
        return {entity_id: (table, n) for n, entity_id in enumerate(ids)}


def _wire_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_date(t) or pa.types.is_timestamp(t) or pa.types.is_decimal(t):
        return pa.string()
    return t


def _json_default(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot cache a {type(value).__name__}")


@contextmanager
def rich_progress(label: str, *, console: Any = None, min_entities: int = 0) -> Iterator[Progress]:
    """A rich progress bar as a `Progress` callback; in Jupyter rich draws it as a live widget.

    The bar appears only once a batch of at least `min_entities` reports, so small lookups print nothing.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task: list[Any] = []

    def update(done: int, total: int) -> None:
        if total < min_entities:
            return
        if not task:
            bar.start()
            task.append(bar.add_task(label, total=total))
        bar.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            bar.stop()


def as_requested(table: pa.Table, checked: CheckedIds, schema: pa.Schema) -> pa.Table:
    """The rows of the distinct IDs (`checked.unique`, in order) as one row per requested ID: a duplicate
    repeats its row, an invalid ID gets a null row keyed by the ID as given (null if it is not of the key type)."""
    if not checked.invalid and len(checked.requested) == len(checked.unique):
        return table
    position = {entity_id: n for n, entity_id in enumerate(checked.unique)}
    rows = [None if n in checked.invalid else position[v] for n, v in enumerate(checked.requested)]
    out = table.take(arrays.int64s(rows))
    if not checked.invalid:
        return out
    key_type = schema.field(0).type
    if pa.types.is_string(key_type):
        fits = lambda v: isinstance(v, str) and is_text(v)  # noqa: E731  # Arrow holds no lone surrogate
    else:
        fits = lambda v: type(v) is int and INT64[0] <= v <= INT64[1]  # noqa: E731
    keys = [v if fits(v) else None for v in checked.requested]
    return out.set_column(0, schema.field(0).with_nullable(True), arrays.keys(keys, key_type))
