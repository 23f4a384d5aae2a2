"""Declarations load, validate together, and every problem names its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import featurekit
from featurekit.catalog.loader import shipped_catalog
from featurekit.engines import adapt
from featurekit.errors import DeclarationError


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(shipped_catalog(), target)
    return target


def problems(folder: Path) -> list[str]:
    with pytest.raises(DeclarationError) as info:
        featurekit.load(folder)
    return [f"{Path(p.file).relative_to(folder)}:{p.line}: {p.message}" for p in info.value.problems]


def test_shipped_catalog_loads():
    cat = featurekit.load()
    assert set(cat.views) >= {"customer_orders", "spend_trend"}
    assert cat.entity("customer").pattern == r"^C\d{5}$"
    orders = cat.view("customer_orders")
    assert [f.name for f in orders.features] == [
        "order_count",
        "total_spend",
        "avg_order",
        "last_order",
        "refund_rate",
        "top_category",
        "days_since_last_order",
    ]
    assert orders.parameter("lookback_days").default == 90
    assert cat.view_templates["customer_orders"].tables == ("orders",)
    assert cat.prompt("retention_note").views == ("customer_orders",)


def test_unknown_names_suggest_the_closest():
    cat = featurekit.load()
    with pytest.raises(featurekit.NotFoundError, match="did you mean 'customer_orders'"):
        cat.view("customer_order")
    with pytest.raises(featurekit.NotFoundError, match="did you mean 'total_spend'"):
        cat.view("customer_orders").feature("total_spnd")


def test_every_problem_is_reported_together_with_file_and_line(catalog_dir: Path):
    view = catalog_dir / "views" / "customer_orders.yaml"
    view.write_text(view.read_text().replace("type: int\n    default: 90", "type: integer\n    default: 90"))
    entity = catalog_dir / "entities" / "customer.yaml"
    entity.write_text(entity.read_text().replace(r"'^C\d{5}$'", r"'^C(\d{5}$'"))
    found = problems(catalog_dir)
    assert any(p.startswith("views/customer_orders.yaml:8: parameters.0.type") for p in found), found
    assert any(p.startswith("entities/customer.yaml:4: pattern") and "invalid regular expression" in p for p in found)
    assert len(found) >= 2


def test_yaml_syntax_error_names_the_line(catalog_dir: Path):
    (catalog_dir / "tables" / "orders.yaml").write_text("name: orders\ncolumns: [\n  - oops\n")
    found = problems(catalog_dir)
    assert any(p.startswith("tables/orders.yaml:") and "YAML syntax error" in p for p in found), found


def test_wrong_types_and_unknown_fields(catalog_dir: Path):
    (catalog_dir / "views" / "customer_orders.yaml").write_text(
        "name: customer_orders\nentity: customer\nfeatures:\n  - {name: order_count, type: int, default: zero}\n"
        "colour: blue\nparameters:\n  - {name: lookback_days, type: int, default: 90}\n"
    )
    found = problems(catalog_dir)
    assert any("customer_orders.yaml:5: colour: unknown field" in p for p in found), found


def test_unknown_references(catalog_dir: Path):
    view = catalog_dir / "views" / "spend_trend.yaml"
    view.write_text(view.read_text().replace("entity: customer", "entity: custmer"))
    sql = catalog_dir / "views" / "customer_orders.sql"
    sql.write_text(sql.read_text().replace("table('orders')", "table('order')"))
    found = problems(catalog_dir)
    assert any(
        p.startswith("views/spend_trend.yaml:2: unknown entity 'custmer'; did you mean 'customer'") for p in found
    )
    assert any(p.startswith("views/customer_orders.sql:5: unknown table 'order'; did you mean 'orders'") for p in found)


def test_template_variables_and_binds_must_be_declared(catalog_dir: Path):
    sql = catalog_dir / "views" / "customer_orders.sql"
    text = sql.read_text()
    text = text.replace("WHERE customer_id IN :entity_ids", "WHERE customer_id IN :entity_ids AND amount > :min_amount")
    text = text.replace("round(sum(w.amount), 2)", "round(sum(w.amount), {{ digits }})")
    sql.write_text(text)
    found = problems(catalog_dir)
    assert any(p.startswith("views/customer_orders.sql:6: bind :min_amount is not a declared parameter") for p in found)
    assert any(p.startswith("views/customer_orders.sql:20: template variable 'digits' is not allowed") for p in found)


def test_unused_declared_parameter_and_missing_entity_filter(catalog_dir: Path):
    sql = catalog_dir / "views" / "spend_trend.sql"
    text = sql.read_text().replace(":window_days", "30").replace("'window_days', 2", "30, 2")
    sql.write_text(text.replace("IN :entity_ids", "IS NOT NULL"))
    found = problems(catalog_dir)
    assert any("declared parameter 'window_days' is never used" in p for p in found), found
    assert any("must filter on the bind :entity_ids" in p for p in found), found


def test_jinja_syntax_error(catalog_dir: Path):
    sql = catalog_dir / "views" / "spend_trend.sql"
    lines = sql.read_text().splitlines()
    lines[3] += " {% if %}"
    sql.write_text("\n".join(lines))
    found = problems(catalog_dir)
    assert any(p.startswith("views/spend_trend.sql:4: Jinja syntax error") for p in found), found


def test_duplicate_names(catalog_dir: Path):
    shutil.copy(catalog_dir / "views" / "spend_trend.yaml", catalog_dir / "views" / "spend_trend_copy.yaml")
    found = problems(catalog_dir)
    assert any(p.startswith("views/spend_trend_copy.yaml:1: duplicate view name 'spend_trend'") for p in found), found


def test_missing_template_file(catalog_dir: Path):
    (catalog_dir / "views" / "spend_trend.sql").unlink()
    found = problems(catalog_dir)
    assert any("views/spend_trend.yaml:1: sql file spend_trend.sql not found" in p for p in found), found


def test_unanchored_pattern_and_bad_bounds(catalog_dir: Path):
    entity = catalog_dir / "entities" / "customer.yaml"
    entity.write_text(entity.read_text().replace(r"'^C\d{5}$'", r"'C\d{5}'"))
    view = catalog_dir / "views" / "customer_orders.yaml"
    view.write_text(view.read_text().replace("min: 1\n", "min: 5000\n"))
    found = problems(catalog_dir)
    assert any("must be anchored" in p for p in found), found
    assert any("min 5000.0 is greater than max 3650.0" in p for p in found), found


def test_empty_or_missing_catalog(tmp_path: Path):
    assert "catalog folder does not exist" in problems(tmp_path / "missing")[0]
    assert "no declarations found" in problems(tmp_path)[0]


def test_catalog_from_environment(monkeypatch, catalog_dir: Path):
    monkeypatch.setenv("FEATUREKIT_CATALOG", str(catalog_dir))
    assert featurekit.load().root == catalog_dir


def test_override_file_replaces_the_transpiled_sql(catalog_dir: Path):
    source = (catalog_dir / "views" / "spend_trend.sql").read_text()
    override = "-- hand-written DuckDB SQL\n" + source.replace(
        "date_add('day', -:window_days, :as_of)", "(:as_of - :window_days)"
    )
    (catalog_dir / "views" / "spend_trend.duckdb.sql").write_text(override)
    cat = featurekit.load(catalog_dir)
    assert "duckdb" in cat.view_templates["spend_trend"].overrides
    from featurekit.render import Renderer

    sql = Renderer(cat, "duckdb", lambda t: f'"{t.name}"', adapt.for_dialect("duckdb")).sql("spend_trend")
    assert "(:as_of - :window_days)" in sql and "hand-written" not in sql
    assert (
        Renderer(cat, "athena", lambda t: f'"{t.name}"', adapt.for_dialect("athena"))
        .sql("spend_trend")
        .count("date_add")
        > 0
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "{{ table.__globals__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ table('orders').__class__.__init__.__globals__['os'] }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    ],
)
def test_hostile_templates_cannot_reach_python_internals(catalog_dir: Path, hostile: str):
    sql = catalog_dir / "views" / "spend_trend.sql"
    sql.write_text(sql.read_text() + "\n-- x\n" + "UNION ALL SELECT " + hostile + "\n")
    found = problems(catalog_dir)
    assert any(p.startswith("views/spend_trend.sql:") for p in found), found


def test_line_numbers_count_lines_as_an_editor_does(catalog_dir: Path):
    # U+0085 (NEL) is a line break to YAML but not to editors; the error must name the editor's line.
    view = catalog_dir / "views" / "spend_trend.yaml"
    lines = view.read_text().splitlines()
    lines[2] += " \u0085 still line three"
    lines[5] = "  - name: [window_days"
    view.write_text("\n".join(lines) + "\n")
    found = problems(catalog_dir)
    assert found and found[0].startswith("views/spend_trend.yaml:6: YAML syntax error"), found
