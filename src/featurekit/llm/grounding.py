"""The grounding check: every number, date and ID in a note must come from the facts it was given.

A model that writes "$412.50" for a total_spend of 412.5, "14%" for a refund_rate of 0.14, or "June 10" for a
last_order of 2026-06-10 is citing a fact; one that writes "$415" or "12 orders" when no fact says so is not.
Formatting tolerance:

- currency signs, thousands separators and trailing zeros are ignored (`$1,234.50` ↔ 1234.5);
- a number matches a value rounded to the precision it is written with (`14%` ↔ 0.143, `$412` ↔ 412.47);
- a percentage matches a share (`14%` ↔ 0.14) or a value already in percent (`14%` ↔ 14.0);
- a sign may be dropped (`a drop of $12.50` ↔ -12.5);
- dates match in ISO, `June 10`, `Jun 10, 2026`, `10 June` and `June 10th` forms; a bare year matches a date's year;
- counts written as words (`three orders`) are reported as grounded when they match; a number word that matches
  nothing is not flagged, because "one action" or "two sentences" are language, not facts.

Besides the features, the prompt's own values are allowed: the entity ID (and its digits), as_of, and every
parameter bound to the queries (a lookback of 90 days).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from ..results import jsonable
from .prompts import RenderedPrompt

Policy = Literal["warn", "retry", "fallback"]
POLICIES: tuple[str, ...] = ("warn", "retry", "fallback")
Kind = Literal["number", "money", "percent", "date", "id", "word"]

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
WORDS = {
    w: n
    for n, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90})

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
DATE_PATTERNS = (
    re.compile(r"(?<![\w-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?![\w-])"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b{_YEAR}", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}{_YEAR}\b", re.IGNORECASE),
)
# Letters then digits (C00042, Q3): an ID-like claim. Digit-first words (90-day, 10th, 5k) are numbers.
IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z_]*\d[A-Za-z0-9_]*\b")
ORDINAL_OR_SUFFIXED = re.compile(r"^\d+(?:st|nd|rd|th|k|K)$")
NUMBER = re.compile(
    r"(?<![\w.])(?P<neg>[-−](?=\$?\d))?(?P<cur>\$|USD\s?|US\$)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?P<suffix>\s?%|\s?(?:percent|per cent)\b|k\b|K\b)?"
    r"(?P<ordinal>st|nd|rd|th)?"
)
WORD = re.compile(r"\b(" + "|".join(WORDS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    """A number, date or ID as written in the text, and the fact it matched (`source`), if any."""

    text: str
    start: int
    end: int
    kind: Kind
    value: Any
    source: str | None = None
    fact: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "position": self.start,
            "source": self.source,
            "fact": jsonable(self.fact),
        }


@dataclass(frozen=True)
class GroundingReport:
    """What the check found: numbers that match a fact (with the fact) and numbers that match none."""

    grounded: tuple[Mention, ...]
    ungrounded: tuple[Mention, ...]

    def _repr_html_(self) -> str:  # Jupyter's rich display
        from .display import grounding_html

        return grounding_html(self)

    @property
    def ok(self) -> bool:
        return not self.ungrounded

    @property
    def ungrounded_texts(self) -> tuple[str, ...]:
        return tuple(m.text for m in self.ungrounded)

    def summary(self) -> str:
        if self.ok:
            return f"grounded: all {len(self.grounded)} numbers match a fact"
        return (
            f"NOT grounded: {len(self.ungrounded)} of {len(self.grounded) + len(self.ungrounded)} numbers match no "
            f"fact: {', '.join(self.ungrounded_texts)}"
        )

    def lines(self) -> list[str]:
        out = [self.summary()]
        out += [f"  ✓ {m.text} ← {m.source}" for m in self.grounded]
        out += [f"  ✗ {m.text} (matches no feature or prompt value)" for m in self.ungrounded]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "grounded": [m.to_dict() for m in self.grounded],
            "ungrounded": [m.to_dict() for m in self.ungrounded],
        }


@dataclass(frozen=True)
class Facts:
    """The values a text may cite, by reference (`customer_orders.total_spend`, `prompt.as_of`)."""

    numbers: tuple[tuple[str, float], ...]
    dates: tuple[tuple[str, dt.date], ...]
    identifiers: tuple[tuple[str, str], ...]

    @classmethod
    def build(cls, values: Iterable[tuple[str, Any]]) -> Facts:
        numbers: list[tuple[str, float]] = []
        dates: list[tuple[str, dt.date]] = []
        identifiers: list[tuple[str, str]] = []
        for ref, value in values:
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, (int, float, Decimal)):
                numbers.append((ref, float(value)))
            elif isinstance(value, dt.date):
                day = value.date() if isinstance(value, dt.datetime) else value
                dates.append((ref, day))
                numbers.append((f"{ref} (year)", float(day.year)))
            elif isinstance(value, str):
                iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
                if iso:
                    with contextlib.suppress(ValueError):
                        dates.append((ref, dt.date.fromisoformat(value)))
                elif re.search(r"\d", value):
                    identifiers.append((ref, value))
                    # An entity ID like C00042 may be cited by its number ("customer 42").
                    digits = re.sub(r"\D", "", value)
                    if digits and len(digits) <= 12:
                        numbers.append((f"{ref} (digits)", float(digits)))
        return cls(tuple(numbers), tuple(dates), tuple(identifiers))


def facts_of(prompt: RenderedPrompt) -> Facts:
    """Feature values first (so a number is credited to a feature when it could be either), then the prompt's own."""
    values: list[tuple[str, Any]] = []
    for view, features in prompt.features.items():
        values += [(f"{view}.{name}", value) for name, value in features.items()]
    values.append(("prompt.entity_id", prompt.entity_id))
    values.append(("prompt.as_of", prompt.as_of))
    for view, provenance in prompt.provenance.items():
        values += [(f"{view}.{name} (parameter)", value) for name, value in provenance.parameters.items()]
    return Facts.build(values)


