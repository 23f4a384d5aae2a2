"""One side of one comparison, in a fresh process, so its peak RSS (VmHWM) is its own.

    python -m benchmarks.child SIDE WORKLOAD FORMAT DATA CATALOG N CUSTOMERS REPEATS

SIDE is `featurekit` (cache off), `featurekit-cache` (cache on, emptied before every run, so each
run is a first call) or `raw` (the hand-written DuckDB query). Prints one JSON line: the run times,
rows, queries and peak RSS in MiB.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> dict[str, Any]:
    side, workload, fmt, data, catalog, n, customers, repeats = argv
    from benchmarks import handwritten

    ids = handwritten.entity_ids(workload, int(n), int(customers))
    queries = 1
    if side == "raw":
        import duckdb

        con = duckdb.connect()
        sql, values = handwritten.raw_query(workload, Path(data), fmt)

        def run() -> int:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
                table = con.execute(sql, values(ids)).to_arrow_table()
                assert table is not None
                return int(table.num_rows)

    else:
        import featurekit

        store = featurekit.FeatureStore(catalog, data=data, cache=side == "featurekit-cache")
        view = handwritten.VIEWS[workload]

        def run() -> int:
            nonlocal queries
            if store.cache is not None:
                store.cache.clear()  # every run is a first call with the cache on
            frame = store.get_frame(view, ids, as_of=handwritten.AS_OF)
            queries = frame.provenance.queries_run
            return len(frame)

    rows = run()  # warm-up: page cache, views, connection
    times = []
    for _ in range(int(repeats)):
        start = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - start)
    return {"times": times, "rows": rows, "queries": queries, "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident set. VmHWM, not ru_maxrss: on some kernels (seen on this project's CI
    sandbox) a child's ru_maxrss starts at its parent's peak, which made every side read 2,000 MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
