"""Feature views as LangChain tools (the `langchain` extra).

    from featurekit.integrations.langchain import feature_tools
    tools = feature_tools(store)                  # one StructuredTool per view
    llm.bind_tools(tools)                         # or hand them to any LangChain agent

A tool's arguments are the view's declared input (entity key with its pattern, as_of, parameters); its content
is a one-line rendering and its artifact the typed features with provenance. A bad ID or parameter comes back
as the tool's error text (the CLI's one-line message), so the agent can correct itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.tools import StructuredTool, ToolException

from ..llm.tools import input_schema, tool_spec
from ..serve.lookup import lookup
from ..store import FeatureStore


def feature_tool(store: FeatureStore, view: str) -> StructuredTool:
    decl = store.catalog.view(view)

    def run(**arguments: Any) -> tuple[str, dict[str, Any]]:
        answer = lookup(store, view, {k: v for k, v in arguments.items() if v is not None})
        if isinstance(answer, str):
            raise ToolException(answer)
        return answer

    return StructuredTool.from_function(
        func=run,
        name=decl.name,
        description=tool_spec(store.catalog, decl)["toolSpec"]["description"],
        args_schema=input_schema(store.catalog, decl),
        response_format="content_and_artifact",
        handle_tool_error=True,
    )


def feature_tools(store: FeatureStore, views: Iterable[str] | None = None) -> list[StructuredTool]:
    """One StructuredTool per feature view (all views, or the ones named)."""
    return [feature_tool(store, v) for v in (store.catalog.views if views is None else views)]
