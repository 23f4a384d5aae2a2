"""A sample `orders` dataset, generated rather than downloaded, so the demo, docs and tests share one dataset.

Two properties matter. It is deterministic: everything is drawn from one seeded PCG64 generator, so the
same arguments give byte-identical files and a feature value quoted in the docs stays true. And it is
relative to `as_of`: dates count back from that day, so "the last 90 days" holds orders whenever the demo
runs, and customer C00042, the demo's example, always has recent orders and a refund to talk about.
"""

from __future__ import annotations

import datetime
import itertools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import InputError

CATEGORIES = ("books", "electronics", "garden", "grocery", "home", "sports", "toys")
FORMATS = ("json", "parquet")
SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("customer_id", pa.string()),
        ("order_date", pa.string()),
        ("category", pa.string()),
        ("amount", pa.float64()),
        ("refunded", pa.bool_()),
    ]
)
FEATURED_CUSTOMER = 42
FEATURED_ORDERS = 6
FEATURED_WINDOW_DAYS = 60  # well inside the demo's 90-day lookback, so the guarantee survives off-by-one windows
MAX_CUSTOMERS = 99_999  # the IDs have five digits
MAX_ORDERS = 99_999_999  # and eight
MAX_DAYS = 36_525  # a century, and below 65,536 so a day fits in 16 bits
CHUNK_ROWS = 1 << 20  # caps memory when one day holds millions of rows; also one Parquet row group


@dataclass(frozen=True)
class SampleSummary:
    """What `write_sample` wrote; `customers` counts the customers present in the data."""

    folder: Path
    customers: int
    orders: int
    files: int
    first_day: datetime.date
    last_day: datetime.date
    format: str


@dataclass(frozen=True)
class _Rows:
    """Columns in file order (by day, which is also order-ID order), as compact codes until a chunk is written."""

    customer: np.ndarray  # index into the customer IDs
    day: np.ndarray  # days after first_day
    category: np.ndarray  # index into CATEGORIES
    cents: np.ndarray  # integer cents, so amounts print with at most two decimals
    refunded: np.ndarray


def write_sample(
    out: str | os.PathLike[str],
    *,
    customers: int = 60,
    orders: int = 400,
    as_of: datetime.date | None = None,
    days: int = 365,
    fmt: str = "json",
    seed: int = 42,
    progress: Callable[[int, int], None] | None = None,
) -> SampleSummary:
    """Write `out/orders/dt=YYYY-MM-DD/part-0.{json,parquet}` for the `days` days ending at `as_of` (today, UTC).

    Also `out/customer_daily/dt=YYYY-MM-DD/part-0.json`: a daily feature table, one snapshot per customer per day
    with orders (running totals), stamped `updated_at` at 23:30 Central European Summer Time (+02:00), so the
    latest-row view and the `timestamptz` type have data with offsets to read.

    Replaces whatever sample was in `out/orders` before; `progress(rows_done, rows_total)` is called per chunk.
    """
    _check_count("customers", customers, 1, MAX_CUSTOMERS)
    _check_count("orders", orders, 0, MAX_ORDERS)
    _check_count("days", days, 1, MAX_DAYS)
    _check_count("seed", seed, 0, None)
    if fmt not in FORMATS:
        raise InputError("fmt", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if as_of is None:
        as_of = datetime.datetime.now(datetime.timezone.utc).date()
    elif isinstance(as_of, datetime.datetime):
        as_of = as_of.date()  # a datetime is a date too, but its isoformat() would put a time in the folder names
    elif not isinstance(as_of, datetime.date):
        raise InputError("as_of", f"must be a date, got {as_of!r}")
    try:
        first_day = as_of - datetime.timedelta(days=days - 1)
    except OverflowError:
        raise InputError("days", f"{days} days before {as_of} is before the year 1") from None

    rows = _draw(np.random.Generator(np.random.PCG64(seed)), customers, orders, days)
    folder = _fresh_folder(Path(out) / "orders")
    files = _write(folder, rows, customers, first_day, fmt, progress)
    _write_daily(_fresh_folder(Path(out) / DAILY_TABLE), rows, customers, first_day)
    present = int(np.count_nonzero(np.bincount(rows.customer, minlength=customers)))
    return SampleSummary(folder, present, orders, files, first_day, as_of, fmt)


def _check_count(name: str, value: object, low: int, high: int | None) -> None:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):  # type: ignore[operator]
        limit = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
        raise InputError(name, f"must be a whole number {limit}, got {value!r}")


