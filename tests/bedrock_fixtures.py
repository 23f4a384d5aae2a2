"""Fixtures for Bedrock tests: a Converse fake on a free 127.0.0.1 port, and a provider pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from featurekit.testing.bedrock import ConverseFake


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dummy credentials and no shared AWS config, so nothing on the machine (or the network) is consulted."""
    empty = tmp_path_factory.mktemp("aws") / "none"
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in list(__import__("os").environ):
        if name.startswith("FEATUREKIT_BEDROCK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry sleeps up to 1 s, 2 s… between throttled attempts; the attempts still happen."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture
def converse_fake() -> Iterator[ConverseFake]:
    with ConverseFake() as fake:
        yield fake


@pytest.fixture
def bedrock(converse_fake: ConverseFake, aws_env: None, no_backoff: None):
    """A BedrockProvider talking to the fake over real HTTP, 3 attempts per call."""
    from featurekit.llm.bedrock import BedrockProvider

    return BedrockProvider(endpoint_url=converse_fake.url, region="us-east-1", max_attempts=3, read_timeout=5)
