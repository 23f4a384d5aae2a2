"""One view lookup as agent tools return it, shared by MCP, LangChain and Strands (no third-party imports)."""

from __future__ import annotations

from typing import Any

from ..llm.tools import run_tool
from ..store import FeatureStore


def provenance_json(provenance: Any) -> dict[str, Any]:
    """What an agent needs to trust a value: where it ran, which queries, what they read and cost."""
    return {
        "engine": provenance.engine,
        "view": provenance.view,
        "as_of": provenance.as_of.isoformat(),
        "template_version": provenance.template_version,
        "query_ids": [q.query_id for q in provenance.queries if q.query_id],
        "queries_run": provenance.queries_run,
        "scanned_bytes": provenance.scanned_bytes,
        "cost_usd": provenance.cost_usd,
        "cache_hits": provenance.cache_hits,
    }


def lookup(store: FeatureStore, view: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    """One view lookup as (text, structured content), or the one-line error message."""
    call = run_tool(store, view, arguments, store.catalog.views)
    if call.result is None or call.provenance is None:
        return call.error or "error"
    result = {**call.result, "provenance": provenance_json(call.provenance)}
    shown = ", ".join(f"{k}={v}" for k, v in call.result["features"].items())
    return f"{view}[{call.result['entity_id']}] as of {call.result['as_of']}: {shown}", result
