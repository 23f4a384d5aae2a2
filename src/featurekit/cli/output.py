"""How the CLI prints results and notes: tables for people, one provenance line, failures on stderr."""

from __future__ import annotations

from typing import Any

from rich.table import Table as RichTable

from ..results import FeatureFrame, jsonable
from .options import err, out


def print_frame(frame: FeatureFrame) -> None:
    names = frame.table.column_names
    if len(frame) == 1:
        table = RichTable("feature", "value", title=f"{frame.view.name} · {frame.entity_ids[0]}")
        for name, value in frame.to_dicts()[0].items():
            if name != frame.key:
                table.add_row(name, _cell(value))
    else:
        table = RichTable(*names, title=frame.view.name)
        for row in frame.to_dicts():
            table.add_row(*(_cell(row[n]) for n in names))
    out.print(table)
    out.print(provenance_line(frame), markup=False)


def provenance_line(frame: FeatureFrame) -> str:
    p = frame.provenance
    parts = [
        f"engine {p.engine}",
        f"as_of {p.as_of}",
        f"{p.queries_run} quer{'y' if p.queries_run == 1 else 'ies'}",
        f"{p.cache_hits} cache hits",
        f"{p.elapsed_ms:.1f} ms",
        f"sql {p.sql_hash}",
    ]
    parts += [f"{k}={v}" for k, v in p.parameters.items()]
    ids = [q.query_id for q in p.queries if q.query_id]
    if ids:
        parts.append("query id " + ", ".join(ids))
    if p.scanned_bytes is not None:
        parts.append(f"scanned {p.scanned_bytes:,} bytes")
    if p.cost_usd is not None:
        parts.append(f"est. cost ${p.cost_usd:.6f}")
    return "· " + " · ".join(parts)


def _cell(value: Any) -> str:
    return "null" if value is None else str(jsonable(value))


def print_note(n: Any, streamed: str) -> None:
    from ..llm.display import note_facts

    if streamed:
        out.print()
    if streamed.strip() != n.text:
        out.print(n.text, markup=False)
    out.print("· " + " · ".join(note_facts(n)), markup=False)
    if n.grounding is not None:
        for line in n.grounding.lines():
            out.print(line, markup=False)


def note_failure(entity_id: str, exc: Any, format: str, written: list[dict[str, Any]], streamed: bool) -> None:
    """The features are still printed (stdout); one line says what failed and what to do (stderr)."""
    partial = exc.partial
    line = " ".join(str(exc).split())
    if format != "text":
        entry = partial.to_json() if partial is not None else {"entity_id": entity_id}
        entry["error"] = {"code": exc.code, "message": line, "hint": exc.hint}
        written.append(entry)
    else:
        if streamed:
            out.print()
        if partial is not None:
            out.print(f"features (kept; no note was written):\n{partial.prompt.facts}", markup=False)
    err.print(f"error: {entity_id}: {line}", markup=False)
