"""Render a prompt from typed features: the model gets the features as a JSON data block, never as instructions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from ..catalog import templates
from ..catalog.declarations import Guardrail, Inference
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

    def _repr_html_(self) -> str:  # Jupyter's rich display
        from .display import prompt_html

        return prompt_html(self)

    @property
    def facts(self) -> str:
        return facts_json(self.features)


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
    context = {
        "entity_id": entity_id,
        "as_of": as_of.isoformat(),
        "features": features,
        "params": {view: dict(row.provenance.parameters) for view, row in rows.items()},
        "facts": facts_json(features),
        "money": money,
        "percent": percent,
    }
    env = templates.sandbox()
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
    )
