"""Idempotent incremental loads: running a load twice, overlapping, or retrying after a failure half-way
leaves exactly one copy of every row, counted against the source (DuckDB locally; Athena + S3 over moto)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import featurekit
from featurekit.engines import load as load_mod
from featurekit.engines.duckdb import DuckDBEngine
from featurekit.errors import InputError
from featurekit.testing.athena import BUCKET, REGION, AthenaFake

START, END = dt.date(2026, 6, 1), dt.date(2026, 6, 10)


def source_counts(sample: Path, start: dt.date, end: dt.date) -> dict[str, int]:
    """Rows per day straight from the raw JSON files: the truth a load must reproduce once."""
    con = duckdb.connect()
    rows = con.execute(
        "SELECT dt, count(*) FROM read_json(?, format='newline_delimited', hive_partitioning=true) "
        "WHERE dt BETWEEN ? AND ? GROUP BY dt",
        [str(sample / "orders" / "**" / "*.json"), start.isoformat(), end.isoformat()],
    ).fetchall()
    return {str(d): n for d, n in rows}


def loaded_counts(out: Path) -> dict[str, int]:
    con = duckdb.connect()
    rows = con.execute(
        "SELECT dt, count(*), count(DISTINCT order_id) FROM read_parquet(?, hive_partitioning=true) GROUP BY dt",
        [str(out / "*" / "*.parquet")],
    ).fetchall()
    assert all(n == distinct for _, n, distinct in rows), "an order appears twice"
    return {str(d): n for d, n, _ in rows}


@pytest.fixture
def orders(sample_dir: Path) -> featurekit.Catalog:
    return featurekit.load()


def test_load_twice_and_overlapping_keeps_one_copy(sample_dir: Path, tmp_path: Path, orders: Any) -> None:
    table = orders.table("orders")
    out = tmp_path / "orders_parquet"
    truth = source_counts(sample_dir, START, END)
    assert sum(truth.values()) > 0
    with contextlib.closing(DuckDBEngine(sample_dir)) as engine:
        first = load_mod.load_local(engine, table, out, START, END)
        again = load_mod.load_local(engine, table, out, START, END)
        overlap = load_mod.load_local(engine, table, out, START + dt.timedelta(days=5), END + dt.timedelta(days=3))
    assert {k: v for k, v in first.partitions.items() if v} == truth
    assert again.partitions == first.partitions
    want = truth | {k: v for k, v in source_counts(sample_dir, END, END + dt.timedelta(days=3)).items()}
    assert loaded_counts(out) == want
    log = load_mod.read_local_log(out)
    assert [r["run_id"] for r in log] == [first.run_id, again.run_id, overlap.run_id]
    assert log[0]["partitions"] == first.partitions and log[0]["start"] == START.isoformat()
    # Nothing but day folders and the log is left: staging and trash went away.
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("dt=")) == [load_mod.LOCAL_LOG]


def test_retry_after_a_failure_half_way_leaves_one_copy(
    sample_dir: Path, tmp_path: Path, orders: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = orders.table("orders")
    out = tmp_path / "orders_parquet"
    engine = DuckDBEngine(sample_dir)
    try:
        load_mod.load_local(engine, table, out, START, END)
        real_replace = os.replace
        calls = {"n": 0}

        def dies_half_way(src: Any, dst: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 7:  # in the middle of swapping the fourth day
                raise OSError("disk went away")
            real_replace(src, dst)

        monkeypatch.setattr(load_mod.os, "replace", dies_half_way)
        with pytest.raises(OSError, match="disk went away"):
            load_mod.load_local(engine, table, out, START, END)
        monkeypatch.setattr(load_mod.os, "replace", real_replace)
        load_mod.load_local(engine, table, out, START, END)
    finally:
        engine.close()
    assert loaded_counts(out) == source_counts(sample_dir, START, END)


def test_the_loaded_table_answers_like_the_source(sample_dir: Path, tmp_path: Path, cli: Any) -> None:
    code, out, err = cli(
        "load",
        "orders",
        "--since",
        "2026-04-01",
        "--until",
        "2026-06-30",
        "--data",
        sample_dir,
        "--out",
        tmp_path / "orders_parquet",
    )
    assert code == 0, err
    assert "loaded orders into" in out and "rows (run " in out
    assert sum(loaded_counts(tmp_path / "orders_parquet").values()) == sum(
        source_counts(sample_dir, dt.date(2026, 4, 1), dt.date(2026, 6, 30)).values()
    )


def test_bad_ranges_and_append_are_one_line_errors(sample_dir: Path, cli: Any) -> None:
    code, _, err = cli("load", "orders", "--since", "2026-06-10", "--until", "2026-06-01", "--data", sample_dir)
    assert code == 2 and err.strip() == "error: --until: 2026-06-01 is before --since 2026-06-10"
    code, _, err = cli("load", "orders", "--since", "June", "--data", sample_dir)
    assert code == 2 and "--since" in err and "YYYY-MM-DD" in err
    code, _, err = cli("optimize", "orders", "--engine", "athena", "--append")
    assert code == 2 and "featurekit load" in err and len(err.strip().splitlines()) == 1
    orders = featurekit.load().table("orders")
    flat = dataclasses.replace(orders, name="flat", partitioned_by=())
    with pytest.raises(InputError, match="no dt partition"):
        load_mod.plan_athena(
            flat,
            database="d",
            data_root="s3://b/p/",
            start=START,
            end=END,
        )


# --- Athena: the statements, their order, the S3 swap, a failure half-way and the retry ----------------


def _parquet(rows: int, tag: str) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"order_id": [f"{tag}-{i}" for i in range(rows)]}), buf)
    return buf.getvalue()


class FlakyS3:
    """A real boto3 S3 client whose n-th copy_object raises, as a network failure would."""

    def __init__(self, client: Any, fail_on_copy: int | None) -> None:
        self._client, self._fail, self.copies = client, fail_on_copy, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def copy_object(self, **kwargs: Any) -> Any:
        self.copies += 1
        if self.copies == self._fail:
            raise ConnectionError("connection reset while copying")
        return self._client.copy_object(**kwargs)


def _day_objects(s3: Any, prefix: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for o in page.get("Contents", []):
            rest = o["Key"][len(prefix) :]
            if rest.startswith("dt="):
                found.setdefault(rest.split("/")[0], []).append(rest.split("/")[1])
    return {k: sorted(v) for k, v in sorted(found.items())}


def test_athena_load_statements_swap_and_retry(athena_fake: AthenaFake, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=athena_fake.moto_endpoint)
    table = featurekit.load().table("orders")
    root = f"s3://{BUCKET}/lake/"
    start, end = dt.date(2026, 6, 1), dt.date(2026, 6, 3)
    target_prefix = "lake/orders_parquet/"
    # Yesterday's load left two files for June 1 and one for June 2; they must be replaced, not added to.
    for key in ("dt=2026-06-01/old-a.parquet", "dt=2026-06-01/old-b.parquet", "dt=2026-06-02/old-a.parquet"):
        s3.put_object(Bucket=BUCKET, Key=target_prefix + key, Body=_parquet(5, "old"))

    engine = athena_fake.engine(data_root=root)

    def athena_writes(operation: str, payload: dict[str, Any]) -> None:
        """What Athena's CTAS would write: one file per day under the staging location, June 3 has no rows."""
        sql = payload.get("QueryString", "")
        if operation == "StartQueryExecution" and sql.startswith("CREATE TABLE"):
            location = sql.split("external_location = '")[1].split("'")[0]
            key = location.removeprefix(f"s3://{BUCKET}/")
            for day, n in (("2026-06-01", 3), ("2026-06-02", 4)):
                s3.put_object(Bucket=BUCKET, Key=f"{key}dt={day}/new-{n}.parquet", Body=_parquet(n, day))
        elif operation == "StartQueryExecution" and sql.startswith("SELECT dt, count(*)"):
            athena_fake.inject([("dt", "varchar"), ("n", "bigint")], ("2026-06-01", 3), ("2026-06-02", 4))

    athena_fake.proxy.on_call = athena_writes

    def run(flaky: FlakyS3) -> load_mod.LoadResult:
        plan = load_mod.plan_athena(table, database="default", data_root=root, start=start, end=end)
        return load_mod.load_athena(engine, flaky, plan, start, end)

    with pytest.raises(ConnectionError):
        run(FlakyS3(s3, fail_on_copy=2))  # June 1 swapped, June 2 deleted but not copied
    result = run(FlakyS3(s3, fail_on_copy=None))
    athena_fake.proxy.on_call = None
    engine.close()

    assert _day_objects(s3, target_prefix) == {"dt=2026-06-01": ["new-3.parquet"], "dt=2026-06-02": ["new-4.parquet"]}
    assert result.partitions == {"2026-06-01": 3, "2026-06-02": 4, "2026-06-03": 0}
    statements = [c["QueryString"].split()[0:2] for c in athena_fake.calls("StartQueryExecution")]
    # Each run: CTAS into its own staging table, count, drop; the failed run never reached its drop.
    ctas, count, drop = ["CREATE", "TABLE"], ["SELECT", "dt,"], ["DROP", "TABLE"]
    assert statements == [ctas, count, ctas, count, drop]
    ctas = athena_fake.calls("StartQueryExecution")[2]
    assert f"{target_prefix}_staging/{result.run_id}/" in ctas["QueryString"]
    # The staging prefix of the successful run is gone; the log record names the days and the query IDs.
    leftovers = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{target_prefix}_staging/{result.run_id}/")
    assert leftovers.get("KeyCount", 0) == 0
    record = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"{target_prefix}_featurekit_loads/{result.run_id}.json")["Body"].read()
    )
    assert record["partitions"] == result.partitions and len(record["query_ids"]) == 3
