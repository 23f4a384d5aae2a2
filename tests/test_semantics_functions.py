"""Functions where DuckDB would silently answer otherwise than Athena (Trino): each runs on real DuckDB through the
adapter, and the expected value is written here from Trino's own rule (named in a comment), never taken from DuckDB.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from featurekit.catalog import loader
from featurekit.catalog.lint import lint
from featurekit.engines import adapt

from .test_semantics import run

MS_DAY = 86_400_000
EPOCH = dt.datetime(1970, 1, 1)


def _ms(t: dt.datetime) -> int:
    return (t - EPOCH) // dt.timedelta(milliseconds=1)


def _months(minuend: dt.datetime, subtrahend: dt.datetime) -> int:
    """Joda BasicMonthOfYearDateTimeField.getDifferenceAsLong, which Trino's date_diff('month', ...) calls."""
    if minuend < subtrahend:
        return -_months(subtrahend, minuend)
    diff = (minuend.year - subtrahend.year) * 12 + minuend.month - subtrahend.month
    if minuend.day == calendar.monthrange(minuend.year, minuend.month)[1] and subtrahend.day > minuend.day:
        subtrahend = subtrahend.replace(day=minuend.day)
    if minuend - minuend.replace(day=1, hour=0, minute=0, second=0, microsecond=0) < subtrahend - subtrahend.replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    ):
        diff -= 1
    return diff


def _years(minuend: dt.datetime, subtrahend: dt.datetime) -> int:
    """Joda BasicGJChronology.getYearDifference (Feb 29 balanced against non-leap years)."""
    if minuend < subtrahend:
        return -_years(subtrahend, minuend)
    feb_29 = (31 + 29 - 1) * MS_DAY
    m_rem = _ms(minuend) - _ms(dt.datetime(minuend.year, 1, 1))
    s_rem = _ms(subtrahend) - _ms(dt.datetime(subtrahend.year, 1, 1))
    if s_rem >= feb_29:
        if calendar.isleap(subtrahend.year):
            if not calendar.isleap(minuend.year):
                s_rem -= MS_DAY
        elif m_rem >= feb_29 and calendar.isleap(minuend.year):
            m_rem -= MS_DAY
    return minuend.year - subtrahend.year - (1 if m_rem < s_rem else 0)


#: Units Joda measures with a fixed length (UTC chronology): the difference truncates toward zero.
_PRECISE = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000, "day": MS_DAY, "week": 7 * MS_DAY}


def trino_date_diff(unit: str, start: dt.datetime, end: dt.datetime) -> int:
    """Trino date_diff: `field.getDifferenceAsLong(end, start)` (trinodb/trino timestamp/DateDiff.java)."""
    if unit in _PRECISE:
        elapsed = _ms(end) - _ms(start)
        return abs(elapsed) // _PRECISE[unit] * (1 if elapsed >= 0 else -1)
    if unit == "quarter":  # a DividedDateTimeField over months: months / 3, truncated
        months = _months(end, start)
        return abs(months) // 3 * (1 if months >= 0 else -1)
    return _months(end, start) if unit == "month" else _years(end, start)


def test_date_diff_counts_whole_units_elapsed_not_boundaries_crossed():
    # 23:00 to 01:00 the next day is 2 hours: 0 whole days on Trino (DuckDB's date_diff says 1).
    assert run(
        "SELECT date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00'),"
        " date_diff('month', DATE '2026-01-31', DATE '2026-02-27'),"
        " date_diff('month', DATE '2026-01-31', DATE '2026-02-28'),"
        " date_diff('year', DATE '2025-12-31', DATE '2026-01-01'),"
        " date_diff('day', DATE '2026-01-03', DATE '2026-01-01')"
    ) == [(0, 0, 1, 0, -2)]


