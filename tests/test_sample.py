"""The sample dataset: deterministic, complete, dated relative to as_of, and safe to regenerate in place."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurekit.errors import InputError
from featurekit.sample import CATEGORIES, SCHEMA, write_sample

AS_OF = datetime.date(2024, 6, 30)
FIELDS = ["order_id", "customer_id", "order_date", "category", "amount", "refunded"]


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def json_rows(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(folder dt, row) for every line, in file order."""
    return [
        (path.parent.name.removeprefix("dt="), json.loads(line))
        for path in sorted(folder.glob("dt=*/part-0.json"))
        for line in path.read_text().splitlines()
    ]


def parquet_rows(folder: Path) -> list[dict[str, Any]]:
    return [row for path in sorted(folder.glob("dt=*/part-0.parquet")) for row in pq.read_table(path).to_pylist()]


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_same_arguments_give_identical_files(tmp_path: Path, fmt: str) -> None:
    first = write_sample(tmp_path / "a", as_of=AS_OF, days=60, fmt=fmt)
    second = write_sample(tmp_path / "b", as_of=AS_OF, days=60, fmt=fmt)
    assert first.files == second.files > 0
    assert files_of(first.folder) == files_of(second.folder)
    other_seed = write_sample(tmp_path / "c", as_of=AS_OF, days=60, fmt=fmt, seed=7)
    assert files_of(other_seed.folder) != files_of(first.folder)


def test_counts_ids_and_summary(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, customers=60, orders=400, as_of=AS_OF, days=365)
    rows = [row for _, row in json_rows(summary.folder)]
    assert summary.folder == tmp_path / "orders"
    assert (summary.customers, summary.orders, summary.format) == (60, 400, "json")
    assert (summary.first_day, summary.last_day) == (datetime.date(2023, 7, 2), AS_OF)
    assert summary.files == len(list(summary.folder.glob("dt=*/part-0.json"))) == len(list(summary.folder.iterdir()))
    assert len(rows) == 400
    ids = [row["order_id"] for row in rows]
    assert ids == [f"O{i:08d}" for i in range(1, 401)]  # unique, and ascending through the files
    assert {row["customer_id"] for row in rows} == {f"C{i:05d}" for i in range(1, 61)}
    per_customer = sorted(sum(row["customer_id"] == c for row in rows) for c in {r["customer_id"] for r in rows})
    assert per_customer[-1] >= 4 * per_customer[0]  # uneven activity, so features differ between customers


def test_dates_lie_in_the_window_and_match_their_folder(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, orders=300, as_of=AS_OF, days=30)
    rows = json_rows(summary.folder)
    assert all(dt == row["order_date"] for dt, row in rows)
    dates = {datetime.date.fromisoformat(row["order_date"]) for _, row in rows}
    assert min(dates) >= AS_OF - datetime.timedelta(days=29) and max(dates) <= AS_OF
    assert summary.first_day == AS_OF - datetime.timedelta(days=29)


