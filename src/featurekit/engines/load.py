"""Idempotent incremental loads: a raw table's days rewritten as Parquet, replacing exactly those days.

Every load writes each day's rows to a fresh staging prefix first (its name starts with `_`, so
Athena and featurekit never read it), then swaps each day in: the day's old files go, the new ones
take their place. A retried or overlapping run recomputes the same days from the source and swaps
them again, so every row exists exactly once however often a load runs or wherever it failed.

While one day is swapped, a reader can see that day empty (never doubled) for the time of a rename
locally, or of a delete-then-copy on S3. Each run appends a record to a load log kept next to the
table (`_featurekit_loads.jsonl` locally, `_featurekit_loads/<run>.json` on S3): which days, how
many rows each, when, and the Athena query IDs.

Values a caller gives (the date range) are bound parameters; identifiers come from declarations.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..catalog.declarations import Table
from ..errors import InputError
from . import ddl
from .health import TARGET_FILE

LOCAL_LOG = "_featurekit_loads.jsonl"
S3_LOG_PREFIX = "_featurekit_loads/"


@dataclass(frozen=True)
class LoadResult:
    """What one load run did: the days it replaced (with their row counts) and where it wrote."""

    run_id: str
    table: str
    target: str
    start: dt.date
    end: dt.date
    partitions: dict[str, int]
    query_ids: tuple[str | None, ...] = ()
    at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def rows(self) -> int:
        return sum(self.partitions.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(start=self.start.isoformat(), end=self.end.isoformat(), query_ids=list(self.query_ids))
        return data

    def __str__(self) -> str:
        days = len(self.partitions)
        return (
            f"loaded {self.table} into {self.target}: {days} day{'s' if days != 1 else ''} "
            f"{self.start}..{self.end}, {self.rows:,} rows (run {self.run_id})"
        )


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    if end < start:
        raise InputError("--until", f"{end} is before --since {start}")
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def _dt_column(table: Table) -> None:
    if not any(c.name == "dt" for c in table.partitioned_by):
        raise InputError("table", f"{table.name!r} has no dt partition column to load by")


def load_local(
    engine: Any, table: Table, out: Path, start: dt.date, end: dt.date, compression: str = "ZSTD"
) -> LoadResult:
    """Replace the days [start, end] of a local Parquet copy of `table` under `out` (dt=YYYY-MM-DD/)."""
    import pyarrow.parquet as pq

    from .base import quote

    _dt_column(table)
    engine.prepare([table])
    out = out.expanduser().resolve()
    run_id = uuid.uuid4().hex[:12]
    staging = out / f"_staging-{run_id}"
    select = ", ".join(quote(c.name) for c in table.columns)
    sql = f"SELECT {select} FROM {quote(table.name)} WHERE dt = ?"
    counts: dict[str, int] = {}
    try:
        for day in days(start, end):
            with engine.sa.connect() as conn:
                cursor = conn.exec_driver_sql(sql, (day.isoformat(),)).cursor
                rows = cursor.to_arrow_table() if hasattr(cursor, "to_arrow_table") else cursor.fetch_arrow_table()
            counts[day.isoformat()] = rows.num_rows
            if rows.num_rows:
                folder = staging / f"dt={day.isoformat()}"
                folder.mkdir(parents=True)
                # Right-sized files: Arrow's in-memory size bounds the Parquet size, so no file exceeds the target.
                per_file = max(1, rows.num_rows * TARGET_FILE // max(rows.nbytes, 1))
                for n, at in enumerate(range(0, rows.num_rows, per_file)):
                    part = rows.slice(at, per_file)
                    pq.write_table(part, folder / f"part-{run_id}-{n:04}.parquet", compression=compression.lower())
        for day in days(start, end):
            _swap_local(out, staging / f"dt={day.isoformat()}", out / f"dt={day.isoformat()}", run_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result = LoadResult(run_id, table.name, str(out), start, end, counts)
    with (out / LOCAL_LOG).open("a", encoding="utf-8") as f:
        f.write(json.dumps(result.to_dict()) + "\n")
    return result


def _swap_local(root: Path, new: Path, final: Path, run_id: str) -> None:
    """Put `new` (possibly absent: no rows that day) where `final` is; renames are atomic on one filesystem."""
    trash = root / f"_trash-{run_id}-{final.name}"
    if final.exists():
        os.replace(final, trash)
    if new.exists():
        os.replace(new, final)
    shutil.rmtree(trash, ignore_errors=True)


def read_local_log(out: Path) -> list[dict[str, Any]]:
    log = out / LOCAL_LOG
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class AthenaLoadPlan:
    """The statements of an Athena load, in order, and the S3 prefixes the swap moves between."""

    run_id: str
    table: str
    statements: list[ddl.Statement]
    count: ddl.Statement  # rows per day in the staging table, for the load log
    staging: str  # s3://bucket/prefix/ the CTAS writes to
    target: str  # s3://bucket/prefix/ of the Parquet table
    drop: ddl.Statement


def plan_athena(
    table: Table,
    *,
    database: str,
    data_root: str | None,
    start: dt.date,
    end: dt.date,
    compression: ddl.Compression = "ZSTD",
    run_id: str | None = None,
) -> AthenaLoadPlan:
    """CTAS (and INSERT INTO past 100 days) into a run-scoped staging table under the target's prefix."""
    _dt_column(table)
    list(days(start, end))  # validates the range
    run_id = run_id or uuid.uuid4().hex[:12]
    target_name = ddl.parquet_name(table)
    target = ddl.location(Table(name=target_name, columns=table.columns, path=target_name), data_root)
    staging = f"{target}_staging/{run_id}/"
    scratch = f"{target_name}__load_{run_id}"
    statements = ddl.optimize_athena(
        table,
        database=database,
        data_root=data_root,
        start=start,
        end=end,
        target=scratch,
        external_location=staging,
        compression=compression,
    )
    qualified = f"{ddl.trino_quote(database)}.{ddl.trino_quote(scratch)}"
    count = ddl.Statement(f"SELECT dt, count(*) AS n FROM {qualified} GROUP BY dt", label=f"count {scratch}")
    drop = ddl.Statement(
        f"DROP TABLE IF EXISTS {ddl.hive_quote(database)}.{ddl.hive_quote(scratch)}", label=f"drop {scratch}"
    )
    return AthenaLoadPlan(run_id, table.name, statements, count, staging, target, drop)