@pytest.mark.parametrize("seed", range(4))
def test_date_diff_matches_jodas_difference_for_every_unit(seed):
    rng = random.Random(seed)
    cases = []
    for _ in range(300):
        start = dt.datetime(2019, 1, 1) + dt.timedelta(milliseconds=rng.randint(0, 8 * 365 * MS_DAY))
        end = start + dt.timedelta(milliseconds=rng.choice([3 * 365, 40, 2]) * rng.randint(-MS_DAY, MS_DAY))
        if rng.random() < 0.3:  # month ends, where Joda clamps the day
            end = end.replace(day=calendar.monthrange(end.year, end.month)[1])
        if rng.random() < 0.3:  # the same time of day, where a whole unit is exactly reached
            end = end.replace(hour=start.hour, minute=start.minute, second=start.second, microsecond=start.microsecond)
        cases.append((rng.choice([*_PRECISE, "month", "quarter", "year"]), start, end))
    rows = ", ".join(
        f"('{u}', TIMESTAMP '{s.isoformat(' ', 'milliseconds')}', TIMESTAMP '{e.isoformat(' ', 'milliseconds')}')"
        for u, s, e in cases
    )
    sql = (
        "SELECT CASE u WHEN 'millisecond' THEN date_diff('millisecond', s, e)"
        " WHEN 'second' THEN date_diff('second', s, e)"
        " WHEN 'minute' THEN date_diff('minute', s, e) WHEN 'hour' THEN date_diff('hour', s, e)"
        " WHEN 'day' THEN date_diff('day', s, e) WHEN 'week' THEN date_diff('week', s, e)"
        " WHEN 'month' THEN date_diff('month', s, e) WHEN 'quarter' THEN date_diff('quarter', s, e)"
        f" ELSE date_diff('year', s, e) END FROM (VALUES {rows}) AS t(u, s, e)"
    )
    assert [r[0] for r in run(sql)] == [trino_date_diff(u, s, e) for u, s, e in cases]


def test_extract_dow_is_isos_monday_one_to_sunday_seven():
    # Trino's extract(DOW ...) is day_of_week(): ISO, Monday 1 .. Sunday 7 (DuckDB's DOW has Sunday 0).
    assert run(
        "SELECT extract(dow FROM DATE '2026-01-04'), extract(dow FROM DATE '2026-01-05'), dow(DATE '2026-01-04')"
    ) == [(7, 1, 7)]


def test_regexp_extract_without_a_match_is_null():
    # Trino (JoniRegexpFunctions.regexpExtract): no match is NULL; DuckDB returns ''.
    assert run("SELECT regexp_extract('abc', 'z'), regexp_extract('abc', 'b'), regexp_extract('abc', '(b)(c)', 2)") == [
        (None, "b", "c")
    ]


def test_a_double_cast_to_an_integer_rounds_half_away_from_zero():
    # Trino DoubleOperators: castToInteger uses MathFunctions.round, castToLong roundToLong(HALF_UP): 2.5 -> 3,
    # -2.5 -> -3. DuckDB's own cast rounds half to even (2, -2, 4).
    assert run(
        "SELECT CAST(2.5e0 AS INTEGER), CAST(-2.5e0 AS BIGINT), CAST(3.5e0 AS INTEGER), CAST(0.5e0 AS SMALLINT),"
        " try_cast(-0.5e0 AS INTEGER), CAST(2.4e0 AS BIGINT)"
    ) == [(3, -3, 4, 1, -1, 2)]


def _trino_divide(a: Decimal, b: Decimal, scale: int) -> Decimal:
    """Trino decimal `/`: the exact quotient rounded HALF_UP to max(s1, s2) (DecimalOperators.divide*)."""
    return (a / b).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def test_a_double_literal_cast_to_decimal_rounds_its_shortest_text_half_up():
    # Trino: BigDecimal.valueOf(0.285e0) is 0.285, HALF_UP to 0.29 (DecimalConversions); DuckDB rounds the binary
    # 0.28499.. to 0.28. A DECIMAL literal (0.285) is exact on both; an integer-valued double casts exactly.
    got = run(
        "SELECT CAST(0.285e0 AS DECIMAL(3, 2)), CAST(-0.285e0 AS DECIMAL(3, 2)), CAST(0.285 AS DECIMAL(3, 2)), "
        "CAST(2e0 AS DECIMAL(3, 2)), CAST(1.005e0 AS DECIMAL(4, 2))"
    )
    assert got == [(Decimal("0.29"), Decimal("-0.29"), Decimal("0.29"), Decimal("2.00"), Decimal("1.01"))]


