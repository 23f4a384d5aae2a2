"""Hardening: the buffer-built Arrow arrays (featurekit.arrays), the cache's clear() generation and the
exact-value ID check give what `pa.array`/`pa.scalar` and the plain code gave, or a clean error.

featurekit.arrays must equal pyarrow's conversion bit for bit (NaN payloads, -0.0, nulls, types) or raise the
same kind of error, on the mixtures pyarrow itself is asked about (bool among ints, a datetime for a date, str
subclasses that lie about their length). A row read back from the disk cache must be the row stored, and an
entry that no longer reads (damaged, another version's) a miss that is fetched again: never a crash, never
nulls for what it lacks, never another ID's row. A fetch begun before `clear()` keeps nothing, whenever the
clear lands, and leaves no shared-tier lock behind. An ID the pattern refuses, or Arrow cannot hold, gets a
null row with on_invalid="null", aligned with the IDs asked for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import random
import sqlite3
import struct
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import sqlglot

import featurekit
from featurekit import arrays, batch
from featurekit.cache import FeatureCache, _entity_text, _prefix_text
from featurekit.engines.estimate import select_files
from featurekit.render import check_ids
from featurekit.results import ARROW_TYPES

from .conftest import AS_OF
from .hardening_support import tried

# -- featurekit.arrays against pyarrow ---------------------------------------------------------------------------


def _nan(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


NANS = [float("nan"), -float("nan"), _nan(0x7FF8_0000_0000_0001), _nan(0xFFF8_DEAD_BEEF_0000)]
FLOATS = [0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, 5e-324, 1.7976931348623157e308, 2.0**53 + 2, *NANS]
INTS = [0, 1, -1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, -(2**63)]
TEXTS = ["", "a", "C00042", "nul\x00byte", "é", "𝐂𝐚𝐬𝐞", "\u202e\u200b\ufeff", "x" * 300, "\U0010ffff", "'"]
DATES = [dt.date(1, 1, 1), dt.date(1969, 12, 31), dt.date(1970, 1, 1), dt.date(2026, 6, 30), dt.date(9999, 12, 31)]


class Flag(enum.IntEnum):
    ON = 1


class Day(dt.date):
    """A date subclass: Arrow reads its fields, not a Python subtraction it could override."""

    def __sub__(self, other: Any) -> Any:
        return dt.timedelta(days=12345)


class Liar(str):
    """A str that misreports its length, encoding and text: Arrow must hold the characters it really has."""

    def __len__(self) -> int:
        return 1

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        return b"C00042"

    def __str__(self) -> str:
        return "C00042"


#: Values pyarrow converts (or refuses) differently from the fast paths' strict types: must go to pa.array.
ODD = [True, False, 3.0, 2.5, "7", b"bytes", np.int64(5), np.float64(0.5), np.str_("np"), np.bool_(True), Flag.ON,
       dt.datetime(2026, 6, 30, 23, 59), Day(2026, 6, 30), Decimal("1.5"), 2**63, -(2**63) - 1, 2**64 + 7,
       Liar("abc"), Liar("ünï")]  # fmt: skip
POOLS: dict[str, tuple[pa.DataType, list[Any]]] = {
    "int64": (pa.int64(), INTS),
    "float64": (pa.float64(), FLOATS),
    "string": (pa.string(), TEXTS),
    "bool": (pa.bool_(), [True, False]),
    "date32": (pa.date32(), DATES),
}


def _kind(exc: BaseException) -> type[BaseException]:
    """The kind of error a caller can tell apart (pyarrow's ArrowTypeError is a TypeError, ArrowInvalid a
    ValueError)."""
    for kind in (OverflowError, UnicodeEncodeError, TypeError, ValueError):
        if isinstance(exc, kind):
            return kind
    return type(exc)


def _fingerprint(array: pa.Array) -> tuple[Any, ...]:
    """Type, nulls and every valid value exactly (a float by its 64 bits: NaN payloads, -0.0)."""
    array.validate(full=True)
    nulls = array.is_null().to_pylist()
    if pa.types.is_floating(array.type):
        values = [None if v is None else struct.pack("<d", v).hex() for v in array.to_pylist()]
    else:
        values = [repr(v) for v in array.to_pylist()]
    return str(array.type), nulls, values


def _outcome(make: Any) -> tuple[str, Any]:
    """What a conversion gives: an array's fingerprint, a scalar's repr, or the kind of its error."""
    try:
        made = make()
    except Exception as exc:  # compared by kind
        return "error", _kind(exc)
    return "ok", _fingerprint(made) if isinstance(made, pa.Array) else (str(made.type), repr(made))


def _agree(mine: Any, reference: Any, *args: Any) -> None:
    """`mine(*args)` and `reference(*args)` give the same values and type, or errors of one kind."""
    assert _outcome(lambda: mine(*args)) == _outcome(lambda: reference(*args)), args


def _samples(rng: random.Random, pool: list[Any], odd_rate: float) -> list[Any]:
    size = rng.choice([0, 1, 1, 2, 3, 7, 8, 9, 17, 64])
    out = []
    for _ in range(size):
        roll = rng.random()
        out.append(None if roll < 0.2 else rng.choice(ODD) if roll < 0.2 + odd_rate else rng.choice(pool))
    return out


@pytest.mark.parametrize("name", sorted(POOLS))
def test_column_equals_pa_array_on_hostile_mixtures(name: str) -> None:
    """Lists of one type's edge values, nulls at every bit of a validity byte, and sometimes one value of
    another kind (bool among ints, a float for an int, a datetime for a date, a lying str subclass): the
    buffers must be pyarrow's, or the error its kind."""
    type_, pool = POOLS[name]
    rng = random.Random(f"column-{name}")
    n = 0
    for odd_rate in (0.0, 0.0, 0.05, 0.3):
        for _ in range(250):
            values = _samples(rng, pool, odd_rate)
            _agree(arrays.column, pa.array, values, type_)
            n += 1
    for values in ([], [None], [None] * 9, [pool[0]], [None, pool[-1]], pool, pool[::-1] + [None] * 8):
        _agree(arrays.column, pa.array, values, type_)
        n += 1
    tried("arrays: column vs pa.array", n)