def _draw(rng: np.random.Generator, customers: int, orders: int, days: int) -> _Rows:
    # Per-customer traits make the features differ between customers instead of averaging out.
    weight = rng.lognormal(0.0, 1.0, customers)  # a few heavy buyers, a long tail of occasional ones
    favourite = rng.integers(0, len(CATEGORIES), customers)
    price_mu = rng.normal(np.log(35.0), 0.5, customers)
    refund_rate = rng.beta(1.0, 9.0, customers)  # mean 10%, with some customers refunding far more often
    # Active span in ages (days before as_of): some joined during the window, some stopped ordering.
    joined = np.where(rng.random(customers) < 0.25, rng.integers(1, days + 1, customers), days)
    stopped = np.where(rng.random(customers) < 0.2, (rng.random(customers) * joined).astype(np.int64), 0)

    # Each customer gets one order before the rest is spread by weight, so every customer appears.
    first = np.arange(customers) if orders >= customers else rng.choice(customers, orders, replace=False)
    featured = FEATURED_CUSTOMER - 1
    n_featured = min(FEATURED_ORDERS, orders - first.size) if customers > featured else 0
    if n_featured:
        joined[featured], stopped[featured] = days, 0
    rest = rng.choice(customers, orders - first.size - n_featured, p=weight / weight.sum())
    customer = np.concatenate([first, np.full(n_featured, featured), rest]).astype(np.int32)

    # Density falling linearly from 4/3 (newest) to 2/3 (oldest) over the span: x = inverse CDF of a uniform.
    lo, hi = stopped[customer], joined[customer]
    x = 2.0 - np.sqrt(4.0 - 3.0 * rng.random(orders))
    age = np.minimum(lo + ((hi - lo) * x).astype(np.int64), hi - 1)
    pinned = slice(first.size, first.size + n_featured)
    age[pinned] = rng.integers(0, min(FEATURED_WINDOW_DAYS, days), n_featured)

    own = rng.random(orders) < 0.5
    category = np.where(own, favourite[customer], rng.integers(0, len(CATEGORIES), orders)).astype(np.int8)
    amount = np.exp(price_mu[customer] + 0.75 * rng.standard_normal(orders))  # lognormal: mostly small orders
    cents = np.rint(np.clip(amount, 5.0, 500.0) * 100.0).astype(np.int64)
    refunded = rng.random(orders) < refund_rate[customer]
    refunded[first.size : first.size + min(n_featured, 1)] = True

    # Sort by day, shuffled within a day, so order IDs rise with the date and each day is one contiguous slice.
    day = (days - 1 - age).astype(np.uint16)  # 16-bit keys let numpy's stable sort use radix sort
    shuffled = rng.permutation(orders)
    order = shuffled[np.argsort(day[shuffled], kind="stable")]
    return _Rows(customer[order], day[order], category[order], cents[order], refunded[order])


def _fresh_folder(folder: Path) -> Path:
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise InputError("out", f"{folder} exists and is not a folder")
    if folder.is_dir():
        # Only a previous sample is cleared; a folder that happens to be called "orders" is not ours to delete.
        foreign = sorted(
            p.name
            for p in folder.iterdir()
            if not (p.name.startswith(".") or (p.name.startswith("dt=") and p.is_dir()))
        )
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise InputError(
                "out",
                f"{folder} holds files that are not a sample dataset ({shown}); move them or choose another folder",
            )
        shutil.rmtree(folder)
    try:
        folder.mkdir(parents=True)
    except OSError as e:
        raise InputError("out", f"cannot create {folder}: {e.strerror or e}") from None
    return folder


def _write(
    folder: Path,
    rows: _Rows,
    customers: int,
    first_day: datetime.date,
    fmt: str,
    progress: Callable[[int, int], None] | None,
) -> int:
    names = pa.array([f"C{i:05d}" for i in range(1, customers + 1)])
    per_day = np.bincount(rows.day, minlength=1)
    ends = np.cumsum(per_day)
    total, files = int(rows.day.size), 0
    for d in np.flatnonzero(per_day):
        date = (first_day + datetime.timedelta(days=int(d))).isoformat()
        part = folder / f"dt={date}"
        part.mkdir()
        start, end = int(ends[d] - per_day[d]), int(ends[d])
        path = part / f"part-0.{fmt}"
        if fmt == "parquet":
            with pq.ParquetWriter(path, SCHEMA, compression="snappy") as writer:
                for a in range(start, end, CHUNK_ROWS):
                    writer.write_table(_table(rows, names, date, a, min(a + CHUNK_ROWS, end)))
                    _report(progress, min(a + CHUNK_ROWS, end), total)
        else:
            with path.open("wb") as f:
                for a in range(start, end, CHUNK_ROWS):
                    b = min(a + CHUNK_ROWS, end)
                    f.write(_json_lines(_table(rows, names, date, a, b), rows.cents[a:b]))
                    _report(progress, b, total)
        files += 1
    return files


