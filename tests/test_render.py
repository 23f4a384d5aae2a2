"""Rendering: Jinja builds structure, values are binds, bad values are rejected with the parameter named."""

from __future__ import annotations

import datetime as dt

import pytest

import featurekit
from featurekit.catalog import layouts, templates
from featurekit.engines import adapt
from featurekit.errors import InputError, InvalidEntityId, NotFoundError
from featurekit.render import Renderer

CAT = featurekit.load()


def renderer(dialect: str = "duckdb") -> Renderer:
    return Renderer(CAT, dialect, lambda t: f'"{t.name}"', adapt.for_dialect(dialect))


def test_values_are_binds_never_text():
    query = renderer().render("customer_orders", ["C00042", "C00007"], as_of="2026-06-30", params={"lookback_days": 30})
    assert query.params == {"entity_ids": ("C00042", "C00007"), "as_of": dt.date(2026, 6, 30), "lookback_days": 30}
    for value in ("C00042", "C00007", "2026-06-30", "30"):
        assert value not in query.sql
    assert ":entity_ids" in query.sql and ":as_of" in query.sql and ":lookback_days" in query.sql
    compiled = query.statement().compile()
    assert set(compiled.params) == {"entity_ids", "as_of", "lookback_days"}


def test_athena_sql_is_the_catalog_sql_as_written():
    sql = renderer("athena").sql("customer_orders")
    source = CAT.view_templates["customer_orders"].source
    assert "date_add('day', -:lookback_days, :as_of)" in sql
    window = layouts.window_sql(CAT.table("orders"), "lookback_days")
    as_written = source.replace("{{ table('orders') }}", '"orders"')
    assert sql == templates.strip_comments(as_written.replace("{{ window('orders', 'lookback_days') }}", window))


def test_duckdb_sql_is_transpiled_with_binds_kept():
    sql = renderer("duckdb").sql("customer_orders")
    assert "STRFTIME" in sql and "date_format" not in sql
    assert "$" not in sql  # sqlglot's DuckDB binds would not be bound by SQLAlchemy
    assert templates.binds(sql) == ["entity_ids", "as_of", "lookback_days"]


def test_template_version_changes_with_the_template(tmp_path):
    import shutil

    shutil.copytree(featurekit.catalog.loader.shipped_catalog(), tmp_path / "c")
    sql = tmp_path / "c" / "views" / "spend_trend.sql"
    before = featurekit.load(tmp_path / "c").view_templates["spend_trend"].version
    sql.write_text(sql.read_text().replace("* 1.1", "* 1.2"))
    assert featurekit.load(tmp_path / "c").view_templates["spend_trend"].version != before


@pytest.mark.parametrize("bad", ["C1' OR '1'='1", "C0004", "c00042", "C00042 ", "C00042\n", "", 42, None, "Ｃ00042"])
def test_ids_that_fail_the_pattern_are_rejected(bad):
    with pytest.raises(InvalidEntityId) as info:
        renderer().render("customer_orders", [bad], as_of="2026-06-30")
    assert "does not match the pattern ^C\\d{5}$" in str(info.value)
    assert info.value.parameter == "customer id"


def test_duplicate_ids_are_asked_once_and_empty_lists_rejected():
    assert renderer().render("customer_orders", ["C00001", "C00001", "C00002"]).entity_ids == ("C00001", "C00002")
    with pytest.raises(InputError, match="no IDs given"):
        renderer().render("customer_orders", [])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ninety", "'ninety' is not an int"),
        (0, "0 is below the minimum 1"),
        (3651, "3651 is above the maximum 3650"),
        (True, "True is not an int"),
        (9.5, "9.5 is not an int"),
    ],
)
def test_parameters_are_typed_and_bounded(value, message):
    with pytest.raises(InputError) as info:
        renderer().render("customer_orders", ["C00001"], params={"lookback_days": value})
    assert str(info.value) == f"lookback_days: {message}"
    assert info.value.parameter == "lookback_days"


def test_cli_strings_are_coerced():
    assert (
        renderer().render("customer_orders", ["C00001"], params={"lookback_days": "30"}).params["lookback_days"] == 30
    )


def test_unknown_parameter_suggests():
    with pytest.raises(NotFoundError, match="did you mean 'lookback_days'"):
        renderer().render("customer_orders", ["C00001"], params={"lookback_day": 3})


@pytest.mark.parametrize("bad", ["2026-13-01", "30/06/2026", "yesterday", "2026-6-30", 20260630])
def test_malformed_as_of(bad):
    with pytest.raises(InputError, match=r"^as_of: .* is not a date in YYYY-MM-DD form or a timestamp with an offset$"):
        renderer().render("customer_orders", ["C00001"], as_of=bad)


def test_strip_comments_keeps_quoted_dashes():
    sql = "SELECT '--not a comment' AS a, \"x--y\" -- a comment with :fake\n/* block :also */ FROM t\n"
    stripped = templates.strip_comments(sql)
    assert "'--not a comment'" in stripped and '"x--y"' in stripped
    assert templates.binds(sql) == []


def test_sql_hash_identifies_the_text():
    a = renderer().render("customer_orders", ["C00001"])
    b = renderer().render("customer_orders", ["C00002"], params={"lookback_days": 5})
    assert a.sql_hash == b.sql_hash  # same text: values are not part of it
    assert a.sql_hash != renderer("athena").render("customer_orders", ["C00001"]).sql_hash
