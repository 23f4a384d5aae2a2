"""An empty, truncated or unparseable model answer is not a note: LLMError with the features, nothing cached.

Issue 12, "Why" 8: a Converse reply with `"content": []` once became `Note(text='')`, reported grounded (zero numbers,
so "all match"), and the note cache kept it for an hour. Every case here goes through the Converse fake over real
HTTP (or the offline provider) and checks the error, the features it keeps, and that a second call asks again.
"""

from __future__ import annotations

import dataclasses

import pytest

from featurekit import FeatureStore, LLMError
from featurekit.llm.bedrock import BedrockProvider
from featurekit.llm.notes import NoteCache, write_note
from featurekit.llm.prompts import RenderedPrompt
from featurekit.llm.providers import OfflineProvider
from featurekit.testing.bedrock import ConverseFake, Reply, json_reply, stream_reply, text_reply
from tests.conftest import AS_OF

ID = "C00042"
USAGE = {"inputTokens": 120, "outputTokens": 0, "totalTokens": 120}

UNUSABLE = {
    "empty-content": json_reply(
        {"output": {"message": {"role": "assistant", "content": []}}, "stopReason": "end_turn", "usage": USAGE}
    ),
    "no-output": json_reply({"stopReason": "end_turn", "usage": USAGE}),
    "whitespace-only": text_reply("  \n "),
    "no-text-block": json_reply(
        {"output": {"message": {"role": "assistant", "content": [{"image": {}}]}}, "stopReason": "end_turn"}
    ),
    "truncated": text_reply("Customer C00042 placed", stop_reason="max_tokens"),
    "not-json": Reply(200, b"<html>502 Bad Gateway</html>", {"Content-Type": "application/json"}),
    "wrong-shape": json_reply({"output": "garbage", "stopReason": 5}),
}
CODES = {"truncated": "max_tokens", "wrong-shape": "unparseable"}


@pytest.fixture
def rendered(store: FeatureStore) -> RenderedPrompt:
    return store.prompt("retention_note", ID, as_of=AS_OF)


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_answer_raises_with_features_and_is_not_cached(
    case: str, bedrock: BedrockProvider, converse_fake: ConverseFake, rendered: RenderedPrompt
) -> None:
    converse_fake.always(UNUSABLE[case])
    cache = NoteCache()
    for attempt in (1, 2):
        with pytest.raises(LLMError) as caught:
            write_note(rendered, bedrock, cache=cache)
        err = caught.value
        assert err.partial is not None
        assert err.partial.features == rendered.features
        assert err.partial.provenance == rendered.provenance
        assert err.code == CODES.get(case, "empty"), str(err)
        # Nothing was cached: the second call reaches the model again.
        assert len(converse_fake.requests) == attempt
    assert cache.stats().entries == 0


def test_an_empty_stream_is_unusable(converse_fake: ConverseFake, aws_env: None, rendered: RenderedPrompt) -> None:
    streaming = BedrockProvider(endpoint_url=converse_fake.url, stream=True)
    converse_fake.always(stream_reply([]))
    with pytest.raises(LLMError) as caught:
        write_note(rendered, streaming)
    assert caught.value.code == "empty"
    assert "returned no text" in str(caught.value)


def test_the_store_does_not_cache_an_empty_note(
    store: FeatureStore, bedrock: BedrockProvider, converse_fake: ConverseFake
) -> None:
    converse_fake.reply(UNUSABLE["empty-content"], text_reply(f"Customer {ID} is a customer."))
    with pytest.raises(LLMError):
        store.note("retention_note", ID, provider=bedrock, as_of=AS_OF)
    note = store.note("retention_note", ID, provider=bedrock, as_of=AS_OF)
    assert note.text == f"Customer {ID} is a customer." and not note.cached
    assert len(converse_fake.requests) == 2


def test_an_empty_offline_note_is_unusable(rendered: RenderedPrompt) -> None:
    blank = dataclasses.replace(rendered, offline_text="")
    with pytest.raises(LLMError) as caught:
        write_note(blank, OfflineProvider())
    assert caught.value.code == "empty"
    assert caught.value.partial.features == rendered.features


def test_cli_exits_non_zero_with_one_line(cli, sample_dir, converse_fake: ConverseFake, aws_env: None) -> None:
    converse_fake.always(UNUSABLE["empty-content"])
    code, out, err = cli(
        "note", "retention_note", ID, "--provider", "bedrock", "--endpoint-url", converse_fake.url,
        "--data", sample_dir, "--as-of", AS_OF,
    )  # fmt: skip
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {ID}: bedrock returned no text"), line
    assert "features (kept" in out
