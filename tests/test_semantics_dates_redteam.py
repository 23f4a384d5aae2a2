"""Red team of the text-to-DATE rewrite (engines/adapt.py `_DATE_CAST`) and the oracle's `try_date`.

Every expected value comes from Trino's source, never from DuckDB:

- trinodb/trino `io.trino.type.DateOperators.castFromVarchar` (also registered as the function `date()` by its
  `@ScalarFunction("date")`): `parseDate(trim(value))`, any IllegalArgumentException, ArithmeticException or
  DateTimeException is INVALID_CAST_ARGUMENT (NULL under try_cast and try()).
- airlift `SliceUtf8.trim`: strips code points with `Character.isWhitespace`.
- `io.trino.util.DateTimeUtils.parseDate`: a 10-character 'YYYY-MM-DD' of ASCII digits goes to `LocalDate.of`, anything
  else to Joda `ISODateTimeFormat.date()`: `appendYear(4, 9)` (signed, 1-9 digits), '-', `appendMonthOfYear(2)`, '-',
  `appendDayOfMonth(2)` (1-2 ASCII digits each, NumberFormatter.parseInto), the whole text consumed, then
  `toIntExact(MILLISECONDS.toDays(millis))` in the proleptic Gregorian ISOChronology.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import shutil
from pathlib import Path

import duckdb
import pytest

import featurekit
from featurekit.catalog import loader
from featurekit.engines import adapt
from featurekit.errors import TemplateError
from featurekit.sample import write_sample

from .conftest import AS_OF
from .oracle import customer_orders, read_orders, try_date
from .test_semantics import run

#: Java's Character.isWhitespace, from its definition (not from a table): SPACE_SEPARATOR, LINE_SEPARATOR or
#: PARAGRAPH_SEPARATOR but not U+00A0, U+2007, U+202F; or U+0009-U+000D, U+001C-U+001F.
JAVA_SPACE = frozenset(
    [*range(0x09, 0x0E), *range(0x1C, 0x20), 0x20, 0x1680, *range(0x2000, 0x2007), *range(0x2008, 0x200B), 0x2028]
) | {0x2029, 0x205F, 0x3000}
JAVA_SPACE_TEXT = "".join(map(chr, sorted(JAVA_SPACE)))


def _days_from_civil(y: int, m: int, d: int) -> int:
    """java.time LocalDate.toEpochDay (proleptic Gregorian, year 0 exists), for any year."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _valid(y: int, m: int, d: int) -> bool:
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return 1 <= m <= 12 and 1 <= d <= [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


#: Joda's yyyy-MM-dd after trim: ASCII digits, a sign only on the year (NumberFormatter: iSigned).
_JODA = re.compile(r"([+-]?)([0-9]{1,9})-([0-9]{1,2})-([0-9]{1,2})", re.ASCII)


def trino_days(text: str | None) -> int | None:
    """Trino's try_cast(text AS DATE) as days since 1970-01-01, else None (DateOperators.castFromVarchar)."""
    if text is None:
        return None
    t = text.strip(JAVA_SPACE_TEXT)
    fast = len(t) == 10 and t[4] == "-" and t[7] == "-" and all("0" <= c <= "9" for c in t[:4] + t[5:7] + t[8:])
    if fast:
        y, m, d = int(t[:4]), int(t[5:7]), int(t[8:])
    else:
        found = _JODA.fullmatch(t)
        if found is None:
            return None
        sign, year, month, day = found.groups()
        y, m, d = int(sign + year), int(month), int(day)
        if not -292275054 <= y <= 292278993:  # ISOChronology year field bounds
            return None
    if not _valid(y, m, d):
        return None
    days = _days_from_civil(y, m, d)
    return days if -(2**31) <= days < 2**31 else None  # toIntExact


def _loud_by_design(text: str) -> bool:
    """What the adapter says it cannot read as Athena does and fails on: a '-' year or one of 7-9 digits."""
    found = _JODA.fullmatch(text.strip(JAVA_SPACE_TEXT))
    return found is not None and (found.group(1) == "-" or len(found.group(2)) > 6)


def duck_days(texts: list[str | None]) -> list[int | None]:
    """try_cast(s AS DATE) through the adapter, on DuckDB, over a VARCHAR column, as days since 1970-01-01."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, s VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts)))
    sql = adapt.adapt("SELECT i, try_cast(s AS DATE) AS d FROM t", "duckdb", "t.sql")
    rows = con.execute(f"SELECT i, d - DATE '1970-01-01' FROM ({sql}) ORDER BY i").fetchall()
    return [r[1] for r in rows]


# ----------------------------------------------------------------------------------------------------------------
# Findings: these fail on 65b196c.
# ----------------------------------------------------------------------------------------------------------------


def test_try_of_a_cast_to_date_gives_athenas_value_not_a_binder_error():
    # Trino: try(CAST(x AS DATE)) is the value, or NULL on INVALID_CAST_ARGUMENT (TryFunction). The rewrite puts
    # DuckDB's volatile error() inside the TRY, which DuckDB refuses for every input ("TRY can not be used in
    # combination with a volatile function"); before 65b196c this query ran.
    rows = run(
        "SELECT try(CAST(x AS DATE)) FROM (VALUES (1, '2026-06-05'), (2, '2026-06-05T10:00'), (3, 'junk')) AS t(i, x)"
        " ORDER BY i"
    )
    assert rows == [(dt.date(2026, 6, 5),), (None,), (None,)]


@pytest.mark.parametrize("text", ["2026-06-05T10:00", "2026-06-05 10:00:00", "2026/06/05"])
def test_the_date_function_reads_text_as_the_cast_does(text):
    # Trino's date(x) IS the cast (DateOperators.castFromVarchar carries @ScalarFunction("date")): under try() these
    # are NULL. sqlglot parses date(x) as exp.Date, not exp.Cast, so the rewrite never sees it and DuckDB's own
    # CAST(x AS DATE) reads all three as 2026-06-05.
    assert run("SELECT try(date(:v))", v=text) == [(None,)]


def test_a_bare_date_function_fails_where_athena_fails():
    with pytest.raises(Exception, match="cannot be cast to date"):
        run("SELECT date(:v)", v="2026-06-05T10:00")


@pytest.mark.parametrize(
    "sql",
    [
        # ArrayToArrayCast casts each element with castFromVarchar; one failure fails the cast: NULL under try_cast.
        "SELECT try_cast(ARRAY[:v] AS ARRAY(DATE))",
        "SELECT try_cast(MAP(ARRAY['k'], ARRAY[:v]) AS MAP(VARCHAR, DATE))",
        "SELECT try_cast(CAST(ROW(:v) AS ROW(d VARCHAR)) AS ROW(d DATE))",
    ],
)
def test_a_date_nested_in_an_array_map_or_row_cast_is_refused_not_read_loosely(sql):
    # DuckDB reads '2026-06-05T10:00' as a date inside ARRAY/MAP/ROW casts too, where Athena gives NULL: the view is
    # refused (one line naming the cast) rather than answered otherwise.
    with pytest.raises(TemplateError, match="cast each text to a DATE on its own"):
        run(sql, v="2026-06-05T10:00")


@pytest.mark.xfail(strict=True, reason="known: DuckDB keeps the instant, not its zone; not yet flagged by validate")
def test_a_zoned_timestamp_cast_to_date_is_the_day_in_its_own_zone():
    # Adjacent (not the text rewrite): TimestampWithTimeZoneOperators.castToDate rounds down to the day in the
    # value's own chronology (unpackChronology(value)): 23:00 at -04:00 is June 5. DuckDB converts to the session
    # zone (UTC, set by the engine) first: June 6.
    assert run("SELECT CAST(from_iso8601_timestamp('2026-06-05T23:00:00-04:00') AS DATE)") == [(dt.date(2026, 6, 5),)]


@pytest.mark.xfail(strict=True, reason="known: try_cast(text AS TIMESTAMP) keeps DuckDB's looser parse")
def test_text_through_a_timestamp_to_a_date_reads_as_athena_reads():
    # Adjacent: VarcharToTimestampCast matches DateTimes.DATETIME_PATTERN, where a time must follow the day after a
    # space; 'T10:00' fails (NULL under try_cast). DuckDB reads it as 10:00, so CAST(try_cast(s AS TIMESTAMP) AS
    # DATE), the obvious workaround for timestamp-shaped order dates, silently counts the row.
    assert run("SELECT CAST(try_cast(:v AS TIMESTAMP) AS DATE)", v="2026-06-05T10:00") == [(None,)]


def _store_rows(tmp_path: Path, order_date: str, reading: str) -> tuple[dict, dict]:
    """customer_orders with its try_cast(order_date AS DATE) spelled `reading`, over the sample plus one odd row."""
    data = tmp_path / "data"
    write_sample(data, customers=60, orders=400, as_of=AS_OF)
    partition = sorted((data / "orders").glob("dt=*"))[-1]
    row = {"order_id": "BAD1", "customer_id": "C00042", "order_date": order_date, "category": "books"}
    with open(next(partition.glob("*.json")), "a") as f:
        f.write(json.dumps({**row, "amount": 9.99, "refunded": False}) + "\n")
    catalog = tmp_path / "catalog"
    shutil.copytree(loader.shipped_catalog(), catalog)
    view = catalog / "views/customer_orders.sql"
    view.write_text(view.read_text().replace("try_cast(order_date AS DATE)", reading))
    ids = [f"C{i:05d}" for i in range(1, 61)]
    with featurekit.FeatureStore(catalog, data=data) as store:
        got = {r["customer_id"]: r for r in store.get("customer_orders", ids, as_of=AS_OF).to_dicts()}
    return got, customer_orders(read_orders(data), AS_OF)


@pytest.mark.parametrize("reading", ["try(date(order_date))", "try(CAST(order_date AS DATE))"])
def test_a_view_reading_order_date_with_try_matches_athena(tmp_path, reading):
    # Trino: try(date(s)) and try(CAST(s AS DATE)) are try_cast(s AS DATE) (same castFromVarchar, NULL on failure),
    # so the oracle's customer_orders is Athena's answer. On DuckDB the first counts the 'T' order (silently, a
    # different order_count), the second fails on every row (binder error).
    got, expected = _store_rows(tmp_path, "2026-06-29T10:00:00", reading)
    assert {cid: {k: got[cid][k] for k in want} for cid, want in expected.items()} == expected


# ----------------------------------------------------------------------------------------------------------------
# Attacks that held: kept as regression tests.
# ----------------------------------------------------------------------------------------------------------------


def test_every_bmp_code_point_around_a_date_is_trimmed_exactly_when_java_calls_it_whitespace():
    points = [c for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF] + [0x1F600, 0xE0020, 0x10FFFF]
    texts = [chr(c) + "2026-06-05" + chr(c) for c in points]
    want = _days_from_civil(2026, 6, 5)
    got = duck_days(texts)
    wrong = [hex(c) for c, days in zip(points, got, strict=True) if (days == want) != (c in JAVA_SPACE)]
    assert wrong == []


GRAMMAR = [
    "2026-06-05",
    "2026-6-5",
    "+2026-06-05",
    "26-6-5",  # Joda: 1-9 year digits, year 26 AD
    "202-06-05",
    "+202-06-05",  # 10 chars, '-' at 4 and 7, but '+202' is no number: Joda reads year 202
    "02026-06-05",
    "002026-06-05",
    "999999-12-31",
    "0000-01-01",  # LocalDate year 0 (1 BC)
    "0-1-1",
    "00000-02-29",  # year 0 is a leap year
    "1-1-1",
    "2024-02-29",
    "2023-02-29",
    "1900-02-29",  # not leap (Gregorian)
    "2000-02-29",
    "1500-02-29",  # proleptic Gregorian, not Julian: NULL
    "2026-00-10",
    "2026-06-00",
    "2026-13-01",
    "2026-06-32",
    "2026-04-31",
    "2026-006-05",
    "2026-06-005",
    "2026-06-5-",
    "++2026-06-05",
    "+ 2026-06-05",
    "+-2026-06-05",
    "2026--06-05",
    "2026-+6-05",
    "2026-06-+5",
    "2026-06-05T",
    "2026-06-05Z",
    "2026-06-05 ",
    " 2026-06-05",
    "\u30002026-06-05\u2028",
    "\u00a02026-06-05",
    "2026-06-05\u202f",
    "2026-06-05\u2007",
    "2026-06-05\u0085",
    "2026-06-05\u180e",
    "2026-06-05\u200b",
    "2026-06-05\ufeff",
    "2026 - 06 - 05",
    "2026-06-05\x00",
    "\x002026-06-05",
    "2026\x00-06-05",
    "\u0662\u0660\u0662\u0666-06-05",  # Arabic-Indic digits: ASCII only on both Trino paths
    "\uff12\uff10\uff12\uff16-06-05",  # fullwidth digits
    "2026-06-05" + " " * 10_000,
    " " * 10_000 + "2026-06-05",
    "9" * 10_000,
    "",
    " ",
    "\t\n",
    "2026",
    "2026-06",
    "20260605",
    "2026.06.05",
    "2026/06/05",
    "05-06-2026",
    "2026-06-05 10:00:00",
    "2026-06-05T10:00",
    "2026-06-05 (BC)",
    "epoch",
    "infinity",
    "-infinity",
    None,
]


def test_the_grammar_corners_read_as_trino_reads():
    assert duck_days(GRAMMAR) == [trino_days(t) for t in GRAMMAR]


@pytest.mark.parametrize("seed", range(3))
def test_random_near_dates_read_as_trino_reads(seed):
    rng = random.Random(seed)
    pieces = ["0", "1", "2", "9", "00", "02", "12", "13", "29", "30", "31", "32", "2026", "2024", "0000", "-", "+"]
    spaces = [" ", "\t", "\u3000", "\u00a0", "\u2007", "\x1c", ""]
    texts = []
    while len(texts) < 3000:
        parts = [rng.choice(pieces) for _ in range(rng.randint(1, 7))]
        if rng.random() < 0.7:
            parts = [rng.choice(["", "+", "-"]), rng.choice(pieces[:14]), "-", rng.choice(pieces[:12]), "-"]
            parts.append(rng.choice(pieces[:12]))
        text = rng.choice(spaces) + "".join(parts) + rng.choice(spaces)
        if not _loud_by_design(text):
            texts.append(text)
    assert duck_days(texts) == [trino_days(t) for t in texts]


@pytest.mark.parametrize("text", ["-2026-06-05", "-0-1-1", "1234567-01-01", "+123456789-01-01", "999999999-12-31"])
def test_years_duckdb_cannot_write_as_trino_fail_loudly_in_both_casts(text):
    for cast in ("try_cast", "CAST"):
        with pytest.raises(Exception, match="DuckDB cannot read this date as Athena does"):
            run(f"SELECT {cast}(:v AS DATE)", v=text)


def test_the_shapes_around_a_text_date_keep_athenas_values_and_types():
    rows = "(1, '2026-06-05'), (2, '2026-06-05T10:00'), (3, ' 2026-6-5'), (4, NULL), (5, '2026-06-09')"
    # GROUP BY the rewritten expression, WHERE with BETWEEN and a bound DATE, date_add and date_diff around it.
    assert run(
        f"SELECT try_cast(x AS DATE), count(*) FROM (VALUES {rows}) AS t(i, x) GROUP BY try_cast(x AS DATE) ORDER BY 1"
    ) == [(dt.date(2026, 6, 5), 2), (dt.date(2026, 6, 9), 1), (None, 2)]
    assert run(
        f"SELECT count(*) FROM (VALUES {rows}) AS t(i, x) WHERE try_cast(x AS DATE) BETWEEN"
        " date_add('day', -7, :as_of) AND :as_of",
        as_of=dt.date(2026, 6, 10),
    ) == [(3,)]
    assert run(
        "SELECT typeof(date_add('day', 1, try_cast(:v AS DATE))), date_diff('day', try_cast(:v AS DATE), :as_of),"
        " typeof(try_cast(:v AS DATE))",
        v=" 2026-6-5",
        as_of=dt.date(2026, 6, 10),
    ) == [("DATE", 5, "DATE")]


def test_non_text_inputs_keep_the_plain_cast():
    # DATE unchanged; TIMESTAMP floors to its day (TimestampOperators castToDate: floorDiv, so before 1970 too);
    # a bound DATE; a DATE literal in the plain form is left alone, another form is read as Trino reads it.
    assert run(
        "SELECT CAST(DATE '2026-06-05' AS DATE), CAST(TIMESTAMP '1969-12-31 23:00:00' AS DATE),"
        " try_cast(CAST(:as_of AS TIMESTAMP) AS DATE), CAST(:as_of AS DATE), DATE '2026-6-5', DATE ' 2026-06-05'",
        as_of=dt.date(2026, 6, 10),
    ) == [
        (dt.date(2026, 6, 5), dt.date(1969, 12, 31), dt.date(2026, 6, 10), dt.date(2026, 6, 10))
        + (dt.date(2026, 6, 5),) * 2
    ]


@pytest.mark.parametrize("text", [t for t in GRAMMAR if t is not None])
def test_the_oracle_follows_trino_where_a_python_date_can_hold_the_answer(text):
    days = trino_days(text)
    if days is not None and not dt.date.min.toordinal() <= days + 719163 <= dt.date.max.toordinal():
        # year 0 or past 9999: Trino has a day a datetime.date cannot hold (the oracle says None); either way it is
        # outside every window of the shipped views
        pytest.skip("not a datetime.date")
    assert try_date(text) == (None if days is None else dt.date.fromordinal(days + 719163))
