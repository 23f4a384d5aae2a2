"""Load test of the feature server: real HTTP clients on 127.0.0.1 against `featurekit serve --workers 2 --redis`.

    python benchmarks/load.py            # full run (about a minute)
    python benchmarks/load.py --quick    # tiny counts: checks the code paths, numbers mean little

Starts a real redis-server and the real `featurekit serve` command (2 uvicorn workers sharing the Redis cache),
then measures, each bounded in time and in count:

- cached single-entity lookups: throughput and p50/p99 latency;
- cached 1,000-entity batches: throughput and p50/p99 latency;
- missing entities asked for by several clients at once: the queries run across both workers, per entity
  (single flight across processes makes it 1).

Writes docs/benchmarks/load.json and load.md, and the section between the load markers of docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/load.py` as well as `python -m benchmarks.load`
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests.redis_server import start_redis  # noqa: E402
from tests.serve_support import featurekit_serve  # noqa: E402

from featurekit.sample import write_sample  # noqa: E402

OUT = ROOT / "docs" / "benchmarks"
PAGE = ROOT / "docs" / "performance.md"
START, END = "<!-- load:start -->", "<!-- load:end -->"
AS_OF = dt.date(2026, 6, 30)
WORKERS = 2


@dataclass(frozen=True)
class Sizes:
    clients: int = 8
    seconds: float = 10.0
    max_requests: int = 20_000
    batch_requests: int = 200
    batch_size: int = 1_000
    missing: int = 50
    customers: int = 2_000
    orders: int = 20_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(clients=4, seconds=2.0, max_requests=400, batch_requests=8, missing=6, customers=1_200, orders=3_000)


def serving(data: Path, redis_url: str, max_ids: int) -> Any:
    """The real `featurekit serve` command with two workers sharing Redis; yields its base URL once ready."""
    return featurekit_serve(
        "--data", str(data), "--workers", str(WORKERS), "--redis", redis_url, "--max-ids", str(max_ids),
        "--no-mcp", "--max-concurrent", "64", ready="/readyz",
    )  # fmt: skip


def _body_for(entity_id: str, as_of: str) -> Callable[[int], dict[str, Any]]:
    """The same single-ID request body for every client (one fresh key all of them miss at once)."""
    return lambda n: {"id": entity_id, "as_of": as_of}


def hammer(url: str, clients: int, seconds: float, max_requests: int, body: Callable[[int], dict[str, Any]]) -> dict:
    """`clients` threads, each with its own HTTP connection, until `seconds` pass or `max_requests` are sent."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queries = 0
    counter = iter(range(max_requests))
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        nonlocal queries
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.monotonic() < stop:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                start = time.perf_counter()
                r = http.post("/v1/features/customer_orders", json=body(n))
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if r.status_code == 200:
                        queries += r.json()["provenance"]["queries_run"]

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "seconds": round(wall, 3),
        "requests_per_s": round(len(ordered) / wall, 1),
        "p50_ms": round(statistics.median(ordered) * 1e3, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "queries": queries,
    }


def run(sizes: Sizes, out: Path, *, page: bool = True, data: Path | None = None) -> dict[str, Any]:
    data = data or ROOT / "benchmarks" / ".data" / "load"
    write_sample(data, customers=sizes.customers, orders=sizes.orders, as_of=AS_OF)
    ids = [f"C{n:05d}" for n in range(1, sizes.batch_size + 1)]
    with start_redis() as redis_url, serving(data, redis_url, sizes.batch_size) as url:
        day = AS_OF.isoformat()
        with httpx.Client(base_url=url, timeout=60) as http:  # warm the shared cache
            http.post("/v1/features/customer_orders", json={"ids": ids, "as_of": day}).raise_for_status()
        single = hammer(url, sizes.clients, sizes.seconds, sizes.max_requests,
                        lambda n: {"id": ids[n % len(ids)], "as_of": day})  # fmt: skip
        batch = hammer(url, sizes.clients, sizes.seconds, sizes.batch_requests, lambda n: {"ids": ids, "as_of": day})
        batch["entities_per_s"] = round(batch["requests_per_s"] * len(ids), 1)
        # Missing entities: every client asks for the same fresh entity at once (a new as_of is a new key).
        missing: list[dict[str, Any]] = []
        for k in range(sizes.missing):
            fresh = (AS_OF - dt.timedelta(days=k + 1)).isoformat()
            missing.append(hammer(url, sizes.clients, 60, sizes.clients, _body_for("C00042", fresh)))
    flight = {
        "entities": sizes.missing,
        "requests": sum(m["requests"] for m in missing),
        "queries": sum(m["queries"] for m in missing),
        "statuses": {
            s: sum(m["statuses"].get(s, 0) for m in missing) for s in {s for m in missing for s in m["statuses"]}
        },
    }
    flight["queries_per_missing_entity"] = round(flight["queries"] / sizes.missing, 3)
    results = {
        "workers": WORKERS,
        "clients": sizes.clients,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),  # other work on the machine skews every figure
        "single": single,
        "batch": batch,
        "single_flight": flight,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2) + "\n")
    table = render(results)
    (out / "load.md").write_text(table)
    if page:
        write_page(table)
    return results


def render(r: dict[str, Any]) -> str:
    s, b, f = r["single"], r["batch"], r["single_flight"]
    return (
        f"`featurekit serve --workers {r['workers']} --redis` on 127.0.0.1, {r['clients']} HTTP clients "
        f"(one connection each, in the same machine), DuckDB over the sample data, cache warm unless said; "
        f"{r['cpus']} CPUs, 1-minute load average {r['load_average']} at the end of the run.\n\n"
        "| workload | requests | throughput | p50 | p99 |\n|---|---|---|---|---|\n"
        f"| cached single-entity lookup | {s['requests']:,} | {s['requests_per_s']:,} req/s | {s['p50_ms']} ms "
        f"| {s['p99_ms']} ms |\n"
        f"| cached 1,000-entity batch | {b['requests']:,} | {b['requests_per_s']:,} req/s "
        f"({b['entities_per_s']:,.0f} entities/s) | {b['p50_ms']} ms | {b['p99_ms']} ms |\n\n"
        f"Missing entities: {f['entities']} fresh keys, each asked for by {r['clients']} clients at once across "
        f"{r['workers']} workers: {f['requests']} requests ran {f['queries']} queries, "
        f"**{f['queries_per_missing_entity']} per missing entity** (single flight across processes through Redis).\n"
    )


def write_page(table: str) -> None:
    text = PAGE.read_text()
    block = f"{START}\n{table}{END}"
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Serving under load\n\n" + block + "\n"
    PAGE.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts, to check the code paths")
    args = parser.parse_args()
    results = run(Sizes.quick() if args.quick else Sizes(), OUT, page=not args.quick)
    print(render(results))


if __name__ == "__main__":
    main()
