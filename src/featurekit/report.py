"""Workload reports: what a session's or a log file's lookups did, and the same figures in CloudWatch.

Every `FeatureStore.get_frame` call becomes one `Lookup` record (success or failure, with the
queries it ran and the cache hits it had). A store keeps its session's records in memory and,
with `query_log=` (or FEATUREKIT_QUERY_LOG), appends each as one JSON line to a file, so a batch
job and a later `featurekit report` need not share a process.

Percentiles are nearest-rank (the value of an actual lookup, never an interpolation), so a
p95 over 20 lookups is the 19th slowest one: a figure someone can find in the log.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .engines.base import QueryStats
from .errors import DataError, InputError

ENV_QUERY_LOG = "FEATUREKIT_QUERY_LOG"
#: CloudWatch takes at most 1,000 metric data points per PutMetricData call.
_CW_BATCH = 1000


@dataclass(frozen=True)
class Lookup:
    """One `get_frame` call: which view, how many entities, what it ran, and how it ended."""

    view: str
    engine: str
    entities: int
    cache_hits: int
    elapsed_ms: float
    queries: tuple[QueryStats, ...] = ()
    error: str | None = None  # the error's class name: the failure reason a report groups by
    message: str | None = None
    at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"))

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "queries": [q.to_dict() for q in self.queries]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lookup:
        fields = dict(data)
        fields["queries"] = tuple(QueryStats(**q) for q in fields.get("queries", ()))
        return cls(**fields)


class QueryLog:
    """An append-only JSON-lines file of Lookups; safe to share between threads of one process."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    def append(self, lookup: Lookup) -> None:
        line = json.dumps(lookup.to_dict(), separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write() of one line in append mode: concurrent writers never interleave within a line.
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)

    def read(self) -> list[Lookup]:
        """Every record in the file; a line that is not a record is a DataError naming file:line."""
        if not self.path.is_file():
            raise InputError("log", f"{self.path} does not exist (write one with query_log= or {ENV_QUERY_LOG})")
        records = []
        with self.path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(Lookup.from_dict(json.loads(line)))
                except (ValueError, TypeError) as exc:
                    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise DataError(f"{self.path}:{number}: not a featurekit query log record ({reason})") from None
        return records


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


@dataclass(frozen=True)
class ViewFigures:
    """One view's share of a workload."""

    view: str
    engine: str
    lookups: int
    failures: int
    queries: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    scanned_bytes: int
    cost_usd: float


