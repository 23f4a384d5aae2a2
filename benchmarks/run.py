"""featurekit benchmarks: every figure measured side by side in one run, as a ratio to its comparator.

    python benchmarks/run.py            # all benchmarks, full sizes (several minutes on 2 cores)
    python benchmarks/run.py --quick    # small sizes: checks the code paths, numbers mean little

Writes docs/benchmarks/results.json, results.md (the table) and results.png, and refreshes the
table in docs/performance.md between its markers. Data is generated (deterministically) under
benchmarks/.data/. Each side of an engine comparison runs in its own process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` as well as `python -m benchmarks`
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402

from benchmarks import measure, report  # noqa: E402
from benchmarks.common import DATA, OUT, Sizes  # noqa: E402


def run(sizes: Sizes, out: Path = OUT, *, data_root: Path = DATA, athena: bool = True, page: bool = True) -> Any:
    began = time.perf_counter()
    data_root.mkdir(parents=True, exist_ok=True)
    step = lambda name: print(f"[{time.perf_counter() - began:6.1f} s] {name}", flush=True)  # noqa: E731
    step("generating data")
    data = measure.make_data(sizes, data_root)
    catalogs = measure.make_catalogs(data_root)
    parquet = catalogs["parquet"]
    results: dict[str, Any] = {}
    step("(a) featurekit vs hand-written DuckDB at every N, and the first call with the cache on")
    results["scaling"] = measure.bench_scaling(sizes, data, parquet)
    step("(b) batch vs loop")
    results["batch"] = measure.bench_batch(sizes, data, parquet)
    step("(c) cache hits")
    results["cache"] = measure.bench_cache(sizes, data, parquet)
    if athena:
        step("(d) Athena on moto")
        try:
            results["athena"] = measure.bench_athena(sizes)
        except ImportError as exc:  # moto or pyathena not installed
            results["athena_error"] = f"needs featurekit[test]: {exc}"
    step("(e) partition pruning")
    results["pruning"] = measure.bench_pruning(data, catalogs)
    step("(f) start-up and the tutorial-sized lookup")
    results["startup"] = measure.bench_startup(sizes, data, parquet, data_root)
    results["tutorial"] = measure.bench_tutorial(sizes, data, catalogs["json"])
    results["machine"] = {
        "date": dt.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pa.__version__,
        "sizes": "quick" if sizes == Sizes.quick() else "full",
        "sizes_detail": asdict(sizes),
        "seconds": time.perf_counter() - began,
    }
    rows = report.figures(results)
    results["figures"] = [asdict(f) for f in rows]
    table = report.markdown(rows, results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.md").write_text(table)
    report.plot(results, out / "results.png")
    if page:
        report.write_page(table)
    step("done")
    print(table)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the code paths")
    parser.add_argument("--no-athena", action="store_true", help="skip (d), which needs moto and pyathena")
    parser.add_argument("--out", type=Path, default=OUT, help="where the results go (default docs/benchmarks)")
    args = parser.parse_args(argv)
    run(Sizes.quick() if args.quick else Sizes(), args.out, athena=not args.no_athena, page=args.out == OUT)


if __name__ == "__main__":
    main()
