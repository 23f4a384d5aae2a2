"""Machine-readable output, the same for every command that prints data.

`--format json` prints ONE envelope, `{"kind": ..., "rows" | "items": [...], "provenance": {...} | null}`
(schema: envelope.schema.json beside this file): `rows` for feature values, `items` for anything else.
`jsonl` prints one object per line (each row or item), `csv` a header and one line per row or item. Values
are formatted alike in all three: ISO dates, lowercase `true`/`false`, empty (CSV) or null (JSON) for NULL.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ..results import jsonable
from .options import out

Format = Literal["table", "json", "csv", "jsonl"]
FormatOpt = Annotated[
    Format,
    typer.Option("--format", "-f", help="table for people; json (one envelope), csv or jsonl (one per line)."),
]
SCHEMA = Path(__file__).with_name("envelope.schema.json")


def envelope(
    kind: str,
    entries: Sequence[Mapping[str, Any]],
    provenance: Mapping[str, Any] | None,
    *,
    rows: bool = False,
    invalid: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The one JSON shape every command prints: its `kind`, the `rows` (features) or `items`, and provenance;
    `invalid` lists the rows `--on-invalid null` gave a null row, with the reason."""
    doc = {
        "kind": kind,
        "rows" if rows else "items": [{k: jsonable(v) for k, v in e.items()} for e in entries],
        "provenance": None if provenance is None else dict(provenance),
    }
    if invalid:
        doc["invalid"] = [dict(i) for i in invalid]
    return doc


def csv_cell(value: Any) -> str:
    """A value as CSV text, formatted as JSON formats it (true/false, ISO dates), NULL as an empty field."""
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit(
    format: Format,
    kind: str,
    entries: Sequence[Mapping[str, Any]],
    provenance: Mapping[str, Any] | None = None,
    *,
    rows: bool = False,
    invalid: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Print `entries` as json, jsonl or csv (callers print their own table)."""
    doc = envelope(kind, entries, provenance, rows=rows, invalid=invalid)
    listed = doc["rows" if rows else "items"]
    if format == "json":
        out.print(json.dumps(doc, indent=2, ensure_ascii=False), markup=False)
    elif format == "jsonl":
        for entry in listed:
            out.print(json.dumps(entry, ensure_ascii=False), markup=False)
    elif format == "csv":
        names = list(dict.fromkeys(k for e in listed for k in e))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([csv_cell(e.get(n)) for n in names] for e in listed)
        out.print(buffer.getvalue().rstrip("\n"), markup=False)
    else:  # pragma: no cover - every caller handles "table" itself
        raise ValueError(format)
