"""OpenTelemetry spans, when the application uses OpenTelemetry; otherwise nothing at all.

featurekit never imports OpenTelemetry itself (its import alone costs more than a cached lookup). An application
that traces has imported `opentelemetry.trace` and set a tracer provider; then featurekit's spans go there.
Otherwise every `span()` is one shared no-op context manager: a dictionary lookup, no allocation.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass


_NOTHING = contextlib.nullcontext(_NoSpan())


def _tracing() -> Any:
    """The `opentelemetry.trace` module if the application traces (imported it, set a provider), else None."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None or isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None  # no SDK provider: the API's spans would be no-ops anyway, skip even building them
    return trace


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # OpenTelemetry takes str/bool/int/float (or lists of them); None is dropped rather than sent as "None".
    return {k: v if isinstance(v, (str, bool, int, float)) else str(v) for k, v in attributes.items() if v is not None}


def span(name: str, attributes: Mapping[str, Any] | None = None, *, context: Any = None, kind: str = "") -> Any:
    """A context manager yielding the span (with `set_attribute`), or the shared no-op one."""
    trace = _tracing()
    if trace is None:
        return _NOTHING
    span_kind = trace.SpanKind.SERVER if kind == "server" else trace.SpanKind.INTERNAL
    return trace.get_tracer("featurekit").start_as_current_span(
        name, context=context, kind=span_kind, attributes=_clean(attributes or {})
    )


def set_attributes(target: Any, attributes: Mapping[str, Any]) -> None:
    target.set_attributes(_clean(attributes))


def extract(headers: Mapping[str, str]) -> Any:
    """The trace context an incoming request carries (W3C traceparent), or None when not tracing."""
    if _tracing() is None:
        return None
    from opentelemetry import propagate

    return propagate.extract(headers)


def in_current_context(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` run in this thread's trace context from whichever thread calls it (batch workers)."""
    if _tracing() is None:
        return fn
    from opentelemetry import context

    captured = context.get_current()

    def run(*args: Any, **kwargs: Any) -> T:
        token = context.attach(captured)
        try:
            return fn(*args, **kwargs)
        finally:
            context.detach(token)

    return run
