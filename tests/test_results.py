"""Results are typed, ordered, complete, and readable in a terminal and a notebook."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

import featurekit

from .conftest import AS_OF


def test_row_is_a_read_only_mapping(store):
    row = store.get("customer_orders", "C00042", as_of=AS_OF)
    assert isinstance(row, featurekit.FeatureRow)
    assert row.entity_id == "C00042"
    assert list(row) == [f.name for f in store.catalog.view("customer_orders").features]
    assert row.get("nope") is None and "order_count" in row and "nope" not in row
    with pytest.raises(featurekit.NotFoundError, match="did you mean 'total_spend'"):
        row["total_spnd"]
    assert repr(row).startswith("<FeatureRow customer_orders[C00042]: order_count=")
    assert "<table>" in row._repr_html_()


def test_frame_exports(store):
    frame = store.get("customer_orders", ["C00042", "C00099"], as_of=AS_OF)
    df = frame.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df["customer_id"]) == ["C00042", "C00099"]
    assert str(df["order_count"].dtype) == "Int64"
    dicts = frame.to_dicts()
    assert dicts[1]["order_count"] == 0 and dicts[1]["last_order"] is None
    assert isinstance(dicts[0]["last_order"], dt.date)
    assert frame["C00042"]["order_count"] == dicts[0]["order_count"]
    doc = frame.to_json()
    assert doc["rows"][0]["last_order"] == dicts[0]["last_order"].isoformat()
    assert doc["provenance"]["queries_run"] == 1


def test_frame_repr_and_html_are_readable(store):
    frame = store.get("customer_orders", [f"C{i:05d}" for i in range(1, 13)], as_of=AS_OF)
    text = repr(frame)
    head = text.splitlines()[0]
    assert head.startswith("<FeatureFrame customer_orders: 12 rows × 7 features, duckdb, 1 query, 0 cache hits")
    assert "... 2 more" in text
    html = frame._repr_html_()
    assert html.count("<tr>") == 13 and "<caption>customer_orders · 12 rows" in html


def test_html_escapes_values(store):
    frame = store.get("customer_orders", ["C00042"], as_of=AS_OF)
    hostile = frame.table.set_column(
        frame.table.schema.get_field_index("top_category"), "top_category", pa.array(["<script>x</script>"])
    )
    html = featurekit.FeatureFrame(frame.view, frame.key, hostile, frame.provenance)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_decimal_results_become_the_nearest_float():
    from featurekit.results import typed

    view = featurekit.load().view("spend_trend")
    raw = pa.table(
        {
            "customer_id": ["C00001"],
            "recent_spend": pa.array([Decimal("24.15")], pa.decimal128(12, 2)),
            "prior_spend": pa.array([Decimal("0.10")], pa.decimal128(12, 2)),
            "spend_change": pa.array([Decimal("24.05")], pa.decimal128(12, 2)),
            "trend": ["up"],
        }
    )
    row = typed(view, "customer_id", "string", ["C00001"], raw).to_pylist()[0]
    assert (row["recent_spend"], row["prior_spend"], row["spend_change"]) == (24.15, 0.1, 24.05)


def test_money_is_deterministic_across_parallel_runs(store):
    ids = [f"C{i:05d}" for i in range(1, 61)]
    runs = {
        tuple(
            (r["avg_order"], r["total_spend"])
            for r in store.get(
                "customer_orders", ids, as_of=AS_OF, params={"lookback_days": 365}, use_cache=False
            ).to_dicts()
        )
        for _ in range(10)
    }
    assert len(runs) == 1


def test_a_query_returning_two_rows_for_one_entity_is_an_error():
    from featurekit.results import typed

    view = featurekit.load().view("spend_trend")
    raw = pa.table(
        {
            "customer_id": ["C00001", "C00001"],
            "recent_spend": [1.0, 2.0],
            "prior_spend": [0.0, 0.0],
            "spend_change": [1.0, 2.0],
            "trend": ["new", "new"],
        }
    )
    with pytest.raises(
        featurekit.QueryError, match=r"more than one row for customer_id .C00001.; GROUP BY customer_id"
    ):
        typed(view, "customer_id", "string", ["C00001"], raw)


def test_one_row_decodes_exactly_as_to_pylist():
    from featurekit.results import python_rows

    table = pa.table(
        {
            "id": pa.array(["C1", "C2", None], pa.string()),
            "n": pa.array([1, None, -(2**63)], pa.int64()),
            "x": pa.array([float("nan"), -0.0, None], pa.float64()),
            "d": pa.array(
                [Decimal("12345678901234567890.123456789"), None, Decimal("-0.000000001")], pa.decimal128(38, 9)
            ),
            "day": pa.array([dt.date(2026, 6, 30), None, dt.date(1, 1, 1)], pa.date32()),
            "ts": pa.array([dt.datetime(2026, 6, 30, 23, 59, 59, 999999), None, None], pa.timestamp("us")),
            "tz": pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), None, None], pa.timestamp("us", "UTC")),
            "ok": pa.array([True, None, False], pa.bool_()),
        }
    )
    for n in range(table.num_rows):
        one = python_rows(table.slice(n, 1))
        # repr: NaN is not equal to itself, and -0.0 == 0.0 would hide a lost sign
        assert repr(one) == repr(table.to_pylist()[n : n + 1])
        assert [type(v) for v in one[0].values()] == [type(v) for v in table.to_pylist()[n].values()]
