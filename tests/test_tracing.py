"""OpenTelemetry spans for get, note and server requests, read from the SDK's in-memory exporter."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from featurekit import FeatureStore, tracing
from tests.conftest import AS_OF

EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)  # once per process; the exporter is cleared per test
    EXPORTER.clear()
    yield EXPORTER


def _by_name(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {s.name: s for s in exporter.get_finished_spans()}


def test_get_spans_render_cache_and_the_query_under_one_trace(spans: InMemorySpanExporter, sample_dir: Path) -> None:
    with FeatureStore(data=sample_dir) as store:
        store.get("customer_orders", ["C00042", "C00007"], as_of=AS_OF)
    got = _by_name(spans)
    assert {"featurekit.get", "featurekit.render", "featurekit.cache", "featurekit.query"} <= set(got)
    root, query = got["featurekit.get"], got["featurekit.query"]
    assert query.context.trace_id == root.context.trace_id  # the batch worker thread kept the trace
    assert query.parent.span_id == got["featurekit.cache"].context.span_id
    assert query.attributes["featurekit.entities"] == 2 and query.attributes["featurekit.engine"] == "duckdb"
    assert root.attributes["featurekit.queries"] == 1 and root.attributes["featurekit.cache_hits"] == 0


def test_note_spans_prompt_and_model_call(spans: InMemorySpanExporter, sample_dir: Path) -> None:
    with FeatureStore(data=sample_dir) as store:
        store.note("retention_note", "C00042", as_of=AS_OF)
    got = _by_name(spans)
    note, model = got["featurekit.note"], got["featurekit.model"]
    assert got["featurekit.prompt"].parent.span_id == note.context.span_id
    assert model.parent.span_id == note.context.span_id
    assert model.attributes["featurekit.provider"] == "offline"
    assert model.attributes["featurekit.grounding.ungrounded"] == 0


def test_server_request_continues_the_callers_trace(spans: InMemorySpanExporter, sample_dir: Path) -> None:
    httpx = pytest.importorskip("httpx")
    from featurekit.serve.http import create_app
    from tests.serve_support import serving

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    with FeatureStore(data=sample_dir) as store, serving(create_app(store)) as url:
        r = httpx.post(f"{url}/v1/features/customer_orders", json={"id": "C00042"}, headers=headers)
    assert r.status_code == 200
    got = _by_name(spans)
    server_span = got["POST /v1/features/{view}"]
    assert format(server_span.context.trace_id, "032x") == trace_id
    assert server_span.attributes["http.response.status_code"] == 200
    assert got["featurekit.get"].context.trace_id == server_span.context.trace_id


def test_without_opentelemetry_a_span_is_the_shared_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)  # as if the application never imported it
    first, second = tracing.span("a", {"x": 1}), tracing.span("b")
    assert first is second
    with first as span:
        span.set_attribute("y", 2)
    assert tracing.in_current_context(len) is len and tracing.extract({"traceparent": "x"}) is None


def test_featurekit_never_imports_opentelemetry_itself(sample_dir: Path) -> None:
    code = (
        "import sys, featurekit; s = featurekit.FeatureStore(data=sys.argv[1]); "
        "s.get('customer_orders', 'C00042', as_of='2026-06-30'); "
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(sample_dir)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