def test_nan_payloads_and_negative_zero_survive_bit_for_bit() -> None:
    values = [*NANS, -0.0, None, 0.0]
    data = arrays.column(values, pa.float64())
    assert [None if v is None else struct.pack("<d", v) for v in data.to_pylist()] == [
        None if v is None else struct.pack("<d", v) for v in values
    ]
    tried("arrays: float bits", len(values))


@pytest.mark.parametrize("declared", sorted(ARROW_TYPES))
def test_constant_equals_pa_scalar_on_odd_defaults(declared: str) -> None:
    """A declared default of another Python type than the column's (YAML's 0 for a float, a datetime for a date,
    true for an int): what pa.scalar makes of it, or its error."""
    target = ARROW_TYPES[declared]
    candidates = [*ODD, *INTS, *FLOATS, *TEXTS, *DATES, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]
    for value in candidates:
        _agree(arrays.constant, pa.scalar, value, target)
    tried("arrays: constant vs pa.scalar", len(candidates))


def test_strings_hold_what_a_lying_subclass_really_holds() -> None:
    """str subclasses whose len(), encode() and str() lie: the array holds their real characters, and the
    offsets match the data (a wrong length would shift every later value)."""
    values = [Liar("abc"), "de", Liar("ünï"), None, np.str_("𝐂x"), Liar(""), "tail"]
    built = arrays.strings(values)
    built.validate(full=True)
    assert built.to_pylist() == ["abc", "de", "ünï", None, "𝐂x", "", "tail"]
    assert _fingerprint(built) == _fingerprint(pa.array(values, pa.string()))
    ascii_only = [Liar("abc"), "de", None, Liar("C00001"), np.str_("xyz")]  # the one-byte-per-character path
    assert arrays.strings(ascii_only).to_pylist() == ["abc", "de", None, "C00001", "xyz"]
    _agree(arrays.strings, lambda v: pa.array(v, pa.string()), ascii_only)
    tried("arrays: lying str subclasses", len(values) + len(ascii_only))


