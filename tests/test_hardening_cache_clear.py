"""Hardening: a clear reaches every process that shares the cache's tier (SQLite file or Redis).

Before, `featurekit cache clear` (or `cache.clear()` in one process) emptied the shared tier, but every other
process kept answering from its own memory until the TTL ran out, and a fetch that began before the clear in
another process wrote its rows into the emptied tier afterwards, so every process read them again: the answers
the clear was for. Now the tier counts its clears (its epoch), every lookup reads it, and tier keys carry it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from featurekit import FeatureStore
from featurekit.cache import FeatureCache

from .conftest import AS_OF
from .test_hardening_cache_fills import _run

KINDS = ["disk", "redis"]


class _Codec:
    def encode(self, values: Any) -> dict[Any, bytes]:
        return {i: json.dumps(v).encode() for i, v in values.items()}

    def decode(self, blobs: Any) -> dict[Any, Any]:
        return {i: json.loads(b) for i, b in blobs.items()}


def _never(ids: list[Any]) -> Any:
    raise AssertionError(f"fetched {ids}: the cache should have answered")


def _sharing(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[FeatureCache, FeatureCache]:
    """Two caches over one tier, as two processes have them: each with its own connection and its own memory."""
    if kind == "disk":
        return FeatureCache(path=tmp_path), FeatureCache(path=tmp_path)
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    url, namespace = request.getfixturevalue("redis_url"), uuid.uuid4().hex
    first, second = (RedisTier(url, namespace=namespace) for _ in range(2))
    return FeatureCache(tier=first), FeatureCache(tier=second)


@pytest.mark.parametrize("kind", KINDS)
def test_a_clear_elsewhere_empties_this_processs_memory(kind: str, tmp_path: Path, request: Any) -> None:
    here, there = _sharing(kind, tmp_path, request)
    codec = _Codec()
    assert dict(here.lookup(("p",), ["a"], lambda ids: {"a": "old"}, codec)[0]) == {"a": "old"}
    assert here.lookup(("p",), ["a"], _never, codec)[1] == 1  # answered from memory
    there.clear()
    values, hits = here.lookup(("p",), ["a"], lambda ids: {"a": "new"}, codec)
    assert (dict(values), hits) == ({"a": "new"}, 0)
    # What was fetched after the clear is shared as before.
    assert dict(there.lookup(("p",), ["a"], _never, codec)[0]) == {"a": "new"}
    here.close(), there.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_fetch_begun_before_a_clear_elsewhere_is_not_shared_after_it(kind: str, tmp_path: Path, request: Any) -> None:
    here, there = _sharing(kind, tmp_path, request)
    codec = _Codec()
    started, release = threading.Event(), threading.Event()

    def slow(ids: list[str]) -> Any:
        started.set()
        release.wait(10)
        return {"a": "old"}

    first, out = _run(lambda: dict(here.lookup(("p",), ["a"], slow, codec)[0]))
    assert started.wait(10)
    there.clear()
    release.set()
    first.join(10)
    assert out == {"value": {"a": "old"}}  # its caller asked before the clear
    # Its rows reached the tier after the clear, under the old epoch: the other process does not read them...
    assert dict(there.lookup(("p",), ["a"], lambda ids: {"a": "new"}, codec)[0]) == {"a": "new"}
    # ...and this one, at its next lookup, drops what it kept in memory and reads what was fetched since.
    values, hits = here.lookup(("p",), ["a"], _never, codec)
    assert (dict(values), hits) == ({"a": "new"}, 1)
    here.close(), there.close()


def test_a_cache_clear_command_reaches_a_running_store(sample_dir: Path, tmp_path: Path) -> None:
    """The user's case: a notebook holds entries in memory; `featurekit cache clear` runs in another process."""
    cache_dir = tmp_path / "cache"
    with FeatureStore(data=sample_dir, cache_dir=cache_dir) as store:
        first = store.get("customer_orders", "C00042", as_of=AS_OF)
        assert store.get("customer_orders", "C00042", as_of=AS_OF).provenance.cache_hits == 1
        done = subprocess.run(
            [sys.executable, "-m", "featurekit.cli", "cache", "clear", "--cache-dir", str(cache_dir)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and done.stdout.strip() == f"cleared {cache_dir / 'featurekit-cache.sqlite3'}"
        again = store.get("customer_orders", "C00042", as_of=AS_OF)
        assert (again.provenance.queries_run, again.provenance.cache_hits) == (1, 0)
        assert again.to_dict() == first.to_dict()


def test_cache_commands_clear_and_count_a_redis_cache(cli: Any, redis_url: str, sample_dir: Path) -> None:
    pytest.importorskip("redis")
    from featurekit.cache_redis import RedisTier

    with FeatureStore(data=sample_dir, cache=FeatureCache(tier=RedisTier(redis_url))) as store:
        store.get("customer_orders", ["C00042", "C00007"], as_of=AS_OF)
        code, out, _ = cli("cache", "stats", "--redis", redis_url, "-f", "json")
        assert code == 0 and json.loads(out)["items"][0]["disk_entries"] == 2
        code, out, _ = cli("cache", "clear", "--redis", redis_url)
        assert (code, out.strip()) == (0, "cleared redis (namespace featurekit)")
        again = store.get("customer_orders", "C00042", as_of=AS_OF)
        assert again.provenance.queries_run == 1  # the store's memory went with the clear
        code, out, _ = cli("cache", "stats", "--redis", redis_url, "-f", "json")
        assert json.loads(out)["items"][0]["disk_entries"] == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://admin:s3cret@127.0.0.1:6379/0", "--redis: Redis URL must specify one of the following schemes"),
        ("redis://admin:s3cret@127.0.0.1:notaport/0", "--redis: Port could not be cast to integer value"),
        ("redis://admin:s3cret@127.0.0.1:{port}/0", "--redis: redis unavailable: ConnectionError"),
    ],
)
@pytest.mark.parametrize("command", ["stats", "clear"])
def test_a_bad_or_unreachable_redis_url_is_one_line_without_its_password(
    cli: Any, url: str, says: str, command: str
) -> None:
    pytest.importorskip("redis")
    from .redis_server import free_port

    code, out, err = cli("cache", command, "--redis", url.format(port=free_port()))
    assert code != 0 and out == ""
    assert err.startswith(f"error: {says}") and len(err.strip().splitlines()) == 1
    assert "s3cret" not in err and "Traceback" not in err


def test_neither_a_cache_dir_nor_redis_names_both(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATUREKIT_CACHE_DIR", raising=False)
    monkeypatch.delenv("FEATUREKIT_REDIS_URL", raising=False)
    code, _, err = cli("cache", "clear")
    assert code != 0 and "--cache-dir DIR" in err and "--redis URL" in err
