"""featurekit benchmarks: every figure measured side by side in one run, written for the docs.

    python benchmarks/run.py            # all benchmarks, full sizes (a few minutes on 2 cores)
    python benchmarks/run.py --quick    # tiny sizes: checks the code paths, numbers mean nothing

Writes docs/benchmarks/results.json, results.md (the table) and results.png, and refreshes the
table in docs/performance.md between its markers. Data is generated under benchmarks/.data/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/run.py` as well as `python -m benchmarks`
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import sqlalchemy as sa  # noqa: E402

import featurekit  # noqa: E402
from featurekit.catalog import loader as catalog_mod  # noqa: E402
from featurekit.engines.base import athena_cost  # noqa: E402
from featurekit.engines.duckdb import DuckDBEngine  # noqa: E402
from featurekit.sample import write_sample  # noqa: E402

AS_OF = dt.date(2026, 6, 30)
VIEW = "customer_orders"
DATA = ROOT / "benchmarks" / ".data"
OUT = ROOT / "docs" / "benchmarks"
PAGE = ROOT / "docs" / "performance.md"
START, END = "<!-- benchmark-results:start -->", "<!-- benchmark-results:end -->"


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is; `quick` shrinks everything so a smoke test can run the code paths."""

    big_orders: int = 5_000_000
    big_customers: int = 99_999
    year_orders: int = 400_000
    batch_ns: tuple[int, ...] = (1_000, 10_000)
    loop_sample: int = 1_000  # entities actually looped; larger N are extrapolated from this many
    repeats: int = 15
    memory_entities: int = 1_000_000
    athena_steps_s: tuple[float, ...] = (0.6, 1.3, 2.2)  # not multiples of the tutorial's 0.5 s, as real queries
    athena_repeats: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(20_000, 2_000, 5_000, (50, 200), 50, 3, 5_000, (0.05,), 1)


@dataclass(frozen=True)
class Figure:
    """One row of the results table: what was measured, against which target, and whether it is met."""

    benchmark: str
    measured: str
    target: str
    met: bool | None
    note: str = ""


def median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: views, transpile cache, connection pool, page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------- data


