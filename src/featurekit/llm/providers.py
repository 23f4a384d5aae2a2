"""Note writers ("providers"). `offline` is the embedded default: a deterministic template, no model.

A provider turns a RenderedPrompt into a Completion; Bedrock lives in bedrock.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import NotFoundError
from .prompts import RenderedPrompt

PROVIDERS = ("offline", "bedrock")
#: Stop reasons after which the text cannot be used as a note or an answer.
UNUSABLE_STOPS = ("guardrail_intervened", "content_filtered", "max_tokens", "malformed_model_output")


@dataclass(frozen=True)
class Completion:
    """What a provider returned."""

    text: str
    provider: str
    model: str
    stop_reason: str = "end_turn"
    usage: Mapping[str, int] = field(default_factory=dict)
    latency_ms: float | None = None
    #: Wall-clock time of the call as the client saw it (latency_ms is the server's figure, when reported).
    elapsed_ms: float | None = None
    request_id: str | None = None
    #: Requests sent for this completion, retries included (from botocore's retry metadata).
    attempts: int | None = None
    #: A guardrail trace or similar provider detail, kept verbatim for audit.
    trace: Mapping[str, Any] | None = field(default=None, repr=False)


class Provider(Protocol):
    name: str

    def complete(self, prompt: RenderedPrompt) -> Completion: ...


class OfflineProvider:
    """Writes the prompt's offline template: deterministic, free, and labelled as not from a model."""

    name = "offline"
    model = "offline-template"

    def complete(self, prompt: RenderedPrompt) -> Completion:
        return Completion(prompt.offline_text, self.name, self.model)


def get_provider(name: str, **settings: Any) -> Provider:
    if name == "offline":
        return OfflineProvider()
    if name == "bedrock":
        from .bedrock import BedrockProvider

        return BedrockProvider(**settings)
    raise NotFoundError("provider", name, PROVIDERS)
