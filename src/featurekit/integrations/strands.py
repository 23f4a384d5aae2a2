"""Feature views as Strands Agents tools (the `strands` extra).

    from strands import Agent
    from featurekit.integrations.strands import feature_tools
    agent = Agent(tools=feature_tools(store))

Each tool's spec is the view's Converse tool spec (the same one `featurekit.ask` gives Bedrock); its result is the
typed features with provenance as JSON plus a one-line text, or status "error" with the one-line message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from strands.tools import PythonAgentTool
from strands.types.tools import ToolFunc

from ..llm.tools import tool_spec
from ..serve.lookup import lookup
from ..store import FeatureStore


def feature_tool(store: FeatureStore, view: str) -> PythonAgentTool:
    spec = tool_spec(store.catalog, store.catalog.view(view))["toolSpec"]

    def run(tool_use: Any, **_: Any) -> dict[str, Any]:
        answer = lookup(store, view, dict(tool_use.get("input") or {}))
        if isinstance(answer, str):
            return {"toolUseId": tool_use["toolUseId"], "status": "error", "content": [{"text": answer}]}
        text, structured = answer
        return {
            "toolUseId": tool_use["toolUseId"],
            "status": "success",
            "content": [{"text": text}, {"json": structured}],
        }

    return PythonAgentTool(view, spec, cast(ToolFunc, run))  # ToolFunc is (*args, **kwargs); Strands passes tool_use


def feature_tools(store: FeatureStore, views: Iterable[str] | None = None) -> list[PythonAgentTool]:
    """One Strands tool per feature view (all views, or the ones named)."""
    return [feature_tool(store, v) for v in (store.catalog.views if views is None else views)]
