"""Athena over real HTTP: moto's server on 127.0.0.1, with a small recording proxy in front of it.

Each pytest-xdist worker starts its own moto server and proxy on free ports (port 0), so workers
never share state. Between tests the server is reset through `/moto-api/reset`.

The proxy exists for what moto cannot do by itself:
- record every API call as sent over HTTP (target and JSON body), to count AWS calls and to see
  request fields moto does not echo back (ResultReuseConfiguration, EncryptionConfiguration);
- throttle: answer the next N calls of an operation with HTTP 400 ThrottlingException;
- fail: moto never fails a query, so the proxy rewrites GetQueryExecution for a chosen query to
  FAILED with a StateChangeReason, exactly as Athena would send it;
- statistics: moto reports 0 bytes scanned and never a reused result, so the proxy can patch
  the Statistics of a query's GetQueryExecution response;
- BatchGetQueryExecution: moto lacks it, so PyAthena's cursor cache would always miss; the proxy
  answers it from moto's GetQueryExecution, one call per ID, so the cursor cache really runs.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

REGION = "us-east-1"
BUCKET = "featurekit-results"
STAGING = f"s3://{BUCKET}/athena/"


def athena_columns(view: str) -> list[tuple[str, str]]:
    """A shipped view's result columns with the types Athena returns for them (`decimal(12,2)`, not `double`).

    Inferred statically from the catalog, as `featurekit validate` does: moto runs no SQL, so this is what
    keeps the injected results honest.
    """
    from featurekit.catalog.lint import athena_types
    from featurekit.catalog.loader import load

    return list(athena_types(load(), view).items())


#: The result shape of the shipped customer_orders view, as Athena reports it, and one row of it
#: (decimals written with their scale, as Athena's result CSV has them).
COLUMNS = athena_columns("customer_orders")
C42 = ("C00042", 3, "412.50", "137.50", "2024-04-20", 0.333, "books", 11)
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Never reach for instance metadata when credentials are deliberately absent.
    "AWS_EC2_METADATA_DISABLED": "true",
}
#: Settings that would point a test at a real profile or staging dir; unset while a fake runs.
NO_PROFILE = ("AWS_PROFILE", "FEATUREKIT_PROFILE", "FEATUREKIT_PROFILE_FILE", "AWS_ATHENA_S3_STAGING_DIR")


@dataclass
class ProxyState:
    """What the proxy saw and what it was told to do; shared with its handler threads."""

    upstream: tuple[str, int]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    throttle: dict[str, int] = field(default_factory=dict)
    #: query ID (or "*" for every query) -> StateChangeReason of a FAILED state
    fail: dict[str, str] = field(default_factory=dict)
    #: query ID (or "*") -> Statistics fields to report
    statistics: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_call: Callable[[str, dict[str, Any]], None] | None = None
    proxy_endpoint: str = ""
    #: a reason to fail the next started query with (its ID is known only once moto answers)
    fail_next: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.throttle.clear()
            self.fail.clear()
            self.statistics.clear()
            self.on_call = None
            self.fail_next = None

    def operations(self) -> list[str]:
        with self.lock:
            return [op for op, _ in self.calls]


def _handler(state: ProxyState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # 40 ms per call otherwise

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target", "")
            operation = target.rsplit(".", 1)[-1] if target else f"{self.command} {self.path}"
            try:
                payload = json.loads(body) if body and target else {}
            except ValueError:
                payload = {}
            with state.lock:
                state.calls.append((operation, payload))
                throttled = state.throttle.get(operation, 0) > 0
                if throttled:
                    state.throttle[operation] -= 1
                hook = state.on_call
            if hook is not None:
                hook(operation, payload)
            if operation == "BatchGetQueryExecution" and not throttled:
                self._batch_get(payload, dict(self.headers.items()))
                return
            if throttled:
                self._send(
                    400,
                    json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode(),
                    {"x-amzn-ErrorType": "ThrottlingException", "Content-Type": "application/x-amz-json-1.1"},
                )
                return
            conn = http.client.HTTPConnection(*state.upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if operation == "GetQueryExecution" and response.status == 200:
                data = self._patch(data)
            if operation == "StartQueryExecution" and response.status == 200:
                with state.lock:
                    if state.fail_next is not None:
                        state.fail[json.loads(data)["QueryExecutionId"]] = state.fail_next
                        state.fail_next = None
            out_headers = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date")
            }
            conn.close()
            self._send(response.status, data, out_headers)

        def _batch_get(self, payload: dict[str, Any], headers: dict[str, str]) -> None:
            found = []
            for qid in payload.get("QueryExecutionIds", []):
                conn = http.client.HTTPConnection(*state.upstream, timeout=30)
                body = json.dumps({"QueryExecutionId": qid}).encode()
                sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "x-amz-target")}
                conn.request("POST", "/", body=body, headers={**sent, "X-Amz-Target": "AmazonAthena.GetQueryExecution"})
                response = conn.getresponse()
                data = response.read()
                conn.close()
                if response.status == 200:
                    found.append(json.loads(self._patch(data))["QueryExecution"])
            out = json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": []}).encode()
            self._send(200, out, {"Content-Type": "application/x-amz-json-1.1"})

        def _patch(self, data: bytes) -> bytes:
            doc = json.loads(data)
            execution = doc["QueryExecution"]
            qid = execution["QueryExecutionId"]
            with state.lock:
                reason = state.fail.get(qid, state.fail.get("*"))
                stats = state.statistics.get(qid, state.statistics.get("*"))
            if reason is not None:
                execution["Status"]["State"] = "FAILED"
                execution["Status"]["StateChangeReason"] = reason
            if stats:
                execution["Statistics"].update(stats)
            return json.dumps(doc).encode()

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    return Handler


def column(name: str, type_: str) -> dict[str, Any]:
    """One ColumnInfo as Athena (and PyAthena) expect it; moto echoes it back verbatim.

    Athena reports `decimal(12,2)` as Type `decimal` with Precision 12 and Scale 2.
    """
    base, _, args = type_.partition("(")
    precision, _, scale = args.rstrip(")").partition(",")
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": base,
        "Precision": int(precision or 0),
        "Scale": int(scale or 0),
        "Nullable": "UNKNOWN",
        "CaseSensitive": True,
    }


@dataclass
class AthenaFake:
    """Handles for a test: endpoints, result injection, what the server saw."""

    endpoint: str
    moto_endpoint: str
    proxy: ProxyState
    answers: Any = None

    def post(self, path: str, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(
            self.moto_endpoint + path, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def inject(self, columns: list[tuple[str, str]], *rows: tuple[Any, ...]) -> None:
        """Queue one result set (FIFO): consumed by the next StartQueryExecution. Row 0 is the header."""
        header = {"Data": [{"VarCharValue": n} for n, _ in columns]}
        body_rows = [{"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in rows]
        self.post(
            "/moto-api/static/athena/query-results",
            {
                "region": REGION,
                "results": [{"rows": [header, *body_rows], "column_info": [column(n, t) for n, t in columns]}],
            },
        )

    def manual_progression(self) -> None:
        """Executions stay QUEUED/RUNNING until polled 10 more times (moto's state manager)."""
        self.post(
            "/moto-api/state-manager/set-transition",
            {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 10}},
        )

    def client(self) -> Any:
        """A boto3 Athena client straight to moto (not through the proxy, so it is not counted)."""
        import boto3

        return boto3.client("athena", region_name=REGION, endpoint_url=self.moto_endpoint)

    def executions(self) -> list[dict[str, Any]]:
        """Every query execution moto recorded, oldest first, as GetQueryExecution returns them."""
        athena = self.client()
        ids = athena.list_query_executions()["QueryExecutionIds"]
        found = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]
        return sorted(found, key=lambda e: e["Status"]["SubmissionDateTime"])

    def calls(self, operation: str | None = None) -> list[dict[str, Any]]:
        with self.proxy.lock:
            return [body for op, body in self.proxy.calls if operation is None or op == operation]

    def compute_on_duckdb(self, catalog: Any, data: str | os.PathLike[str]) -> None:
        """Answer every SELECT with its result computed on DuckDB over `data` (a query DuckDB cannot run fails
        the way Athena fails: FAILED, with DuckDB's reason)."""
        from .answers import DuckDBAnswers

        answers = DuckDBAnswers(catalog, data)
        self.answers = answers

        def inject(operation: str, payload: dict[str, Any]) -> None:
            sql = payload.get("QueryString", "")
            if operation != "StartQueryExecution" or not answers.is_query(sql):
                return
            try:
                body = answers.results_body(sql, REGION)
            except Exception as exc:  # shown to the caller as Athena shows a failed query
                with self.proxy.lock:
                    self.proxy.fail_next = f"featurekit.testing (DuckDB): {str(exc).splitlines()[0]}"
                return
            self.post("/moto-api/static/athena/query-results", body)

        self.proxy.on_call = inject

    def close(self) -> None:
        if self.answers is not None:
            self.answers.close()
            self.answers = None

    def engine(self, **overrides: Any) -> Any:
        from featurekit.engines.athena import AthenaEngine

        settings = {
            "region": REGION,
            "s3_staging_dir": STAGING,
            "endpoint_url": self.endpoint,
            "poll_interval": 0.01,
            "retry_multiplier": 0.01,
            "retry_max_delay": 0.05,
            **overrides,
        }
        return AthenaEngine(**settings)


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, ProxyState, str]]:
    """moto's server and the recording proxy on free 127.0.0.1 ports: (moto endpoint, proxy state, proxy endpoint)."""
    from moto.server import ThreadedMotoServer

    with dummy_credentials():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
    host, port = server.get_host_and_port()
    state = ProxyState(upstream=(host, port))
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    proxy.daemon_threads = True
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}", state, f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()
        server.stop()


