"""An independent computation of the shipped views with Athena (Trino) semantics, in plain Python.

It shares no code with featurekit's SQL path: it reads the JSON lines itself and applies the
definitions of the views the way Trino evaluates them, so exact agreement means the SQL, the binds,
the typing and the rounding are right on every engine. The rules followed (Trino docs and source):

- `CAST(double AS DECIMAL(12, 2))` goes through the double's shortest decimal text
  (`BigDecimal.valueOf`) and rounds half up.
- `sum(decimal(p, s))` is exact; `avg(decimal(p, s))` is `decimal(p, s)`: the exact mean rounded
  half up (DecimalAverageAggregation); `round(decimal(p, s), s)` changes nothing.
- `round(double, n)` is `Math.round(x * 10^n) / 10^n` on doubles: half up on the scaled double.
- `try_cast(varchar AS DATE)` is NULL for anything but a valid `YYYY-MM-DD`; NULL is outside every window.
- Comparisons of decimals (`recent > prior * 1.1`) are exact.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

CENT = Decimal("0.01")


def read_orders(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for file in sorted((folder / "orders").rglob("*.json")):
        for line in file.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


#: Java's Character.isWhitespace, which Trino trims before it reads a date (airlift SliceUtf8.trim).
JAVA_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" + (
    "\u2008\u2009\u200a\u2028\u2029\u205f\u3000"
)


def try_date(text: Any) -> dt.date | None:
    """Trino's try_cast(varchar AS DATE) (FromVarchar.toDate): the trimmed text as 'YYYY-MM-DD' or Joda's yyyy-MM-dd
    (a signed year, a month and a day of 1 or 2 digits) and nothing else, a real day; else NULL."""
    found = (
        re.fullmatch(r"\+?([0-9]{1,6})-([0-9]{1,2})-([0-9]{1,2})", text.strip(JAVA_SPACE))
        if isinstance(text, str)
        else None
    )
    if found is None:
        return None
    try:
        return dt.date(*map(int, found.groups()))
    except ValueError:
        return None


def to_cents(amount: float) -> Decimal:
    """CAST(amount AS DECIMAL(12, 2)) of a DOUBLE: the shortest decimal text, rounded half up."""
    return Decimal(repr(float(amount))).quantize(CENT, rounding=ROUND_HALF_UP)


def round_double(x: float, digits: int) -> float:
    """Trino's round(double, n) for x >= 0: Math.round(x * 10^n) / 10^n, on the exact scaled double."""
    factor = float(10**digits)
    return float(Decimal(x * factor).to_integral_value(rounding=ROUND_HALF_UP)) / factor


def customer_orders(orders: list[dict[str, Any]], as_of: dt.date, lookback_days: int = 90) -> dict[str, dict[str, Any]]:
    start = as_of - dt.timedelta(days=lookback_days)
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in orders:
        day = try_date(o["order_date"])
        if day is not None and start <= day <= as_of:
            by_customer[o["customer_id"]].append({**o, "day": day})
    result = {}
    for cid, mine in by_customer.items():
        amounts = [to_cents(o["amount"]) for o in mine]
        total = sum(amounts, Decimal(0))
        counts = Counter(o["category"] for o in mine)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        last = max(o["day"] for o in mine)
        refunded = sum(1 for o in mine if o["refunded"])
        result[cid] = {
            "order_count": len(mine),
            "total_spend": float(total),
            "avg_order": float((total / len(mine)).quantize(CENT, rounding=ROUND_HALF_UP)),
            "last_order": last,
            "refund_rate": round_double(float(refunded) / float(len(mine)), 3),
            "top_category": top,
            "days_since_last_order": (as_of - last).days,
        }
    return result


def spend_trend(orders: list[dict[str, Any]], as_of: dt.date, window_days: int = 30) -> dict[str, dict[str, Any]]:
    split, start = as_of - dt.timedelta(days=window_days), as_of - dt.timedelta(days=2 * window_days)
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for o in orders:
        day = try_date(o["order_date"])
        if day is not None and start < day <= as_of:
            sums[o["customer_id"]][0 if day > split else 1] += to_cents(o["amount"])
    result = {}
    for cid, (recent, prior) in sums.items():
        if prior == 0:
            trend = "new"
        elif recent > prior * Decimal("1.1"):
            trend = "up"
        elif recent < prior * Decimal("0.9"):
            trend = "down"
        else:
            trend = "flat"
        result[cid] = {
            "recent_spend": float(recent),
            "prior_spend": float(prior),
            "spend_change": float(recent - prior),
            "trend": trend,
        }
    return result