def test_decimal_division_is_a_decimal_rounded_half_up():
    # 1.0 is DECIMAL(2, 1): 1.0 / 3 is 0.3 on Athena, not 0.333.
    [row] = run(
        "SELECT 1.0 / 3, -2.0 / 3, CAST(10 AS DECIMAL(10, 2)) / CAST(3 AS DECIMAL(10, 2)), 0.05 / 2, 1 / 0.3,"
        " typeof(CAST(10 AS DECIMAL(10, 2)) / 3), count(*) * 1.0 / 3 FROM (VALUES (1), (2)) AS t(x)"
    )
    assert row == (
        Decimal("0.3"),
        Decimal("-0.7"),
        Decimal("3.33"),
        Decimal("0.03"),
        Decimal("3.3"),
        "DECIMAL(10,2)",
        Decimal("0.7"),
    )


@pytest.mark.parametrize("seed", range(5))
def test_decimal_division_matches_trinos_rounding(seed):
    rng = random.Random(seed)
    pairs = [(rng.randint(-(10**7), 10**7), rng.choice([-1, 1]) * rng.randint(1, 10**5)) for _ in range(200)]
    rows = ", ".join(
        f"(CAST('{Decimal(a) / 100}' AS DECIMAL(12, 2)), CAST('{Decimal(b) / 1000}' AS DECIMAL(9, 3)))"
        for a, b in pairs
    )
    got = [r[0] for r in run(f"SELECT a / b FROM (VALUES {rows}) AS t(a, b)")]
    assert got == [_trino_divide(Decimal(a) / 100, Decimal(b) / 1000, 3) for a, b in pairs]


def test_an_average_inside_a_cast_is_still_exact():
    # avg(decimal(12, 2)) of 27.02 and 27.03 is 27.03 on Trino (half up), then the DOUBLE 27.03.
    assert run(
        "SELECT CAST(avg(x) AS DOUBLE)"
        " FROM (VALUES (CAST(27.02 AS DECIMAL(12, 2))), (CAST(27.03 AS DECIMAL(12, 2)))) AS t(x)"
    ) == [(27.03,)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT greatest(1, NULL, 3), least(1, NULL, 3)",  # Trino: NULL if any argument is NULL
        "SELECT concat('a', NULL, 'b'), 'a' || NULL",  # Trino: NULL if any argument is NULL
    ],
)
def test_functions_sqlglot_already_transpiles_with_trinos_nulls(sql):
    assert run(sql) == [(None, None)]


def test_functions_sqlglot_already_transpiles_to_trinos_values():
    # Trino: day_of_week ISO (Sunday 7), week ISO, year_of_week ISO, date_trunc('week') to Monday,
    # date_format %e/%c unpadded, %W weekday name, %r 12-hour time (DateTimeFunctions.createDateTimeFormatter).
    assert run(
        "SELECT day_of_week(DATE '2026-01-04'), week(DATE '2021-01-01'), year_of_week(DATE '2021-01-01'),"
        " date_trunc('week', DATE '2026-01-04'),"
        " date_format(TIMESTAMP '2026-01-04 13:05:09', '%e %c %W %r %j')"
    ) == [(7, 53, 2020, dt.date(2025, 12, 29), "4 1 Sunday 01:05:09 PM 004")]


def _catalog_with(tmp_path: Path, select: str) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(loader.shipped_catalog(), folder)
    sql = folder / "views/spend_trend.sql"
    sql.write_text(
        sql.read_text().replace(
            "    round(recent, 2) AS recent_spend,", f"    round(recent, 2) AS recent_spend, {select},"
        )
    )
    return folder


