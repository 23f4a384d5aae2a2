"""The measurements: each returns plain numbers for results.json; report.py turns them into ratios."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

import featurekit
from benchmarks import handwritten, workloads
from benchmarks.common import Sizes, child, median_s, paired_median_s, python
from benchmarks.handwritten import AS_OF, VIEWS
from featurekit.engines import identity
from featurekit.engines.base import athena_cost
from featurekit.engines.duckdb import DuckDBEngine
from featurekit.sample import write_sample


def make_data(sizes: Sizes, root: Path) -> dict[str, Path]:
    """Big Parquet orders, the daily feature table, tutorial-sized JSON, a year of JSON (+ an unpartitioned copy).

    Generation is deterministic, so data written for the same sizes is reused.
    """
    data = {"orders": root / "orders", "pit": root / "daily", "tutorial": root / "tutorial", "year": root / "year"}
    stamp, wanted = root / "sizes.json", json.dumps(asdict(sizes), sort_keys=True)
    if stamp.exists() and stamp.read_text() == wanted:
        return data
    stamp.unlink(missing_ok=True)
    workloads.write_orders(data["orders"], sizes.orders, sizes.order_customers)
    workloads.write_daily(data["pit"], sizes.daily_customers, sizes.daily_days, sizes.daily_rows_per_day)
    write_sample(data["tutorial"], customers=60, orders=400, as_of=AS_OF, days=365)
    write_sample(data["year"], customers=2_000, orders=sizes.year_orders, as_of=AS_OF, days=365)
    flat = data["year"] / "orders_flat"
    shutil.rmtree(flat, ignore_errors=True)
    flat.mkdir()
    with (flat / "part-0.json").open("w") as out:
        for file in sorted((data["year"] / "orders").glob("dt=*/*.json")):
            day = file.parent.name.removeprefix("dt=")
            for line in file.read_text().splitlines():
                out.write(line[:-1] + f',"dt":"{day}"}}\n')
    stamp.write_text(wanted)
    return data


def make_catalogs(root: Path) -> dict[str, Path]:
    json_catalog = workloads.catalog(root, "json")
    flat = root / "catalog-flat"  # `orders` unpartitioned: `dt` is an ordinary column of one folder of files
    shutil.rmtree(flat, ignore_errors=True)
    shutil.copytree(json_catalog, flat)
    orders = flat / "tables" / "orders.yaml"
    text = orders.read_text().replace("path: orders", "path: orders_flat")
    text = re.sub(r"partitioned_by:\n((?:  - .*\n)+)", "", text)
    text = text.replace(
        "columns:\n", 'columns:\n  - {name: dt, type: string, description: "Order day, an ordinary column here"}\n'
    )
    orders.write_text(text)
    return {"json": json_catalog, "parquet": workloads.catalog(root, "parquet"), "flat": flat}


def customers(sizes: Sizes, workload: str) -> int:
    return sizes.daily_customers if workload == "pit" else sizes.order_customers


# ---------------------------------------------------------------- (a) featurekit vs hand-written DuckDB


def raw_table(workload: str, data: Path, ids: list[str], fmt: str = "parquet") -> pa.Table:
    sql, values = handwritten.raw_query(workload, data, fmt)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
        return duckdb.connect().execute(sql, values(ids)).to_arrow_table()


def answers_match(workload: str, data: Path, catalog: Path, ids: list[str]) -> bool:
    """Whether featurekit and the hand-written query return the same values (so the race is fair)."""
    with featurekit.FeatureStore(catalog, data=data, cache=False) as store:
        mine = store.get_frame(VIEWS[workload], ids, as_of=AS_OF).table
    raw = raw_table(workload, data, ids)
    columns = []
    for field in mine.schema:
        column = raw[field.name]
        if pa.types.is_decimal(column.type) and pa.types.is_floating(field.type):
            column = column.cast(pa.string())  # as featurekit reads a decimal: its exact text
        columns.append(column.cast(field.type))
    return bool(mine.to_pylist() == pa.Table.from_arrays(columns, schema=mine.schema).to_pylist())


def side_by_side(name: str, mine: dict[str, Any], other_name: str, other: dict[str, Any]) -> dict[str, Any]:
    """Two child runs as one row: each side's median time and peak RSS, and the ratios."""
    return {
        f"{name}_s": mine["median_s"],
        f"{other_name}_s": other["median_s"],
        "ratio": mine["median_s"] / other["median_s"],
        f"{name}_rss_mib": mine["peak_rss_mib"],
        f"{other_name}_rss_mib": other["peak_rss_mib"],
        "rss_ratio": mine["peak_rss_mib"] / other["peak_rss_mib"],
    }


