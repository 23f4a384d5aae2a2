"""Feature views as Converse tools: the generated toolConfig and the bounded tool-use loop, over real HTTP."""

from __future__ import annotations

import pytest

from featurekit import FeatureStore, LLMError
from featurekit.llm.bedrock import BedrockProvider
from featurekit.llm.tools import ask, tool_config
from featurekit.testing.bedrock import ConverseFake, json_reply, text_reply, tool_use_reply
from tests.conftest import AS_OF


def test_tool_config_from_the_catalog(store: FeatureStore) -> None:
    config = tool_config(store.catalog)
    specs = {t["toolSpec"]["name"]: t["toolSpec"] for t in config["tools"]}
    assert set(specs) == set(store.catalog.views)
    orders = specs["customer_orders"]
    assert orders["description"].startswith(store.catalog.view("customer_orders").description)
    assert "total_spend (float)" in orders["description"]
    schema = orders["inputSchema"]["json"]
    assert schema["type"] == "object" and schema["required"] == ["customer_id"]
    assert schema["properties"]["customer_id"]["type"] == "string"
    assert schema["properties"]["customer_id"]["pattern"] == r"^C\d{5}$"
    assert schema["properties"]["as_of"] == {
        "type": "string",
        "format": "date",
        "description": "Point-in-time date YYYY-MM-DD the features are computed at (default: today).",
    }
    lookback = schema["properties"]["lookback_days"]
    assert (lookback["type"], lookback["minimum"], lookback["maximum"], lookback["default"]) == ("integer", 1, 3650, 90)
    assert specs["spend_trend"]["inputSchema"]["json"]["properties"]["window_days"]["minimum"] == 7
    only = tool_config(store.catalog, ["spend_trend"])
    assert [t["toolSpec"]["name"] for t in only["tools"]] == ["spend_trend"]


def test_ask_runs_the_lookup_the_model_requests(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake
) -> None:
    real = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 30})
    converse_fake.reply(
        tool_use_reply("customer_orders", {"customer_id": "C00042", "as_of": AS_OF.isoformat(), "lookback_days": 30}),
        text_reply(f"C00042 placed {real['order_count']} orders worth ${real['total_spend']:,.2f} in 30 days."),
    )
    answer = ask(store, "How much did C00042 spend in the last 30 days?", provider=bedrock, tools=["customer_orders"])
    first, second = converse_fake.bodies()
    assert [t["toolSpec"]["name"] for t in first["toolConfig"]["tools"]] == ["customer_orders"]
    assert first["messages"][0]["content"][0]["text"].startswith("How much did C00042")
    # The second request replays the assistant's tool use, then our toolResult with the real features.
    assert second["messages"][1]["content"][0]["toolUse"]["name"] == "customer_orders"
    result = second["messages"][2]["content"][0]["toolResult"]
    assert result["toolUseId"] == "tooluse-1" and result["status"] == "success"
    sent = result["content"][0]["json"]
    assert sent["features"]["order_count"] == real["order_count"]
    assert sent["features"]["total_spend"] == real["total_spend"]
    assert sent["parameters"] == {"lookback_days": 30} and sent["as_of"] == AS_OF.isoformat()
    assert answer.turns == 2 and answer.stop_reason == "end_turn"
    assert answer.facts == {"customer_orders[C00042]": sent["features"]}
    assert answer.usage["total_tokens"] == 230 + 160
    assert answer.grounding is not None and answer.grounding.ok, answer.grounding.lines()
    assert answer.calls[0].provenance is not None and answer.calls[0].provenance.view == "customer_orders"


def test_bad_tool_input_goes_back_as_an_error_result(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake
) -> None:
    converse_fake.reply(
        tool_use_reply("customer_orders", {"customer_id": "42' OR 1=1 --"}, tool_use_id="a"),
        tool_use_reply("customer_orders", {"customer_id": "C00042", "lookback_days": 99999}, tool_use_id="b"),
        tool_use_reply("refunds", {"customer_id": "C00042"}, tool_use_id="c"),
        text_reply("I could not look that up."),
    )
    answer = ask(store, "Tell me about customer 42", provider=bedrock, as_of=AS_OF)
    results = [body["messages"][-1]["content"][0]["toolResult"] for body in converse_fake.bodies()[1:]]
    assert [r["status"] for r in results] == ["error", "error", "error"]
    messages = [r["content"][0]["text"] for r in results]
    assert "does not match the pattern" in messages[0]
    assert "lookback_days" in messages[1]
    assert "unknown tool 'refunds'" in messages[2]
    assert all("\n" not in m for m in messages)
    assert answer.facts == {}
    assert [c.status for c in answer.calls] == ["error", "error", "error"]


def test_the_loop_is_bounded(store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake) -> None:
    converse_fake.always(tool_use_reply("spend_trend", {"customer_id": "C00007"}))
    with pytest.raises(LLMError) as caught:
        ask(store, "Keep looking", provider=bedrock, as_of=AS_OF, max_turns=3)
    assert caught.value.code == "max_turns"
    assert len(converse_fake.requests) == 3
    partial = caught.value.partial
    expected = store.get("spend_trend", "C00007", as_of=AS_OF)
    assert partial.facts["spend_trend[C00007]"]["trend"] == expected["trend"]
    assert len(partial.calls) == 3


def test_an_invented_number_in_the_answer_is_flagged(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake
) -> None:
    converse_fake.reply(
        tool_use_reply("customer_orders", {"customer_id": "C00042"}),
        text_reply("C00042 spent $123,456.78."),
    )
    answer = ask(store, "Spend?", provider=bedrock, as_of=AS_OF)
    assert answer.grounding is not None and answer.grounding.ungrounded_texts == ("$123,456.78",)


@pytest.mark.parametrize(
    ("final", "code"),
    [
        (json_reply({"output": {"message": {"role": "assistant", "content": []}}, "stopReason": "end_turn"}), "empty"),
        (json_reply({"stopReason": "end_turn"}), "empty"),
        (text_reply("C00042 spent", stop_reason="max_tokens"), "max_tokens"),
    ],
    ids=["empty-content", "no-output", "truncated"],
)
def test_an_empty_or_cut_answer_raises_with_the_facts(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake, final, code: str
) -> None:
    converse_fake.reply(tool_use_reply("customer_orders", {"customer_id": "C00042"}), final)
    with pytest.raises(LLMError) as caught:
        ask(store, "Spend?", provider=bedrock, as_of=AS_OF)
    assert caught.value.code == code
    expected = store.get("customer_orders", "C00042", as_of=AS_OF)
    assert caught.value.partial.facts["customer_orders[C00042]"]["order_count"] == expected["order_count"]


def test_the_answer_is_checked_by_kind_of_fact(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake
) -> None:
    row = store.get("customer_orders", "C00042", as_of=AS_OF)
    converse_fake.reply(
        tool_use_reply("customer_orders", {"customer_id": "C00042"}),
        text_reply(
            f"Customer 42 placed {row['order_count']} orders, {row['refund_rate'] * 100:.0f}% refunded; "
            f"42 orders and {row['days_since_last_order']}% are invented."
        ),
    )
    answer = ask(store, "Refunds?", provider=bedrock, as_of=AS_OF)
    assert answer.grounding is not None
    assert answer.grounding.ungrounded_texts == ("42", f"{row['days_since_last_order']}%")
    assert [m.source for m in answer.grounding.grounded] == [
        "customer_orders[C00042].entity_id (digits)",
        "customer_orders[C00042].order_count",
        "customer_orders[C00042].refund_rate",
    ]
