"""Generated inputs for the grounding check: any faithful rendering of a fact is grounded, any other value is flagged,
and no text makes the check fail or stall. Each test counts the inputs it tried for the hardening summary."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from featurekit.llm.grounding import Facts, check_facts
from tests.hardening_support import tried

RUNS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"]  # fmt: skip


def _report(name: str, count: int) -> None:
    tried(f"grounding: {name}", count)  # printed in the hardening summary at the end of the run
    assert count >= 50


MONEY_FORMATS: list[Callable[[Decimal], str]] = [
    lambda v: f"${v:,.2f}",
    lambda v: f"{v:.2f}",
    lambda v: f"USD {v:,.2f}",
    lambda v: f"{v:,.2f} dollars",
    lambda v: f"${v:,.0f}",
]
cents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2)


def test_money_in_any_format_is_grounded_and_another_amount_is_not() -> None:
    inputs = 0

    @RUNS
    @given(value=cents, fmt=st.sampled_from(MONEY_FORMATS), shift=st.integers(min_value=1, max_value=10_000))
    def run(value: Decimal, fmt: Callable[[Decimal], str], shift: int) -> None:
        nonlocal inputs
        inputs += 1
        facts = Facts.build([("v.spend", float(value), "money"), ("v.orders", 3, "count")])
        written = fmt(value)
        assert check_facts(f"They spent {written} in all.", facts).ok, written
        other = fmt(value + shift)
        # Rounded to whole dollars, 289.50 and 290.50 both print "$290" (half to even): that is not another amount.
        assume(other != written)
        assert check_facts(f"They spent {other} in all.", facts).ungrounded_texts, other
        # A count is never money, whatever its digits.
        if abs(value - 3) > Decimal("0.005"):
            assert check_facts(f"They spent ${3:,.2f}.", facts).ungrounded_texts == ("$3.00",)

    run()
    _report("money formats", inputs)


def test_counts_and_shares() -> None:
    inputs = 0

    @RUNS
    @given(count=st.integers(min_value=2, max_value=10**9), share=st.integers(min_value=0, max_value=1000))
    def run(count: int, share: int) -> None:
        nonlocal inputs
        inputs += 1
        rate = share / 1000
        facts = Facts.build([("v.orders", count, "count"), ("v.rate", rate, "share")])
        assert check_facts(f"{count:,} orders, {count} in all, {rate * 100:.1f}% refunded.", facts).ok
        flagged = check_facts(f"{count + 1:,} orders, {rate * 100 + 1:.1f}% refunded, {count}% of them.", facts)
        # "{count}%" stands for count +- 0.5 percent (half a unit in the last place written), so it is the
        # rate rounded whenever the rate (share / 10 percent) is within half a point of count.
        assert len(flagged.ungrounded) == 3 - (abs(count * 10 - share) <= 5), flagged.lines()

    run()
    _report("counts and shares", inputs)


DATE_FORMATS: list[Callable[[dt.date], str]] = [
    lambda d: d.isoformat(),
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d: f"{MONTH_NAMES[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day} {MONTH_NAMES[d.month - 1]} {d.year}",
    lambda d: f"{MONTH_NAMES[d.month - 1][:3]} {d.day}",
]


def test_dates_in_any_format() -> None:
    inputs = 0

    @RUNS
    @given(
        day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)),
        shift=st.integers(min_value=1, max_value=400),
        fmt=st.sampled_from(DATE_FORMATS),
    )
    def run(day: dt.date, shift: int, fmt: Callable[[dt.date], str]) -> None:
        nonlocal inputs
        inputs += 1
        facts = Facts.build([("v.last_order", day, "date")])
        assert check_facts(f"The last order was on {fmt(day)}.", facts).ok, fmt(day)
        other = day + dt.timedelta(days=shift)
        if fmt(other) != fmt(day):
            assert not check_facts(f"The last order was on {fmt(other)}.", facts).ok, fmt(other)
        # The year of a date grounds "in 2026", never "2026 orders".
        assert check_facts(f"They placed {day.year} orders.", facts).ungrounded_texts == (str(day.year),)

    run()
    _report("date formats", inputs)


def test_any_text_is_checked_quickly_without_error() -> None:
    inputs = 0
    facts = Facts.build(
        [("v.n", 7, "count"), ("v.spend", 12.5, "money"), ("v.day", dt.date(2026, 6, 20)), ("p.id", "C00042", "id")],
        entity="customer",
    )
    pieces = st.sampled_from(
        ["one", "twelve", "hundred", "and", "-", "a", "$", "%", ",", ".", ":", "/", "7", "2026", "06", "June",
         "customer", "#", "C00042", " ", "percent", "million", "dozen", "th", "pm", "Z", '"']
    )  # fmt: skip

    @RUNS
    @given(text=st.one_of(st.text(max_size=300), st.lists(pieces, max_size=120).map("".join)))
    def run(text: str) -> None:
        nonlocal inputs
        inputs += 1
        report = check_facts(text, facts)
        for m in (*report.grounded, *report.ungrounded):
            assert text[m.start : m.end] == m.text

    run()
    hostile = ["1," * 50_000, "one " * 20_000, "twenty-" * 10_000, "9" * 100_000, "1:" * 30_000, '"' * 50_000]
    for text in hostile:
        start = time.perf_counter()
        check_facts(text, facts)
        assert time.perf_counter() - start < 5.0, text[:20]
    _report("arbitrary and hostile text", inputs + len(hostile))
