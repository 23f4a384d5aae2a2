"""Shared pieces of the hardening suite (tests/test_hardening_*.py).

- `INPUTS`: how many inputs each hardening test tried; the totals are printed at the end of the
  run by the hooks below (also across pytest-xdist workers), as issue 7 asks.
- `write_probe_catalog`: a tiny catalog whose one view binds a parameter of every declared type
  (string, float, date, bool, int) over a small JSON lines table full of awkward strings, so a
  test can compute in Python exactly which rows equality with each value must return.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest

_lock = threading.Lock()
INPUTS: collections.Counter[str] = collections.Counter()


def immediate(fake: Any) -> None:
    """Athena executions on moto finish at once. /moto-api/reset keeps state-manager transitions, so another
    test's manual progression (queries RUNNING for 10 polls) would otherwise leak into the next test."""
    fake.post(
        "/moto-api/state-manager/set-transition",
        {"model_name": "athena::execution", "transition": {"progression": "immediate"}},
    )


def tried(kind: str, n: int = 1) -> None:
    """Count `n` inputs tried under `kind` (reported in the terminal summary)."""
    with _lock:
        INPUTS[kind] += n


# -- reporting hooks, imported into tests/conftest.py -------------------------------------------


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the counts to the controller
        workeroutput["featurekit_hardening_inputs"] = json.dumps(dict(INPUTS))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    counts = getattr(node, "workeroutput", {}).get("featurekit_hardening_inputs")
    if counts:
        with _lock:
            INPUTS.update(json.loads(counts))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not INPUTS:
        return
    total = sum(INPUTS.values())
    terminalreporter.write_sep("-", f"featurekit hardening: {total:,} inputs tried")
    for kind, n in sorted(INPUTS.items()):
        terminalreporter.write_line(f"  {kind}: {n:,}")


# -- the probe catalog ------------------------------------------------------------------------

#: Strings that break naive quoting, comments, statement splitting, escaping or normalisation.
AWKWARD = [
    "plain",
    "O'Brien",
    "''",
    "'",
    '"',
    "a--b",
    "-- comment",
    "/* c */",
    "*/",
    "x; DROP TABLE things; --",
    "back\\slash",
    "\\'",
    "trailing\\",
    "%(label)s",
    "%s",
    ":label",
    "$1",
    "?",
    "Ｃ00042",  # fullwidth C
    "С00042",  # Cyrillic С
    "C00042",
    "ʼ",
    "＇",
    "nul\x00byte",
    "line\nbreak",
    "tab\tand\rcr",
    "\u202e\u200b\ufeff",
    "𝐂𝐚𝐬𝐞",
    "",
    "x' OR '1'='1",
]

START = dt.date(2026, 1, 1)


def probe_rows() -> list[dict[str, Any]]:
    """Rows of the `things` table: every awkward string as an ID and as a label, in a few combinations."""
    rows = []
    ids = [s for s in AWKWARD if s]  # the entity pattern requires at least one character
    for i, thing in enumerate(ids):
        for j in range(3):
            label = AWKWARD[(i + j * 7) % len(AWKWARD)]
            rows.append(
                {
                    "thing_id": thing,
                    "label": label,
                    "score": round((i * 3 + j) / 7 - 2, 3),
                    "day": (START + dt.timedelta(days=(i * 5 + j * 11) % 40)).isoformat(),
                    "flag": (i + j) % 2 == 0,
                    "qty": (i * j) % 5 - 1,
                }
            )
    return rows


TABLE = """\
name: things
format: json
columns:
  - {name: thing_id, type: string}
  - {name: label, type: string}
  - {name: score, type: float}
  - {name: day, type: date}
  - {name: flag, type: bool}
  - {name: qty, type: int}
"""

ENTITY = """\
name: thing
key: thing_id
pattern: '^[\\s\\S]{1,200000}$'
max_length: 200000
"""

STRICT_ENTITY = """\
name: customer
key: customer_id
pattern: '^C\\d{5}$'
"""