@contextlib.contextmanager
def dummy_credentials() -> Iterator[None]:
    """Dummy AWS credentials in the environment, no profile: nothing on the machine (or the network) is consulted."""
    with mock.patch.dict(os.environ, DUMMY_ENV):  # restores the whole environment afterwards
        for k in NO_PROFILE:
            os.environ.pop(k, None)
        yield


def reset(moto_endpoint: str, state: ProxyState) -> AthenaFake:
    """A clean moto (reset), the results bucket created, the proxy's records and faults cleared."""
    import boto3

    fake = AthenaFake(state.proxy_endpoint, moto_endpoint, state)
    fake.post("/moto-api/reset")
    # The reset keeps state-manager transitions: a previous test's manual progression would leak into this one.
    fake.post(
        "/moto-api/state-manager/set-transition",
        {"model_name": "athena::execution", "transition": {"progression": "immediate"}},
    )
    state.reset()
    with dummy_credentials():
        boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint).create_bucket(Bucket=BUCKET)
    return fake


@contextlib.contextmanager
def athena_server(catalog: Any = None, data: str | os.PathLike[str] | None = None) -> Iterator[AthenaFake]:
    """Athena offline: moto on 127.0.0.1, dummy credentials while it runs, and (given `data`) every query answered
    with its result computed on DuckDB over `data`, typed as Athena reports it. `catalog` is a folder or a loaded
    Catalog (None: the shipped one), as for FeatureStore.

        with athena_server("catalog/", "data/") as athena:
            with FeatureStore("catalog/", engine=athena.engine()) as store:
                store.get("customer_orders", "C00042")
    """
    with moto_server() as (moto_endpoint, state, proxy_endpoint), dummy_credentials():
        state.proxy_endpoint = proxy_endpoint
        fake = reset(moto_endpoint, state)
        if data is not None:
            fake.compute_on_duckdb(catalog, data)
        try:
            yield fake
        finally:
            fake.close()
