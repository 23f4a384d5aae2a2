"""Feature views as LangChain and Strands tools, invoked through each framework's own tool interface (no model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from featurekit import FeatureStore
from tests.conftest import AS_OF


@pytest.fixture
def fresh(sample_dir: Path) -> Iterator[FeatureStore]:
    with FeatureStore(data=sample_dir, cache=False) as s:
        yield s


def test_langchain_structured_tools(fresh: FeatureStore) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.messages import ToolMessage

    from featurekit.integrations.langchain import feature_tools

    tools = {t.name: t for t in feature_tools(fresh)}
    assert set(tools) == {"customer_latest", "customer_orders", "spend_trend"}
    tool = tools["customer_orders"]
    assert tool.args["customer_id"]["pattern"] == r"^C\d{5}$"
    call = {"type": "tool_call", "id": "1", "name": "customer_orders",
            "args": {"customer_id": "C00042", "as_of": AS_OF.isoformat(), "lookback_days": 30}}  # fmt: skip
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage) and message.status == "success"
    want = fresh.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 30})
    expected = {k: v for k, v in want.to_json()["rows"][0].items() if k != "customer_id"}
    assert message.artifact["features"] == expected
    assert message.artifact["provenance"]["engine"] == "duckdb"
    assert "C00042" in message.content
    bad = tool.invoke({**call, "args": {"customer_id": "C42'--"}})
    assert bad.status == "error" and "does not match the pattern" in bad.content and "\n" not in bad.content


def test_strands_tools_through_the_agent(fresh: FeatureStore, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("strands")
    from strands import Agent

    from featurekit.integrations.strands import feature_tools

    monkeypatch.setenv("AWS_REGION", "us-east-1")  # the default model's client is built, never called
    agent = Agent(tools=feature_tools(fresh), callback_handler=None)
    assert set(agent.tool_names) == {"customer_latest", "customer_orders", "spend_trend"}
    result = agent.tool.customer_orders(customer_id="C00042", as_of=AS_OF.isoformat(), record_direct_tool_call=False)
    assert result["status"] == "success"
    structured = result["content"][1]["json"]
    want = fresh.get("customer_orders", "C00042", as_of=AS_OF)
    assert structured["features"] == {k: v for k, v in want.to_json()["rows"][0].items() if k != "customer_id"}
    assert structured["provenance"]["queries_run"] == 1
    bad = agent.tool.spend_trend(customer_id="C00042", window_days=0, record_direct_tool_call=False)
    assert bad["status"] == "error" and "window_days" in bad["content"][0]["text"]
