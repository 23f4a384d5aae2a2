"""pytest plugin (entry point `pytest11`): opt-in fixtures for testing a catalog offline.

Loading the plugin costs nothing: a fixture starts its fake only when a test asks for it.

- `featurekit_athena`: an `AthenaFake` (moto's Athena/S3 on 127.0.0.1, one server per test session, reset
  before each test), dummy AWS credentials in the environment; `featurekit_athena.compute_on_duckdb(catalog, data)`
  makes every query's result the one DuckDB computes over `data`.
- `featurekit_converse`: a `ConverseFake` (Bedrock Converse/ConverseStream) with scripted replies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .athena import DUMMY_ENV, NO_PROFILE, AthenaFake, moto_server, reset
from .bedrock import ConverseFake


@pytest.fixture(scope="session")
def featurekit_moto_server() -> Iterator[tuple[str, Any, str]]:
    with moto_server() as (moto_endpoint, state, proxy_endpoint):
        state.proxy_endpoint = proxy_endpoint
        yield moto_endpoint, state, proxy_endpoint


@pytest.fixture
def featurekit_athena(
    featurekit_moto_server: tuple[str, Any, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[AthenaFake]:
    """A clean moto (reset), dummy credentials in the environment, the results bucket created."""
    moto_endpoint, state, _ = featurekit_moto_server
    for k, v in DUMMY_ENV.items():
        monkeypatch.setenv(k, v)
    for k in NO_PROFILE:
        monkeypatch.delenv(k, raising=False)
    fake = reset(moto_endpoint, state)
    yield fake
    fake.close()


@pytest.fixture
def featurekit_converse() -> Iterator[ConverseFake]:
    with ConverseFake() as fake:
        yield fake
