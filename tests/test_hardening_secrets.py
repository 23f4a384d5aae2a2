"""Hardening (issue 7): credentials never appear in featurekit's logs, errors, results or reprs.

Distinctive credential values are put in the environment; the Athena and Bedrock paths are run
through success and failure with every logger at DEBUG; nothing featurekit logs, raises or returns
may contain the secret access key or the session token.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import featurekit
from featurekit.errors import FeaturekitError
from featurekit.testing.athena import C42, COLUMNS, AthenaFake
from featurekit.testing.bedrock import ConverseFake, error_reply, text_reply
from tests.conftest import AS_OF
from tests.hardening_support import immediate, tried

SECRET = "fkSeCrEt/AcCeSsKeY+0123456789abcdefghijKLM"
TOKEN = "fkSeSsIoNtOkEn//0123456789ZYXWVUTSRQ=="
KEY_ID = "AKIAFKHARDENING00001"
# botocore (not featurekit) logs request headers, the session token among them, at DEBUG.
FOREIGN = ("botocore", "urllib3", "werkzeug", "s3transfer", "boto3")


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)


def leaks(*texts: Any) -> list[str]:
    found = []
    for text in texts:
        shown = text if isinstance(text, str) else repr(text)
        for secret in (SECRET, TOKEN, SECRET[:16], TOKEN[:16]):
            if secret in shown:
                found.append(f"{secret[:6]}... in {shown[:200]!r}")
    return found


def own_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith(FOREIGN)]


def test_athena_logs_and_errors_never_carry_credentials(
    athena_fake: AthenaFake, secrets_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[Any] = []
    immediate(athena_fake)
    engine = athena_fake.engine(retry_attempts=2)
    with featurekit.FeatureStore(engine=engine) as store:
        athena_fake.inject(COLUMNS, C42)
        row = store.get("customer_orders", "C00042", as_of="2024-05-01")
        seen += [row, row.provenance, row.provenance.to_dict(), store.session_queries, engine.settings, engine]
        athena_fake.proxy.fail["*"] = "HIVE_CANNOT_OPEN_SPLIT: bad file"
        with pytest.raises(FeaturekitError) as failed:
            store.get("customer_orders", "C00042", as_of="2024-05-02")
        athena_fake.proxy.fail.clear()
        athena_fake.proxy.throttle["StartQueryExecution"] = 9
        with pytest.raises(FeaturekitError) as throttled:
            store.get("customer_orders", "C00042", as_of="2024-05-03")
        athena_fake.proxy.throttle.clear()
    athena_fake.manual_progression()
    engine = athena_fake.engine(query_timeout=0.3)
    with featurekit.FeatureStore(engine=engine) as store, pytest.raises(FeaturekitError) as timed_out:
        store.get("customer_orders", "C00042", as_of="2024-05-04")
    for caught in (failed, throttled, timed_out):
        tried("secrets: Athena scenarios")
        seen += [str(caught.value), repr(caught.value), vars(caught.value)]
    assert len(seen) > 6
    messages = own_logs(caplog)
    assert any("featurekit.athena" in m for m in messages)  # featurekit did log, at every level
    assert leaks(*seen, *messages) == []


def test_athena_credential_errors_do_not_echo_them(athena_fake: AthenaFake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Half-set credentials: the error names the setting, not the value that was set."""
    tried("secrets: Athena scenarios")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    with featurekit.FeatureStore(engine=athena_fake.engine()) as store, pytest.raises(FeaturekitError) as caught:
        store.get("customer_orders", "C00042", as_of="2024-05-01")
    assert leaks(str(caught.value), repr(caught.value), vars(caught.value)) == []


def test_bedrock_logs_and_errors_never_carry_credentials(
    store: featurekit.FeatureStore,
    converse_fake: ConverseFake,
    aws_env: None,
    no_backoff: None,
    secrets_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from featurekit.errors import LLMError
    from featurekit.llm.bedrock import BedrockProvider

    caplog.set_level(logging.DEBUG)
    provider = BedrockProvider(endpoint_url=converse_fake.url, region="us-east-1", max_attempts=2, read_timeout=5)
    seen: list[Any] = [provider]
    converse_fake.reply(text_reply("Customer C00042 placed orders."))
    note = store.note("retention_note", "C00042", provider=provider, as_of=AS_OF, use_cache=False)
    seen += [note, json.dumps(note.to_json(), default=str)]
    for reply in (
        error_reply("AccessDeniedException", "You don't have access to the model", 403),
        error_reply("ThrottlingException", "Too many requests", 429),
        error_reply("ValidationException", "The provided model identifier is invalid.", 400),
        error_reply("InternalServerException", "boom", 500),
    ):
        tried("secrets: Bedrock scenarios")
        converse_fake.always(reply)
        with pytest.raises(LLMError) as caught:
            store.note("retention_note", "C00042", provider=provider, as_of=AS_OF, use_cache=False)
        seen += [str(caught.value), repr(caught.value), caught.value.hint, repr(caught.value.partial)]
    assert leaks(*seen, *own_logs(caplog)) == []


def test_botocore_debug_logs_do_not_carry_the_session_token(
    athena_fake: AthenaFake, secrets_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    athena_fake.inject(COLUMNS, C42)
    with featurekit.FeatureStore(engine=athena_fake.engine()) as store:
        store.get("customer_orders", "C00042", as_of="2024-05-01")
    botocore = [r.getMessage() for r in caplog.records if r.name.startswith("botocore")]
    # The records that used to carry the token are still there, with the value redacted.
    assert any("x-amz-security-token" in m.lower() and "<redacted>" in m for m in botocore), botocore[:5]
    assert leaks(*botocore) == []


# -- SQL logging: values can be redacted, and never forge a log line --------------------------------


@pytest.fixture
def probe_catalog(tmp_path: Any) -> Any:
    from tests.hardening_support import write_probe_catalog

    catalog, _ = write_probe_catalog(tmp_path)
    return catalog


PROBE_COLUMNS = [
    ("thing_id", "varchar"),
    *((n, "bigint") for n in ("n", "n_label", "n_score", "n_day", "n_flag", "n_qty")),
    ("echo", "varchar"),
]


def athena_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "featurekit.athena"]


def test_parameter_values_can_be_left_out_of_the_log(
    athena_fake: AthenaFake, probe_catalog: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tried("secrets: SQL log redaction")
    caplog.set_level(logging.DEBUG)
    engine = athena_fake.engine(log_parameter_values=False)
    with featurekit.FeatureStore(probe_catalog, engine=engine) as store:
        athena_fake.inject(PROBE_COLUMNS)
        store.get("probe", "T1", params={"label": "patient-4711 diagnosis", "qty": 3})
    [line] = athena_lines(caplog)
    assert "params=as_of=<redacted>,flag=<redacted>,label=<redacted>," in line
    assert "4711" not in " ".join(m for m in own_logs(caplog) if m.startswith("featurekit"))
    # PyAthena formats values into the query text client-side and logs that text at DEBUG (documented).


def test_a_parameter_value_cannot_forge_a_log_line(
    athena_fake: AthenaFake, probe_catalog: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tried("secrets: SQL log redaction")
    caplog.set_level(logging.INFO)
    forged = "x\nathena query view=admin query_id=forged state=SUCCEEDED"
    with featurekit.FeatureStore(probe_catalog, engine=athena_fake.engine()) as store:
        athena_fake.inject(PROBE_COLUMNS)
        store.get("probe", "T1", params={"label": forged})
    [line] = athena_lines(caplog)
    assert "\n" not in line and "label=x\\nathena query view=admin" in line