def test_keys_of_checked_ids_equal_pa_array() -> None:
    """What reaches arrays.keys is check_ids' output: numpy strings, IntEnums and str subclasses come out as
    the plain values they hold, so the key column is exactly pyarrow's for those values."""
    customer = featurekit.load().entity("customer")
    given = [np.str_("C00001"), Liar("C00002"), "C00003", np.str_("C00001")]
    checked = check_ids(customer, given)
    assert all(type(v) is str for v in checked.unique)
    assert checked.unique == ("C00001", "C00002", "C00003")
    _agree(arrays.keys, pa.array, list(checked.unique), pa.string())
    ints = check_ids(
        dataclasses.replace(customer, key_type="int", pattern=r"^\d{1,19}$"),
        [Flag.ON, "42", 2**63 - 1, np.int64(3), True],
        "null",
    )
    assert [type(v) for v in ints.unique] == [int, int, int] and sorted(ints.invalid) == [3, 4]
    _agree(arrays.keys, pa.array, list(ints.unique), pa.int64())
    tried("arrays: keys of checked IDs", 9)


def test_select_files_with_awkward_partition_values() -> None:
    from featurekit.catalog.declarations import Column

    table = featurekit.load().table("orders")
    table = dataclasses.replace(table, partitioned_by=(Column("dt", "string"),))
    predicate = sqlglot.parse_one("dt = :day", read="duckdb")
    names = ["dt=2026-06-30/a.json", "dt=𝐂\x00é/b.json", "dt=/c.json", "nodt/d.json", "dt=2026-06-30/ünï.json"]
    listing = [(n, i) for i, n in enumerate(names)]
    for day, want in [("2026-06-30", [names[0], names[4]]), ("𝐂\x00é", [names[1]]), ("", [names[2]])]:
        assert [p for p, _ in select_files(listing, table, predicate, {"day": day})] == want
    assert select_files([], table, predicate, {"day": "x"}) == []
    tried("arrays: file listing", 4)


# -- the disk cache's rows: round trip and damaged entries ---------------------------------------------------------


def test_row_codec_round_trip_is_bit_exact() -> None:
    """Every declared type through JSON and back, edge values included: the decoded table is the stored one
    (floats by their bits), and equal to what pyarrow's own from_pylist decoding (the code before) gave."""
    schema = pa.schema(
        [pa.field("id", pa.string(), nullable=False)] + [pa.field(k, t) for k, t in sorted(ARROW_TYPES.items())]
    )
    rng = random.Random("codec")
    pools: dict[str, list[Any]] = {
        "int": INTS,
        "float": [f for f in FLOATS if not math.isnan(f)] + [float("nan")],  # JSON keeps NaN, not its payload
        "decimal": [Decimal("0"), Decimal("-0.000000001"), Decimal("12345678901234567890.123456789")],
        "date": DATES,
        "timestamp": [dt.datetime(1, 1, 1), dt.datetime(2026, 6, 30, 23, 59, 59, 999999)],
        "timestamptz": [dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone.utc)],
        "string": TEXTS,
        "bool": [True, False],
    }
    rows = [
        {"id": f"C{n:05d}", **{k: (None if rng.random() < 0.2 else rng.choice(pools[k])) for k in ARROW_TYPES}}
        for n in range(300)
    ]
    table = pa.Table.from_pylist(rows, schema=schema)
    codec = batch.RowCodec(schema, "id")
    ids = [r["id"] for r in rows]
    blobs = codec.encode({i: (table, n) for n, i in enumerate(ids)})
    back = codec.decode(blobs)
    again = batch.assemble([back[i] for i in ids])
    for name in schema.names:
        assert _fingerprint(again[name].combine_chunks()) == _fingerprint(table[name].combine_chunks()), name
    old = pa.Table.from_pylist([json.loads(blobs[i]) for i in ids], schema=codec._wire).cast(schema)
    for name in schema.names:  # and what pyarrow's own decoding (the code before) gave
        assert _fingerprint(again[name].combine_chunks()) == _fingerprint(old[name].combine_chunks()), name
    tried("arrays: cached rows round trip", len(rows))


