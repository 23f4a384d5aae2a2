"""Table layouts are declarations (issue 11.4): the shipped views, unchanged, give identical numbers over one
orders.json, dt=YYYY-MM-DD/, year=/month=/day= (int and zero-padded strings) and a date-typed partition
column; Athena DDL gets the matching projection; a window outside the projected range is an error."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlglot
import yaml

import featurekit
from featurekit.catalog import layouts
from featurekit.catalog.loader import shipped_catalog
from featurekit.engines import ddl
from featurekit.errors import InputError
from featurekit.render import Renderer
from tests.conftest import AS_OF

IDS = [f"C{n:05d}" for n in range(1, 61)]
VIEWS = {"customer_orders": {"lookback_days": 90}, "spend_trend": {"window_days": 30}}


def rows_of(data: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted(data.glob("orders/dt=*/*.json")) for line in f.read_text().splitlines()]


def write_layout(rows: list[dict[str, Any]], root: Path, layout: str) -> Path:
    """Write the orders again under `root` in `layout`; returns the data root."""
    if layout == "file":
        (root / "orders.json").parent.mkdir(parents=True, exist_ok=True)
        (root / "orders.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return root
    for row in rows:
        day = dt.date.fromisoformat(row["order_date"])
        if layout in ("ymd_int", "ymd_string"):
            pad = layout == "ymd_string"
            folder = (
                f"year={day.year}/month={day.month:02d}/day={day.day:02d}"
                if pad
                else (f"year={day.year}/month={day.month}/day={day.day}")
            )
        else:
            folder = f"{'day' if layout == 'date' else 'dt'}={day.isoformat()}"
        target = root / "orders" / folder / "part-0.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as f:
            f.write(json.dumps(row) + "\n")
    return root


PARTITIONS = {
    "file": [],
    "dt": [{"name": "dt", "type": "string"}],
    "date": [{"name": "day", "type": "date"}],
    "ymd_int": [{"name": n, "type": "int"} for n in ("year", "month", "day")],
    "ymd_string": [{"name": n, "type": "string"} for n in ("year", "month", "day")],
}


def catalog_for(layout: str, tmp: Path) -> featurekit.Catalog:
    folder = tmp / f"catalog_{layout}"
    shutil.copytree(shipped_catalog(), folder)
    table = folder / "tables" / "orders.yaml"
    doc = yaml.safe_load(table.read_text())
    doc["partitioned_by"] = PARTITIONS[layout]
    doc["path"] = "orders.json" if layout == "file" else "orders"
    table.write_text(yaml.safe_dump(doc, sort_keys=False))
    return featurekit.load(folder)


@pytest.fixture(scope="module")
def baseline(sample_dir: Path) -> dict[str, list[dict[str, Any]]]:
    with featurekit.FeatureStore(data=sample_dir, cache=False) as store:
        return {v: store.get(v, IDS, as_of=AS_OF, params=p).to_dicts() for v, p in VIEWS.items()}


@pytest.mark.parametrize("layout", list(PARTITIONS))
def test_same_views_same_numbers_on_every_layout(layout: str, tmp_path: Path, sample_dir: Path, baseline) -> None:
    data = write_layout(rows_of(sample_dir), tmp_path / "data", layout)
    catalog = catalog_for(layout, tmp_path)
    assert catalog.table("orders").layout == {"file": "none", "dt": "day"}.get(layout, layout)
    with featurekit.FeatureStore(catalog, data=data, cache=False) as store:
        for view, params in VIEWS.items():
            assert store.get(view, IDS, as_of=AS_OF, params=params).to_dicts() == baseline[view], (layout, view)
        # The window really prunes: a window before every order finds nothing on every layout.
        empty = store.get("customer_orders", IDS[:3], as_of=dt.date(2024, 1, 1), params={"lookback_days": 30})
        assert [r["order_count"] for r in empty.to_dicts()] == [0, 0, 0]


EXPECTED_PROJECTION = {
    "file": {},
    "dt": {"projection.dt.type": "date", "projection.dt.range": "2020-01-01,NOW"},
    "date": {"projection.day.type": "date", "storage.location.template": "s3://b/orders/day=${day}/"},
    "ymd_int": {
        "projection.year.range": "2020,2026",
        "projection.month.range": "1,12",
        "projection.day.type": "integer",
    },
    "ymd_string": {"projection.month.digits": "2", "projection.year.digits": "4", "projection.day.range": "1,31"},
}


@pytest.mark.parametrize("layout", list(PARTITIONS))
def test_ddl_projection_matches_the_layout(layout: str, tmp_path: Path) -> None:
    table = catalog_for(layout, tmp_path).table("orders")
    sql = ddl.create_table(table, database="d", data_root="s3://b/", today=dt.date(2026, 6, 30)).sql
    sqlglot.parse_one(sql, read="athena")
    for key, value in EXPECTED_PROJECTION[layout].items():
        assert f"'{key}' = '{value}'" in sql
    assert ("projection.enabled" in sql) == (layout != "file")
    assert "LOCATION 's3://b/'" in sql if layout == "file" else "LOCATION 's3://b/orders/'" in sql
    if layout in ("ymd_int", "ymd_string"):
        assert "'storage.location.template' = 's3://b/orders/year=${year}/month=${month}/day=${day}/'" in sql


def test_window_outside_the_projected_range_is_an_error_naming_it() -> None:
    catalog = featurekit.load()
    renderer = Renderer(catalog, "athena", lambda t: t.name)
    renderer.render("customer_orders", ["C00042"], as_of=AS_OF, params={"lookback_days": 90})  # inside: fine
    with pytest.raises(InputError, match=r"window 2016-07-02\.\.2026-06-30 reaches outside .* \(2020-01-01\.\.20"):
        renderer.render("customer_orders", ["C00042"], as_of=AS_OF, params={"lookback_days": 3650})
    future = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=2)
    with pytest.raises(InputError, match="reaches outside the partitions Athena projects"):
        renderer.render("spend_trend", ["C00042"], as_of=future)
    # DuckDB reads the files themselves: no projection, no such limit.
    Renderer(catalog, "duckdb", lambda t: t.name).render(
        "customer_orders", ["C00042"], as_of=AS_OF, params={"lookback_days": 3650}
    )


def test_window_sql_is_binds_only() -> None:
    orders = featurekit.load().table("orders")
    sql = layouts.window_sql(orders, "lookback_days")
    assert sql == (
        "\"dt\" BETWEEN date_format(date_add('day', -(:lookback_days), :as_of), '%Y-%m-%d') "
        "AND date_format(:as_of, '%Y-%m-%d')"
    )
    with pytest.raises(InputError, match="days must name a parameter"):
        layouts.window_sql(orders, "1); DROP TABLE x; --")


def test_undeclarable_partitioning_is_refused(tmp_path: Path) -> None:
    with pytest.raises(featurekit.DeclarationError, match="partitioned_by must be empty, one date column"):
        catalog_for_partitions([{"name": "region", "type": "int"}], tmp_path)


def catalog_for_partitions(partitions: list[dict[str, str]], tmp: Path) -> featurekit.Catalog:
    folder = tmp / "catalog"
    shutil.copytree(shipped_catalog(), folder)
    table = folder / "tables" / "orders.yaml"
    doc = yaml.safe_load(table.read_text())
    doc["partitioned_by"] = partitions
    table.write_text(yaml.safe_dump(doc, sort_keys=False))
    return featurekit.load(folder)


def test_sample_data_in_any_format_works_with_the_shipped_catalog(cli: Any, tmp_path: Path) -> None:
    """`format: auto` on the shipped orders table: the tutorial's commands work whatever sample-data wrote."""
    answers = []
    for fmt in ("parquet", "json"):
        data = tmp_path / fmt
        code, _, err = cli("sample-data", "--out", data, "--format", fmt, "--as-of", "2026-06-30")
        assert code == 0, err
        code, out, err = cli("get", "customer_orders", "C00042", "--data", data, "--as-of", "2026-06-30", "-f", "json")
        assert code == 0, err
        answers.append(json.loads(out)["rows"])
    assert answers[0] == answers[1] and answers[0][0]["customer_id"] == "C00042"


def test_auto_format_with_mixed_files_is_a_data_error(tmp_path: Path, sample_dir: Path) -> None:
    shutil.copytree(sample_dir, tmp_path / "d")
    (tmp_path / "d" / "orders" / "dt=2026-06-30" / "part-9.parquet").write_bytes(b"PAR1")
    with (
        featurekit.FeatureStore(data=tmp_path / "d", cache=False) as store,
        pytest.raises(
            featurekit.DataError, match=r"\(format auto\): .* has files of several formats \(\['json', 'parquet'\]\)"
        ),
    ):
        store.get("customer_orders", "C00042", as_of=AS_OF)