@dataclass(frozen=True)
class WorkloadReport:
    """Counts, latency, bytes, cost and hit rates of a set of lookups (`build` makes one)."""

    lookups: int
    failures: Mapping[str, int]
    queries: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    scanned_bytes: int
    cost_usd: float
    reused_queries: int
    entities: int
    cache_hits: int
    views: tuple[ViewFigures, ...]

    @classmethod
    def build(cls, lookups: Iterable[Lookup]) -> WorkloadReport:
        items = list(lookups)
        queries = [q for lk in items for q in lk.queries]
        by_view: dict[tuple[str, str], list[Lookup]] = defaultdict(list)
        for lk in items:
            by_view[(lk.view, lk.engine)].append(lk)
        views = tuple(
            sorted(
                (_view_figures(view, engine, group) for (view, engine), group in by_view.items()),
                key=lambda v: -(v.max_ms or 0.0),
            )
        )
        latencies = [lk.elapsed_ms for lk in items]
        return cls(
            lookups=len(items),
            failures=dict(Counter(lk.error for lk in items if lk.error)),
            queries=len(queries),
            p50_ms=percentile(latencies, 50),
            p95_ms=percentile(latencies, 95),
            max_ms=max(latencies, default=None),
            scanned_bytes=sum(q.scanned_bytes or 0 for q in queries),
            cost_usd=sum(q.cost_usd or 0.0 for q in queries),
            reused_queries=sum(1 for q in queries if q.reused),
            entities=sum(lk.entities for lk in items),
            cache_hits=sum(lk.cache_hits for lk in items),
            views=views,
        )

    @property
    def success_rate(self) -> float:
        return 1 - sum(self.failures.values()) / self.lookups if self.lookups else 1.0

    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / self.entities if self.entities else 0.0

    @property
    def reuse_rate(self) -> float:
        return self.reused_queries / self.queries if self.queries else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            success_rate=round(self.success_rate, 4),
            cache_hit_rate=round(self.cache_hit_rate, 4),
            reuse_rate=round(self.reuse_rate, 4),
        )
        return data

    def rows(self) -> list[tuple[str, str]]:
        """The report as (figure, value) pairs, in the order a table shows them."""
        failures = ", ".join(f"{n} {reason}" for reason, n in sorted(self.failures.items())) or "none"
        return [
            ("lookups", f"{self.lookups:,} ({self.success_rate:.1%} succeeded)"),
            ("failures", failures),
            ("queries", f"{self.queries:,} ({self.reused_queries:,} reused by Athena, {self.reuse_rate:.0%})"),
            ("latency p50 / p95 / max", " / ".join(_ms(v) for v in (self.p50_ms, self.p95_ms, self.max_ms))),
            ("bytes scanned", f"{self.scanned_bytes:,}"),
            ("cost", f"${self.cost_usd:.6f}"),
            ("cache hits", f"{self.cache_hits:,} of {self.entities:,} entities ({self.cache_hit_rate:.0%})"),
            ("slowest view", self.views[0].view if self.views else "-"),
        ]

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.rows())

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """A bar chart of p50/p95/max latency per view, written as PNG (needs matplotlib: the docs extra)."""
        try:
            import matplotlib
        except ImportError:
            raise InputError("--plot", "needs matplotlib: pip install 'featurekit[docs]'") from None
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [f"{v.view} ({v.engine})" for v in self.views]
        fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.5))
        for offset, (label, key) in enumerate((("p50", "p50_ms"), ("p95", "p95_ms"), ("max", "max_ms"))):
            values = [getattr(v, key) or 0.0 for v in self.views]
            ax.barh([i + offset * 0.27 for i in range(len(names))], values, height=0.27, label=label)
        ax.set_yticks([i + 0.27 for i in range(len(names))], names)
        ax.set_xlabel("lookup latency (ms)")
        ax.legend(loc="lower right")
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return out


def _view_figures(view: str, engine: str, group: list[Lookup]) -> ViewFigures:
    latencies = [lk.elapsed_ms for lk in group]
    queries = [q for lk in group for q in lk.queries]
    return ViewFigures(
        view=view,
        engine=engine,
        lookups=len(group),
        failures=sum(1 for lk in group if lk.error),
        queries=len(queries),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        max_ms=max(latencies, default=None),
        scanned_bytes=sum(q.scanned_bytes or 0 for q in queries),
        cost_usd=sum(q.cost_usd or 0.0 for q in queries),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def metric_data(report: WorkloadReport, *, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The report as CloudWatch metric data: one set per view and engine (dimensions View, Engine)."""
    when = at or dt.datetime.now(dt.timezone.utc)
    data: list[dict[str, Any]] = []
    for v in report.views:
        dims = [{"Name": "View", "Value": v.view}, {"Name": "Engine", "Value": v.engine}]
        figures: list[tuple[str, float | None, str]] = [
            ("Lookups", v.lookups, "Count"),
            ("Failures", v.failures, "Count"),
            ("Queries", v.queries, "Count"),
            ("LatencyP50", v.p50_ms, "Milliseconds"),
            ("LatencyP95", v.p95_ms, "Milliseconds"),
            ("LatencyMax", v.max_ms, "Milliseconds"),
            ("BytesScanned", v.scanned_bytes, "Bytes"),
            ("CostUSD", v.cost_usd, "None"),
        ]
        data += [
            {"MetricName": name, "Dimensions": dims, "Timestamp": when, "Value": float(value), "Unit": unit}
            for name, value, unit in figures
            if value is not None
        ]
    return data


def publish_cloudwatch(report: WorkloadReport, namespace: str = "featurekit", *, client: Any = None) -> int:
    """PutMetricData for every view's figures; returns how many data points were sent."""
    if client is None:
        import boto3

        client = boto3.client("cloudwatch")
    data = metric_data(report)
    for start in range(0, len(data), _CW_BATCH):
        client.put_metric_data(Namespace=namespace, MetricData=data[start : start + _CW_BATCH])
    return len(data)