GOOD = {"customer_id": "C00001", "order_count": 3}


def _damaged(good: dict[str, Any]) -> list[tuple[str, bytes]]:
    def row(**changes: Any) -> bytes:
        return json.dumps({**good, **changes}).encode()

    dropped = {k: v for k, v in good.items() if k != "total_spend"}
    return [
        ("an int past int64", row(order_count=2**70)),
        ("an int past int64, negative", row(order_count=-(2**63) - 1)),
        ("JSON nested past the recursion limit", b"[" * 50_000 + b"]" * 50_000),
        ("a column missing", json.dumps(dropped).encode()),
        ("no columns", b"{}"),
        ("another ID's row", row(customer_id="C00002")),
        ("the ID as a number", row(customer_id=1)),
        ("a key of null", row(customer_id=None)),
        ("an extra column", row(extra=1)),
        ("a string for an int", row(order_count="3")),
        ("a float for an int", row(order_count=2.5)),
        ("a list for a float", row(total_spend=[1])),
        ("a date that is no date", row(last_order="2026-02-30")),
        ("a bool for a string", row(top_category=True)),
        ("a bool for an int", row(order_count=True)),
        ("an int for a float", row(total_spend=177)),
        ("not an object", b"[1, 2]"),
        ("null", b"null"),
        ("truncated", row()[:-3]),
        ("not UTF-8", b"\xff\xfe{}"),
        ("empty", b""),
    ]


def test_damaged_disk_entries_are_misses_fetched_again(sample_dir: Path, tmp_path: Path) -> None:
    """Each damaged entry, alone among good ones: the lookup returns exactly the uncached rows (the damaged one
    refetched, the good ones hit), never a crash or a row that reads differently, and the entry is rewritten."""
    ids = ["C00001", "C00002", "C00042", "C99999"]
    with featurekit.FeatureStore(data=sample_dir, cache=False) as plain:
        want = plain.get_frame("customer_orders", ids, as_of=AS_OF).to_dicts()
    with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as store:
        store.get_frame("customer_orders", ids, as_of=AS_OF)
    file = tmp_path / "featurekit-cache.sqlite3"
    with sqlite3.connect(file) as con:
        good = json.loads(con.execute("SELECT value FROM entries WHERE entity = 'str:C00001'").fetchone()[0])
    assert good["customer_id"] == "C00001"
    cases = _damaged(good)
    for label, blob in cases:
        with sqlite3.connect(file) as con:
            con.execute("UPDATE entries SET value = ? WHERE entity = 'str:C00001'", [blob])
        with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as store:
            frame = store.get_frame("customer_orders", ids, as_of=AS_OF)
            assert frame.to_dicts() == want, label
            assert frame.provenance.cache_hits == 3 and frame.provenance.queries_run == 1, label
        with sqlite3.connect(file) as con:
            stored = con.execute("SELECT value FROM entries WHERE entity = 'str:C00001'").fetchone()[0]
        assert json.loads(stored) == good, label
    tried("arrays: damaged disk entries", len(cases))


# -- clear() and a fetch in flight ----------------------------------------------------------------------------


