"""`featurekit note --provider bedrock` against the Converse fake: text, usage, grounding report, failures."""

from __future__ import annotations

import json

from featurekit.testing.bedrock import ConverseFake, error_reply, stream_reply, text_reply
from tests.conftest import AS_OF


def note(cli, sample_dir, fake: ConverseFake, *extra: str):
    return cli(
        "note", "retention_note", "C00042", "--provider", "bedrock", "--endpoint-url", fake.url,
        "--data", sample_dir, "--as-of", AS_OF, *extra,
    )  # fmt: skip


def test_note_prints_text_usage_and_grounding(cli, sample_dir, converse_fake, aws_env, store) -> None:
    spend = store.get("customer_orders", "C00042", as_of=AS_OF)["total_spend"]
    converse_fake.always(text_reply(f"Customer C00042 spent ${spend:,.2f} in the 90 days to {AS_OF}. Call them."))
    code, out, err = note(cli, sample_dir, converse_fake)
    assert code == 0, err
    assert f"Customer C00042 spent ${spend:,.2f}" in out
    assert "tokens: input 120, output 40, total 160" in out and "stop end_turn" in out
    assert "grounded: all 4 numbers match a fact" in out
    assert f"${spend:,.2f} ← customer_orders.total_spend" in out


def test_an_invented_number_is_flagged(cli, sample_dir, converse_fake, aws_env) -> None:
    converse_fake.always(text_reply("Customer C00042 grew spend by 23% this quarter."))
    code, out, _ = note(cli, sample_dir, converse_fake)
    assert code == 0
    assert "NOT grounded: 1 of 2 numbers match no fact: 23%" in out
    assert "✗ 23%" in out


def test_throttling_beyond_retries_exits_non_zero_and_keeps_features(
    cli, sample_dir, converse_fake, aws_env, no_backoff, store
) -> None:
    converse_fake.always(error_reply("ThrottlingException", "Too many requests", 429))
    code, out, err = note(cli, sample_dir, converse_fake)
    assert code == 1
    assert len(converse_fake.requests) == 3  # FEATUREKIT_BEDROCK_MAX_ATTEMPTS default
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: C00042: Bedrock ThrottlingException") and "retry later" in lines[0]
    features = store.get("customer_orders", "C00042", as_of=AS_OF)
    assert "features (kept" in out and f'"total_spend": {features["total_spend"]}' in out


def test_json_output_carries_the_error_and_the_features(cli, sample_dir, converse_fake, aws_env) -> None:
    converse_fake.always(error_reply("AccessDeniedException", "You don't have access to the model.", 403))
    code, out, err = note(cli, sample_dir, converse_fake, "--format", "json")
    assert code == 1
    [entry] = json.loads(out)["items"]
    assert entry["error"]["code"] == "AccessDeniedException"
    assert "enable model access for amazon.nova-lite-v1:0 in us-east-1" in entry["error"]["hint"]
    assert entry["features"]["customer_orders"]["order_count"] >= 0
    assert "enable model access" in err


def test_stream_and_model_override(cli, sample_dir, converse_fake, aws_env) -> None:
    converse_fake.always(stream_reply(["Customer C00042 ", "is a customer."]))
    code, out, _ = note(cli, sample_dir, converse_fake, "--stream", "--model", "us.amazon.nova-lite-v1:0")
    assert code == 0
    assert converse_fake.last.operation == "converse-stream"
    assert converse_fake.last.model_id == "us.amazon.nova-lite-v1:0"
    assert "Customer C00042 is a customer." in out and "us.amazon.nova-lite-v1:0" in out


def test_grounding_fallback_from_the_cli(cli, sample_dir, converse_fake, aws_env) -> None:
    converse_fake.always(text_reply("Customer C00042 spent $1,000,000."))
    code, out, _ = note(cli, sample_dir, converse_fake, "--grounding", "fallback")
    assert code == 0
    assert "grounding: fallback" in out and "Customer C00042 placed" in out
    assert "grounded: all" in out


def test_offline_note_needs_no_aws_settings(cli, sample_dir, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    code, out, _ = cli("note", "retention_note", "C00042", "--data", sample_dir, "--as-of", AS_OF)
    assert code == 0 and "offline note" in out and "grounded: all" in out


def test_strict_grounding_fails_the_note_with_one_line(cli, sample_dir, converse_fake, aws_env) -> None:
    converse_fake.always(text_reply("Customer C00042 placed twelve orders, up 23% on last quarter."))
    code, out, err = note(cli, sample_dir, converse_fake, "--grounding", "strict")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("error: C00042: the note is not grounded: 2 numbers match no fact (twelve, 23%)"), line
    assert "features (kept" in out
