"""What a text claims: every number, number word, date, time, year and ID-like token, with its kind and value.

Finding and judging are separate: this module only reads the text (grounding.py decides what each claim may cite).
Patterns run from the most specific to the least, and a character belongs to at most one claim, so `06/20/2026` is
one date, not three numbers, and `$1.2 million` is one amount of money.

Number words are parsed by text2num (maintained, handles "three hundred and forty-two", "one million"); this
module only finds where a run of number words starts and ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from text_to_num import text2num

Kind = Literal[
    "number", "count", "money", "percent", "word", "ordinal", "date", "month", "datetime", "time", "year", "id"
]

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

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
_CLOCK = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
_MERIDIEM = r"(?:\s?(?P<meridiem>[ap]\.?m\.?)(?![a-z]))"
_ZONE = r"(?:\s?(?:Z|UTC|GMT|\+00:?00)\b)"

DATETIME = re.compile(
    r"(?<![\w-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?:T|,?\s+(?:at\s+)?)" + _CLOCK + rf"{_ZONE}?",
    re.IGNORECASE,
)
#: ISO, US `06/20/2026` (day first when the first part cannot be a month), `20.06.2026`, `June 20`, `20 June`.
DATES = (
    re.compile(r"(?<![\w-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?![\w-])"),
    re.compile(r"(?<![\w/.])(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})(?![\w/])"),
    re.compile(r"(?<![\w/.])(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})(?!\w|\.\d)"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}\b{_YEAR}", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}{_YEAR}\b", re.IGNORECASE),
)
MONTH_YEAR = re.compile(rf"\b{_MONTH}\s+(?:of\s+)?(?P<year>\d{{4}})\b", re.IGNORECASE)
TIMES = (
    re.compile(rf"(?<![\w:.]){_CLOCK}{_MERIDIEM}?{_ZONE}?(?![\w:])", re.IGNORECASE),
    re.compile(rf"(?<![\w:.])(?P<hour>\d{{1,2}}){_MERIDIEM}{_ZONE}?", re.IGNORECASE),
)
#: A bare year is a year only after words that introduce one ("in 2026"); "2026 orders" is a number.
YEAR = re.compile(
    r"\b(?:in|since|during|until|till|through|throughout|by|of|from|before|after|early|late|mid|year)[\s-]+"
    r"(?P<year>(?:19|20)\d{2})(?![\d%]|[.,]\d|\s*%)",
    re.IGNORECASE,
)
# Letters then digits (C00042, Q3): an ID-like claim. Digit-first words (90-day, 10th, 5k) are numbers.
IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z_]*\d[A-Za-z0-9_]*\b")
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
NUMBER = re.compile(
    r"(?<![\w.,])(?P<neg>[-−](?=[$€£]?\d))?(?P<cur>\$|€|£|USD\s?|US\$)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?:\s?(?P<scale>thousand|million|billion)\b|(?P<abbr>k|mn|m|bn)\b)?"
    r"(?P<suffix>\s?%|\s?(?:percent|per cent|pct)\b)?"
    r"(?P<ordinal>st|nd|rd|th)?"
    r"(?P<unit>\s(?:dollars|usd|euros?|pounds)\b)?",
    re.IGNORECASE,
)
_UNITS = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"),
    *("thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty"),
    *("forty", "fifty", "sixty", "seventy", "eighty", "ninety"),
)
_NUMBER_WORD = r"(?:" + "|".join(sorted([*_UNITS, "hundred", "thousand", "million", "billion"], key=len)[::-1]) + r")"
#: A run of number words ("three hundred and forty-two", "a million"), then what it counts, if that says its kind.
WORDS = re.compile(
    rf"\b(?P<run>(?:an?\s+(?=(?:hundred|thousand|million|billion|dozen)\b))?(?:{_NUMBER_WORD}|dozen)"
    rf"(?:(?:\s+and\s+|\s+|-)(?:{_NUMBER_WORD}|dozen))*)\b"
    r"(?P<after>\s+(?:percent|per cent|dollars|usd|euros?|pounds)\b)?",
    re.IGNORECASE,
)
PLURAL = re.compile(r"[ \u00a0]+(?:more\s+|fewer\s+|separate\s+|distinct\s+|new\s+)?([A-Za-z]{2,}s)\b")
#: Words ending in s after a number that do not say it counts things.
NOT_COUNTED = frozenset(
    {"is", "was", "has", "as", "its", "his", "this", "thus", "plus", "less", "across", "dollars", "pounds", "euros"}
    | {"usd", "cents", "percent", "us", "yes", "always", "perhaps", "whereas", "besides", "towards", "afterwards"}
)
#: Words before a number that make it a reference to an entity ("customer 42", "#42", "ID 42").
ID_WORDS = ("#", "id", "no.")


@dataclass(frozen=True)
class Mention:
    """A claim as written in the text, and the fact it matched (`source`), if any.

    `value` depends on `kind`: a float for numbers (already scaled: `$1.2m` is 1,200,000.0), `(year, month, day)`
    for dates (year None when not written), `(year, month)`, `(hour, minute, second)` for times (second None when
    not written), `(year, month, day, hour, minute, second)` for date-times, an int for years and ordinals, the token
    for IDs. `tolerance` is half a unit in the last place written (`$412` stands for 411.50 up to 412.50).
    """

    text: str
    start: int
    end: int
    kind: Kind
    value: Any
    source: str | None = None
    fact: Any = None
    tolerance: float = 0.0
    #: The word just before the claim, lower-cased ("customer" in "customer 42"), to recognise ID references.
    before: str = ""


def find(text: str, masked: Iterable[tuple[int, int]] = ()) -> list[Mention]:
    """Every claim in `text`, outside the `masked` spans (quoted data), in order of position."""
    taken = [False] * len(text)
    for start, end in masked:
        taken[start:end] = [True] * (end - start)
    found: list[Mention] = []

    def claim(start: int, end: int) -> bool:
        if any(taken[start:end]):
            return False
        taken[start:end] = [True] * (end - start)
        return True

    for finder in (_datetimes, _dates, _months, _times, _years, _identifiers, _numbers, _words):
        for mention in finder(text):
            if claim(mention.start, mention.end):
                found.append(mention)
    return sorted(found, key=lambda m: m.start)


def _month(written: str) -> int:
    return int(written) if written.isdigit() else MONTHS[written.lower().rstrip(".")]


def _datetimes(text: str) -> Iterator[Mention]:
    for m in DATETIME.finditer(text):
        second = m.group("second")
        value = (int(m.group("year")), int(m.group("month")), int(m.group("day")))
        clock = (int(m.group("hour")), int(m.group("minute")), None if second is None else int(second))
        if _valid_date(value) and _valid_time(clock):
            yield Mention(m.group(0), m.start(), m.end(), "datetime", value + clock)


def _dates(text: str) -> Iterator[Mention]:
    for index, pattern in enumerate(DATES):
        for m in pattern.finditer(text):
            year = m.group("year")
            month, day = _month(m.group("month")), int(m.group("day"))
            if index == 1 and month > 12 >= day:  # 20/06/2026: the first part cannot be a month, so it is the day
                month, day = day, month
            value = (int(year) if year else None, month, day)
            if _valid_date(value):
                yield Mention(m.group(0), m.start(), m.end(), "date", value)


def _months(text: str) -> Iterator[Mention]:
    for m in MONTH_YEAR.finditer(text):
        yield Mention(m.group(0), m.start(), m.end(), "month", (int(m.group("year")), _month(m.group("month"))))


def _times(text: str) -> Iterator[Mention]:
    for pattern in TIMES:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            hour, minute = int(groups["hour"]), int(groups.get("minute") or 0)
            meridiem = (groups.get("meridiem") or "").lower().replace(".", "")
            if meridiem and not 1 <= hour <= 12:
                continue
            if meridiem:
                hour = hour % 12 + (12 if meridiem == "pm" else 0)
            second = groups.get("second")
            clock = (hour, minute, None if second is None else int(second))
            if _valid_time(clock):
                yield Mention(m.group(0).strip(), m.start(), m.start() + len(m.group(0).rstrip()), "time", clock)


def _years(text: str) -> Iterator[Mention]:
    for m in YEAR.finditer(text):
        yield Mention(m.group("year"), m.start("year"), m.end("year"), "year", int(m.group("year")))


def _identifiers(text: str) -> Iterator[Mention]:
    for m in IDENTIFIER.finditer(text):
        if not re.fullmatch(r"\d+(?:st|nd|rd|th|k|m|bn)", m.group(0), re.IGNORECASE):
            yield Mention(m.group(0), m.start(), m.end(), "id", m.group(0))


def _numbers(text: str) -> Iterator[Mention]:
    for m in NUMBER.finditer(text):
        frac = m.group("frac") or ""
        value = float(m.group("int").replace(",", "") + frac)
        cur, abbr = m.group("cur"), (m.group("abbr") or "").lower()
        end, scale = m.end(), 1.0
        if m.group("scale"):
            scale = _SCALES[m.group("scale").lower()]
        elif abbr == "k" or (abbr and cur):
            scale = _SCALES[abbr]
        elif abbr:  # "5m" is minutes or metres as often as millions: only the number is read
            end = m.start("abbr")
        kind: Kind = "number"
        if end == m.end() and m.group("suffix"):
            kind = "percent"
        elif cur or (end == m.end() and m.group("unit")):
            kind = "money"
        elif end == m.end() and m.group("ordinal"):
            kind = "ordinal"
        elif not frac and scale == 1.0 and _counted(text, end):
            kind = "count"  # "176 orders" counts something: it may not cite an amount of money that rounds to 176
        written = text[m.start() : end].rstrip()
        decimals = len(frac) - 1 if frac else 0
        yield Mention(
            written,
            m.start(),
            m.start() + len(written),
            kind,
            value * scale,
            tolerance=0.5 * 10.0**-decimals * scale,
            before=_word_before(text, m.start()),
        )


def _counted(text: str, end: int) -> bool:
    """Whether the number ending at `end` is followed by a plural noun ("orders", "days"), so it counts things."""
    after = PLURAL.match(text, end)
    return after is not None and after.group(1).lower() not in NOT_COUNTED


def _words(text: str) -> Iterator[Mention]:
    for m in WORDS.finditer(text):
        run, after = m.group("run"), (m.group("after") or "").strip().lower()
        for start, end, value in _parse_run(run):
            kind: Kind = "word"
            if after and end == len(run):
                kind = "percent" if after in ("percent", "per cent") else "money"
            written = run[start:end]
            yield Mention(
                written, m.start() + start, m.start() + end, kind, float(value), before=_word_before(text, m.start())
            )


def _parse_run(run: str) -> list[tuple[int, int, int]]:
    """(start, end, value) of each number in a run of number words: one if text2num reads it whole, else each word."""
    whole = _to_number(run)
    if whole is not None:
        return [(0, len(run), whole)]
    parts = []
    for word in re.finditer(r"[a-z]+", run, re.IGNORECASE):
        value = _to_number(word.group(0))
        if value is not None:
            parts.append((word.start(), word.end(), value))
    return parts


def _to_number(words: str) -> int | None:
    lowered = " ".join(words.lower().split())
    lowered = re.sub(r"^an?\s+", "one ", lowered)
    dozens = lowered.endswith("dozen")
    if dozens:
        lowered = lowered[: -len("dozen")].strip() or "one"
    try:
        value = int(text2num(lowered, "en"))
    except ValueError:
        return None
    return value * 12 if dozens else value


def _word_before(text: str, start: int) -> str:
    head = text[max(0, start - 40) : start].rstrip()
    if head.endswith("#"):
        return "#"
    words = re.findall(r"[\w.]+$", head)
    return words[0].lower() if words else ""


def _valid_date(value: tuple[int | None, int, int]) -> bool:
    return 1 <= value[1] <= 12 and 1 <= value[2] <= 31


def _valid_time(value: tuple[int, int, int | None]) -> bool:
    return 0 <= value[0] <= 23 and 0 <= value[1] <= 59 and (value[2] is None or 0 <= value[2] <= 59)
