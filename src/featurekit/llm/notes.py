"""A note: the text a provider wrote, with the features it was given, where they came from, and a grounding report.

Failure never loses the facts. One design, used everywhere: when the model call fails, or its answer is unusable
(a guardrail intervened, the output was cut at max_tokens, the answer is empty or could not be parsed),
`write_note` raises `LLMError` whose `partial` is a `Partial` holding the rendered prompt, hence the features and
their provenance, and whatever the model returned.
An answer that cites numbers no fact supports is handled by the grounding policy: warn, retry once with a
corrective instruction, fall back to the offline note, or (strict) fail with `GroundingError`, an `LLMError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..cache import CacheStats, FeatureCache
from ..errors import InputError, LLMError
from ..results import Provenance, jsonable
from .grounding import POLICIES, GroundingReport, check, correction, strict_failure
from .prompts import RenderedPrompt
from .providers import UNUSABLE_STOPS, Completion, OfflineProvider, Provider

GroundingAction = Literal["none", "retried", "fallback"]


def _features_json(prompt: RenderedPrompt) -> dict[str, Any]:
    return {v: {k: jsonable(x) for k, x in f.items()} for v, f in prompt.features.items()}


def _completion_json(completion: Completion) -> dict[str, Any]:
    return {
        "provider": completion.provider,
        "model": completion.model,
        "stop_reason": completion.stop_reason,
        "usage": dict(completion.usage),
        "latency_ms": completion.latency_ms,
        "elapsed_ms": None if completion.elapsed_ms is None else round(completion.elapsed_ms, 3),
        "request_id": completion.request_id,
        "attempts": completion.attempts,
    }


@dataclass(frozen=True)
class Note:
    text: str
    provider: str
    model: str
    prompt: RenderedPrompt = field(repr=False)
    completion: Completion = field(repr=False)
    grounding: GroundingReport | None = field(default=None, repr=False)
    #: What the grounding policy did: nothing, one corrective retry, or a fall back to the offline note.
    grounding_action: GroundingAction = "none"
    #: The completion the policy rejected (retried or replaced), kept for audit.
    rejected: Completion | None = field(default=None, repr=False)
    cached: bool = False

    def _repr_html_(self) -> str:  # Jupyter's rich display
        from .display import note_html

        return note_html(self)

    @property
    def features(self) -> Mapping[str, Mapping[str, Any]]:
        return self.prompt.features

    @property
    def provenance(self) -> Mapping[str, Provenance]:
        return self.prompt.provenance

    @property
    def offline(self) -> bool:
        return self.provider == "offline"

    @property
    def grounded(self) -> bool:
        return self.grounding is None or self.grounding.ok

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
            "completion": _completion_json(self.completion),
            "cached": self.cached,
            "grounding": None if self.grounding is None else self.grounding.to_dict(),
            "grounding_action": self.grounding_action,
            "rejected": None
            if self.rejected is None
            else {"text": self.rejected.text, **_completion_json(self.rejected)},
            "rendered_prompt": {"version": self.prompt.version, "system": self.prompt.system, "text": self.prompt.text},
            "features": _features_json(self.prompt),
            "provenance": {v: p.to_dict() for v, p in self.provenance.items()},
        }


@dataclass(frozen=True)
class Partial:
    """What a failed note still has: the rendered prompt (features, provenance) and any model output."""

    prompt: RenderedPrompt = field(repr=False)
    completion: Completion | None = field(default=None, repr=False)

    @property
    def features(self) -> Mapping[str, Mapping[str, Any]]:
        return self.prompt.features

    @property
    def provenance(self) -> Mapping[str, Provenance]:
        return self.prompt.provenance

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.name,
            "entity_id": self.prompt.entity_id,
            "as_of": self.prompt.as_of.isoformat(),
            "completion": None
            if self.completion is None
            else {"text": self.completion.text, **_completion_json(self.completion)},
            "rendered_prompt": {"version": self.prompt.version, "system": self.prompt.system, "text": self.prompt.text},
            "features": _features_json(self.prompt),
            "provenance": {v: p.to_dict() for v, p in self.provenance.items()},
        }


class NoteCache:
    """Notes by (prompt version, rendered text, model, inference settings, provider settings, grounding policy).

    The rendered text contains the features, entity and as_of, so equal keys mean equal inputs. Built on
    FeatureCache (TTL, single flight, failures never cached). Bedrock's own prompt cache does not help here:
    it needs at least 1,000 tokens per cache checkpoint, and a note prompt is a few hundred.
    """

    def __init__(
        self, ttl: float = 3600.0, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache = FeatureCache(ttl=ttl, max_entries=max_entries, clock=clock)

    @staticmethod
    def key(prompt: RenderedPrompt, provider: Provider, policy: str) -> str:
        settings = provider.cache_key() if hasattr(provider, "cache_key") else (provider.name,)
        parts = (
            prompt.name,
            prompt.version,
            prompt.system,
            prompt.text,
            prompt.model,
            prompt.inference,
            prompt.guardrail,
            settings,
            policy,
        )
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def get_or_write(self, key: str, write: Callable[[], Note]) -> tuple[Note, bool]:
        values, hits = self._cache.lookup(("note",), [key], lambda missing: {key: write()})
        return values[key], hits > 0

    def stats(self) -> CacheStats:
        return self._cache.stats()

    def clear(self) -> None:
        self._cache.clear()


def write_note(
    prompt: RenderedPrompt,
    provider: Provider,
    *,
    grounding: str = "warn",
    cache: NoteCache | None = None,
) -> Note:
    """Ask the provider for a note, check its grounding, and apply the policy. Raises LLMError with a Partial."""
    if grounding not in POLICIES:
        raise InputError("grounding", f"{grounding!r} is not one of {', '.join(POLICIES)}")
    if cache is None:
        return _write(prompt, provider, grounding)
    note, hit = cache.get_or_write(
        NoteCache.key(prompt, provider, grounding), lambda: _write(prompt, provider, grounding)
    )
    # The cached note answered the same inputs; attach this call's prompt so provenance shows this lookup.
    return dataclasses.replace(note, prompt=prompt, cached=True) if hit else note


def _write(prompt: RenderedPrompt, provider: Provider, policy: str) -> Note:
    first = _complete(prompt, provider, prompt)
    report = check(first.text, prompt)
    if not report.ok and policy == "strict":
        raise strict_failure(report, Partial(prompt, first))
    if report.ok or policy == "warn":
        return Note(first.text, first.provider, first.model, prompt, first, report)
    if policy == "retry":
        corrected = dataclasses.replace(prompt, text=f"{prompt.text}\n\n{correction(report)}")
        second = _complete(corrected, provider, prompt)
        again = check(second.text, prompt)
        return Note(second.text, second.provider, second.model, prompt, second, again, "retried", first)
    offline = OfflineProvider().complete(prompt)
    return Note(
        offline.text, offline.provider, offline.model, prompt, offline, check(offline.text, prompt), "fallback", first
    )


def _complete(sent: RenderedPrompt, provider: Provider, original: RenderedPrompt) -> Completion:
    try:
        completion = provider.complete(sent)
    except LLMError as exc:
        exc.partial = Partial(original)
        raise
    if completion.stop_reason in UNUSABLE_STOPS or not completion.text.strip():
        # An empty answer is not a note: zero numbers would read as "all grounded", and the cache would keep it.
        code, hint = _unusable(completion, original)
        what = f"stopped with {completion.stop_reason}" if code != "empty" else "returned no text"
        raise LLMError(
            f"{completion.provider} {what}",
            code=code,
            hint=hint,
            partial=Partial(original, completion),
        )
    return completion


def _unusable(completion: Completion, prompt: RenderedPrompt) -> tuple[str, str]:
    if completion.stop_reason not in UNUSABLE_STOPS:
        return "empty", (
            f"the model's answer had no text (stop reason {completion.stop_reason}); retry, or use --provider offline"
        )
    if completion.stop_reason == "max_tokens":
        return "max_tokens", (
            f"the note was cut at max_tokens={prompt.inference.max_tokens}: raise inference.max_tokens in the "
            f"declaration of prompt {prompt.name!r}"
        )
    if completion.stop_reason in ("guardrail_intervened", "content_filtered"):
        g = prompt.guardrail
        which = f"guardrail {g.identifier} (version {g.version})" if g else "a content filter"
        return completion.stop_reason, (
            f"{which} blocked the note; set guardrail.trace: enabled to see why, or use --provider offline"
        )
    return completion.stop_reason, "the model's output could not be used; retry, or use --provider offline"
