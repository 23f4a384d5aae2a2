"""A note: the text a provider wrote, with the features it was given and where they came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .llm import Completion, Provider
from .prompts import RenderedPrompt
from .results import Provenance, jsonable


@dataclass(frozen=True)
class Note:
    text: str
    provider: str
    model: str
    prompt: RenderedPrompt = field(repr=False)
    completion: Completion = field(repr=False)

    @property
    def features(self) -> Mapping[str, Mapping[str, Any]]:
        return self.prompt.features

    @property
    def provenance(self) -> Mapping[str, Provenance]:
        return self.prompt.provenance

    @property
    def offline(self) -> bool:
        return self.provider == "offline"

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.name,
            "entity_id": self.prompt.entity_id,
            "as_of": self.prompt.as_of.isoformat(),
            "text": self.text,
            "provider": self.provider,
            "model": self.model,
            "stop_reason": self.completion.stop_reason,
            "usage": dict(self.completion.usage),
            "latency_ms": self.completion.latency_ms,
            "features": {v: {k: jsonable(x) for k, x in f.items()} for v, f in self.features.items()},
            "provenance": {v: p.to_dict() for v, p in self.provenance.items()},
        }


def write_note(prompt: RenderedPrompt, provider: Provider) -> Note:
    completion = provider.complete(prompt)
    return Note(completion.text, completion.provider, completion.model, prompt, completion)