def bench_scaling(sizes: Sizes, data: dict[str, Path], catalog: Path) -> dict[str, Any]:
    """Both workloads at every N: featurekit (cache off) and the hand-written query, each in its own process."""
    out: dict[str, Any] = {}
    for workload in ("pit", "orders"):
        rows: dict[str, Any] = {}
        who = customers(sizes, workload)
        for n in sizes.scaling_ns:
            runs = sizes.runs_at(n)
            fk = child("featurekit", workload, "parquet", data[workload], catalog, n, who, runs)
            raw = child("raw", workload, "parquet", data[workload], catalog, n, who, runs)
            assert fk["rows"] == raw["rows"] == n, (fk, raw)
            rows[str(n)] = {**side_by_side("featurekit", fk, "raw", raw), "queries": fk["queries"]}
        check = handwritten.entity_ids(workload, min(1_000, who), who)
        out[workload] = {"by_n": rows, "answers_match": answers_match(workload, data[workload], catalog, check)}
    first: dict[str, Any] = {}
    for n in sizes.cache_ns:
        runs = sizes.runs_at(n)
        on = child("featurekit-cache", "pit", "parquet", data["pit"], catalog, n, sizes.daily_customers, runs)
        off = child("featurekit", "pit", "parquet", data["pit"], catalog, n, sizes.daily_customers, runs)
        first[str(n)] = side_by_side("cache_on", on, "cache_off", off)
    out["first_call_cache_on"] = first
    return out


# ---------------------------------------------------------------- (c) cache hits, however the cache was filled


def files_checked(store: featurekit.FeatureStore) -> int:
    """How many files a lookup stats to see whether its tables changed (every file of the tables prepared)."""
    assert isinstance(store.engine, DuckDBEngine)
    return sum(len(ready[1]) for ready in store.engine._ready.values())


