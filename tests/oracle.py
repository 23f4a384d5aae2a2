"""An independent computation of the shipped views, in plain Python over the files sample-data wrote.

It shares no code with featurekit's SQL path: it reads the JSON lines itself and applies the
definitions from the issue text, so agreement means the SQL, the binds and the typing are right.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def read_orders(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for file in sorted((folder / "orders").rglob("*.json")):
        for line in file.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def customer_orders(orders: list[dict[str, Any]], as_of: dt.date, lookback_days: int = 90) -> dict[str, dict[str, Any]]:
    start = as_of - dt.timedelta(days=lookback_days)
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in orders:
        day = dt.date.fromisoformat(o["order_date"])
        if start <= day <= as_of:
            by_customer[o["customer_id"]].append({**o, "day": day})
    result = {}
    for cid, mine in by_customer.items():
        amounts = [o["amount"] for o in mine]
        counts = Counter(o["category"] for o in mine)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        last = max(o["day"] for o in mine)
        result[cid] = {
            "order_count": len(mine),
            "total_spend": round(sum(amounts), 2),
            "avg_order": sum(amounts) / len(amounts),
            "last_order": last,
            "refund_rate": sum(1 for o in mine if o["refunded"]) / len(mine),
            "top_category": top,
            "days_since_last_order": (as_of - last).days,
        }
    return result