def _report(progress: Callable[[int, int], None] | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _table(rows: _Rows, names: pa.Array, date: str, a: int, b: int) -> pa.Table:
    ids = pc.binary_join_element_wise(
        "O", pc.utf8_lpad(pa.array(np.arange(a + 1, b + 1)).cast(pa.string()), 8, "0"), ""
    )
    columns = [
        ids,
        names.take(pa.array(rows.customer[a:b])),
        pa.repeat(date, b - a),
        pa.array(CATEGORIES).take(pa.array(rows.category[a:b])),
        pa.array(rows.cents[a:b] / 100.0),
        pa.array(rows.refunded[a:b]),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _json_lines(table: pa.Table, cents: np.ndarray) -> memoryview:
    """One compact JSON object per line, built column-wise: a per-row json.dumps would take minutes at 5M rows."""
    # Amounts are printed from integer cents, as Python's repr would print the rounded float: 12.0, 12.5, 12.34.
    tenths = cents % 10 == 0
    fraction = pc.if_else(
        pa.array(tenths),
        pa.array(cents % 100 // 10).cast(pa.string()),
        pc.utf8_lpad(pa.array(cents % 100).cast(pa.string()), 2, "0"),
    )
    col = {name: table.column(name).combine_chunks() for name in table.column_names}
    # IDs, ISO dates and the fixed category names never need JSON escaping, so plain joins are valid JSON.
    lines = pc.binary_join_element_wise(
        '{"order_id":"',
        col["order_id"],
        '","customer_id":"',
        col["customer_id"],
        '","order_date":"',
        col["order_date"],
        '","category":"',
        col["category"],
        '","amount":',
        pa.array(cents // 100).cast(pa.string()),
        ".",
        fraction,
        ',"refunded":',
        pc.if_else(col["refunded"], "true", "false"),
        "}\n",
        "",
    )
    # The lines sit back to back in the string array's data buffer: write that slice instead of copying per row.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


DAILY_TABLE = "customer_daily"
#: When a daily snapshot is stamped: 23:30 local time at a +02:00 offset, i.e. 21:30 UTC the same day.
DAILY_STAMP = "T23:30:00+02:00"


def _write_daily(folder: Path, rows: _Rows, customers: int, first_day: datetime.date) -> None:
    """Running order count and spend per customer, one JSON line per (customer, day with orders)."""
    if rows.day.size == 0:
        return
    key = rows.customer.astype(np.int64) * (int(rows.day.max()) + 1) + rows.day  # by customer, then day
    order = np.argsort(key, kind="stable")
    sorted_key, cents = key[order], rows.cents[order]
    last = np.flatnonzero(np.append(sorted_key[1:] != sorted_key[:-1], True))  # the last order of each group
    customer, day = rows.customer[order][last], rows.day[order][last]
    first_of_customer = np.flatnonzero(np.insert(customer[1:] != customer[:-1], 0, True))
    running_cents, running_orders = np.cumsum(cents)[last], last + 1
    base = np.repeat(
        np.insert(running_cents, 0, 0)[first_of_customer], np.diff(np.append(first_of_customer, last.size))
    )
    base_n = np.repeat(
        np.insert(running_orders, 0, 0)[first_of_customer], np.diff(np.append(first_of_customer, last.size))
    )
    spend_cents, count = running_cents - base, running_orders - base_n
    by_day = np.argsort(day, kind="stable")
    names = pc.binary_join_element_wise("C", pc.utf8_lpad(pa.array(customer[by_day] + 1).cast(pa.string()), 5, "0"), "")
    cents_sorted = spend_cents[by_day]
    money = pc.binary_join_element_wise(
        pa.array(cents_sorted // 100).cast(pa.string()),
        pc.utf8_lpad(pa.array(cents_sorted % 100).cast(pa.string()), 2, "0"),
        ".",
    )
    days_sorted = day[by_day]
    dates = [(first_day + datetime.timedelta(days=int(d))).isoformat() for d in range(int(days_sorted.max()) + 1)]
    lines = pc.binary_join_element_wise(
        '{"customer_id":"',
        names,
        '","orders_to_date":',
        pa.array(count[by_day]).cast(pa.string()),
        ',"spend_to_date":',
        money,
        ',"updated_at":"',
        pa.array(dates).take(pa.array(days_sorted)),
        DAILY_STAMP + '"}\n',
        "",
    ).to_pylist()
    bounds = np.flatnonzero(np.append(np.insert(days_sorted[1:] != days_sorted[:-1], 0, True), True))
    for a, b in itertools.pairwise(bounds):
        part = folder / f"dt={dates[int(days_sorted[a])]}"
        part.mkdir()
        (part / "part-0.json").write_text("".join(lines[a:b]))