class _Codec:
    """JSON values; `encode` can be held at its start, as a slow encoding of a large batch would be."""

    def __init__(self) -> None:
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def encode(self, values: Any) -> dict[Any, bytes]:
        if self.hold is not None:
            self.entered.set()
            assert self.hold.wait(10)
        return {i: json.dumps(v).encode() for i, v in values.items()}

    def decode(self, blobs: Any) -> dict[Any, Any]:
        return {i: json.loads(b) for i, b in blobs.items()}


def test_clear_during_the_disk_write_keeps_nothing(tmp_path: Path) -> None:
    """clear() lands after the fetch returned, while its rows are being encoded for the disk: the rows must not
    reach the disk after the clear emptied it, or every later lookup (and process) reads the stale value."""
    cache = FeatureCache(path=tmp_path)
    codec = _Codec()
    codec.hold = threading.Event()
    out: dict[str, Any] = {}
    first = threading.Thread(target=lambda: out.update(cache.lookup(("p",), ["a"], lambda ids: {"a": "old"}, codec)[0]))
    first.start()
    assert codec.entered.wait(10)
    cache.clear()
    codec.hold.set()
    first.join(10)
    codec.hold = None
    assert out == {"a": "old"}  # its own caller still gets what it fetched
    assert cache.tier.get(_prefix_text(("p",), cache.tier.epoch()), [_entity_text("a")], time.time()) == {}
    assert dict(cache.lookup(("p",), ["a"], lambda ids: {"a": "new"}, codec)[0]) == {"a": "new"}
    cache.close()
    assert dict(FeatureCache(path=tmp_path).lookup(("p",), ["a"], lambda ids: {"a": "x"}, codec)[0]) == {"a": "new"}
    tried("arrays: clear during a disk write", 1)


class _DictTier:
    """A shared tier in a dict (the cache takes no lock of its own around one); `put` and `clear` can be held."""

    path = None

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[float, float, float, bytes]] = {}
        self.hold: threading.Event | None = None
        self.entered = threading.Event()
        self.clear_hold: threading.Event | None = None
        self.clear_entered = threading.Event()

    def get(self, prefix: str, ids: list[str], now: float) -> dict[str, Any]:
        return {i: self.entries[prefix, i] for i in ids if (prefix, i) in self.entries}

    def put(self, prefix: str, rows: list[tuple[str, float, float, float, bytes]], counters: Any) -> None:
        if self.hold is not None:
            self.entered.set()
            assert self.hold.wait(10)
        self.entries.update(((prefix, r[0]), r[1:]) for r in rows)

    def flush(self, counters: Any) -> None:
        pass

    def totals(self) -> tuple[Any, int]:
        from featurekit.cache_disk import _Counters

        return _Counters(), len(self.entries)

    def clear(self) -> None:
        if self.clear_hold is not None:
            self.clear_entered.set()
            assert self.clear_hold.wait(10)
        self.entries.clear()

    def close(self) -> None:
        pass


def test_clear_during_a_shared_tier_write_empties_it_after_the_write() -> None:
    """The write checked the generation and is under way when clear() comes: the clear must empty the tier after
    the write, not before it (a shared tier has no lock of the cache's around its calls)."""
    tier = _DictTier()
    cache = FeatureCache(tier=tier)
    tier.hold = threading.Event()
    first = threading.Thread(target=lambda: cache.lookup(("p",), ["a"], lambda ids: {"a": "old"}, _Codec()))
    first.start()
    assert tier.entered.wait(10)
    clearing = threading.Thread(target=cache.clear)
    clearing.start()
    clearing.join(0.2)  # it waits for the write (or, broken, empties the tier at once)
    tier.hold.set()
    first.join(10)
    clearing.join(10)
    assert tier.entries == {}
    assert dict(cache.lookup(("p",), ["a"], lambda ids: {"a": "new"}, _Codec())[0]) == {"a": "new"}
    tried("arrays: clear during a shared-tier write", 1)