TAIL = "views/spend_trend.sql:18: "


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        (
            "(SELECT approx_distinct(order_id) FROM {{ table('orders') }}) AS n",
            "approx_distinct() is an estimate that Athena and DuckDB compute differently (the numbers differ); "
            "use count(DISTINCT ...)",
        ),
        (
            "(SELECT approx_percentile(amount, 0.5) FROM {{ table('orders') }}) AS p",
            "approx_percentile() is an estimate that Athena and DuckDB compute differently (the numbers differ); "
            "use an exact rank: row_number() and count(*) in a subquery",
        ),
        (
            "(SELECT max(CAST(amount AS VARCHAR)) FROM {{ table('orders') }}) AS s",
            "CAST(orders.amount AS VARCHAR): Athena prints a DOUBLE as Java does (1.0E7, 1.0E-4), DuckDB as "
            "10000000.0 and 0.0001; cast it to a DECIMAL first, e.g. CAST(CAST(x AS DECIMAL(18, 2)) AS VARCHAR)",
        ),
        (
            "(SELECT max(CAST(amount AS INTEGER)) FROM {{ table('orders') }}) AS i",
            "CAST(orders.amount AS INTEGER) rounds a DOUBLE half away from zero on Athena (2.5 -> 3), DuckDB half "
            "to even, and DuckDB cannot tell from the SQL alone; CAST the table column to its type where it is read",
        ),
        (
            "(SELECT max(CAST(category AS INTEGER)) FROM {{ table('orders') }}) AS c",
            "CAST(orders.category AS INTEGER) reads a string column, which DuckDB cannot tell from the SQL alone: it "
            "would also read ' 12', '1.5' (as 2) and '1e3', where Athena fails (try_cast: NULL); write "
            "CAST(CAST(col AS VARCHAR) AS INTEGER)",
        ),
    ],
)
def test_validate_names_what_duckdb_cannot_match(tmp_path, select, expected):
    folder = _catalog_with(tmp_path, select)
    found = [str(p).replace(f"{folder}/", "") for p in lint(loader.load(folder))]
    assert found == [TAIL + expected]


def test_validate_names_a_decimal_division_only_the_table_declarations_type(tmp_path):
    folder = _catalog_with(tmp_path, "(SELECT max(amount) / 3 FROM {{ table('orders') }}) AS r")
    table = folder / "tables/orders.yaml"
    table.write_text(table.read_text().replace("{name: amount, type: float", "{name: amount, type: decimal"))
    found = [str(p).replace(f"{folder}/", "") for p in lint(loader.load(folder))]
    assert found == [
        TAIL + "MAX(orders.amount) / 3 is DECIMAL(38, 9) on Athena, but DuckDB cannot tell from the SQL alone; "
        "CAST the table column to its type where it is read"
    ]


def test_explicit_types_need_no_flag(tmp_path):
    folder = _catalog_with(
        tmp_path,
        "(SELECT max(CAST(CAST(amount AS DOUBLE) AS INTEGER)) FROM {{ table('orders') }}) AS i, "
        "(SELECT max(CAST(amount AS DECIMAL(12, 2)) / 3) FROM {{ table('orders') }}) AS r",
    )
    assert lint(loader.load(folder)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-05", dt.date(2026, 6, 5)),
        ("2026-6-5", dt.date(2026, 6, 5)),  # Joda's yyyy-MM-dd parses 1 or 2 digits
        ("+2026-06-05", dt.date(2026, 6, 5)),  # and a signed year
        (" \t2026-06-05\n", dt.date(2026, 6, 5)),  # trimmed first: Java whitespace (Character.isWhitespace)
        ("\u30002026-06-05\u2028", dt.date(2026, 6, 5)),
        ("\u00a02026-06-05", None),  # a no-break space is not Java whitespace
        ("2026-06-05T10:00", None),  # nothing may follow the day; DuckDB alone reads these as 2026-06-05
        ("2026-06-05 10:00:00", None),
        ("2026/06/05", None),
        ("20260605", None),
        ("2026-02-30", None),
        ("2026-006-05", None),
        ("", None),
    ],
)
def test_try_cast_of_text_to_date_reads_only_what_athena_reads(text, expected):
    # trinodb/trino FromVarchar.toDate: parseDate(trim(value)): 'YYYY-MM-DD', else Joda ISODateTimeFormat.date()
    # (appendYear(4, 9), appendMonthOfYear(2), appendDayOfMonth(2): signed year, 1-2 digit month and day).
    assert run("SELECT try_cast(:v AS DATE)", v=text) == [(expected,)]


