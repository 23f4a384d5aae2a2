"""Results as the docs show them: every figure a ratio against its comparator, a table, a plot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import PAGE

START, END = "<!-- benchmark-results:start -->", "<!-- benchmark-results:end -->"
WORKLOAD_LABEL = {"pit": "latest row ≤ as_of (TTL 30 d)", "orders": "customer_orders (90-day aggregate)"}


@dataclass(frozen=True)
class Figure:
    """One row of the results table: what was measured, against what, the ratio, the target, whether it is met."""

    benchmark: str
    measured: str
    ratio: str
    target: str
    met: bool | None
    note: str = ""


def _scaling(r: dict[str, Any]) -> list[Figure]:
    rows = []
    for workload, label in WORKLOAD_LABEL.items():
        result = r["scaling"][workload]
        match = "same answers" if result["answers_match"] else "**answers differ**"
        for n, o in result["by_n"].items():
            rows.append(
                Figure(
                    f"(a) {label}, N = {int(n):,}: featurekit ÷ hand-written DuckDB",
                    f"{o['featurekit_s'] * 1000:,.1f} ms vs {o['raw_s'] * 1000:,.1f} ms; "
                    f"peak RSS {o['featurekit_rss_mib']:,.0f} vs {o['raw_rss_mib']:,.0f} MiB",
                    f"{o['ratio']:.2f}× time, {o['rss_ratio']:.2f}× RSS",
                    "≤ 1.10× time, ≤ 1.2× RSS",
                    o["ratio"] <= 1.10 and o["rss_ratio"] <= 1.2,
                    f"{o['queries']} quer{'y' if o['queries'] == 1 else 'ies'}; {match}",
                )
            )
    for n, o in r["scaling"]["first_call_cache_on"].items():
        rows.append(
            Figure(
                f"(c) first call, N = {int(n):,}: cache on ÷ cache off",
                f"{o['cache_on_s']:.2f} s vs {o['cache_off_s']:.2f} s; peak RSS "
                f"{o['cache_on_rss_mib']:,.0f} vs {o['cache_off_rss_mib']:,.0f} MiB",
                f"{o['ratio']:.2f}×",
                "≤ 1.10×",
                o["ratio"] <= 1.10,
                "latest-row workload; the cache is emptied before every run",
            )
        )
    return rows


def _cache(r: dict[str, Any]) -> list[Figure]:
    c = r["cache"]
    miss_us = c["miss_single_ms"] * 1000
    fill = f"{c['fill_entities']:,}"
    return [
        Figure(
            f"(c) single cached `get`, entry filled by a {fill}-entity batch",
            f"{c['hit_single_from_batch_us']:.1f} µs (uncached: {c['miss_single_ms']:.2f} ms)",
            f"{c['hit_single_from_batch_us'] / miss_us:.4f}× uncached",
            "≤ 10 µs",
            c["hit_single_from_batch_us"] <= 10,
            f"a whole call: validate, render, check the {c['files_checked']} files read (one stat each), look up, "
            f"result objects; the lookup alone {c['lookup_one_us']:.1f} µs",
        ),
        Figure(
            f"(c) first cached `get` after the {fill}-entity batch",
            f"{c['first_hit_after_fill_ms']:.2f} ms",
            f"{c['first_hit_after_fill_ms'] / c['miss_single_ms']:.2f}× one uncached lookup",
            "—",
            None,
            "the first read of a batch indexes its rows by ID, once; the batch itself was stored without per-ID work",
        ),
        Figure(
            "(c) single cached `get`, entry filled by a 1-entity query",
            f"{c['hit_single_from_one_us']:.1f} µs",
            f"{c['hit_single_from_one_us'] / miss_us:.4f}× uncached",
            "≤ 10 µs",
            c["hit_single_from_one_us"] <= 10,
            "",
        ),
        Figure(
            f"(c) {c['read_entities']:,} cached entities in one call",
            f"{c['hit_1000_ms']:.2f} ms",
            f"{c['hit_1000_ms'] / c['miss_single_ms']:.2f}× one uncached lookup",
            "≤ 1 ms",
            c["hit_1000_ms"] <= 1,
            f"filled by a shuffled {fill}-entity batch, read in another order",
        ),
        Figure(
            "(c) single cached `get` / 1,000 in one call, files' last check trusted (`file_check_interval`)",
            f"{c['hit_single_trusted_us']:.1f} µs / {c['hit_1000_trusted_ms']:.2f} ms",
            f"{c['hit_single_trusted_us'] / miss_us:.4f}× uncached",
            "≤ 10 µs / ≤ 1 ms",
            c["hit_single_trusted_us"] <= 10 and c["hit_1000_trusted_ms"] <= 1,
            "opt-in: no `stat` between checks, answers up to the interval behind a file change",
        ),
    ]


def _startup(r: dict[str, Any]) -> list[Figure]:
    s, t = r["startup"], r["tutorial"]
    return [
        Figure(
            "(f) `import featurekit`",
            f"{s['import_featurekit_s'] * 1000:.0f} ms (`import duckdb`: {s['import_duckdb_s'] * 1000:.0f} ms)",
            f"{s['import_featurekit_s'] / s['import_duckdb_s']:.2f}× `import duckdb`",
            "≤ 150 ms",
            s["import_featurekit_s"] <= 0.15,
            "in a fresh process",
        ),
        Figure(
            "(f) one-entity `featurekit get` process ÷ a python + duckdb script",
            f"{s['cli_get_s']:.2f} s vs {s['script_get_s']:.2f} s",
            f"{s['ratio']:.2f}×",
            "≤ 1.5×",
            s["ratio"] <= 1.5,
            "latest-row workload, --no-cache; wall time of each process",
        ),
        Figure(
            "(f) one uncached lookup, tutorial-sized JSON sample (400 rows, daily files)",
            f"{t['featurekit_ms']:.2f} ms vs {t['raw_ms']:.2f} ms hand-written read_json",
            f"{t['ratio']:.2f}×",
            "≤ 3 ms",
            t["featurekit_ms"] <= 3,
            f"after the first lookup; the hand-written query over a table loaded once: {t['loaded_ms']:.2f} ms; "
            f"{t['files']} files checked per lookup",
        ),
    ]


def _classic(r: dict[str, Any]) -> list[Figure]:
    rows = []
    for n, b in r["batch"].items():
        extrapolated = (
            f" (loop extrapolated from {b['loop_measured_entities']:,} entities)" if b["loop_extrapolated"] else ""
        )
        rows.append(
            Figure(
                f"(b) {int(n):,} entities: one batch vs a per-entity loop",
                f"{b['batch_s']:.2f} s ({b['batch_queries']} query) vs {b['loop_s']:.1f} s",
                f"{b['speedup']:.0f}× faster",
                "≥ 100× at N = 1,000" if int(n) == 1000 else "—",
                b["speedup"] >= 100 if int(n) == 1000 else None,
                "customer_orders, cache off" + extrapolated,
            )
        )
    if "athena" in r:
        fk, tut = r["athena"]["featurekit"], r["athena"]["tutorial"]
        rows.append(
            Figure(
                "(d) Athena on moto: status calls per 100 ms of run time (worst run)",
                f"featurekit {fk['status_calls_per_100ms']:.2f} ({fk['api_calls']:.0f} API calls a lookup) vs "
                f"tutorial loop {tut['status_calls_per_100ms']:.2f} ({tut['api_calls']:.0f})",
                f"{fk['status_calls_per_100ms'] / tut['status_calls_per_100ms']:.2f}× the tutorial loop",
                "≤ 1 call / 100 ms",
                fk["status_calls_per_100ms"] <= 1,
                f"added wall time +{fk['added_pct']:.1f}% vs +{tut['added_pct']:.1f}%",
            )
        )
    else:
        rows.append(Figure("(d) Athena on moto", "not run", "—", "—", None, r.get("athena_error", "")))
    p = r["pruning"]
    rows.append(
        Figure(
            "(e) 90-day window over a year of daily partitions: files read",
            f"{p['partitioned']['files_read']} of {p['partitioned']['files_total']}",
            f"{p['files_share']:.0%} of the files, {p['bytes_share']:.0%} of the bytes unpartitioned",
            "≤ 30% of files",
            p["files_share"] <= 0.30,
            "",
        )
    )
    return rows


def figures(r: dict[str, Any]) -> list[Figure]:
    return _scaling(r) + _cache(r) + _startup(r) + _classic(r)


def markdown(rows: list[Figure], r: dict[str, Any]) -> str:
    lines = ["| benchmark | measured | ratio | target | met | note |", "|---|---|---|---|---|---|"]
    for f in rows:
        met = "—" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.benchmark} | {f.measured} | {f.ratio} | {f.target} | {met} | {f.note} |")
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

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for workload, label in WORKLOAD_LABEL.items():
        by_n = r["scaling"][workload]["by_n"]
        ns = [int(n) for n in by_n]
        axes[0].plot(ns, [o["ratio"] for o in by_n.values()], marker="o", label=label)
        axes[1].plot(ns, [o["rss_ratio"] for o in by_n.values()], marker="o", label=label)
    for ax, title in ((axes[0], "time ÷ hand-written DuckDB"), (axes[1], "peak RSS ÷ hand-written DuckDB")):
        ax.axhline(1.10 if ax is axes[0] else 1.2, color="grey", linestyle="--", linewidth=1, label="target")
        ax.set_xscale("log")
        ax.set_xlabel("entities per call (N)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    c = r["cache"]
    names = ["uncached", "hit, from batch", "hit, from 1", "1,000 hits"]
    values = [c["miss_single_ms"] * 1000, c["hit_single_from_batch_us"], c["hit_single_from_one_us"]]
    values.append(c["hit_1000_ms"] * 1000)
    axes[2].bar(names, values, color=["tab:red", "tab:green", "tab:green", "tab:blue"])
    axes[2].set_yscale("log")
    axes[2].set_ylabel("µs per call (log)")
    axes[2].set_title("cache")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_page(table: str, page: Path = PAGE) -> None:
    if not page.exists():
        return
    text = page.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        page.write_text(f"{head}{START}\n{table}{END}{tail}")
