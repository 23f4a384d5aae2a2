"""What every benchmark module shares: sizes, where things go, timing, and running one side in a subprocess."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
OUT = ROOT / "docs" / "benchmarks"
PAGE = ROOT / "docs" / "performance.md"


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is; `quick` shrinks everything so the code paths run in a minute."""

    orders: int = 5_000_000
    order_customers: int = 99_999
    daily_customers: int = 1_000_000
    daily_days: int = 60
    daily_rows_per_day: int = 80_000  # 4.8M rows
    scaling_ns: tuple[int, ...] = (1, 1_000, 10_000, 100_000, 1_000_000)
    cache_ns: tuple[int, ...] = (100_000, 1_000_000)  # first call with the cache on vs off
    cache_fill: int = 100_000
    year_orders: int = 400_000
    batch_ns: tuple[int, ...] = (1_000, 10_000)
    loop_sample: int = 1_000  # entities actually looped; larger N are extrapolated from this many
    repeats: int = 15
    athena_steps_s: tuple[float, ...] = (0.6, 1.3, 2.2)  # not multiples of the tutorial's 0.5 s, as real queries
    athena_repeats: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(20_000, 2_000, 5_000, 20, 1_000, (1, 100, 1_000), (1_000,), 500, 5_000, (50, 200), 50, 3, (0.05,), 1)

    def runs_at(self, n: int) -> int:
        """Timed runs of a child process at N entities: fewer for the big ones, at least 3."""
        return 3 if n >= 1_000_000 else 5 if n >= 100_000 else max(3, self.repeats // 2)


def median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: views, transpile cache, connection pool, page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_median_s(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Medians of `a` and `b` run alternately, so drift on a shared machine hits both alike."""
    a(), b()
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def python(args: list[str], *, module: bool = True) -> subprocess.CompletedProcess[str]:
    """Run this interpreter on `args` (a module of this package, or a script), from the repository root."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", *args] if module else [sys.executable, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done


def child(side: str, workload: str, fmt: str, data: Path, catalog: Path, n: int, customers: int, runs: int) -> Any:
    """One side of a comparison in a fresh process: its run times, rows, queries and peak RSS."""
    args = [side, workload, fmt, str(data), str(catalog), str(n), str(customers), str(runs)]
    result = json.loads(python(["benchmarks.child", *args]).stdout.strip().splitlines()[-1])
    result["median_s"] = statistics.median(result["times"])
    return result