def bench_cache(sizes: Sizes, data: dict[str, Path], catalog: Path) -> dict[str, Any]:
    view, who = VIEWS["pit"], sizes.daily_customers
    fill = handwritten.entity_ids("pit", sizes.cache_fill, who)  # a shuffled batch
    read = sorted(fill[::-1][: min(1_000, len(fill))], reverse=True)  # a different size and order
    lone = f"C{who:07d}" if f"C{who:07d}" not in fill else fill[0]
    with featurekit.FeatureStore(catalog, data=data["pit"]) as store:
        miss = median_s(lambda: store.get(view, lone, as_of=AS_OF, use_cache=False), sizes.repeats)
        store.get_frame(view, fill, as_of=AS_OF)
        one = fill[len(fill) // 2]
        # The fill is kept as the query returned it; the first read pairs its rows with their IDs, once.
        start = time.perf_counter()
        store.get(view, one, as_of=AS_OF)
        first_read = time.perf_counter() - start
        single_from_batch = median_s(lambda: store.get(view, one, as_of=AS_OF), 2_000)
        thousand = median_s(lambda: store.get_frame(view, read, as_of=AS_OF), 200)
        store.get(view, lone, as_of=AS_OF)  # filled by a 1-entity query
        single_from_one = median_s(lambda: store.get(view, lone, as_of=AS_OF), 2_000)
        cache = store.cache
        assert cache is not None
        query = store.render(view, [one], as_of=AS_OF)
        prefix = identity.cache_prefix(store.engine, query, [store.catalog.table(t) for t in query.tables])
        lookup = median_s(lambda: cache.lookup(prefix, [one], lambda m: {}), 2_000)
        frame = store.get_frame(view, read, as_of=AS_OF)
        assert frame.provenance.cache_hits == len(read)
        files = files_checked(store)
        # The same reads with the files' last check trusted for an hour (DuckDBEngine(file_check_interval=...)).
        assert isinstance(store.engine, DuckDBEngine)
        store.engine.file_check_interval = 3600.0
        trusted_single = median_s(lambda: store.get(view, one, as_of=AS_OF), 2_000)
        trusted_thousand = median_s(lambda: store.get_frame(view, read, as_of=AS_OF), 200)
    return {
        "files_checked": files,
        "hit_single_trusted_us": trusted_single * 1e6,
        "hit_1000_trusted_ms": trusted_thousand * 1000,
        "miss_single_ms": miss * 1000,
        "hit_single_from_batch_us": single_from_batch * 1e6,
        "first_hit_after_fill_ms": first_read * 1000,
        "hit_single_from_one_us": single_from_one * 1e6,
        "hit_1000_ms": thousand * 1000,
        "lookup_one_us": lookup * 1e6,
        "fill_entities": len(fill),
        "read_entities": len(read),
    }


# ---------------------------------------------------------------- (f) start-up and the tutorial-sized lookup

IMPORT = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"
SCRIPT = """\
import datetime, json, sys, duckdb
sql = {sql!r}
rows = duckdb.connect().execute(sql, {{"ids": [sys.argv[1]], "start": {start!r}, "as_of": {as_of!r}}}).fetchall()
print(json.dumps(rows, default=str))
"""


def bench_startup(sizes: Sizes, data: dict[str, Path], catalog: Path, root: Path) -> dict[str, Any]:
    runs = max(3, sizes.repeats // 3)
    imports = {
        name: statistics.median(float(python(["-c", IMPORT.format(name)], module=False).stdout) for _ in range(runs))
        for name in ("featurekit", "duckdb")
    }
    sql, values = handwritten.raw_query("pit", data["pit"])
    bound = values([])
    script = root / "handwritten_get.py"
    script.write_text(SCRIPT.format(sql=sql, start=bound["start"], as_of=bound["as_of"]))
    one = handwritten.entity_ids("pit", 1, sizes.daily_customers)[0]
    cli = ["featurekit.cli", "get", VIEWS["pit"], one, "--catalog", str(catalog), "--data", str(data["pit"])]
    cli += ["--as-of", AS_OF.isoformat(), "--no-cache", "--format", "json"]

    def wall(args: list[str], module: bool) -> float:
        start = time.perf_counter()
        python(args, module=module)
        return time.perf_counter() - start

    fk, raw = [], []
    for _ in range(runs):
        fk.append(wall(cli, True))
        raw.append(wall([str(script), one], False))
    return {
        "import_featurekit_s": imports["featurekit"],
        "import_duckdb_s": imports["duckdb"],
        "cli_get_s": statistics.median(fk),
        "script_get_s": statistics.median(raw),
        "ratio": statistics.median(fk) / statistics.median(raw),
    }


def bench_tutorial(sizes: Sizes, data: dict[str, Path], catalog: Path) -> dict[str, Any]:
    """One uncached lookup on the tutorial-sized JSON sample vs the hand-written read_json query, and vs the
    same query over a table the files were loaded into once (DuckDB's query time with no parsing at all)."""
    sql, values = handwritten.raw_query("orders", data["tutorial"], "json")
    con = duckdb.connect()
    con.execute(f"CREATE TABLE loaded AS SELECT * FROM {handwritten.raw_source('orders', data['tutorial'], 'json')}")
    loaded_sql, _ = handwritten.raw_query("orders", data["tutorial"], "json", source="loaded")
    with featurekit.FeatureStore(catalog, data=data["tutorial"], cache=False) as store:
        fk, raw = paired_median_s(
            lambda: store.get(VIEWS["orders"], "C00042", as_of=AS_OF),
            lambda: con.execute(sql, values(["C00042"])).fetchall(),
            sizes.repeats,
        )
        _, loaded = paired_median_s(
            lambda: store.get(VIEWS["orders"], "C00042", as_of=AS_OF),
            lambda: con.execute(loaded_sql, values(["C00042"])).fetchall(),
            sizes.repeats,
        )
        files = files_checked(store)
    return {"featurekit_ms": fk * 1000, "raw_ms": raw * 1000, "ratio": fk / raw, "loaded_ms": loaded * 1000,
            "files": files}  # fmt: skip


# ---------------------------------------------------------------- (b) batch vs loop, (d) Athena, (e) pruning


def bench_batch(sizes: Sizes, data: dict[str, Path], catalog: Path) -> dict[str, Any]:
    out = {}
    view = VIEWS["orders"]
    with featurekit.FeatureStore(catalog, data=data["orders"], cache=False) as store:
        store.get(view, "C00001", as_of=AS_OF)  # warm-up
        for n in sizes.batch_ns:
            ids = [f"C{i:05d}" for i in range(1, n + 1)]
            start = time.perf_counter()
            frame = store.get(view, ids, as_of=AS_OF)
            batch_s = time.perf_counter() - start
            looped = min(n, sizes.loop_sample)
            start = time.perf_counter()
            for entity_id in ids[:looped]:
                store.get(view, entity_id, as_of=AS_OF)
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


def scan(store: featurekit.FeatureStore, ids: list[str]) -> dict[str, Any]:
    """Files read, files listed and bytes read, from DuckDB's profiler, for the query as featurekit runs it."""
    view = VIEWS["orders"]
    store.get(view, ids, as_of=AS_OF, use_cache=False)  # creates the views
    query = store.render(view, ids, as_of=AS_OF)
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
        for child_node in node.get("children", []):
            walk(child_node)

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
    # The snapshot of small JSON tables is off here: this counts the files a query opens, as Athena would.
    with featurekit.FeatureStore(catalogs["json"], data=data["year"], cache=False, snapshot_max_bytes=0) as store:
        partitioned = scan(store, ids)
    with featurekit.FeatureStore(catalogs["flat"], data=data["year"], cache=False, snapshot_max_bytes=0) as store:
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
