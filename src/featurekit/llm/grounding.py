"""The grounding check: every number, date, time and ID a note states must come from a fact of a compatible kind.

mentions.py finds the claims; this module decides which fact, if any, each one cites. A claim may cite only a fact
of its own kind, so a number cannot be "grounded" by a coincidence of digits:

| written | may cite |
|---|---|
| `12 orders`, `twelve`, `a dozen` | a count (an int feature or parameter) |
| `12`, `176.4` | a count, money, a plain amount, or a share written as such (`0.143`) |
| `$412.50`, `one million dollars` | money, or a plain amount (an undeclared float or decimal) |
| `14%`, `14 percent` | a share (declared `unit: share`, 0.14) or a percent (declared `unit: percent`, 14.0) |
| `06/20/2026`, `June 20`, `the 20th` | a date or timestamp feature (or as_of) with that day |
| `in 2026`, `June 2026` | the year (and month) of a date or timestamp feature |
| `10:00`, `2026-06-30T10:00Z` | the time of a timestamp feature |
| `C00042`, `customer 42`, `#42` | the entity ID, and nothing else |

String features are never facts: a category value "say the customer spent $1,000,000" grounds nothing, and
neither does a code like "SKU12". A string feature copied *in quotes* exactly as shown (with words in it) is data
being quoted, not a claim, and is skipped.

Formatting is tolerated: currency signs, thousands separators and trailing zeros (`$1,234.50` ↔ 1234.5), a value
rounded to the precision written (`$412` ↔ 412.47, `14%` ↔ 0.143), `k`/`million` scales, and a dropped sign
(`a drop of $12.50` ↔ -12.5). The lone word "one" is language ("one retention action"), so it is never flagged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from ..catalog.declarations import Feature
from ..errors import GroundingError
from ..results import jsonable
from .mentions import ID_WORDS, Mention, find
from .prompts import RenderedPrompt, quote, shown

Policy = Literal["warn", "retry", "fallback", "strict"]
POLICIES: tuple[str, ...] = ("warn", "retry", "fallback", "strict")
FactKind = Literal["count", "money", "amount", "share", "percent", "date", "timestamp", "id", "text"]
#: The kind of an undeclared feature, by type: a float is a plain amount (money-like), never a share.
TYPE_KINDS: dict[str, FactKind] = {
    "int": "count",
    "float": "amount",
    "decimal": "amount",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "string": "text",
}
#: Which fact kinds a claim of each kind may cite (dates, times and IDs are matched by their own rules below).
CITES: dict[str, tuple[str, ...]] = {
    # A bare number may be a share written as such (0.143); a value in percent is cited with a percent sign.
    "number": ("count", "amount", "money", "share"),
    "money": ("money", "amount"),
    "percent": ("share", "percent"),
    "count": ("count",),
    "word": ("count",),
    "ordinal": ("count",),
}


@dataclass(frozen=True)
class Fact:
    """A value a text may cite (`customer_orders.total_spend`, `prompt.as_of`) and what kind of value it is."""

    ref: str
    value: Any
    kind: FactKind


def kind_of(feature: Feature) -> FactKind | None:
    """A declared feature's kind: its `unit` if declared, else what its type says (None: never cited, e.g. bool)."""
    if feature.unit is not None:
        return feature.unit
    return TYPE_KINDS.get(feature.type)


def _inferred(value: Any) -> FactKind | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return "count"
    if isinstance(value, (float, Decimal)):
        return "amount"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    return "text" if isinstance(value, str) else None


def _typed(value: Any, kind: FactKind) -> Any:
    """Values from JSON (tool results) carry dates as ISO text; read them back so they compare as dates."""
    if isinstance(value, str) and kind in ("date", "timestamp"):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.date() if kind == "date" else parsed
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc)  # timestamptz: compared on the UTC clock the facts are shown in
    return value


@dataclass(frozen=True)
class Facts:
    """Everything a text may cite, with its kind, the entity's name (for "customer 42") and the quoted strings."""

    facts: tuple[Fact, ...]
    entity: str = ""
    #: String values as shown to the model, quoted; such a quote in the text is data, not a claim.
    quoted: tuple[str, ...] = ()

    @classmethod
    def build(cls, values: Iterable[tuple[Any, ...]], *, entity: str = "") -> Facts:
        """From `(ref, value)` (kind inferred from the Python type) or `(ref, value, kind)` tuples."""
        facts: list[Fact] = []
        quoted: list[str] = []
        for ref, value, *declared in values:
            kind = declared[0] if declared else _inferred(value)
            if kind is None or value is None or isinstance(value, bool):
                continue
            value = _typed(value, kind)
            if value is None:
                continue
            if kind == "text":
                quoted.append(str(value))
            facts.append(Fact(ref, value, kind))
        return cls(tuple(facts), entity, tuple(quoted))

    def of(self, *kinds: str) -> Iterable[Fact]:
        return (f for f in self.facts if f.kind in kinds)


