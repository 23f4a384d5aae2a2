"""Shared fixtures: a sample dataset written once per test session, and stores over it."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import featurekit
from featurekit.sample import write_sample

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial-sized dataset (400 orders, 60 customers) ending at AS_OF."""
    folder = tmp_path_factory.mktemp("sample")
    write_sample(folder, customers=60, orders=400, as_of=AS_OF)
    return folder


@pytest.fixture
def store(sample_dir: Path) -> Iterator[featurekit.FeatureStore]:
    with featurekit.FeatureStore(data=sample_dir) as s:
        yield s


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run the real entry point (with its error handling) in-process: returns (exit code, stdout, stderr)."""
    from featurekit.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["featurekit", *map(str, args)])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# --- Athena over HTTP (moto server + recording proxy); the fixtures live in src/featurekit/testing/athena.py ---


@pytest.fixture
def athena_fake(featurekit_athena):  # the project's name for the shipped fixture (featurekit.testing.plugin)
    return featurekit_athena


from tests.bedrock_fixtures import aws_env, bedrock, converse_fake, no_backoff  # noqa: E402, F401

# --- hardening suite (issue 7): count the inputs each hardening test tried and report the totals ---
from tests.hardening_support import (  # noqa: E402, F401
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)

# --- a real redis-server on a free loopback port, for the shared cache tier and the feature server ---
from tests.redis_server import redis_url  # noqa: E402, F401
