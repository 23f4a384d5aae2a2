"""Hardening (issue 13.2): the embedded DuckDB is locked to the data once its views exist.

The static check of a view's SQL (tests/test_hardening_adversarial.py) is the first wall; these cases run
the hostile statements straight on the engine's own connections, as if a template had slipped past it,
and assert that DuckDB itself refuses them and that nothing was read or written outside the data root.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

import featurekit
from featurekit.engines.duckdb import DuckDBEngine
from featurekit.errors import DataError
from featurekit.sample import write_sample
from tests.conftest import AS_OF
from tests.hardening_support import tried


@pytest.fixture
def locked(tmp_path: Path) -> tuple[featurekit.FeatureStore, Path]:
    data = tmp_path / "data"
    write_sample(data, customers=10, orders=40, as_of=AS_OF)
    store = featurekit.FeatureStore(data=data, cache=False)
    store.get("customer_orders", "C00001", as_of=AS_OF)  # creates the views, then locks
    yield store, tmp_path
    store.close()


def hostile(outside: Path) -> list[str]:
    return [
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/hostname')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        f"COPY (SELECT 42 AS pwned) TO '{outside / 'pwned.csv'}'",
        f"ATTACH '{outside / 'evil.db'}' AS evil",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('https://example.com/x.csv')",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET lock_configuration = false",
        "SET autoinstall_known_extensions = true",
    ]


def test_engine_refuses_files_network_extensions_and_settings_outside_the_data(locked) -> None:
    store, outside = locked
    statements = hostile(outside)
    tried("duckdb lockdown statements", len(statements))
    for statement in statements:
        with store.engine.sa.connect() as conn, pytest.raises(sa.exc.DBAPIError) as err:  # type: ignore[attr-defined]
            conn.exec_driver_sql(statement).fetchall()
        reason = str(err.value.orig)
        assert re.search(r"disabled (by|through) configuration|configuration has been locked", reason), statement
    assert not (outside / "pwned.csv").exists() and not (outside / "evil.db").exists()
    # The declared views still read their files: the lockdown costs the catalog nothing.
    assert store.get("customer_orders", "C00001", as_of=AS_OF)["order_count"] >= 0


def test_engine_settings_stay_locked_on_every_pooled_connection(locked) -> None:
    store, _ = locked
    engine = store.engine.sa  # type: ignore[attr-defined]
    conns = [engine.connect() for _ in range(5)]  # new cursors after the lock, not only the first
    try:
        for conn in conns:
            rows = conn.exec_driver_sql(
                "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), "
                "current_setting('autoload_known_extensions'), current_setting('enable_progress_bar')"
            ).fetchall()
            assert rows == [(False, True, False, False)]
    finally:
        for conn in conns:
            conn.close()


def test_table_outside_the_locked_folders_is_a_data_error(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    write_sample(data, customers=5, orders=20, as_of=AS_OF)
    write_sample(elsewhere, customers=5, orders=20, as_of=AS_OF)
    catalog = featurekit.load()
    orders = catalog.table("orders")
    engine = DuckDBEngine(data)
    try:
        engine.prepare([orders])
        moved = replace(orders, name="orders_elsewhere", path=str(elsewhere / "orders"))
        with pytest.raises(DataError, match=r"orders_elsewhere.*outside the folders this engine is locked to"):
            engine.prepare([moved])
    finally:
        engine.close()


def test_a_table_declared_as_one_file_allows_that_file_only(tmp_path: Path) -> None:
    data = tmp_path / "elsewhere"
    write_sample(data, customers=5, orders=20, as_of=AS_OF)
    single = tmp_path / "one" / "orders.json"
    single.parent.mkdir()
    single.write_text("".join(p.read_text() for p in sorted(data.glob("orders/dt=*/*.json"))))
    (single.parent / "secret.txt").write_text("sibling")
    catalog = featurekit.load()
    tables = dict(catalog.tables)
    tables["orders"] = replace(tables["orders"], path=str(single), partitioned_by=())
    with featurekit.FeatureStore(replace(catalog, tables=tables), cache=False) as store:
        assert store.get("customer_orders", "C00001", as_of=AS_OF, params={"lookback_days": 365})["order_count"] > 0
        with store.engine.sa.connect() as conn, pytest.raises(sa.exc.DBAPIError):  # type: ignore[attr-defined]
            conn.exec_driver_sql(f"SELECT * FROM read_text('{single.parent / 'secret.txt'}')").fetchall()
