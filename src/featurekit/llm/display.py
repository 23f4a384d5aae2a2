"""Rich display in notebooks for the LLM stage's results: a Note (its text with the cited numbers marked, usage,
provenance), a GroundingReport and a RenderedPrompt. Plain HTML, every value escaped; the classes' `_repr_html_`
call these, so Jupyter shows them when a cell ends with one."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..results import html_cell, plural, provenance_caption

if TYPE_CHECKING:
    from .grounding import GroundingReport
    from .notes import Note
    from .prompts import RenderedPrompt

GROUNDED = "background:#d9f2d9"
UNGROUNDED = "background:#f8d0d0"


def marked_text(text: str, report: GroundingReport | None) -> str:
    """`text` escaped, each mention the grounding check found wrapped in <mark> (green: a fact; red: no fact),
    its title naming the fact it matched."""
    if report is None:
        return html.escape(text)
    mentions = sorted([*report.grounded, *report.ungrounded], key=lambda m: m.start)
    parts, at = [], 0
    for m in mentions:
        if m.start < at:  # overlapping mentions: the first one keeps the span
            continue
        ok = m.source is not None
        title = f"← {m.source}" if ok else "matches no feature or prompt value"
        parts.append(html.escape(text[at : m.start]))
        parts.append(
            f'<mark style="{GROUNDED if ok else UNGROUNDED}" title="{html.escape(title)}">'
            f"{html.escape(text[m.start : m.end])}</mark>"
        )
        at = m.end
    parts.append(html.escape(text[at:]))
    return "".join(parts)


def grounding_html(report: GroundingReport) -> str:
    rows = [("✓", m.text, m.source or "") for m in report.grounded]
    rows += [("✗", m.text, "matches no feature or prompt value") for m in report.ungrounded]
    body = "".join(
        f"<tr><td>{mark}</td><td>{html.escape(text)}</td><td>{html.escape(source)}</td></tr>"
        for mark, text, source in rows
    )
    return (
        f"<table><caption>{html.escape(report.summary())}</caption>"
        f"<thead><tr><th></th><th>in the text</th><th>fact</th></tr></thead><tbody>{body}</tbody></table>"
    )


def note_facts(note: Note) -> list[str]:
    """Who wrote a note and at what cost: writer, grounding action, cache, stop reason, tokens, latency, attempts."""
    c = note.completion
    label = "offline note — deterministic template, no LLM" if note.offline else f"{note.provider} · {note.model}"
    facts = [label]
    if note.grounding_action != "none":
        facts.append(f"grounding: {note.grounding_action}")
    if note.cached:
        facts.append("from the note cache")
    if not note.offline:
        usage = ", ".join(f"{k.removesuffix('_tokens')} {v}" for k, v in c.usage.items()) or "not reported"
        facts += [f"stop {c.stop_reason}", f"tokens: {usage}"]
        if c.latency_ms is not None:
            facts.append(f"latency {c.latency_ms:.0f} ms")
        if c.attempts and c.attempts > 1:
            facts.append(f"{c.attempts} attempts")
    return facts


def note_html(note: Note) -> str:
    facts = note_facts(note)
    sources = "".join(
        f"<li>{html.escape(view)}: {html.escape(provenance_caption(p))}</li>" for view, p in note.provenance.items()
    )
    report = "" if note.grounding is None else grounding_html(note.grounding)
    return (
        f"<div><p><b>{html.escape(str(note.prompt.name))} · {html.escape(str(note.prompt.entity_id))}</b> · "
        f"as_of {note.prompt.as_of}</p>"
        f"<blockquote>{marked_text(note.text, note.grounding)}</blockquote>"
        f"<p>{html.escape(' · '.join(facts))}</p>{report}<p>features from:</p><ul>{sources}</ul></div>"
    )


def prompt_html(prompt: RenderedPrompt) -> str:
    tables = "".join(
        f"<table><caption>{html.escape(view)}</caption>"
        + "".join(f"<tr><th>{html.escape(k)}</th>{html_cell(v)}</tr>" for k, v in values.items())
        + "</table>"
        for view, values in prompt.features.items()
    )
    return (
        f"<div><p><b>prompt {html.escape(prompt.name)}</b> (version {html.escape(prompt.version)}) · "
        f"{html.escape(str(prompt.entity_id))} · as_of {prompt.as_of} · model {html.escape(prompt.model)} · "
        f"{plural(len(prompt.features), 'view')}</p>"
        f"<p>system</p><pre>{html.escape(prompt.system)}</pre><p>user</p><pre>{html.escape(prompt.text)}</pre>"
        f"{tables}</div>"
    )