def test_a_lookup_while_the_tier_is_emptied_keeps_nothing_it_read() -> None:
    """clear() empties memory, then the tier: a lookup in between reads the old entry from the tier. It may
    answer with it (the clear has not returned), but must not keep it: after clear() returns, no lookup may."""
    tier = _DictTier()
    cache = FeatureCache(tier=tier)
    cache.lookup(("p",), ["a"], lambda ids: {"a": "old"}, _Codec())
    tier.clear_hold = threading.Event()
    clearing = threading.Thread(target=cache.clear)
    clearing.start()
    assert tier.clear_entered.wait(10)
    cache.lookup(("p",), ["a"], lambda ids: {"a": "during"}, _Codec())
    tier.clear_hold.set()
    clearing.join(10)
    assert dict(cache.lookup(("p",), ["a"], lambda ids: {"a": "new"}, _Codec())[0]) == {"a": "new"}
    tried("arrays: lookup while the tier is emptied", 1)


def test_clear_never_lets_an_older_fetch_answer_a_later_lookup(tmp_path: Path) -> None:
    """Threads look up, fetch slowly (encoding for the disk slowly too) and clear at random: a lookup that
    starts after a clear returned may only see values fetched after that clear began."""
    cache = FeatureCache(path=tmp_path)
    begun = [0]  # clears begun: a fetch is tagged with it when it starts
    done = [0]  # the last clear that returned
    one_clear = threading.Lock()  # one clear at a time, so "begun" and "done" name the same clears
    rng = random.Random("clear")
    delays = [rng.random() * 0.004 for _ in range(4096)]
    bad: list[Any] = []

    class Slow(_Codec):
        def encode(self, values: Any) -> dict[Any, bytes]:
            time.sleep(delays[len(values) % 4096])
            return super().encode(values)

    codec = Slow()

    def fetch(ids: list[str]) -> dict[str, int]:
        seen = begun[0]
        time.sleep(delays[hash(tuple(ids)) % 4096])
        return {i: seen for i in ids}

    def worker(seed: int) -> None:
        r = random.Random(seed)
        for _ in range(40):
            if r.random() < 0.15:
                with one_clear:
                    begun[0] += 1
                    cache.clear()
                    done[0] = begun[0]
                continue
            floor = done[0]  # clear number `floor` returned before this lookup began
            ids = r.sample("abcdef", r.randint(1, 3))
            got = dict(cache.lookup(("p",), ids, fetch, codec)[0])
            bad.extend((ids, got, floor) for v in got.values() if v < floor)  # fetched before that clear began

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not bad, bad[:5]
    tried("arrays: clear vs concurrent lookups", 240)


def test_a_skipped_shared_tier_write_releases_its_locks() -> None:
    """With a Redis tier, a fetch claims a lock per missing ID; its write releases them. When clear() lands
    before the claim, the write is skipped: the locks must still go, or the next lookup of those IDs (this
    process's too) waits for an entry that never comes, up to the lock timeout."""
    from featurekit.cache_redis import RedisTier

    from .redis_server import start_redis

    class Gated(RedisTier):
        gate: tuple[threading.Event, threading.Event] | None = None

        def get(self, prefix: str, ids: list[str], now: float) -> Any:
            if self.gate is not None:
                reached, go = self.gate
                reached.set()
                assert go.wait(10)
            return super().get(prefix, ids, now)

    with start_redis() as url:
        tier = Gated(url, namespace="rt-arrays", lock_timeout=5)
        cache = FeatureCache(tier=tier)
        tier.gate = reached, go = threading.Event(), threading.Event()
        first = threading.Thread(target=lambda: cache.lookup(("p",), ["a"], lambda ids: {"a": "old"}, _Codec()))
        first.start()
        assert reached.wait(10)
        cache.clear()  # after the lookup took its generation, before the tier claims its lock
        tier.gate = None
        go.set()
        first.join(10)
        assert tier.client.keys("rt-arrays:lock:*") == []
        start = time.monotonic()
        values, _ = cache.lookup(("p",), ["a"], lambda ids: {"a": "new"}, _Codec())
        assert dict(values) == {"a": "new"} and time.monotonic() - start < 4  # not the 5 s lock timeout
        tier.client.close()
    tried("arrays: clear before a shared-tier claim", 1)


