"""Table layouts: how a declared partitioning prunes a point-in-time window, on every engine.

A view never names a partition column. It writes `{{ window('orders', 'lookback_days') }}` and gets the
predicate that keeps only the partitions of `[as_of - lookback_days, as_of]` for the table's declared
layout (Table.layout). The predicate is Athena SQL over the binds `:as_of` and `:<days>`: no value a
caller gives ever becomes SQL text. The time column itself is still filtered by the view, exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from ..errors import InputError
from .declarations import Table

#: Athena's projection covers this much history when a table declares no partition_start.
DEFAULT_HISTORY_YEARS = 3
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _quoted(name: str) -> str:
    return '"' + name + '"'  # declared identifiers are [a-z0-9_], nothing to escape


def window_sql(table: Table, days: str | int, times: int = 1) -> str:
    """The partition predicate of `[as_of - times * days, as_of]`; `days` is a parameter name or a constant."""
    if isinstance(days, bool) or not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise InputError("window", "takes window(table, days, times=N): days a parameter name or int, times >= 1")
    if isinstance(days, int):
        span = str(times * days)
    elif re.fullmatch(r"[a-z_][a-z0-9_]*", days):
        span = f":{days}" if times == 1 else f"{times} * :{days}"
    else:
        raise InputError("window", f"days must name a parameter (e.g. 'lookback_days'), not {days!r}")
    start, end = f"date_add('day', -({span}), :as_of)", ":as_of"
    parts = [_quoted(c.name) for c in table.partitioned_by]
    layout = table.layout
    if layout == "none":
        return "TRUE"
    if layout == "date":
        return f"{parts[0]} BETWEEN {start} AND {end}"
    if layout == "day":
        return f"{parts[0]} BETWEEN date_format({start}, '%Y-%m-%d') AND date_format({end}, '%Y-%m-%d')"
    if layout == "ymd_int":
        key = f"{parts[0]} * 10000 + {parts[1]} * 100 + {parts[2]}"
        return (
            f"{key} BETWEEN CAST(date_format({start}, '%Y%m%d') AS INTEGER) "
            f"AND CAST(date_format({end}, '%Y%m%d') AS INTEGER)"
        )
    key = " || ".join(parts)  # zero-padded strings sort as the dates they spell
    return f"{key} BETWEEN date_format({start}, '%Y%m%d') AND date_format({end}, '%Y%m%d')"


def window_in(tables: Mapping[str, Table], name: str, days: str | int, times: int = 1) -> str:
    """window() for a static check of a template: TRUE for a table that failed to load (reported once, there)."""
    return window_sql(tables[name], days, times) if name in tables else "TRUE"


def projection_start(table: Table, today: dt.date) -> dt.date:
    """The first day Athena's partition projection covers: the declared partition_start, else three years back."""
    if table.partition_start is not None:
        return table.partition_start
    try:
        return today.replace(year=today.year - DEFAULT_HISTORY_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - DEFAULT_HISTORY_YEARS, day=28)


def check_window(table: Table, first: dt.date, last: dt.date, today: dt.date) -> None:
    """A window Athena's projection cannot fully cover is an error naming the range, never a short answer."""
    if table.layout == "none":
        return
    start = projection_start(table, today)
    if first < start or last > today:
        raise InputError(
            "as_of",
            f"the window {first}..{last} reaches outside the partitions Athena projects for table "
            f"{table.name!r} ({start}..{today}, today); declare an earlier partition_start in "
            f"tables/{table.name}.yaml or move as_of",
        )


def projection(table: Table, location: str, today: dt.date) -> dict[str, str]:
    """Athena TBLPROPERTIES for partition projection over the table's layout (empty without partitions)."""
    layout, start = table.layout, projection_start(table, today)
    if layout == "none":
        return {}
    props = {"projection.enabled": "true"}
    if layout in ("date", "day"):
        name = table.partitioned_by[0].name
        props.update(
            {
                f"projection.{name}.type": "date",
                f"projection.{name}.format": "yyyy-MM-dd",
                f"projection.{name}.range": f"{start.isoformat()},NOW",
                f"projection.{name}.interval": "1",
                f"projection.{name}.interval.unit": "DAYS",
                "storage.location.template": location + f"{name}=${{{name}}}/",
            }
        )
        return props
    digits = {"year": 4, "month": 2, "day": 2}
    ranges = {"year": (start.year, today.year), "month": (1, 12), "day": (1, 31)}
    for name, (low, high) in ranges.items():
        props[f"projection.{name}.type"] = "integer"
        props[f"projection.{name}.range"] = f"{low},{high}"
        if layout == "ymd_string":
            props[f"projection.{name}.digits"] = str(digits[name])
    props["storage.location.template"] = location + "year=${year}/month=${month}/day=${day}/"
    return props


def parse_partition(table: Table, values: dict[str, str]) -> dt.date | None:
    """The day a partition folder holds, or None if its names or values do not parse as declared."""
    names = [c.name for c in table.partitioned_by]
    if list(values) != names:
        return None
    try:
        if table.layout in ("date", "day"):
            value = values[names[0]]
            return dt.date.fromisoformat(value) if _DAY.match(value) else None
        y, m, d = (values[n] for n in names)
        if table.layout == "ymd_string" and not (len(y) == 4 and len(m) == 2 and len(d) == 2):
            return None
        if not (y.isdigit() and m.isdigit() and d.isdigit()):
            return None
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None