def paired_median_s(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Medians of `a` and `b` run alternately, so drift on a shared machine hits both alike."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def benchmark_catalog(fmt: str) -> Path:
    """The shipped catalog, with `orders` in `fmt` and a key pattern wide enough for 1,000,000 IDs."""
    folder = DATA / f"catalog-{fmt}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(catalog_mod.load().root, folder)
    orders = folder / "tables" / "orders.yaml"
    orders.write_text(orders.read_text().replace("format: json", f"format: {fmt}"))
    entity = folder / "entities" / "customer.yaml"
    entity.write_text(entity.read_text().replace(r"'^C\d{5}$'", r"'^C\d{5,7}$'"))
    return folder


def flat_catalog() -> Path:
    """The JSON catalog with `orders` unpartitioned: `dt` is an ordinary column of one folder of files."""
    folder = DATA / "catalog-flat"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(benchmark_catalog("json"), folder)
    orders = folder / "tables" / "orders.yaml"
    text = orders.read_text().replace("path: orders", "path: orders_flat")
    text = re.sub(r"partitioned_by:\n((?:  - .*\n)+)", "", text)
    text = text.replace(
        "columns:\n", 'columns:\n  - {name: dt, type: string, description: "Order day, an ordinary column here"}\n'
    )
    orders.write_text(text)
    return folder


def make_data(sizes: Sizes) -> dict[str, Path]:
    """Tutorial-sized JSON, a big Parquet set sorted by customer_id within each day, a year of JSON (+ flat copy)."""
    tutorial, big, year = DATA / "tutorial", DATA / "big", DATA / "year"
    write_sample(tutorial, customers=60, orders=400, as_of=AS_OF, days=365)
    write_sample(big, customers=sizes.big_customers, orders=sizes.big_orders, as_of=AS_OF, days=365, fmt="parquet")
    for file in (big / "orders").glob("dt=*/*.parquet"):
        # Sorted by customer_id with small row groups, so a lookup can skip row groups by min/max.
        pq.write_table(pq.read_table(file).sort_by("customer_id"), file, row_group_size=2048)
    write_sample(year, customers=2_000, orders=sizes.year_orders, as_of=AS_OF, days=365)
    flat = year / "orders_flat"
    shutil.rmtree(flat, ignore_errors=True)
    flat.mkdir()
    with (flat / "part-0.json").open("w") as out:
        for file in sorted((year / "orders").glob("dt=*/*.json")):
            day = file.parent.name.removeprefix("dt=")
            for line in file.read_text().splitlines():
                out.write(line[:-1] + f',"dt":"{day}"}}\n')
    return {"tutorial": tutorial, "big": big, "year": year}


# ---------------------------------------------------------------- (a) overhead vs raw DuckDB


def raw_duckdb(store: featurekit.FeatureStore, ids: list[str]) -> Callable[[], pa.Table]:
    """The same view DDL and the same SQL text featurekit runs, executed by duckdb directly."""
    query = store.render(VIEW, ids, as_of=AS_OF)
    engine = store.engine
    assert isinstance(engine, DuckDBEngine)
    con = duckdb.connect()
    for name in query.tables:
        con.execute(engine.view_sql(store.catalog.table(name)))
    sql = re.sub(r":(\w+)", r"$\1", query.sql)  # duckdb's own named parameters; still bound, never inlined
    values = query.bind_values()

    def run() -> pa.Table:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
            return con.execute(sql, values).to_arrow_table()

    return run


def bench_overhead(sizes: Sizes, data: dict[str, Path], catalogs: dict[str, Path]) -> dict[str, Any]:
    out = {}
    for label, folder, catalog in (
        ("400 rows, JSON lines", data["tutorial"], catalogs["json"]),
        (f"{sizes.big_orders:,} rows, Parquet sorted by customer_id", data["big"], catalogs["parquet"]),
    ):
        with featurekit.FeatureStore(catalog, data=folder, cache=False) as store:
            raw = raw_duckdb(store, ["C00042"])
            fk, rw = paired_median_s(
                lambda s=store: s.get(VIEW, "C00042", as_of=AS_OF, use_cache=False), raw, sizes.repeats
            )
        out[label] = {"featurekit_ms": fk * 1000, "raw_duckdb_ms": rw * 1000, "ratio": fk / rw}
    return out


# ---------------------------------------------------------------- (b) batch vs loop


def bench_batch(sizes: Sizes, data: dict[str, Path], catalogs: dict[str, Path]) -> dict[str, Any]:
    out = {}
    with featurekit.FeatureStore(catalogs["parquet"], data=data["big"], cache=False) as store:
        store.get(VIEW, "C00001", as_of=AS_OF)  # warm-up
        for n in sizes.batch_ns:
            ids = [f"C{i:05d}" for i in range(1, n + 1)]
            start = time.perf_counter()
            frame = store.get(VIEW, ids, as_of=AS_OF)
            batch_s = time.perf_counter() - start
            looped = min(n, sizes.loop_sample)
            start = time.perf_counter()
            for entity_id in ids[:looped]:
                store.get(VIEW, entity_id, as_of=AS_OF)
            loop_s = (time.perf_counter() - start) * n / looped
            out[str(n)] = {
                "batch_s": batch_s,
                "batch_queries": frame.provenance.queries_run,
                "loop_s": loop_s,
                "loop_measured_entities": looped,
                "loop_extrapolated": looped < n,
                "speedup": loop_s / batch_s,
            }
    return out


# ---------------------------------------------------------------- (c) cache hit vs miss


def bench_cache(sizes: Sizes, data: dict[str, Path], catalogs: dict[str, Path]) -> dict[str, Any]:
    n = max(sizes.batch_ns)
    ids = [f"C{i:05d}" for i in range(1, n + 1)]
    with featurekit.FeatureStore(catalogs["parquet"], data=data["big"]) as store:
        miss = median_s(lambda: store.get(VIEW, "C00042", as_of=AS_OF, use_cache=False), sizes.repeats)
        store.get(VIEW, "C00042", as_of=AS_OF)
        hit_one = median_s(lambda: store.get(VIEW, "C00042", as_of=AS_OF), sizes.repeats * 20)
        store.get(VIEW, ids, as_of=AS_OF)
        hit_batch = median_s(lambda: store.get(VIEW, ids, as_of=AS_OF), sizes.repeats) / n
        cache = store.cache
        assert cache is not None
        prefix = store._cache_prefix(store.render(VIEW, ids, as_of=AS_OF))
        lookup = median_s(lambda: cache.lookup(prefix, ids, lambda m: {}), sizes.repeats) / n
    return {
        "miss_ms": miss * 1000,
        "hit_single_get_us": hit_one * 1e6,
        "hit_per_entity_in_batch_us": hit_batch * 1e6,
        "cache_lookup_per_entity_us": lookup * 1e6,
        "batch_entities": n,
    }


# ---------------------------------------------------------------- (d) Athena on moto


def bench_athena(sizes: Sizes) -> dict[str, Any]:
    from benchmarks import athena_bench

    runs = [athena_bench.run(step, sizes.athena_repeats) for step in sizes.athena_steps_s]
    summary: dict[str, Any] = {"runs": runs, "simulated_run_s": [r["simulated_run_s"] for r in runs]}
    for client in ("featurekit", "tutorial"):
        summary[client] = {
            "added_pct": statistics.mean(r[client]["added_pct"] for r in runs),
            "worst_added_pct": max(r[client]["added_pct"] for r in runs),
            "status_calls_per_100ms": max(r[client]["status_calls_per_100ms"] for r in runs),
            "api_calls": statistics.mean(r[client]["api_calls"] for r in runs),
            "calls_by_operation": runs[-1][client]["calls_by_operation"],
        }
    return summary


# ---------------------------------------------------------------- (e) pruning


def scan(store: featurekit.FeatureStore, ids: list[str]) -> dict[str, int]:
    """Files read, files listed and bytes read, from DuckDB's profiler, for the query as featurekit runs it."""
    store.get(VIEW, ids, as_of=AS_OF, use_cache=False)  # creates the views
    query = store.render(VIEW, ids, as_of=AS_OF)
    statement = sa.text("EXPLAIN (ANALYZE, FORMAT JSON) " + query.sql).bindparams(
        sa.bindparam("entity_ids", expanding=query.ids_expand)
    )
    with store.engine.sa.connect() as conn:  # type: ignore[attr-defined]
        profile = json.loads(conn.execute(statement, query.bind_values()).fetchall()[0][1])
    profile = profile[0] if isinstance(profile, list) else profile
    scans: list[dict[str, str]] = []

    def walk(node: dict[str, Any]) -> None:
        if "Total Files Read" in node.get("extra_info", {}):
            scans.append(node["extra_info"])
        for child in node.get("children", []):
            walk(child)

    for node in profile["operator"]:
        walk(node)
    return {
        "files_read": sum(int(s["Total Files Read"]) for s in scans),
        # Without pruning DuckDB prints no "Scanning Files: read/listed"; then every file listed is read.
        "files_total": max(int(s.get("Scanning Files", "/" + s["Total Files Read"]).split("/")[1]) for s in scans),
        "bytes_read": int(profile["io"]["total_bytes_read"]),
    }


def bench_pruning(data: dict[str, Path], catalogs: dict[str, Path]) -> dict[str, Any]:
    ids = ["C00042"]
    with featurekit.FeatureStore(catalogs["json"], data=data["year"], cache=False) as store:
        partitioned = scan(store, ids)
    with featurekit.FeatureStore(catalogs["flat"], data=data["year"], cache=False) as store:
        flat = scan(store, ids)
    total_bytes = sum(f.stat().st_size for f in (data["year"] / "orders").glob("dt=*/*.json"))
    for result in (partitioned, flat):
        result["athena_cost_usd"] = athena_cost(result["bytes_read"])
    return {
        "window_days": 90,
        "partitioned": partitioned,
        "unpartitioned": flat,
        "dataset_bytes": total_bytes,
        "files_share": partitioned["files_read"] / partitioned["files_total"],
        "bytes_share": partitioned["bytes_read"] / flat["bytes_read"],
    }


# ---------------------------------------------------------------- (f) memory


MEMORY_CHILD = textwrap.dedent(
    """
    import datetime, json, resource, sys, time
    import featurekit
    catalog, data, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    real = [f"C{i:05d}" for i in range(1, 100_000)]
    ids = (real + [f"C{i:07d}" for i in range(100_000, 100_000 + n)])[:n]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with featurekit.FeatureStore(catalog, data=data) as store:
        start = time.perf_counter()
        frame = store.get_frame("customer_orders", ids, as_of=datetime.date(2026, 6, 30))
        elapsed = time.perf_counter() - start
        rows, queries = len(frame), frame.provenance.queries_run
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "queries": queries, "seconds": elapsed,
                      "peak_rss_mb": peak / 1024, "baseline_rss_mb": base / 1024}))
    """
)


def bench_memory(sizes: Sizes, data: dict[str, Path], catalogs: dict[str, Path]) -> dict[str, Any]:
    """Peak RSS (ru_maxrss, Linux KiB) of a fresh process running one batch with the default cache on."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(catalogs["parquet"]), str(data["big"]), str(sizes.memory_entities)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["entities"] = sizes.memory_entities
    return result


# ---------------------------------------------------------------- report


def figures(r: dict[str, Any]) -> list[Figure]:
    rows = []
    for label, o in r["overhead"].items():
        rows.append(
            Figure(
                f"(a) one lookup vs raw DuckDB, {label}",
                f"{o['featurekit_ms']:.2f} ms vs {o['raw_duckdb_ms']:.2f} ms = {o['ratio']:.2f}×",
                "≤ 1.2×",
                o["ratio"] <= 1.2,
                "featurekit: validate, render, run, type, provenance; raw: the same SQL text and binds",
            )
        )
    for n, b in r["batch"].items():
        extrapolated = (
            f" (loop extrapolated from {b['loop_measured_entities']:,} entities)" if b["loop_extrapolated"] else ""
        )
        rows.append(
            Figure(
                f"(b) {int(n):,} entities: one batch vs a per-entity loop",
                f"{b['batch_s']:.2f} s ({b['batch_queries']} query) vs {b['loop_s']:.1f} s = {b['speedup']:.0f}×",
                "≥ 100× at N = 1,000" if int(n) == 1000 else "—",
                b["speedup"] >= 100 if int(n) == 1000 else None,
                "cache off" + extrapolated,
            )
        )
    c = r["cache"]
    rows.append(
        Figure(
            "(c) cache hit per entity (batch of all hits)",
            f"{c['hit_per_entity_in_batch_us']:.1f} µs (miss: {c['miss_ms']:.2f} ms)",
            "≤ 20 µs",
            c["hit_per_entity_in_batch_us"] <= 20,
            f"{c['batch_entities']:,} cached IDs in one get; includes ID validation and Arrow assembly",
        )
    )
    rows.append(
        Figure(
            "(c) cache hit, a single `get` of one entity",
            f"{c['hit_single_get_us']:.0f} µs",
            "≤ 20 µs",
            c["hit_single_get_us"] <= 20,
            "a whole call: validate, render, lookup, result and provenance objects; the lookup itself is "
            f"{c['cache_lookup_per_entity_us']:.2f} µs per entity",
        )
    )
    if "athena" in r:
        a = r["athena"]
        fk, tut = a["featurekit"], a["tutorial"]
        rows.append(
            Figure(
                "(d) Athena on moto: added wall time, mean over "
                + ", ".join(f"{s:.1f}" for s in a["simulated_run_s"])
                + " s queries",
                f"featurekit +{fk['added_pct']:.1f}% (worst +{fk['worst_added_pct']:.1f}%) vs tutorial loop "
                f"+{tut['added_pct']:.1f}% (worst +{tut['worst_added_pct']:.1f}%)",
                "≤ 10%",
                fk["added_pct"] <= 10,
                "moto advances QUEUED→RUNNING→SUCCEEDED only when polled, so polling lateness counts twice",
            )
        )
        rows.append(
            Figure(
                "(d) Athena: status calls per 100 ms of run time (worst run)",
                f"featurekit {fk['status_calls_per_100ms']:.2f} ({fk['api_calls']:.0f} API calls a lookup) vs "
                f"tutorial {tut['status_calls_per_100ms']:.2f} ({tut['api_calls']:.0f})",
                "≤ 1",
                fk["status_calls_per_100ms"] <= 1,
                "adaptive: first wait 0.1 s, then 5% of the time run so far, capped at poll_interval",
            )
        )
    else:
        rows.append(Figure("(d) Athena on moto", "not run", "—", None, r.get("athena_error", "")))
    p = r["pruning"]
    rows.append(
        Figure(
            "(e) 90-day window over a year of daily partitions: files read",
            f"{p['partitioned']['files_read']} of {p['partitioned']['files_total']} = {p['files_share']:.0%}",
            "≤ 30%",
            p["files_share"] <= 0.30,
            f"bytes {p['partitioned']['bytes_read']:,} vs {p['unpartitioned']['bytes_read']:,} unpartitioned "
            f"({p['bytes_share']:.0%})",
        )
    )
    m = r["memory"]
    rows.append(
        Figure(
            f"(f) peak memory, {m['entities']:,}-entity batch",
            f"{m['peak_rss_mb']:.0f} MB peak RSS ({m['seconds']:.1f} s, {m['queries']} queries)",
            "< 2 GB",
            m["peak_rss_mb"] < 2048,
            f"fresh process, default cache on; {m['baseline_rss_mb']:.0f} MB before the batch",
        )
    )
    return rows


def markdown(rows: list[Figure], r: dict[str, Any]) -> str:
    lines = [
        "| benchmark | measured | target | met | note |",
        "|---|---|---|---|---|",
    ]
    for f in rows:
        met = "—" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.benchmark} | {f.measured} | {f.target} | {met} | {f.note} |")
    m = r["machine"]
    lines.append("")
    lines.append(
        f"Measured {m['date']} on {m['cpus']} CPUs, Python {m['python']}, DuckDB {m['duckdb']}, "
        f"pyarrow {m['pyarrow']}; {m['sizes']} sizes; whole run {m['seconds']:.0f} s."
    )
    return "\n".join(lines) + "\n"


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    labels = [k.split(",")[0] for k in r["overhead"]]
    x = range(len(labels))
    axes[0].bar([i - 0.2 for i in x], [o["raw_duckdb_ms"] for o in r["overhead"].values()], 0.4, label="raw DuckDB")
    axes[0].bar([i + 0.2 for i in x], [o["featurekit_ms"] for o in r["overhead"].values()], 0.4, label="featurekit")
    axes[0].set_xticks(list(x), labels)
    axes[0].set_ylabel("ms per lookup")
    axes[0].set_title("(a) one lookup")
    axes[0].legend()
    ns = list(r["batch"])
    axes[1].bar([i - 0.2 for i in range(len(ns))], [b["loop_s"] for b in r["batch"].values()], 0.4, label="loop")
    axes[1].bar([i + 0.2 for i in range(len(ns))], [b["batch_s"] for b in r["batch"].values()], 0.4, label="batch")
    axes[1].set_yscale("log")
    axes[1].set_xticks(range(len(ns)), [f"N={int(n):,}" for n in ns])
    axes[1].set_ylabel("seconds (log)")
    axes[1].set_title("(b) N entities")
    axes[1].legend()
    c = r["cache"]
    names = ["miss", "hit (single get)", "hit (per entity, batch)"]
    values = [c["miss_ms"] * 1000, c["hit_single_get_us"], c["hit_per_entity_in_batch_us"]]
    axes[2].bar(names, values, color=["tab:red", "tab:orange", "tab:green"])
    axes[2].set_yscale("log")
    axes[2].set_ylabel("µs per entity (log)")
    axes[2].set_title("(c) cache")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_page(table: str) -> None:
    if not PAGE.exists():
        return
    text = PAGE.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        PAGE.write_text(f"{head}{START}\n{table}{END}{tail}")


def run(sizes: Sizes, out: Path = OUT, *, athena: bool = True, page: bool = True) -> dict[str, Any]:
    began = time.perf_counter()
    DATA.mkdir(parents=True, exist_ok=True)
    step = lambda name: print(f"[{time.perf_counter() - began:6.1f} s] {name}", flush=True)  # noqa: E731
    step("generating data")
    data = make_data(sizes)
    catalogs = {"json": benchmark_catalog("json"), "parquet": benchmark_catalog("parquet"), "flat": flat_catalog()}
    results: dict[str, Any] = {}
    step("(a) overhead vs raw DuckDB")
    results["overhead"] = bench_overhead(sizes, data, catalogs)
    step("(b) batch vs loop")
    results["batch"] = bench_batch(sizes, data, catalogs)
    step("(c) cache")
    results["cache"] = bench_cache(sizes, data, catalogs)
    if athena:
        step("(d) Athena on moto")
        try:
            results["athena"] = bench_athena(sizes)
        except ImportError as exc:  # moto or pyathena not installed
            results["athena_error"] = f"needs featurekit[test]: {exc}"
    step("(e) partition pruning")
    results["pruning"] = bench_pruning(data, catalogs)
    step("(f) memory")
    results["memory"] = bench_memory(sizes, data, catalogs)
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
    rows = figures(results)
    results["figures"] = [asdict(f) for f in rows]
    table = markdown(rows, results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.md").write_text(table)
    plot(results, out / "results.png")
    if page:
        write_page(table)
    step("done")
    print(table)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the code paths")
    parser.add_argument("--no-athena", action="store_true", help="skip (d), which needs moto and pyathena")
    parser.add_argument("--out", type=Path, default=OUT, help="where the results go (default docs/benchmarks)")
    args = parser.parse_args(argv)
    run(Sizes.quick() if args.quick else Sizes(), args.out, athena=not args.no_athena, page=args.out == OUT)


if __name__ == "__main__":
    main()