# -- on_invalid="null": rows aligned with the IDs asked for ---------------------------------------------------------

POOL_IDS: list[Any] = ["C00001", "C00002", "C00042", "C99999", np.str_("C00007"), Liar("C00003"), "nope", "",
                       "C0000１", "C00001\n", 42, None, 4.0, True, "\ud800", "C\udc8000001", b"C00001"]  # fmt: skip


def _plain(value: Any) -> Any:
    return str.__str__(value) if isinstance(value, str) else value


def test_null_batches_stay_aligned_with_duplicates_and_invalid_ids(sample_dir: Path, tmp_path: Path) -> None:
    """Random batches of valid, unknown, duplicate and invalid IDs (wrong types, numpy strings, lying str
    subclasses, lone surrogates) through a store with memory and disk cache, then a new store reading the disk:
    each row is the uncached row of its ID, an invalid one a null row keyed by the ID if Arrow can hold it."""
    rng = random.Random("null-batches")
    valid = {"C00001", "C00002", "C00042", "C99999", "C00007", "C00003"}
    with featurekit.FeatureStore(data=sample_dir, cache=False) as plain:
        truth = {r["customer_id"]: r for r in plain.get_frame("customer_orders", sorted(valid), as_of=AS_OF).to_dicts()}
    features = [k for k in truth["C00001"] if k != "customer_id"]
    batches = [[rng.choice(POOL_IDS) for _ in range(rng.randint(1, 12))] for _ in range(30)]
    batches.append([rng.choice(POOL_IDS[:6]) for _ in range(70)] + ["nope"])  # past the bulk check's 64
    n = 0
    for round_ in range(2):  # the second store answers from the disk the first one wrote
        with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as store:
            for ids in batches:
                rows = store.get_frame("customer_orders", ids, as_of=AS_OF, on_invalid="null").to_dicts()
                assert len(rows) == len(ids)
                for given, row in zip(ids, rows, strict=True):
                    plain_id = _plain(given)
                    if plain_id in valid:
                        assert row == truth[plain_id], (round_, given)
                    else:
                        holdable = isinstance(plain_id, str) and not any(0xD800 <= ord(c) < 0xE000 for c in plain_id)
                        assert row["customer_id"] == (plain_id if holdable else None), (given, row)
                        assert all(row[k] is None for k in features), (given, row)
                    n += 1
    tried("arrays: on_invalid=null rows", n)


def test_lone_surrogate_ids_are_invalid_not_a_crash(sample_dir: Path, tmp_path: Path) -> None:
    """A lone surrogate fits no engine, SQLite file or Arrow array: it is an invalid ID (a clean InvalidEntityId,
    or a null row), even for an entity whose pattern accepts any character."""
    with featurekit.FeatureStore(data=sample_dir, cache_dir=tmp_path) as store:
        with pytest.raises(featurekit.errors.InvalidEntityId):
            store.get_frame("customer_orders", ["C00001", "C\ud80000001"], as_of=AS_OF)
        rows = store.get_frame("customer_orders", ["\udcff", "C00001"], as_of=AS_OF, on_invalid="null").to_dicts()
        assert rows[0]["customer_id"] is None and rows[1]["customer_id"] == "C00001"
    anything = dataclasses.replace(featurekit.load().entity("customer"), pattern=r"^[\s\S]+$")
    checked = check_ids(anything, ["ok", "x\ud800y", "é"], "null")
    assert sorted(checked.invalid) == [1] and checked.unique == ("ok", "é")
    tried("arrays: lone surrogate IDs", 3)
