"""Render a prompt from typed features: the model gets the features as a JSON data block, never as instructions.

String features are free text from the data (a category name, or "Ignore previous instructions ..."), so they are
shown only as quoted data, cut to the feature's `max_length`: in the JSON block, and wherever a template pastes
one (`{{ features.v.top_category }}` renders `"books"`, with its quotes), in the prompt and in the offline note.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from ..catalog import templates
from ..catalog.declarations import DEFAULT_MAX_LENGTH, Feature, Guardrail, Inference
from ..catalog.loader import Catalog
from ..errors import TemplateError
from ..results import FeatureRow, Provenance, facts_json


@dataclass(frozen=True)
class RenderedPrompt:
    """Everything a provider needs, and everything a note must keep: the features and where they came from."""

    name: str
    version: str
    entity_id: Any
    as_of: dt.date
    system: str
    text: str
    offline_text: str
    model: str
    inference: Inference
    guardrail: Guardrail | None
    features: Mapping[str, Mapping[str, Any]]
    provenance: Mapping[str, Provenance] = field(repr=False)
    #: The declared features of each view (their types and units decide what a number in a note may cite).
    declarations: Mapping[str, Mapping[str, Feature]] = field(default_factory=dict, repr=False)
    #: The entity's name ("customer"), so "customer 42" reads as a reference to the ID.
    entity: str = ""

    def _repr_html_(self) -> str:  # Jupyter's rich display
        from .display import prompt_html

        return prompt_html(self)

    @property
    def facts(self) -> str:
        """The kept features as JSON, strings in full (the model saw them cut to their `max_length`)."""
        return facts_json(self.features)


class Quoted(str):
    """A string feature's value as shown: a template that outputs it renders it in quotes (see `_finalize`)."""


def shown(value: Any, feature: Feature | None) -> Any:
    """A string feature cut to its `max_length` (default DEFAULT_MAX_LENGTH); other values unchanged."""
    if not isinstance(value, str) or (feature is not None and feature.type != "string"):
        return value
    limit = (feature.max_length if feature is not None else None) or DEFAULT_MAX_LENGTH
    return Quoted(value if len(value) <= limit else value[:limit] + "...")


def quote(value: str) -> str:
    """How a string feature appears in a rendered prompt or offline note: a JSON string literal."""
    return json.dumps(str(value), ensure_ascii=False)


def _finalize(value: Any) -> Any:
    return quote(value) if isinstance(value, Quoted) else value


def money(value: Any) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def percent(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def render_prompt(
    catalog: Catalog, name: str, entity_id: Any, as_of: dt.date, rows: Mapping[str, FeatureRow]
) -> RenderedPrompt:
    decl = catalog.prompt(name)
    source = catalog.prompt_templates[name]
    features = {view: dict(row) for view, row in rows.items()}
    declared = {view: {f.name: f for f in catalog.view(view).features} for view in rows}
    display = {
        view: {name: shown(value, declared[view].get(name)) for name, value in values.items()}
        for view, values in features.items()
    }
    context = {
        "entity_id": entity_id,
        "as_of": as_of.isoformat(),
        "features": display,
        "params": {view: dict(row.provenance.parameters) for view, row in rows.items()},
        "facts": facts_json(display),
        "money": money,
        "percent": percent,
    }
    env = templates.sandbox()
    env.finalize = _finalize  # read when a template compiles, so every {{ string feature }} below is quoted
    texts = []
    for file, text in ((source.file, source.source), (source.offline_file, source.offline)):
        try:
            texts.append(
                " ".join(env.from_string(text).render(context).split())
                if file == source.offline_file
                else env.from_string(text).render(context).strip()
            )
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{file}: {exc}") from None
    return RenderedPrompt(
        name=decl.name,
        version=source.version,
        entity_id=entity_id,
        as_of=as_of,
        system=decl.system,
        text=texts[0],
        offline_text=texts[1],
        model=decl.model,
        inference=decl.inference,
        guardrail=decl.guardrail,
        features=features,
        provenance={view: row.provenance for view, row in rows.items()},
        declarations=declared,
        entity=catalog.view(decl.views[0]).entity,
    )
