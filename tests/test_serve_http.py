"""The HTTP feature server, on a real uvicorn server on 127.0.0.1, called with httpx: numbers equal `featurekit get`."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

import pyarrow as pa  # noqa: E402
from openapi_spec_validator import validate  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from featurekit import FeatureStore  # noqa: E402
from featurekit.serve import auth  # noqa: E402
from featurekit.serve.http import Limits, check_bind, create_app  # noqa: E402
from tests.conftest import AS_OF  # noqa: E402
from tests.serve_support import SlowEngine, serving  # noqa: E402

FULL = "full-access-token-0123456789"
SCOPED = "scoped-token-abcdefghijklmnop"
TOKENS = auth.parse([f"{FULL}", f"{SCOPED} spend_trend"], "test")
LIMITS = Limits(max_ids=50, max_body_bytes=4000, request_timeout=10, max_concurrent_per_token=2)


@pytest.fixture(scope="module")
def server(sample_dir: Path) -> Iterator[str]:
    with FeatureStore(data=sample_dir) as store, serving(create_app(store, tokens=TOKENS, limits=LIMITS)) as url:
        yield url


def _client(url: str, token: str | None = FULL) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def test_features_equal_featurekit_get(server: str, sample_dir: Path, cli: Any) -> None:
    ids = ["C00042", "C00007", "C99999"]
    with _client(server) as c:
        r = c.post("/v1/features/customer_orders", json={"ids": ids, "as_of": AS_OF.isoformat()})
    assert r.status_code == 200, r.text
    code, out, _ = cli("get", "customer_orders", *ids, "--as-of", AS_OF.isoformat(), "-f", "json", "--data", sample_dir)
    assert code == 0
    expected = json.loads(out)
    assert r.json()["rows"] == expected["rows"]
    assert r.json()["provenance"]["sql_hash"] == expected["provenance"]["sql_hash"]


def test_single_id_parameters_and_arrow(server: str, sample_dir: Path) -> None:
    with FeatureStore(data=sample_dir, cache=False) as store:
        want = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 30})
    body = {"id": "C00042", "as_of": AS_OF.isoformat(), "params": {"lookback_days": 30}}
    with _client(server) as c:
        r = c.post("/v1/features/customer_orders", json=body)
        arrow = c.post(
            "/v1/features/customer_orders", json=body, headers={"Accept": "application/vnd.apache.arrow.stream"}
        )
    assert r.json()["rows"] == want.to_json()["rows"]
    assert arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(arrow.content).read_all()
    assert table.to_pylist() == [{"customer_id": "C00042", **dict(want)}]  # typed (a date stays a date)


def test_views_openapi_metrics_health(server: str) -> None:
    with _client(server) as c:
        assert [v["name"] for v in c.get("/v1/views").json()["views"]] == [
            "customer_latest",
            "customer_orders",
            "spend_trend",
        ]
        one = c.get("/v1/views/customer_orders").json()
        assert one["entity"]["pattern"] == r"^C\d{5}$"
        assert one["input_schema"]["properties"]["lookback_days"]["maximum"] == 3650
        doc = c.get("/openapi.json").json()
        validate(doc)
        req = doc["paths"]["/v1/features/customer_orders"]["post"]["requestBody"]["content"]["application/json"]
        assert req["schema"]["properties"]["ids"]["maxItems"] == LIMITS.max_ids
        c.post("/v1/features/customer_orders", json={"id": "C00042", "as_of": AS_OF.isoformat()})
        text = c.get("/metrics").text
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"featurekit_requests", "featurekit_request_seconds", "featurekit_cache_hits", "featurekit_queries",
            "featurekit_scanned_bytes", "featurekit_cost_usd", "featurekit_llm_tokens"} <= set(families)  # fmt: skip
    entities = sum(s.value for s in families["featurekit_entities"].samples if s.name.endswith("_total"))
    assert entities >= 1
    assert FULL not in text and "C00042" not in text
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def test_notes(server: str) -> None:
    with _client(server) as c:
        r = c.post("/v1/notes/retention_note", json={"id": "C00042", "as_of": AS_OF.isoformat()})
        bad = c.post("/v1/notes/retention_note", json={"ids": ["C00042", "C00007"]})
    assert r.status_code == 200, r.text
    assert r.json()["entity_id"] == "C00042" and r.json()["provider"] == "offline"
    assert bad.status_code == 422 and "at most 1" in bad.json()["detail"]


@pytest.mark.parametrize(
    ("token", "path", "body", "status", "detail"),
    [
        (None, "/v1/views", None, 401, "missing bearer token"),
        ("wrong-token-xxxxxxxxxxxxxxxx", "/v1/views", None, 401, "invalid bearer token"),
        (SCOPED, "/v1/features/customer_orders", {"id": "C00042"}, 403, "may not read view 'customer_orders'"),
        (FULL, "/v1/features/customer_ordrs", {"id": "C00042"}, 404, "did you mean 'customer_orders'"),
        (FULL, "/v1/features/customer_orders", {"id": "X1"}, 422, "does not match the pattern"),
        (FULL, "/v1/features/customer_orders", {"id": "C00042", "params": {"lookback_days": 99999}}, 422, "lookback"),
        (FULL, "/v1/features/customer_orders", {"ids": [f"C{i:05d}" for i in range(51)]}, 422, "at most 50"),
        (FULL, "/v1/features/customer_orders", {"ids": ["C00001"] * 1000}, 413, "at most 4000"),
        (FULL, "/v1/features/customer_orders", {"id": "C00042", "as_of": "June"}, 422, "as_of"),
        (FULL, "/v1/features/customer_orders", {"id": "C00042", "x": 1}, 422, "unknown field"),
        (FULL, "/v1/features/customer_orders", {"id": {"$ne": 1}}, 422, "is not a string or integer ID"),
        (FULL, "/v1/features/customer_orders", {"id": "C00042\u0000' OR 1=1 --"}, 422, "does not match the pattern"),
        (FULL, "/v1/features/customer_orders", {"id": "C" * 3000}, 422, "customer id"),
        (FULL, "/v1/features/customer_orders", {"id": "C00042", "params": {"as_of; DROP": 1}}, 404, "parameter"),
        (FULL, "/v1/features/customer_orders", {"id": "C00042", "params": []}, 422, "params: must be an object"),
        (FULL, "/v1/features/customer_orders", {"ids": []}, 422, "non-empty list"),
        (FULL, "/v1/views/..%2F..%2Fetc%2Fpasswd", None, 404, "no route GET"),
    ],
)
def test_bad_requests_are_one_line_problems(
    server: str, token: str | None, path: str, body: Any, status: int, detail: str
) -> None:
    with _client(server, token) as c:
        r = c.post(path, json=body) if body is not None else c.get(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert detail in problem["detail"] and "\n" not in problem["detail"]
    assert FULL not in r.text and SCOPED not in r.text
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_scoped_token_sees_only_its_views(server: str) -> None:
    with _client(server, SCOPED) as c:
        assert [v["name"] for v in c.get("/v1/views").json()["views"]] == ["spend_trend"]
        ok = c.post("/v1/features/spend_trend", json={"id": "C00042", "as_of": AS_OF.isoformat()})
    assert ok.status_code == 200


def test_request_time_and_concurrency_per_token(sample_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    limits = Limits(request_timeout=1.0, max_concurrent_per_token=1)
    store = FeatureStore(engine=SlowEngine(sample_dir, 3.0), cache=False)
    caplog.set_level(logging.INFO, logger="featurekit.serve")
    app = create_app(store, tokens=TOKENS, limits=limits)
    with store, serving(app) as url:
        results: list[Any] = []

        def call() -> None:
            with _client(url) as c:
                results.append(c.post("/v1/features/customer_orders", json={"id": "C00042"}))

        first = threading.Thread(target=call)
        first.start()
        while not app.state.server.running.get("token 1"):  # the first lookup holds the token's one slot
            time.sleep(0.005)
        call()
        first.join()
        # After the timeout the worker thread still finishes; the slot is freed when the response is sent.
    statuses = sorted(r.status_code for r in results)
    assert statuses == [429, 504], [r.text for r in results]
    assert all(r.headers["content-type"] == "application/problem+json" for r in results)
    assert FULL not in caplog.text and "C00042" not in caplog.text and "token 1" in caplog.text


def test_readyz_says_degraded_when_redis_is_down(sample_dir: Path) -> None:
    from featurekit.cache import FeatureCache
    from featurekit.cache_redis import RedisTier
    from tests.redis_server import free_port

    cache = FeatureCache(tier=RedisTier(f"redis://127.0.0.1:{free_port()}/0"))
    store = FeatureStore(data=sample_dir, cache=cache)
    with store, serving(create_app(store)) as url, httpx.Client(base_url=url) as c:
        ready = c.get("/readyz")
        got = c.post("/v1/features/customer_orders", json={"id": "C00042", "as_of": AS_OF.isoformat()})
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert got.status_code == 200 and got.json()["provenance"]["queries_run"] == 1


def test_binding_beyond_loopback_needs_tokens() -> None:
    check_bind("127.0.0.1", auth.Tokens(()))
    check_bind("0.0.0.0", TOKENS)
    with pytest.raises(Exception, match="needs tokens"):
        check_bind("0.0.0.0", auth.Tokens(()))
    with pytest.raises(Exception, match=r"test:1: a token must be at least 16") as info:
        auth.parse(["short view"], "test")
    assert "short" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "status", "detail"),
    [
        (b"{not json", 400, "request body is not JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"\xff\xfe", 400, "request body is not JSON"),
        (b'{"id": "C00042"' + b" " * 5000 + b"}", 413, "exceeds 4000 bytes"),
    ],
)
def test_hostile_bodies_are_one_line_problems(server: str, content: bytes, status: int, detail: str) -> None:
    with _client(server) as c:
        # A chunked body has no Content-Length: the size limit is enforced while reading, too.
        r = c.post("/v1/features/customer_orders", content=iter([content]))
        assert c.get("/healthz").status_code == 200  # the server stays up
    assert r.status_code == status and detail in r.json()["detail"] and "\n" not in r.json()["detail"]


class DownModel:
    """A note writer whose model call fails, as Bedrock's would (the store keeps the features on the error)."""

    name = "down"
    calls = 0

    def complete(self, prompt: Any) -> Any:
        from featurekit.errors import LLMError

        DownModel.calls += 1
        raise LLMError("model call failed: ServiceUnavailable", code="ServiceUnavailable")


def test_a_model_failure_is_502_and_still_carries_the_features(sample_dir: Path) -> None:
    store = FeatureStore(data=sample_dir)
    with store, serving(create_app(store, provider=DownModel())) as url, httpx.Client(base_url=url) as c:
        body = {"id": "C00042", "as_of": AS_OF.isoformat()}
        first = c.post("/v1/notes/retention_note", json=body)
        second = c.post("/v1/notes/retention_note", json=body)  # nothing failed was cached: the model is asked again
        alive = c.get("/healthz")
    assert first.status_code == 502 and first.headers["content-type"] == "application/problem+json"
    problem = first.json()
    assert problem["detail"] == "model call failed: ServiceUnavailable"
    want = store_features(sample_dir)
    assert problem["partial"]["features"]["customer_orders"]["order_count"] == want["order_count"]
    assert second.status_code == 502 and DownModel.calls == 2 and alive.status_code == 200


def store_features(sample_dir: Path) -> dict[str, Any]:
    with FeatureStore(data=sample_dir, cache=False) as plain:
        return plain.get("customer_orders", "C00042", as_of=AS_OF).to_json()["rows"][0]
