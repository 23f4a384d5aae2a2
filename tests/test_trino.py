"""Trino engine: configuration and the SQL it would send (no live Trino exists here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import featurekit
from featurekit.engines.trino import TrinoEngine
from featurekit.errors import ConfigError

# The `trino` extra (pip install 'featurekit[trino]'); the core never imports it.
pytest.importorskip("trino")


def test_url_catalog_schema_and_no_secrets_in_the_url() -> None:
    engine = TrinoEngine(
        host="trino.internal",
        port=8443,
        user="fk",
        data_catalog="lake",
        schema="shop",
        http_scheme="https",
        auth="basic",
        password="s3cret",
    )
    try:
        url = engine.sa.url
        assert (url.drivername, url.host, url.port, url.username, url.database) == (
            "trino",
            "trino.internal",
            8443,
            "fk",
            "lake/shop",
        )
        assert url.password is None and "s3cret" not in str(url) and "s3cret" not in repr(engine.settings)
        args = engine.connect_args()
        assert args["http_scheme"] == "https" and args["session_properties"] == {"query_max_run_time": "300s"}
        from trino.auth import BasicAuthentication

        assert isinstance(args["auth"], BasicAuthentication)
    finally:
        engine.close()


def test_jwt_auth_and_validation() -> None:
    from trino.auth import JWTAuthentication

    engine = TrinoEngine(host="h", auth="jwt", jwt_token="tok", query_timeout=0)
    try:
        args = engine.connect_args()
        assert isinstance(args["auth"], JWTAuthentication) and "session_properties" not in args
    finally:
        engine.close()
    with pytest.raises(ConfigError) as caught:
        TrinoEngine(host="h", auth="basic", password="x")  # basic auth over http would leak the password
    assert caught.value.setting == "password"
    with pytest.raises(ConfigError) as caught:
        TrinoEngine()
    assert caught.value.setting == "host"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEATUREKIT_TRINO_HOST", "envhost")
    monkeypatch.setenv("FEATUREKIT_TRINO_PORT", "9090")
    engine = TrinoEngine()
    assert (engine.sa.url.host, engine.sa.url.port) == ("envhost", 9090)
    engine.close()


def test_rendered_sql_is_the_catalog_sql_with_qualified_tables_and_qmark_binds() -> None:
    with featurekit.FeatureStore(engine="trino", host="h", data_catalog="lake", schema="shop") as store:
        query = store.render("customer_orders", ["C00042", "C00043"], as_of="2024-05-01")
        assert query.dialect == "trino"
        assert 'FROM "lake"."shop"."orders"' in query.sql
        assert "IN :entity_ids" in query.sql and "date_add('day', -:lookback_days, :as_of)" in query.sql
        compiled = (
            query.statement()
            .bindparams(**dict(query.params))
            .compile(dialect=store.engine.sa.dialect, compile_kwargs={"render_postcompile": True})
        )
        text = str(compiled)
        # Values stay parameters for the trino client (it sends them with EXECUTE ... USING).
        assert "C00042" not in text and "IN (?, ?)" in text and text.count("?") >= 6


def test_core_imports_without_trino() -> None:
    code = (
        "import sys; sys.modules['trino'] = None; "
        "import featurekit, featurekit.store, featurekit.engines.athena; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_missing_trino_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trino", None)
    monkeypatch.setitem(sys.modules, "trino.sqlalchemy", None)
    with pytest.raises(ConfigError, match=r"featurekit\[trino\]"):
        TrinoEngine(host="h")
