"""A real uvicorn server on a free 127.0.0.1 port, in a thread of the test process, for the serving tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from featurekit.engines.duckdb import DuckDBEngine
from tests.redis_server import free_port


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn until the block ends; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def featurekit_serve(*args: str, ready: str = "/healthz") -> Iterator[str]:
    """The real `featurekit serve` command on a free port (extra `args` as a user types them); yields its URL."""
    import httpx

    port = free_port()
    env = {**os.environ, "FEATUREKIT_CACHE_DIR": "", "FEATUREKIT_TOKENS": "", "FEATUREKIT_TOKENS_FILE": ""}
    command = [sys.executable, "-m", "featurekit.cli", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                if httpx.get(f"{url}{ready}").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"featurekit serve did not start: {stderr[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class SlowEngine(DuckDBEngine):
    """DuckDB that takes `delay` seconds per query, so concurrent callers really overlap."""

    def __init__(self, data: Any, delay: float) -> None:
        super().__init__(data)
        self.delay = delay

    def execute(self, query: Any) -> Any:
        time.sleep(self.delay)
        return super().execute(query)