VIEW = """\
name: probe
entity: thing
parameters:
  - {name: label, type: string, default: plain}
  - {name: min_score, type: float, default: 0.0, min: -1000000, max: 1000000}
  - {name: until, type: date, default: 2026-12-31}
  - {name: flag, type: bool, default: true}
  - {name: qty, type: int, default: 0}
features:
  - {name: n, type: int, default: 0}
  - {name: n_label, type: int, default: 0}
  - {name: n_score, type: int, default: 0}
  - {name: n_day, type: int, default: 0}
  - {name: n_flag, type: int, default: 0}
  - {name: n_qty, type: int, default: 0}
  - {name: echo, type: string}
"""

VIEW_SQL = """\
-- probe: one count per parameter, each an equality or bound comparison with a bound value
SELECT
    thing_id,
    count(*) AS n,
    sum(CASE WHEN label = :label THEN 1 ELSE 0 END) AS n_label,
    sum(CASE WHEN score >= :min_score THEN 1 ELSE 0 END) AS n_score,
    sum(CASE WHEN day <= :until THEN 1 ELSE 0 END) AS n_day,
    sum(CASE WHEN flag = :flag THEN 1 ELSE 0 END) AS n_flag,
    sum(CASE WHEN qty = :qty THEN 1 ELSE 0 END) AS n_qty,
    max(CAST(:label AS VARCHAR)) AS echo
FROM {{ table('things') }}
WHERE thing_id IN :entity_ids
GROUP BY thing_id
"""


def write_probe_catalog(root: Path) -> tuple[Path, Path]:
    """Write the probe catalog and its data under `root`; returns (catalog folder, data folder)."""
    catalog, data = root / "catalog", root / "data"
    for sub in ("tables", "entities", "views"):
        (catalog / sub).mkdir(parents=True, exist_ok=True)
    (catalog / "tables" / "things.yaml").write_text(TABLE)
    (catalog / "entities" / "thing.yaml").write_text(ENTITY)
    (catalog / "entities" / "customer.yaml").write_text(STRICT_ENTITY)
    (catalog / "views" / "probe.yaml").write_text(VIEW)
    (catalog / "views" / "probe.sql").write_text(VIEW_SQL)
    (data / "things").mkdir(parents=True, exist_ok=True)
    with (data / "things" / "part-0.json").open("w", encoding="utf-8") as out:
        for row in probe_rows():
            out.write(json.dumps(row) + "\n")
    return catalog, data


def expected_probe(rows: list[dict[str, Any]], ids: list[str], params: dict[str, Any]) -> list[dict[str, Any]]:
    """What the probe view must return, computed in Python from the rows (declared defaults for no rows)."""
    out = []
    for thing in ids:
        mine = [r for r in rows if r["thing_id"] == thing]
        out.append(
            {
                "thing_id": thing,
                "n": len(mine),
                "n_label": sum(r["label"] == params["label"] for r in mine),
                "n_score": sum(r["score"] >= params["min_score"] for r in mine),
                "n_day": sum(dt.date.fromisoformat(r["day"]) <= params["until"] for r in mine),
                "n_flag": sum(r["flag"] == params["flag"] for r in mine),
                "n_qty": sum(r["qty"] == params["qty"] for r in mine),
                "echo": params["label"] if mine else None,
            }
        )
    return out


def orders_as_csv(data: Path) -> Any:
    """The sample's orders at `data` rewritten as CSV files (csv.DictWriter: CRLF line ends), and the shipped
    catalog with `orders` declared as CSV."""
    import csv
    from dataclasses import replace

    import featurekit

    for path in (data / "orders").rglob("*.json"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        with path.with_suffix(".csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: str(v).lower() if isinstance(v, bool) else v for k, v in r.items()} for r in rows)
        path.unlink()
    catalog = featurekit.load()
    return replace(catalog, tables={**catalog.tables, "orders": replace(catalog.tables["orders"], format="csv")})
