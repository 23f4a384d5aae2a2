"""`featurekit validate`'s static check: each broken catalog fails with one precise line, and `get` refuses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import featurekit
from featurekit.catalog import loader
from featurekit.catalog.lint import lint
from featurekit.errors import DeclarationError

from .conftest import AS_OF

#: (file to edit, text, replacement, the one problem expected as "file:line: message" after the catalog folder)
CASES = {
    "unknown-column": (
        "views/customer_orders.sql",
        "category, CAST(amount",
        "categry, CAST(amount",
        "views/customer_orders.sql:4: unknown column 'categry'; did you mean 'category'?",
    ),
    "missing-feature": (
        "views/customer_orders.sql",
        "AS top_category",
        "AS top_cat",
        "views/customer_orders.yaml:19: feature 'top_category' is not returned by customer_orders.sql; "
        "did you mean 'top_cat'?",
    ),
    "type-differs": (
        "views/customer_orders.yaml",
        "{name: last_order, type: date",
        "{name: last_order, type: int",
        "views/customer_orders.sql:22: feature 'last_order' is declared int but Athena returns DATE; "
        "cast it: CAST(... AS BIGINT)",
    ),
    "avg-of-low-scale-literal": (
        "views/customer_orders.sql",
        "round(CAST(count_if(w.refunded) AS DOUBLE) / count(*), 3)",
        "round(avg(CASE WHEN w.refunded THEN 1.0 ELSE 0.0 END), 3)",
        "views/customer_orders.sql:23: avg() of DECIMAL(2, 1) literals is DECIMAL(2, 1) on Athena (4 of 7 is 0.6): "
        "divide DOUBLEs instead, e.g. CAST(count_if(...) AS DOUBLE) / count(*)",
    ),
    "low-scale-round": (
        "views/customer_orders.sql",
        "round(CAST(count_if(w.refunded) AS DOUBLE) / count(*), 3)",
        "round(CAST(count_if(w.refunded) AS DECIMAL(12, 1)) , 3)",
        "views/customer_orders.sql:23: round(..., 3) of a DECIMAL(12, 1) keeps 1 decimal(s) on Athena; "
        "compute it as a DOUBLE or a DECIMAL with scale 3",
    ),
    "string-vs-date": (
        "views/spend_trend.sql",
        "try_cast(order_date AS DATE) <= :as_of",
        "order_date <= :as_of",
        "views/spend_trend.sql:13: compares a string with a date: Athena refuses it (no implicit cast), DuckDB casts; "
        "write try_cast(... AS DATE) or compare strings",
    ),
    "decimal-column-unseen-by-the-adapter": (
        "tables/orders.yaml",
        "{name: amount, type: float",
        "{name: amount, type: decimal",
        None,  # CAST(amount AS DECIMAL(12, 2)) is explicit in the shipped views: nothing to report
    ),
    "prompt-unknown-feature": (
        "prompts/retention_note.offline.jinja",
        "o.avg_order",
        "o.avg_ordr",
        "prompts/retention_note.offline.jinja:5: unknown feature 'avg_ordr' of view 'customer_orders'; "
        "did you mean 'avg_order'?",
    ),
}


def broken(tmp_path: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / "catalog"
    shutil.copytree(loader.shipped_catalog(), folder)
    text = (folder / file).read_text()
    assert old in text
    (folder / file).write_text(text.replace(old, new, 1))
    return folder


def test_the_shipped_catalog_has_no_problems():
    assert lint(loader.load()) == []


@pytest.mark.parametrize("case", CASES)
def test_each_broken_view_gives_one_precise_line(tmp_path, case):
    file, old, new, expected = CASES[case]
    folder = broken(tmp_path, file, old, new)
    found = [str(p).replace(f"{folder}/", "") for p in lint(loader.load(folder))]
    assert found == ([expected] if expected else [])


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][3] and CASES[c][3].startswith("views/")])
def test_cli_validate_fails_with_one_line_each(tmp_path, cli, case):
    file, old, new, expected = CASES[case]
    folder = broken(tmp_path, file, old, new)
    code, out, err = cli("validate", "--catalog", str(folder))
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [f"error: {folder}/{expected}"]


def test_get_never_runs_a_view_validate_rejects(tmp_path, sample_dir):
    file, old, new, _ = CASES["avg-of-low-scale-literal"]
    folder = broken(tmp_path, file, old, new)
    with featurekit.FeatureStore(catalog=folder, data=sample_dir) as store:
        with pytest.raises(DeclarationError, match="avg\\(\\) of DECIMAL\\(2, 1\\) literals"):
            store.get("customer_orders", "C00042", as_of=AS_OF)
        assert store.session_queries == []
        assert store.get("spend_trend", "C00042", as_of=AS_OF)["trend"] in {"up", "down", "flat", "new"}


def test_a_broken_table_file_gives_no_second_error_for_its_views(tmp_path, cli):
    folder = broken(tmp_path, "tables/orders.yaml", "format: auto", "format: [auto")
    code, _, err = cli("validate", "--catalog", str(folder))
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "tables/orders.yaml" in lines[0], lines


def test_a_construct_only_the_table_declarations_type_is_named(tmp_path):
    """avg() of a DECIMAL column, `/` of BIGINT columns: the adapter cannot see these types, validate can."""
    folder = broken(tmp_path, "tables/orders.yaml", "{name: amount, type: float", "{name: amount, type: decimal")
    table = (folder / "tables/orders.yaml").read_text()
    (folder / "tables/orders.yaml").write_text(table.replace("columns:\n", "columns:\n  - {name: qty, type: int}\n", 1))
    sql = folder / "views/spend_trend.sql"
    sql.write_text(
        sql.read_text().replace(
            "    round(recent, 2) AS recent_spend,",
            "    round(recent, 2) AS recent_spend, (SELECT avg(amount) FROM {{ table('orders') }}) AS a, "
            "(SELECT max(qty) / min(qty) FROM {{ table('orders') }}) AS d,",
        )
    )
    found = [str(p).replace(f"{folder}/", "") for p in lint(loader.load(folder))]
    tail = " on Athena, but DuckDB cannot tell from the SQL alone; CAST the table column to its type where it is read"
    assert found == [
        "views/spend_trend.sql:18: AVG(orders.amount) is DECIMAL(38, 9)" + tail,
        "views/spend_trend.sql:18: MAX(orders.qty) / MIN(orders.qty) is BIGINT" + tail,
    ]