def test_json_lines_are_compact_ordered_and_typed(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, orders=2000, as_of=AS_OF)
    lines = [line for p in sorted(summary.folder.glob("dt=*/part-0.json")) for line in p.read_text().splitlines()]
    assert len(lines) == 2000
    amounts = []
    for line in lines:
        row = json.loads(line)
        assert list(row) == FIELDS
        assert line == json.dumps(row, separators=(",", ":"))  # compact, and amounts print as Python would
        assert [type(row[f]) for f in FIELDS] == [str, str, str, str, float, bool]
        assert re.fullmatch(r"O\d{8}", row["order_id"]) and re.fullmatch(r"C\d{5}", row["customer_id"])
        assert row["category"] in CATEGORIES
        assert 5.0 <= row["amount"] <= 500.0 and row["amount"] == round(row["amount"], 2)
        amounts.append(row["amount"])
    assert sorted(amounts)[len(amounts) // 2] < sum(amounts) / len(amounts)  # skewed towards small orders
    assert 0.05 < sum(json.loads(line)["refunded"] for line in lines) / len(lines) < 0.15
    assert "dt" not in lines[0]


def test_parquet_has_the_same_rows_and_declared_types(tmp_path: Path) -> None:
    as_json = write_sample(tmp_path / "j", as_of=AS_OF, days=60, fmt="json")
    as_parquet = write_sample(tmp_path / "p", as_of=AS_OF, days=60, fmt="parquet")
    assert as_parquet.files == as_json.files
    for path in as_parquet.folder.glob("dt=*/part-0.parquet"):
        assert pq.read_schema(path).remove_metadata() == SCHEMA
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "SNAPPY"
    assert parquet_rows(as_parquet.folder) == [row for _, row in json_rows(as_json.folder)]


def test_duckdb_reads_both_formats_with_the_partition_column(tmp_path: Path) -> None:
    write_sample(tmp_path / "j", as_of=AS_OF, days=60, fmt="json")
    write_sample(tmp_path / "p", as_of=AS_OF, days=60, fmt="parquet")
    checks = "count(*), count(*) FILTER (WHERE CAST(dt AS VARCHAR) <> order_date), sum(amount)"
    with duckdb.connect() as con:
        from_json = con.execute(
            f"SELECT {checks} FROM read_json_auto('{tmp_path}/j/orders/*/*.json', hive_partitioning = true)"
        ).fetchall()[0]
        from_parquet = con.execute(
            f"SELECT {checks} FROM read_parquet('{tmp_path}/p/orders/*/*.parquet', hive_partitioning = true)"
        ).fetchall()[0]
    assert from_json[:2] == (400, 0)
    assert from_json == pytest.approx(from_parquet)


@pytest.mark.parametrize(("customers", "orders", "days"), [(60, 400, 365), (42, 48, 365), (500, 3000, 30)])
def test_the_demo_customer_is_recent_and_has_a_refund(tmp_path: Path, customers: int, orders: int, days: int) -> None:
    summary = write_sample(tmp_path, customers=customers, orders=orders, as_of=AS_OF, days=days)
    since = (AS_OF - datetime.timedelta(days=89)).isoformat()
    recent = [
        row for _, row in json_rows(summary.folder) if row["customer_id"] == "C00042" and row["order_date"] >= since
    ]
    assert len(recent) >= 5
    assert any(row["refunded"] for row in recent)


def test_fewer_orders_than_customers(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, customers=60, orders=10, as_of=AS_OF)
    rows = json_rows(summary.folder)
    assert len(rows) == 10
    assert summary.customers == len({row["customer_id"] for _, row in rows}) == 10


def test_no_orders_writes_an_empty_table_folder(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    summary = write_sample(tmp_path, orders=0, as_of=AS_OF, progress=lambda *a: calls.append(a))
    assert (summary.files, summary.orders, summary.customers) == (0, 0, 0)
    assert summary.folder.is_dir() and not any(summary.folder.iterdir())


def test_progress_counts_rows_up_to_the_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    summary = write_sample(tmp_path, as_of=AS_OF, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == summary.files
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (400, 400)


def test_rerunning_replaces_the_previous_sample(tmp_path: Path) -> None:
    write_sample(tmp_path, orders=400, as_of=AS_OF, days=60)
    (tmp_path / "keep.txt").write_text("outside the table folder")
    smaller = write_sample(tmp_path, orders=50, as_of=AS_OF, days=10)
    rows = json_rows(smaller.folder)
    assert len(rows) == 50
    assert len(list(smaller.folder.iterdir())) == smaller.files
    assert all(row["order_date"] >= "2024-06-21" for _, row in rows)
    as_parquet = write_sample(tmp_path, orders=50, as_of=AS_OF, days=10, fmt="parquet")
    assert not list(as_parquet.folder.rglob("*.json"))
    assert len(parquet_rows(as_parquet.folder)) == 50
    assert (tmp_path / "keep.txt").read_text() == "outside the table folder"


def test_a_folder_that_is_not_a_sample_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "ledger.csv").write_text("mine")
    with pytest.raises(InputError) as caught:
        write_sample(tmp_path, as_of=AS_OF)
    assert caught.value.parameter == "out" and "ledger.csv" in str(caught.value)
    assert (tmp_path / "orders" / "ledger.csv").read_text() == "mine"


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"customers": 0}, "customers"),
        ({"customers": 100_000}, "customers"),
        ({"customers": 2.5}, "customers"),
        ({"orders": -1}, "orders"),
        ({"orders": True}, "orders"),
        ({"days": 0}, "days"),
        ({"fmt": "csv"}, "fmt"),
        ({"seed": -1}, "seed"),
        ({"as_of": "2024-06-30"}, "as_of"),
    ],
)
def test_invalid_arguments_raise_input_error(tmp_path: Path, kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InputError) as caught:
        write_sample(tmp_path, **kwargs)
    assert caught.value.parameter == parameter
    assert not (tmp_path / "orders").exists()  # checked before anything is written or removed


def test_a_datetime_as_of_is_taken_as_its_date(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, orders=20, as_of=datetime.datetime(2024, 6, 30, 23, 59), days=5)
    assert summary.last_day == AS_OF
    assert {p.name for p in summary.folder.iterdir()} <= {f"dt=2024-06-{d}" for d in range(26, 31)}


def test_a_large_parquet_sample(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, customers=5_000, orders=200_000, as_of=AS_OF, days=90, fmt="parquet")
    table = pa.concat_tables(pq.read_table(p) for p in sorted(summary.folder.glob("dt=*/part-0.parquet")))
    assert table.num_rows == summary.orders == 200_000
    assert summary.customers == len(table.column("customer_id").unique()) == 5_000
    assert table.column("order_id").to_pylist()[-1] == "O00200000"