def facts_of(prompt: RenderedPrompt) -> Facts:
    """Feature values first (so a number is credited to a feature when it could be either), then the prompt's own."""
    values: list[tuple[Any, ...]] = []
    for view, features in prompt.features.items():
        declared = prompt.declarations.get(view, {})
        for name, value in features.items():
            feature = declared.get(name)
            if feature is None:
                values.append((f"{view}.{name}", value))
            elif (kind := kind_of(feature)) is not None:
                values.append((f"{view}.{name}", shown(value, feature) if kind == "text" else value, kind))
    values.append(("prompt.entity_id", prompt.entity_id, "id"))
    values.append(("prompt.as_of", prompt.as_of))
    for view, provenance in prompt.provenance.items():
        values += [(f"{view}.{name} (parameter)", value) for name, value in provenance.parameters.items()]
    return Facts.build(values, entity=prompt.entity)


@dataclass(frozen=True)
class GroundingReport:
    """What the check found: claims that match a fact (with the fact) and claims that match none."""

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
        out += [f"  ✗ {m.text} (matches no fact of its kind)" for m in self.ungrounded]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "grounded": [_json(m) for m in self.grounded],
            "ungrounded": [_json(m) for m in self.ungrounded],
        }


def _json(m: Mention) -> dict[str, Any]:
    return {"text": m.text, "kind": m.kind, "position": m.start, "source": m.source, "fact": jsonable(m.fact)}


def check(text: str, prompt: RenderedPrompt) -> GroundingReport:
    """Check a note against the facts of the prompt it was written from."""
    return check_facts(text, facts_of(prompt))


def check_facts(text: str, facts: Facts) -> GroundingReport:
    grounded: list[Mention] = []
    ungrounded: list[Mention] = []
    for mention in find(text, _quoted_spans(text, facts.quoted)):
        matched = _match(mention, facts)
        if matched is not None:
            ref, fact = matched
            grounded.append(replace(mention, source=ref, fact=fact))
        elif not (mention.kind == "word" and mention.text.lower() == "one"):
            ungrounded.append(mention)
    return GroundingReport(tuple(grounded), tuple(ungrounded))


def _quoted_spans(text: str, strings: Iterable[str]) -> list[tuple[int, int]]:
    spans = []
    # Only text is quoted data: a string that is a bare figure ("$1,000,000") is checked like any claim.
    for value in (v for v in strings if re.search(r"[^\W\d_]{2}", v)):
        for form in {quote(value), f"“{value}”", f"'{value}'", f"‘{value}’", f'"{value}"'}:
            spans += [(m.start(), m.end()) for m in re.finditer(re.escape(form), text)]
    return spans


def _match(m: Mention, facts: Facts) -> tuple[str, Any] | None:
    if m.kind == "id":
        return next(((f.ref, f.value) for f in facts.of("id") if str(f.value).lower() == m.value.lower()), None)
    if m.kind in ("date", "month", "datetime", "time", "year"):
        return _match_time(m, facts)
    if m.kind in ("number", "count", "word", "ordinal") and m.before in (*ID_WORDS, facts.entity or "#"):
        # "customer 42", "#42": a reference to the entity, so it may cite the ID's digits and nothing else.
        for f in facts.of("id"):
            digits = re.sub(r"\D", "", str(f.value))
            if digits and m.value == int(digits):
                return f"{f.ref} (digits)", f.value
        return None
    best: tuple[float, tuple[str, Any]] | None = None
    for f in facts.of(*CITES[m.kind]):
        target = abs(float(f.value)) * (100 if m.kind == "percent" and f.kind == "share" else 1)
        error = abs(m.value - target)
        if error <= m.tolerance + 1e-9 and (best is None or error < best[0]):
            best = (error, (f.ref, f.value))
    if best is None and m.kind == "ordinal":
        # "on the 10th": the day of a date.
        days = (f for f in facts.of("date", "timestamp") if f.value.day == m.value)
        return next(((f"{f.ref} (day)", f.value) for f in days), None)
    return best[1] if best else None


def _match_time(m: Mention, facts: Facts) -> tuple[str, Any] | None:
    for f in facts.of("date", "timestamp"):
        v: dt.date = f.value
        if m.kind == "year" and v.year == m.value:
            return f"{f.ref} (year)", v
        if m.kind == "month" and (v.year, v.month) == m.value:
            return f"{f.ref} (month)", v
        if m.kind == "date" and (v.month, v.day) == m.value[1:] and m.value[0] in (None, v.year):
            return f.ref, v
        if m.kind in ("time", "datetime") and isinstance(v, dt.datetime):
            hour, minute, second = m.value[-3:]
            same_day = m.kind == "time" or (v.year, v.month, v.day) == m.value[:3]
            if same_day and (v.hour, v.minute) == (hour, minute) and second in (None, v.second):
                return f.ref if m.kind == "datetime" else f"{f.ref} (time)", v
    return None


def correction(report: GroundingReport) -> str:
    """The corrective instruction for one retry: name the numbers that matched no fact."""
    listed = ", ".join(report.ungrounded_texts)
    return (
        f"Your previous answer contained numbers that are not in the facts: {listed}. "
        "Rewrite the note using only numbers, dates and IDs that appear in the JSON facts above, "
        "exactly as given, and do not state any other number."
    )


def strict_failure(report: GroundingReport, partial: Any) -> GroundingError:
    """The error the strict policy raises: one line naming the numbers that match no fact."""
    n = len(report.ungrounded)
    return GroundingError(
        f"the note is not grounded: {n} {'number matches' if n == 1 else 'numbers match'} no fact "
        f"({', '.join(report.ungrounded_texts)})",
        report=report,
        partial=partial,
    )
