"""Notebook-grade results: HTML for frames, rows, notes, grounding reports and prompts; nullable pandas dtypes;
attribute access and JSON-safe dicts on a row; `get` typed by overload (checked by mypy on a snippet)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from featurekit.llm.grounding import check
from tests.conftest import AS_OF

REPO = Path(__file__).resolve().parents[1]


def test_frame_html_shows_nulls_as_empty_cells_plurals_and_provenance(store) -> None:
    frame = store.get("customer_orders", ["C00042", "C00099"], as_of=AS_OF)  # C00099 has no orders: nulls
    html = frame._repr_html_()
    assert "None" not in html and "<td></td>" in html
    assert "2 rows" in html and "1 query" in html and "1 queries" not in html and "0 cache hits" in html
    assert f"sql {frame.provenance.sql_hash}" in html and "as_of 2026-06-30" in html
    again = store.get("customer_orders", ["C00042"], as_of=AS_OF)._repr_html_()
    assert "1 row ·" in again and "0 queries" in again and "1 cache hit ·" in again


def test_row_html_attribute_access_and_json_safe_dict(store) -> None:
    row = store.get("customer_orders", "C00042", as_of=AS_OF)
    assert row.total_spend == row["total_spend"] and isinstance(row.last_order, dt.date)
    with pytest.raises(AttributeError, match="did you mean 'total_spend'"):
        row.total_spnd  # noqa: B018
    assert not hasattr(row, "nope") and "total_spend" in dir(row)
    doc = json.loads(json.dumps(row.to_dict()))
    assert doc["last_order"] == row.last_order.isoformat() and doc["order_count"] == row.order_count
    assert isinstance(dict(row)["last_order"], dt.date)  # dict(row) keeps the typed values
    html = row._repr_html_()
    assert "C00042" in html and "1 query" in html and "None" not in html
    empty = store.get("customer_orders", "C00099", as_of=AS_OF)._repr_html_()
    assert "<th>last_order</th><td></td>" in empty


def test_to_pandas_keeps_types_with_nulls(store) -> None:
    frame = store.get("customer_orders", ["C00042", "C00099"], as_of=AS_OF)
    df = frame.to_pandas()
    assert df["order_count"].dtype == pd.Int64Dtype()
    assert df["days_since_last_order"].dtype == pd.Int64Dtype() and df["days_since_last_order"].isna().tolist() == [
        False, True,
    ]  # fmt: skip
    assert df["last_order"].dtype == pd.ArrowDtype(pa.date32()) and df["last_order"][0] == frame["C00042"]["last_order"]
    assert df["total_spend"].dtype == pd.Float64Dtype() and df["top_category"].dtype == pd.StringDtype()
    assert df["avg_order"].isna().tolist() == [False, True]


def test_note_html_marks_grounded_and_ungrounded_numbers(store) -> None:
    note = store.note("retention_note", "C00042", as_of=AS_OF)
    html = note._repr_html_()
    assert '<mark style="background:#d9f2d9" title="← customer_orders.total_spend">$135.52</mark>' in html
    assert "offline note" in html and "grounded: all" in html and "customer_orders: duckdb" in html
    report = check("Spent $135.52 and grew 23%.", note.prompt)
    from featurekit.llm.display import marked_text

    marked = marked_text("Spent $135.52 and grew 23%.", report)
    assert 'title="matches no feature or prompt value">23%</mark>' in marked
    assert "NOT grounded" in report._repr_html_() and "✗" in report._repr_html_()


def test_prompt_html_escapes_and_shows_the_features(store) -> None:
    prompt = store.prompt("retention_note", "C00042", as_of=AS_OF)
    html = prompt._repr_html_()
    assert "<caption>customer_orders</caption>" in html and "<th>total_spend</th><td>135.52</td>" in html
    assert "prompt retention_note" in html and "<pre>" in html


def test_get_is_typed_by_overload(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "import featurekit\n"
        "store = featurekit.FeatureStore()\n"
        "reveal_type(store.get('customer_orders', 'C00042'))\n"
        "reveal_type(store.get('customer_orders', ['C00042', 'C00007']))\n"
        "wrong: featurekit.FeatureFrame = store.get('customer_orders', 'C00042')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent", str(snippet)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert any('Revealed type is "featurekit.results.FeatureRow"' in x for x in lines), done.stdout
    assert any('Revealed type is "featurekit.results.FeatureFrame"' in x for x in lines), done.stdout
    assert any("snippet.py:5: error: Incompatible types in assignment" in x for x in lines), done.stdout
