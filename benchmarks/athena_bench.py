"""Benchmark (d): the Athena path against a local moto server, featurekit vs the tutorial's polling loop.

moto does not run SQL: its state manager moves an execution QUEUED -> RUNNING -> SUCCEEDED, each
step taken at the first GetQueryExecution at least `step` seconds after the previous one, so a
query "runs" for at least 2 x step seconds. A counting proxy in front of moto records every API call.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REGION = "us-east-1"
BUCKET = "featurekit-bench-results"
COLUMNS = [
    ("customer_id", "varchar"),
    ("order_count", "bigint"),
    ("total_spend", "double"),
    ("avg_order", "double"),
    ("last_order", "date"),
    ("refund_rate", "double"),
    ("top_category", "varchar"),
    ("days_since_last_order", "bigint"),
]
ROW = ("C00042", 3, 412.5, 137.5, "2026-06-20", 0.333, "books", 10)
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class AthenaRun:
    """One lookup: wall time, the simulated run time, and the AWS API calls it made, by operation."""

    wall_s: float
    run_s: float
    calls: dict[str, int]

    @property
    def status_calls(self) -> int:
        return self.calls.get("GetQueryExecution", 0)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class _Counter:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def take(self) -> dict[str, int]:
        with self.lock:
            counted: dict[str, int] = {}
            for op in self.calls:
                counted[op] = counted.get(op, 0) + 1
            self.calls.clear()
            return counted


def _proxy(upstream: tuple[str, int], counter: _Counter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # 40 ms per call otherwise
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            if target:
                with counter.lock:
                    counter.calls.append(target.rsplit(".", 1)[-1])
            conn = http.client.HTTPConnection(*upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class AthenaFake:
    """moto on 127.0.0.1 behind a counting proxy; `endpoint` is the proxy."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        os.environ.update(ENV)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.moto = f"http://{host}:{port}"
        self.counter = _Counter()
        self.proxy = _proxy((host, port), self.counter)
        self.endpoint = f"http://127.0.0.1:{self.proxy.server_address[1]}"
        import boto3

        boto3.client("s3", region_name=REGION, endpoint_url=self.moto).create_bucket(Bucket=BUCKET)

    def post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.moto + path, json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def simulate(self, step: float) -> None:
        """Each state step (QUEUED -> RUNNING -> SUCCEEDED) takes `step` seconds."""
        self.post(
            "/moto-api/state-manager/set-transition",
            {"model_name": "athena::execution", "transition": {"progression": "time", "seconds": step}},
        )

    def inject(self) -> None:
        column = {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Precision": 0, "Scale": 0}
        header = {"Data": [{"VarCharValue": n} for n, _ in COLUMNS]}
        row = {"Data": [{"VarCharValue": str(v)} for v in ROW]}
        info = [
            {**column, "Name": n, "Label": n, "Type": t, "Nullable": "UNKNOWN", "CaseSensitive": True}
            for n, t in COLUMNS
        ]
        self.post(
            "/moto-api/static/athena/query-results",
            {"region": REGION, "results": [{"rows": [header, row], "column_info": info}]},
        )

    def close(self) -> None:
        self.proxy.shutdown()
        self.server.stop()


def featurekit_lookup(fake: AthenaFake, store: Any, as_of: str) -> AthenaRun:
    fake.inject()
    fake.counter.take()
    start = time.perf_counter()
    row = store.get("customer_orders", "C00042", as_of=as_of, use_cache=False)
    wall = time.perf_counter() - start
    assert row["order_count"] == 3
    return AthenaRun(wall, 0.0, fake.counter.take())


def tutorial_lookup(fake: AthenaFake, sql: str) -> AthenaRun:
    """The tutorial's loop: start, then get_query_execution every 0.5 s, then get_query_results."""
    import boto3

    athena = boto3.client("athena", region_name=REGION, endpoint_url=fake.endpoint)
    fake.inject()
    fake.counter.take()
    start = time.perf_counter()
    query_id = athena.start_query_execution(
        QueryString=sql, ResultConfiguration={"OutputLocation": f"s3://{BUCKET}/tutorial/"}
    )["QueryExecutionId"]
    while True:
        state = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.5)
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    wall = time.perf_counter() - start
    assert len(rows) == 2
    return AthenaRun(wall, 0.0, fake.counter.take())


def run(step: float, repeats: int, catalog: Any = None) -> dict[str, Any]:
    """Median wall time and API calls per lookup for both clients, with a run time of 2 x `step` seconds."""
    import statistics

    import featurekit

    fake = AthenaFake()
    try:
        fake.simulate(step)
        store = featurekit.FeatureStore(
            catalog,
            engine="athena",
            region=REGION,
            s3_staging_dir=f"s3://{BUCKET}/athena/",
            endpoint_url=fake.endpoint,
        )
        as_of = "2026-06-30"
        sql = store.render("customer_orders", ["C00042"], as_of=as_of).sql
        runs: dict[str, list[AthenaRun]] = {"featurekit": [], "tutorial": []}
        featurekit_lookup(fake, store, as_of)  # warm-up: connection pool, boto3 clients, transpile caches
        tutorial_lookup(fake, sql)
        for _ in range(repeats):
            runs["featurekit"].append(featurekit_lookup(fake, store, as_of))
            runs["tutorial"].append(tutorial_lookup(fake, sql))
        store.close()
    finally:
        fake.close()
    run_s = 2 * step
    out: dict[str, Any] = {"simulated_run_s": run_s, "repeats": repeats}
    for name, measured in runs.items():
        wall = statistics.median(r.wall_s for r in measured)
        status = statistics.median(r.status_calls for r in measured)
        out[name] = {
            "wall_s": wall,
            "added_pct": (wall - run_s) / run_s * 100,
            "status_calls": status,
            "status_calls_per_100ms": status / (run_s * 10),
            "api_calls": statistics.median(r.total_calls for r in measured),
            "calls_by_operation": measured[-1].calls,
        }
    return out