def check(text: str, prompt: RenderedPrompt) -> GroundingReport:
    """Check a note against the facts of the prompt it was written from."""
    return check_facts(text, facts_of(prompt))


def check_facts(text: str, facts: Facts) -> GroundingReport:
    grounded: list[Mention] = []
    ungrounded: list[Mention] = []
    taken = [False] * len(text)

    def free(start: int, end: int) -> bool:
        return not any(taken[start:end])

    def take(mention: Mention, matched: tuple[str, Any] | None, *, flag: bool = True) -> None:
        for i in range(mention.start, mention.end):
            taken[i] = True
        if matched is not None:
            grounded.append(_with_source(mention, matched))
        elif flag:
            ungrounded.append(mention)

    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            if not free(*m.span()):
                continue
            month = m.group("month")
            month_number = int(month) if month.isdigit() else MONTHS[month.lower().rstrip(".")]
            year = m.group("year")
            written = (int(year) if year else None, month_number, int(m.group("day")))
            if not (1 <= written[1] <= 12 and 1 <= written[2] <= 31):
                continue
            mention = Mention(m.group(0), m.start(), m.end(), "date", written)
            take(mention, _match_date(written, facts))

    for m in IDENTIFIER.finditer(text):
        if not free(*m.span()) or ORDINAL_OR_SUFFIXED.match(m.group(0)):
            continue
        mention = Mention(m.group(0), m.start(), m.end(), "id", m.group(0))
        found = next(((ref, v) for ref, v in facts.identifiers if v.lower() == m.group(0).lower()), None)
        take(mention, found)

    for m in NUMBER.finditer(text):
        if not free(*m.span()):
            continue
        digits = m.group("int").replace(",", "")
        frac = m.group("frac") or ""
        value = float(digits + frac)
        decimals = len(frac) - 1 if frac else 0
        suffix = (m.group("suffix") or "").strip().lower()
        scale = 1000.0 if suffix == "k" else 1.0
        kind: Kind = "percent" if suffix in ("%", "percent", "per cent") else "money" if m.group("cur") else "number"
        mention = Mention(m.group(0).strip(), m.start(), m.end(), kind, value * scale)
        take(mention, _match_number(value, decimals, scale, kind, bool(m.group("ordinal")), facts))

    for m in WORD.finditer(text):
        if not free(*m.span()):
            continue
        mention = Mention(m.group(0), m.start(), m.end(), "word", WORDS[m.group(0).lower()])
        exact = next(((ref, v) for ref, v in facts.numbers if v == mention.value and "(" not in ref), None)
        take(mention, exact, flag=False)

    order = sorted(grounded, key=lambda x: x.start), sorted(ungrounded, key=lambda x: x.start)
    return GroundingReport(tuple(order[0]), tuple(order[1]))


def _with_source(mention: Mention, matched: tuple[str, Any]) -> Mention:
    return Mention(mention.text, mention.start, mention.end, mention.kind, mention.value, matched[0], matched[1])


def _match_date(written: tuple[int | None, int, int], facts: Facts) -> tuple[str, dt.date] | None:
    year, month, day = written
    for ref, value in facts.dates:
        if value.month == month and value.day == day and (year is None or year == value.year):
            return ref, value
    return None


def _match_number(
    value: float, decimals: int, scale: float, kind: Kind, ordinal: bool, facts: Facts
) -> tuple[str, Any] | None:
    # Half a unit in the last written place: "14%" stands for anything that rounds to 14.
    tolerance = 0.5 * 10.0**-decimals * scale + 1e-9
    written = value * scale
    best: tuple[float, tuple[str, Any]] | None = None
    for ref, fact in facts.numbers:
        targets = [abs(fact)]
        if kind == "percent":
            targets = [abs(fact) * 100, abs(fact)]
        for target in targets:
            error = abs(written - target)
            if error <= tolerance and (best is None or error < best[0]):
                best = (error, (ref, fact))
    if best is None and ordinal and not scale - 1:
        # "the 10th" may be a date's day of month.
        for ref, date in facts.dates:
            if date.day == value:
                return f"{ref} (day)", date
    return best[1] if best else None


def correction(report: GroundingReport) -> str:
    """The corrective instruction for one retry: name the numbers that matched no fact."""
    listed = ", ".join(report.ungrounded_texts)
    return (
        f"Your previous answer contained numbers that are not in the facts: {listed}. "
        "Rewrite the note using only numbers, dates and IDs that appear in the JSON facts above, "
        "exactly as given, and do not state any other number."
    )