@pytest.mark.parametrize("text", ["-2026-06-05", "1234567-01-01"])
def test_a_date_text_duckdb_cannot_read_as_athena_does_fails_loudly(text):
    with pytest.raises(Exception, match="DuckDB cannot read this date as Athena does"):
        run("SELECT try_cast(:v AS DATE)", v=text)


def test_cast_of_text_to_date_fails_where_athena_fails():
    with pytest.raises(Exception, match="Value cannot be cast to date: 2026-06-05T10:00"):
        run("SELECT CAST(:v AS DATE)", v="2026-06-05T10:00")
    assert run("SELECT CAST(:v AS DATE), try_cast(TIMESTAMP '2026-06-05 23:00:00' AS DATE)", v=" 2026-06-05") == [
        (dt.date(2026, 6, 5), dt.date(2026, 6, 5))
    ]


def test_the_adapted_shipped_views_call_no_volatile_function():
    # DuckDB does not push a filter holding a volatile function (error(), random()) into the scan: one error() in the
    # text-to-date rewrite made a one-customer customer_orders read every row group of its window (3x slower).
    from featurekit.render import Renderer

    catalog = loader.load()
    renderer = Renderer(catalog, "duckdb", lambda t: f'"{t.name}"', adapt.for_dialect("duckdb"))
    for view in catalog.views:
        sql = renderer.sql(view).upper()
        assert "TRY_CAST(" in sql or view == "customer_latest"
        assert not any(f"{name}(" in sql for name in ("ERROR", "RANDOM", "UUID", "NOW", "CURRENT_TIMESTAMP")), view


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", (12, 12)),
        ("+12", (12, 12)),
        ("-0", (0, 0)),
        ("007", (7, 7)),
        ("2147483648", (None, 2147483648)),  # past Integer.MAX_VALUE: parseInt fails, parseLong reads it
        (" 12", (None, None)),  # no trimming, no decimals, underscores, exponents or hex: DuckDB read all of these
        ("12 ", (None, None)),
        ("1.5", (None, None)),
        ("1_000", (None, None)),
        ("1e3", (None, None)),
        ("0x1F", (None, None)),
        ("", (None, None)),
    ],
)
def test_try_cast_of_text_to_an_integer_reads_as_javas_parse(text, expected):
    # trinodb/trino FromVarchar.toInteger / toBigint: Integer.parseInt / Long.parseLong of the text as it is.
    got = run("SELECT try_cast(CAST(:v AS VARCHAR) AS INTEGER), try_cast(CAST(:v AS VARCHAR) AS BIGINT)", v=text)
    assert got == [expected]


@pytest.mark.parametrize(("text", "says"), [("1.5", "Cannot cast 1.5 to INT"), ("١٢", "cannot read this number")])
def test_cast_of_text_to_an_integer_fails_where_athena_fails_or_reads_other_digits(text, says):
    # Java's parseInt also reads other scripts' decimal digits (Character.digit): '١٢' is 12 on Athena; DuckDB
    # cannot, so the query fails rather than answer otherwise.
    with pytest.raises(Exception, match=says):
        run("SELECT CAST(CAST(:v AS VARCHAR) AS INTEGER)", v=text)
