"""Partition pruning: a view reads only the `dt=` folders of its window, with the window bound as parameters.

The window predicate on `dt` is an expression over binds (date_format(date_add('day', -:lookback_days,
:as_of), ...)), transpiled to STRFTIME for DuckDB. These tests prove DuckDB still prunes with it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import featurekit
from featurekit.errors import QueryError
from featurekit.sample import write_sample

AS_OF = dt.date(2026, 6, 30)
DAYS = 365


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A year of daily partitions in which every file outside the last 31 days is corrupt."""
    folder = tmp_path_factory.mktemp("year")
    write_sample(folder, customers=60, orders=3000, as_of=AS_OF, days=DAYS)
    first_kept = (AS_OF - dt.timedelta(days=30)).isoformat()
    for file in (folder / "orders").glob("dt=*/*.json"):
        if file.parent.name.removeprefix("dt=") < first_kept:
            file.write_text('{"customer_id": "C00042", this is not JSON\n')
    return folder


def scan_profile(store: featurekit.FeatureStore, query: Any) -> tuple[int, int]:
    """(files read, files listed) by DuckDB's own profiler for the query as featurekit runs it."""
    statement = sa.text("EXPLAIN (ANALYZE, FORMAT JSON) " + query.sql).bindparams(
        sa.bindparam("entity_ids", expanding=query.ids_expand)
    )
    with store.engine.sa.connect() as conn:  # type: ignore[attr-defined]
        plan = json.loads(conn.execute(statement, query.bind_values()).fetchall()[0][1])
    scans: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if "Total Files Read" in node.get("extra_info", {}):
            scans.append(node["extra_info"])
        for child in node.get("children", []):
            walk(child)

    for node in plan["operator"] if isinstance(plan, dict) else plan[0]["operator"]:
        walk(node)
    assert scans, "no file scan in the plan"
    read = sum(int(s["Total Files Read"]) for s in scans)
    listed = max(int(s["Scanning Files"].split("/")[1]) for s in scans)
    return read, listed


def test_files_outside_the_window_are_never_opened(year):
    # Every file older than 31 days is corrupt: the lookup can only succeed if DuckDB skips them.
    with featurekit.FeatureStore(data=year, cache=False) as store:
        row = store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 30})
        assert row["order_count"] > 0
        # One day wider reaches a corrupt file: proof that the corrupt files are real and the boundary exact.
        with pytest.raises(QueryError, match=r"(?i)json"):
            store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 31})


def test_the_profiler_counts_only_the_window_s_files(year):
    with featurekit.FeatureStore(data=year, cache=False) as store:
        store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": 30})  # creates the view
        query = store.render("customer_orders", ["C00042", "C00007"], as_of=AS_OF, params={"lookback_days": 30})
        read, listed = scan_profile(store, query)
    assert listed == DAYS
    assert read == 31  # as_of and the 30 days before it, of 365
