"""The MCP server through the official SDK's client, over stdio (`featurekit mcp`) and streamable HTTP (`/mcp` of
`featurekit serve`, started as the real command): tools, prompts and values equal to `featurekit get`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")
import httpx
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import AS_OF
from tests.serve_support import featurekit_serve

TOKEN = "mcp-test-token-0123456789abcdef"


def _expected(cli: Any, sample_dir: Path, entity_id: str) -> dict[str, Any]:
    code, out, _ = cli(
        "get", "customer_orders", entity_id, "--as-of", AS_OF.isoformat(), "-f", "json", "--data", sample_dir
    )
    assert code == 0
    row = json.loads(out)["rows"][0]
    row.pop("customer_id")
    return row


async def _exercise(transport: AbstractAsyncContextManager[Any]) -> dict[str, Any]:
    async with transport as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        ok = await session.call_tool("customer_orders", {"customer_id": "C00042", "as_of": AS_OF.isoformat()})
        again = await session.call_tool("customer_orders", {"customer_id": "C00042", "as_of": AS_OF.isoformat()})
        bad_id = await session.call_tool("customer_orders", {"customer_id": "C42; DROP TABLE orders"})
        bad_param = await session.call_tool("customer_orders", {"customer_id": "C00042", "lookback_days": 0})
        unknown = await session.call_tool("customer_ordrs", {"customer_id": "C00042"})
        described = await session.call_tool("describe_view", {"view": "spend_trend"})
        listed = await session.call_tool("list_views", {})
        prompts = (await session.list_prompts()).prompts
        prompt = await session.get_prompt("retention_note", {"id": "C00042", "as_of": AS_OF.isoformat()})
        still_up = await session.call_tool("spend_trend", {"customer_id": "C00007", "as_of": AS_OF.isoformat()})
    return locals()


def _check(got: dict[str, Any], expected: dict[str, Any]) -> None:
    tools = got["tools"]
    assert {"customer_latest", "customer_orders", "spend_trend", "list_views", "describe_view"} <= set(tools)
    schema = tools["customer_orders"].inputSchema
    assert schema["properties"]["customer_id"]["pattern"] == r"^C\d{5}$"
    lookback = schema["properties"]["lookback_days"]
    assert (lookback["type"], lookback["default"], lookback["minimum"], lookback["maximum"]) == ("integer", 90, 1, 3650)
    assert schema["required"] == ["customer_id"]
    assert "Order activity" in tools["customer_orders"].description
    ok = got["ok"]
    assert not ok.isError
    assert ok.structuredContent["features"] == expected
    provenance = ok.structuredContent["provenance"]
    assert provenance["engine"] == "duckdb" and provenance["queries_run"] == 1 and provenance["as_of"] == "2026-06-30"
    assert got["again"].structuredContent["provenance"]["cache_hits"] == 1
    assert "C00042" in ok.content[0].text and "order_count=" in ok.content[0].text
    for bad, text in [(got["bad_id"], "does not match the pattern"), (got["bad_param"], "lookback_days"),
                      (got["unknown"], "did you mean 'customer_orders'")]:  # fmt: skip
        assert bad.isError and text in bad.content[0].text and "\n" not in bad.content[0].text
    assert got["described"].structuredContent["name"] == "spend_trend"
    views = [v["name"] for v in got["listed"].structuredContent["views"]]
    assert views == ["customer_latest", "customer_orders", "spend_trend"]
    assert [p.name for p in got["prompts"]] == ["retention_note"]
    assert "C00042" in got["prompt"].messages[0].content.text
    assert not got["still_up"].isError


def test_mcp_over_stdio(sample_dir: Path, cli: Any) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "featurekit.cli", "mcp", "--data", str(sample_dir)],
        env={**os.environ, "FEATUREKIT_CACHE_DIR": ""},
    )
    got = anyio.run(_exercise, stdio_client(params))
    _check(got, _expected(cli, sample_dir, "C00042"))


@pytest.fixture
def serve_command(sample_dir: Path, tmp_path: Path) -> Iterator[str]:
    """`featurekit serve` as a user starts it, with a tokens file."""
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    with featurekit_serve("--data", str(sample_dir), "--tokens-file", str(tokens)) as url:
        yield url


def test_mcp_over_http_inside_featurekit_serve(serve_command: str, sample_dir: Path, cli: Any) -> None:
    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
            return await _exercise(streamable_http_client(f"{serve_command}/mcp", http_client=client))

    got = anyio.run(run)
    _check(got, _expected(cli, sample_dir, "C00042"))
    denied = httpx.post(f"{serve_command}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert denied.status_code == 401 and denied.headers["content-type"] == "application/problem+json"
    features = httpx.post(
        f"{serve_command}/v1/features/customer_orders",
        json={"id": "C00042", "as_of": AS_OF.isoformat()},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()
    assert features["rows"][0] == {"customer_id": "C00042", **_expected(cli, sample_dir, "C00042")}
