"""The Bedrock provider over real HTTP against the local Converse fake: what is sent, what is recorded, and that
no failure loses the features."""

from __future__ import annotations

import dataclasses
import json

import pytest
from botocore.eventstream import EventStreamBuffer

from featurekit import FeatureStore, LLMError
from featurekit.catalog.declarations import Guardrail, Inference
from featurekit.config import BedrockSettings
from featurekit.errors import ConfigError, InputError, NotFoundError
from featurekit.llm.bedrock import BedrockProvider, parse_usage
from featurekit.llm.notes import NoteCache, Partial, write_note
from featurekit.llm.prompts import RenderedPrompt
from featurekit.testing.bedrock import (
    ConverseFake,
    encode_frame,
    error_reply,
    slow_reply,
    stream_reply,
    text_reply,
)
from tests.conftest import AS_OF

ID = "C00042"


@pytest.fixture
def rendered(store: FeatureStore) -> RenderedPrompt:
    return store.prompt("retention_note", ID, as_of=AS_OF)


def grounded_text(p: RenderedPrompt) -> str:
    o = p.features["customer_orders"]
    return f"Customer {ID} placed {o['order_count']} orders totalling ${o['total_spend']:,.2f}. Send a thank-you."


# -- the request ---------------------------------------------------------------------------------------------------


