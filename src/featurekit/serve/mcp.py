"""The MCP server: each feature view a tool, each catalog prompt an MCP prompt, on the official `mcp` SDK.

    featurekit mcp                     # stdio, for Claude Desktop and any MCP client
    featurekit serve                   # the same server over streamable HTTP at /mcp

A tool's input schema comes from the declarations (the entity key with its pattern, as_of, each parameter with
type, default and bounds); its result is structured content (typed features and provenance: engine, query IDs,
bytes scanned, cost, cache hits) plus a one-line text. Input is validated by featurekit, not by the SDK, so a
bad ID or parameter is a tool error carrying the CLI's one-line message, and the server keeps running.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.routing import Route

from ..errors import FeaturekitError
from ..llm.tools import input_schema, tool_spec
from ..results import jsonable
from ..store import FeatureStore
from .lookup import lookup

LIST_VIEWS, DESCRIBE_VIEW = "list_views", "describe_view"


def describe(store: FeatureStore, view: str) -> dict[str, Any]:
    decl = store.catalog.view(view)
    return {
        "name": decl.name,
        "description": decl.description,
        "entity": decl.entity,
        "features": [{"name": f.name, "type": f.type, "description": f.description} for f in decl.features],
        "input_schema": input_schema(store.catalog, decl),
    }


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], isError=True)


def build_server(store: FeatureStore) -> Server:
    """The MCP server over one store (tools and prompts are listed from its catalog)."""
    server: Server = Server("featurekit", instructions="Typed, cached features from the featurekit catalog.")
    catalog = store.catalog

    @server.list_tools()
    async def list_tools() -> list[types.Tool]:
        tools = [
            types.Tool(
                name=name,
                description=tool_spec(catalog, decl)["toolSpec"]["description"],
                inputSchema=input_schema(catalog, decl),
            )
            for name, decl in catalog.views.items()
        ]
        tools.append(
            types.Tool(
                name=LIST_VIEWS,
                description="List the feature views: name, entity and description.",
                inputSchema={"type": "object", "properties": {}},
            )
        )
        tools.append(
            types.Tool(
                name=DESCRIBE_VIEW,
                description="Describe one feature view: its features (typed) and the input it takes.",
                inputSchema={"type": "object", "properties": {"view": {"type": "string"}}, "required": ["view"]},
            )
        )
        return tools

    @server.call_tool(validate_input=False)  # featurekit validates, with the CLI's messages
    async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
        try:
            if name == LIST_VIEWS:
                views = [
                    {"name": v.name, "entity": v.entity, "description": v.description} for v in catalog.views.values()
                ]
                return [types.TextContent(type="text", text=", ".join(v["name"] for v in views))], {"views": views}
            if name == DESCRIBE_VIEW:
                described = describe(store, str(arguments.get("view", "")))
                return [types.TextContent(type="text", text=described["description"] or described["name"])], described
        except FeaturekitError as exc:
            return _error(str(exc).splitlines()[0])
        answer = await anyio.to_thread.run_sync(lookup, store, name, dict(arguments))
        if isinstance(answer, str):
            return _error(answer)
        text, structured = answer
        return [types.TextContent(type="text", text=text)], structured

    @server.list_prompts()
    async def list_prompts() -> list[types.Prompt]:
        return [
            types.Prompt(
                name=name,
                description=decl.description or f"The {name} prompt over {', '.join(decl.views)}",
                arguments=[
                    types.PromptArgument(name="id", description="The entity ID", required=True),
                    types.PromptArgument(name="as_of", description="Point-in-time date YYYY-MM-DD", required=False),
                ],
            )
            for name, decl in catalog.prompts.items()
        ]

    @server.get_prompt()
    async def get_prompt(name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        args = dict(arguments or {})
        try:
            rendered = await anyio.to_thread.run_sync(
                lambda: store.prompt(name, args.get("id", ""), as_of=args.get("as_of"))
            )
        except FeaturekitError as exc:
            raise ValueError(str(exc).splitlines()[0]) from None  # the SDK answers it as a JSON-RPC error
        features = {v: {k: jsonable(x) for k, x in f.items()} for v, f in rendered.features.items()}
        return types.GetPromptResult(
            description=rendered.system,
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=rendered.text))],
            _meta={"features": features},
        )

    return server


def run_stdio(store: FeatureStore) -> None:
    """Serve MCP on stdin/stdout until the client closes it."""
    from mcp.server.stdio import stdio_server

    server = build_server(store)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    with store:
        anyio.run(main)


class _Endpoint:
    """The streamable HTTP endpoint, behind the feature server's bearer tokens (a token scoped to views may not
    use it: MCP lists every view)."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from .http import problem_response

        state = scope["app"].state.server
        if state.tokens.enabled:
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            caller = state.tokens.check(headers.get("authorization"))
            if caller is None or caller.views is not None:
                status, detail = (
                    (401, "invalid or missing bearer token") if caller is None else (403, "this token may not use /mcp")
                )
                await problem_response(status, detail, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.manager.handle_request(scope, receive, send)


def mounted(store: FeatureStore) -> tuple[list[Any], Any]:
    """Routes and lifespan that put the MCP server at /mcp inside the feature server."""
    manager = StreamableHTTPSessionManager(app=build_server(store), stateless=True, json_response=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return [Route("/mcp", _Endpoint(manager), methods=["GET", "POST", "DELETE"])], lifespan
