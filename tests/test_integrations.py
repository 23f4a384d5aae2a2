"""Thin integrations: the same features as pandas and polars frames."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import featurekit
from featurekit.sample import write_sample


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> featurekit.FeatureFrame:
    data = tmp_path_factory.mktemp("integrations")
    write_sample(Path(data), as_of=dt.date(2026, 6, 30))
    with featurekit.FeatureStore(data=data) as store:
        return store.get("customer_orders", ["C00042", "C00007"], as_of="2026-06-30")


def test_to_polars_keeps_values_and_types(frame: featurekit.FeatureFrame) -> None:
    pl = pytest.importorskip("polars")
    df = frame.to_polars()
    assert isinstance(df, pl.DataFrame)
    assert df.to_dicts() == frame.to_dicts()  # dates stay dates, nulls stay nulls (C00007 has no orders)
    assert df.schema["order_count"] == pl.Int64 and df.schema["last_order"] == pl.Date


def test_to_pandas_one_row_per_id_in_order(frame: featurekit.FeatureFrame) -> None:
    df = frame.to_pandas()
    assert list(df["customer_id"]) == ["C00042", "C00007"]
    assert df.loc[1, "order_count"] == 0  # the declared default, not a missing row