def counts(table: Any) -> dict[str, int]:
    """Rows per day from the count statement's result (columns dt, n)."""
    return {str(d): int(n) for d, n in zip(table.column("dt").to_pylist(), table.column("n").to_pylist(), strict=True)}


def _split(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def _keys(s3: Any, bucket: str, prefix: str) -> list[tuple[str, int]]:
    keys: list[tuple[str, int]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [(o["Key"], o["Size"]) for o in page.get("Contents", [])]
    return keys


def swap_s3(s3: Any, plan: AthenaLoadPlan, start: dt.date, end: dt.date) -> None:
    """Replace each day's objects under the target with the staging ones (none where the day has no rows)."""
    bucket, target_key = _split(plan.target)
    staging_bucket, staging_key = _split(plan.staging)
    for day in days(start, end):
        part = f"dt={day.isoformat()}/"
        new = _keys(s3, staging_bucket, staging_key + part)
        old = _keys(s3, bucket, target_key + part)
        # Delete first: a reader in between sees the day empty, never both copies.
        for start_at in range(0, len(old), 1000):
            chunk = old[start_at : start_at + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k, _ in chunk], "Quiet": True})
        for key, _ in new:
            name = key.rsplit("/", 1)[-1]
            s3.copy_object(
                Bucket=bucket, Key=target_key + part + name, CopySource={"Bucket": staging_bucket, "Key": key}
            )


def load_athena(
    engine: Any,
    s3: Any,
    plan: AthenaLoadPlan,
    start: dt.date,
    end: dt.date,
) -> LoadResult:
    """Run the plan on an AthenaEngine: the statements, the row count, the swap, the drop, the log.

    A failure anywhere leaves the target's days either as they were or already replaced by complete
    new ones; running the load again (a new run ID, a fresh staging prefix) finishes the job.
    """
    query_ids = [engine.run_statement(st.sql, st.params, label=st.label).query_id for st in plan.statements]
    counted, stats = engine.fetch_statement(plan.count.sql, label=plan.count.label)
    rows = counts(counted)
    query_ids.append(stats.query_id)
    swap_s3(s3, plan, start, end)
    query_ids.append(engine.run_statement(plan.drop.sql, label=plan.drop.label).query_id)
    staging_bucket, staging_key = _split(plan.staging)
    leftovers = _keys(s3, staging_bucket, staging_key)
    for at in range(0, len(leftovers), 1000):
        objects = [{"Key": k} for k, _ in leftovers[at : at + 1000]]
        s3.delete_objects(Bucket=staging_bucket, Delete={"Objects": objects, "Quiet": True})
    partitions = {day.isoformat(): rows.get(day.isoformat(), 0) for day in days(start, end)}
    result = LoadResult(plan.run_id, plan.table, plan.target, start, end, partitions, tuple(query_ids))
    bucket, target_key = _split(plan.target)
    s3.put_object(
        Bucket=bucket,
        Key=f"{target_key}{S3_LOG_PREFIX}{plan.run_id}.json",
        Body=json.dumps(result.to_dict()).encode(),
    )
    return result
