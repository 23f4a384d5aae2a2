"""OpenTelemetry spans, when OpenTelemetry is installed; otherwise nothing at all.

Without `opentelemetry-api`, or with it but no tracer provider configured, every `span()` is one shared
no-op context manager: no allocation. Otherwise spans go to the application's tracer provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

try:
    from opentelemetry import context as _context
    from opentelemetry import propagate as _propagate
    from opentelemetry import trace as _trace
except ImportError:  # the otel extra is optional
    _trace = None  # type: ignore[assignment]


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass


_NOTHING = contextlib.nullcontext(_NoSpan())
ENABLED = _trace is not None


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    # OpenTelemetry takes str/bool/int/float (or lists of them); None is dropped rather than sent as "None".
    return {k: v if isinstance(v, (str, bool, int, float)) else str(v) for k, v in attributes.items() if v is not None}


def span(name: str, attributes: Mapping[str, Any] | None = None, *, context: Any = None, kind: str = "") -> Any:
    """A context manager yielding the span (with `set_attribute`), or the shared no-op one."""
    if _trace is None or isinstance(_trace.get_tracer_provider(), _trace.ProxyTracerProvider):
        return _NOTHING  # no SDK configured: the API's spans would be no-ops anyway, skip even building them
    span_kind = _trace.SpanKind.SERVER if kind == "server" else _trace.SpanKind.INTERNAL
    return _trace.get_tracer("featurekit").start_as_current_span(
        name, context=context, kind=span_kind, attributes=_clean(attributes or {})
    )


def set_attributes(target: Any, attributes: Mapping[str, Any]) -> None:
    target.set_attributes(_clean(attributes))


def extract(headers: Mapping[str, str]) -> Any:
    """The trace context an incoming request carries (W3C traceparent), or None."""
    return None if _trace is None else _propagate.extract(headers)


def in_current_context(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` run in this thread's trace context from whichever thread calls it (batch workers)."""
    if _trace is None:
        return fn
    captured = _context.get_current()

    def run(*args: Any, **kwargs: Any) -> T:
        token = _context.attach(captured)
        try:
            return fn(*args, **kwargs)
        finally:
            _context.detach(token)

    return run