def test_request_carries_system_messages_and_inference_config(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.reply(text_reply(grounded_text(rendered)))
    note = store.note("retention_note", ID, provider=bedrock, as_of=AS_OF)
    sent = converse_fake.last
    assert sent.operation == "converse"
    assert sent.model_id == "amazon.nova-lite-v1:0"
    assert sent.body["system"] == [{"text": store.catalog.prompt("retention_note").system}]
    [message] = sent.body["messages"]
    assert message["role"] == "user"
    text = message["content"][0]["text"]
    assert text == rendered.text
    assert json.dumps(rendered.features["customer_orders"]["total_spend"]) in text
    assert sent.body["inferenceConfig"] == {"maxTokens": 200, "temperature": 0.2, "topP": 0.9}
    assert "guardrailConfig" not in sent.body and "toolConfig" not in sent.body
    assert note.text == grounded_text(rendered)
    assert note.provider == "bedrock" and note.model == "amazon.nova-lite-v1:0"
    assert note.completion.stop_reason == "end_turn"
    assert note.completion.usage == {"input_tokens": 120, "output_tokens": 40, "total_tokens": 160}
    assert note.completion.latency_ms == 321.0 and note.completion.attempts == 1
    assert note.completion.request_id == "fake-1"
    assert note.grounding is not None and note.grounding.ok
    assert note.features == rendered.features
    assert note.provenance["customer_orders"].sql_hash == rendered.provenance["customer_orders"].sql_hash


def test_guardrail_stop_sequences_and_model_override(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    guarded = dataclasses.replace(
        rendered,
        guardrail=Guardrail(identifier="gr-abc123", version="3", trace="enabled"),
        inference=Inference(max_tokens=77, temperature=0.0, top_p=0.5, stop_sequences=("END",)),
    )
    override = BedrockProvider(endpoint_url=converse_fake.url, model="us.amazon.nova-lite-v1:0")
    converse_fake.reply(text_reply("ok"), text_reply("ok"))
    write_note(guarded, bedrock)
    body = converse_fake.last.body
    assert body["guardrailConfig"] == {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "3", "trace": "enabled"}
    assert body["inferenceConfig"] == {"maxTokens": 77, "temperature": 0.0, "topP": 0.5, "stopSequences": ["END"]}
    note = write_note(guarded, override)
    assert converse_fake.last.model_id == "us.amazon.nova-lite-v1:0"
    assert note.model == "us.amazon.nova-lite-v1:0"


# -- usage -----------------------------------------------------------------------------------------------------------


def test_usage_with_cache_tokens(bedrock: BedrockProvider, converse_fake: ConverseFake, rendered) -> None:
    usage = {
        "inputTokens": 1500,
        "outputTokens": 50,
        "totalTokens": 1550,
        "cacheReadInputTokens": 1024,
        "cacheWriteInputTokens": 0,
    }
    converse_fake.reply(text_reply("ok", usage=usage, metrics={"latencyMs": 87}))
    note = write_note(rendered, bedrock)
    assert note.completion.usage == {
        "input_tokens": 1500,
        "output_tokens": 50,
        "total_tokens": 1550,
        "cache_read_tokens": 1024,
        "cache_write_tokens": 0,
    }
    assert note.completion.latency_ms == 87.0


def test_response_without_usage_or_metrics_is_tolerated(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.reply(text_reply(grounded_text(rendered), omit_usage=True))
    note = write_note(rendered, bedrock)
    assert note.text == grounded_text(rendered)
    assert note.completion.usage == {} and note.completion.latency_ms is None
    assert note.completion.elapsed_ms is not None and note.completion.elapsed_ms > 0
    assert note.to_json()["usage"] == {}


def test_parse_usage_partial() -> None:
    assert parse_usage(None) == {}
    assert parse_usage({"inputTokens": 3}) == {"input_tokens": 3}


# -- failures keep the features ------------------------------------------------------------------------------------


def test_throttling_is_retried_then_surfaced_with_the_features(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.always(error_reply("ThrottlingException", "Too many requests, please wait", 429))
    with pytest.raises(LLMError) as caught:
        write_note(rendered, bedrock)
    assert len(converse_fake.requests) == 3  # total_max_attempts=3: one call, two retries
    err = caught.value
    assert err.code == "ThrottlingException"
    assert "3 attempts" in (err.hint or "")
    assert isinstance(err.partial, Partial)
    assert err.partial.features == rendered.features
    assert err.partial.prompt.text == rendered.text
    assert (
        err.partial.to_json()["features"]["customer_orders"]["order_count"]
        == rendered.features["customer_orders"]["order_count"]
    )


def test_throttling_then_success_counts_attempts(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.reply(error_reply("ThrottlingException", "slow down", 429), text_reply(grounded_text(rendered)))
    note = write_note(rendered, bedrock)
    assert len(converse_fake.requests) == 2
    assert note.completion.attempts == 2


@pytest.mark.parametrize(
    ("reply", "code", "hint"),
    [
        (
            error_reply(
                "AccessDeniedException", "You don't have access to the model with the specified model ID.", 403
            ),
            "AccessDeniedException",
            "enable model access for amazon.nova-lite-v1:0 in us-east-1",
        ),
        (
            error_reply(
                "ValidationException",
                "Invocation of model ID amazon.nova-lite-v1:0 with on-demand throughput isn't supported. Retry your "
                "request with the ID or ARN of an inference profile that contains this model.",
            ),
            "ValidationException",
            "use an inference profile ID such as us.amazon.nova-lite-v1:0",
        ),
        (
            error_reply("ValidationException", "The provided model identifier is invalid."),
            "ValidationException",
            "inference profile ID such as us.amazon.nova-lite-v1:0",
        ),
        (
            error_reply("ResourceNotFoundException", "Model not found", 404),
            "ResourceNotFoundException",
            "does not exist in us-east-1",
        ),
        (
            text_reply("Sorry, I can't help with that.", stop_reason="guardrail_intervened"),
            "guardrail_intervened",
            "trace",
        ),
        (text_reply("Customer C00042 placed", stop_reason="max_tokens"), "max_tokens", "max_tokens=200"),
    ],
    ids=["access-denied", "on-demand-not-supported", "invalid-model-id", "not-found", "guardrail", "max-tokens"],
)
def test_each_failure_keeps_features_and_says_what_to_do(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt, reply, code: str, hint: str
) -> None:
    converse_fake.reply(reply)
    with pytest.raises(LLMError) as caught:
        write_note(rendered, bedrock)
    err = caught.value
    assert err.code == code
    assert hint in (err.hint or ""), err.hint
    assert hint in str(err)
    assert err.partial.features == rendered.features
    assert err.partial.provenance == rendered.provenance
    assert len(converse_fake.requests) == 1  # client errors and stop reasons are not retried


def test_stop_reason_failures_keep_the_model_output(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.reply(text_reply("Customer C00042 placed", stop_reason="max_tokens"))
    with pytest.raises(LLMError) as caught:
        write_note(rendered, bedrock)
    assert caught.value.partial.completion.text == "Customer C00042 placed"


def test_read_timeout_keeps_features(converse_fake: ConverseFake, aws_env: None, rendered: RenderedPrompt) -> None:
    slow = BedrockProvider(endpoint_url=converse_fake.url, read_timeout=0.2, max_attempts=1)
    converse_fake.reply(slow_reply(1.0))
    with pytest.raises(LLMError) as caught:
        write_note(rendered, slow)
    assert caught.value.code == "Timeout"
    assert "READ_TIMEOUT" in (caught.value.hint or "")
    assert caught.value.partial.features == rendered.features


def test_failure_through_the_store_keeps_features(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake
) -> None:
    converse_fake.always(error_reply("ThrottlingException", "Too many requests", 429))
    with pytest.raises(LLMError) as caught:
        store.note("retention_note", ID, provider=bedrock, as_of=AS_OF)
    expected = dict(store.get("customer_orders", ID, as_of=AS_OF))
    assert dict(caught.value.partial.features["customer_orders"]) == expected


# -- streaming -------------------------------------------------------------------------------------------------------


def test_event_stream_frames_decode_with_botocore() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(encode_frame({":event-type": "messageStop", ":message-type": "event"}, b'{"stopReason":"x"}'))
    [message] = list(buffer)
    assert message.headers == {":event-type": "messageStop", ":message-type": "event"}
    assert message.payload == b'{"stopReason":"x"}'


def test_streaming_yields_chunks_and_records_usage(
    converse_fake: ConverseFake, aws_env: None, rendered: RenderedPrompt
) -> None:
    seen: list[str] = []
    streaming = BedrockProvider(endpoint_url=converse_fake.url, stream=True, on_text=seen.append)
    chunks = [f"Customer {ID} ", "placed ", f"{rendered.features['customer_orders']['order_count']} orders."]
    converse_fake.reply(stream_reply(chunks, usage={"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}))
    note = write_note(rendered, streaming)
    assert converse_fake.last.operation == "converse-stream"
    assert converse_fake.last.body["inferenceConfig"]["maxTokens"] == 200
    assert seen == chunks
    assert note.text == "".join(chunks)
    assert note.completion.usage == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert note.completion.latency_ms == 222.0
    assert note.grounding is not None and note.grounding.ok


def test_streaming_guardrail_is_synchronous(converse_fake: ConverseFake, aws_env: None, rendered) -> None:
    guarded = dataclasses.replace(rendered, guardrail=Guardrail(identifier="gr-1"))
    converse_fake.reply(stream_reply(["ok"]))
    write_note(guarded, BedrockProvider(endpoint_url=converse_fake.url, stream=True))
    assert converse_fake.last.body["guardrailConfig"]["streamProcessingMode"] == "sync"


def test_streaming_without_metadata_and_with_an_error_event(
    converse_fake: ConverseFake, aws_env: None, rendered: RenderedPrompt
) -> None:
    streaming = BedrockProvider(endpoint_url=converse_fake.url, stream=True)
    converse_fake.reply(stream_reply(["fine"], omit_metadata=True))
    assert write_note(rendered, streaming).completion.usage == {}
    converse_fake.reply(stream_reply(["half"], fail_with=("throttlingException", "slow down")))
    with pytest.raises(LLMError) as caught:
        write_note(rendered, streaming)
    assert caught.value.code == "ThrottlingException"
    assert "1 attempts" in (caught.value.hint or "")
    assert caught.value.partial.features == rendered.features


# -- grounding policy with a model that invents a number --------------------------------------------------------------


def test_invented_number_is_flagged(bedrock: BedrockProvider, converse_fake: ConverseFake, rendered) -> None:
    converse_fake.reply(text_reply(f"Customer {ID} spent $98,765.43 over 90 days. Offer a discount."))
    note = write_note(rendered, bedrock)
    assert note.grounding is not None and not note.grounding.ok
    assert note.grounding.ungrounded_texts == ("$98,765.43",)
    assert {m.source for m in note.grounding.grounded} == {
        "prompt.entity_id",
        "customer_orders.lookback_days (parameter)",
    }
    assert note.grounding_action == "none"
    assert note.to_json()["grounding"]["ungrounded"][0]["text"] == "$98,765.43"


def test_retry_policy_sends_a_corrective_instruction(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.reply(text_reply(f"Customer {ID} spent $98,765.43."), text_reply(grounded_text(rendered)))
    note = write_note(rendered, bedrock, grounding="retry")
    assert len(converse_fake.requests) == 2
    second = converse_fake.requests[1].body["messages"][0]["content"][0]["text"]
    assert second.startswith(rendered.text) and "$98,765.43" in second
    assert note.text == grounded_text(rendered)
    assert note.grounding_action == "retried" and note.grounding is not None and note.grounding.ok
    assert note.rejected is not None and "$98,765.43" in note.rejected.text


def test_fallback_policy_writes_the_offline_note(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.reply(text_reply(f"Customer {ID} spent $98,765.43."))
    note = write_note(rendered, bedrock, grounding="fallback")
    assert note.text == rendered.offline_text and note.offline
    assert note.grounding_action == "fallback" and note.grounding is not None and note.grounding.ok
    assert len(converse_fake.requests) == 1


def test_unknown_policy_is_an_input_error(rendered: RenderedPrompt) -> None:
    with pytest.raises(InputError, match="grounding"):
        write_note(rendered, BedrockProvider(), grounding="ignore")


# -- the note cache --------------------------------------------------------------------------------------------------


def test_note_cache_answers_repeat_notes_without_a_call(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.always(text_reply(grounded_text(rendered)))
    first = store.note("retention_note", ID, provider=bedrock, as_of=AS_OF)
    again = store.note("retention_note", ID, provider=bedrock, as_of=AS_OF)
    assert len(converse_fake.requests) == 1
    assert not first.cached and again.cached and again.text == first.text
    # Different features (another window), another model or policy: a new call each.
    store.note("retention_note", ID, provider=bedrock, as_of=AS_OF, params={"lookback_days": 30})
    other_model = BedrockProvider(endpoint_url=converse_fake.url, model="us.amazon.nova-lite-v1:0")
    store.note("retention_note", ID, provider=other_model, as_of=AS_OF)
    store.note("retention_note", ID, provider=bedrock, as_of=AS_OF, grounding="fallback")
    assert len(converse_fake.requests) == 4
    store.note("retention_note", ID, provider=bedrock, as_of=AS_OF, use_cache=False)
    assert len(converse_fake.requests) == 5


def test_note_cache_ttl_and_failures_not_cached(
    bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    now = [0.0]
    cache = NoteCache(ttl=60, clock=lambda: now[0])
    converse_fake.reply(error_reply("AccessDeniedException", "denied", 403))
    with pytest.raises(LLMError):
        write_note(rendered, bedrock, cache=cache)
    converse_fake.always(text_reply("ok"))
    write_note(rendered, bedrock, cache=cache)
    assert write_note(rendered, bedrock, cache=cache).cached
    assert len(converse_fake.requests) == 2
    now[0] = 61.0
    assert not write_note(rendered, bedrock, cache=cache).cached
    assert len(converse_fake.requests) == 3


# -- settings --------------------------------------------------------------------------------------------------------


def test_settings_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "FEATUREKIT_BEDROCK_REGION": "eu-west-1",
        "AWS_REGION": "us-west-2",
        "FEATUREKIT_BEDROCK_MAX_ATTEMPTS": "7",
    }.items():
        monkeypatch.setenv(name, value)
    assert BedrockProvider().settings.region == "eu-west-1"
    assert BedrockProvider().settings.max_attempts == 7
    assert BedrockProvider(region="ap-south-1").settings.region == "ap-south-1"
    monkeypatch.delenv("FEATUREKIT_BEDROCK_REGION")
    assert BedrockProvider().settings.region == "us-west-2"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert BedrockProvider().settings.region == "us-east-1"
    monkeypatch.setenv("FEATUREKIT_BEDROCK_MAX_ATTEMPTS", "many")
    with pytest.raises(ConfigError, match="max_attempts"):
        BedrockProvider()
    monkeypatch.setenv("FEATUREKIT_BEDROCK_MAX_ATTEMPTS", "2")
    with pytest.raises(NotFoundError, match="did you mean 'read_timeout'"):
        BedrockProvider(read_timout=3)
    # A profile file names an engine; it never leaks into (or breaks) the provider's settings.
    monkeypatch.setenv("FEATUREKIT_PROFILE", "prod")
    assert BedrockSettings() == BedrockSettings.model_validate({}) and BedrockProvider().settings.max_attempts == 2


def test_client_is_configured_with_explicit_retries_and_timeouts(aws_env: None) -> None:
    provider = BedrockProvider(region="eu-central-1", max_attempts=5, connect_timeout=2, read_timeout=9)
    config = provider.client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (2, 9)
    assert provider.client.meta.region_name == "eu-central-1"
