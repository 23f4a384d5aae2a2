"""Hardening (issue 7): a corpus of broken and hostile catalogs.

Each case is the shipped catalog with one small edit. Every case must give exactly one problem,
`file:line: message`, precise enough to fix without reading code, both from `featurekit.load` and
from `featurekit validate --catalog DIR` (non-zero exit, one line, no traceback).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import featurekit
from featurekit.catalog.loader import shipped_catalog
from featurekit.engines import adapt
from featurekit.errors import DeclarationError
from tests.hardening_support import tried

Edit = Callable[[Path], None]
V, S, P = "views/customer_orders.yaml", "views/customer_orders.sql", "prompts/retention_note.jinja"
ENTITY = "entities/customer.yaml"


def sub(rel: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, (rel, old)  # the corpus must keep up with the shipped catalog
        path.write_text(text.replace(old, new, 1))

    return edit


def write(rel: str, text: str | bytes) -> Edit:
    def edit(root: Path) -> None:
        path = root / rel
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return edit


def delete(rel: str) -> Edit:
    return lambda root: (root / rel).unlink()


def in_sql(hostile: str) -> Edit:
    return sub(S, "{{ table('orders') }}", hostile)


SANDBOX = "is not allowed: templates cannot reach Python internals"
FILES = "is not allowed: a template cannot read other files"
TYPE_VALUES = "'int', 'float', 'date', 'string' or 'bool'"

# (case, edit, expected "file:line: message"); `...` at the end means "starts with".
CASES: list[tuple[str, Edit, str]] = [
    # YAML syntax and shape
    (
        "yaml-unclosed-flow",
        sub(V, "owner: growth-analytics", "owner: [growth"),
        f"{V}:5: YAML syntax error: expected ',' or ']', but got ':'",
    ),
    (
        "yaml-bad-indent",
        sub(ENTITY, "key: customer_id", "key: customer_id\n  bad: indent"),
        f"{ENTITY}:4: YAML syntax error: mapping values are not allowed here",
    ),
    (
        "yaml-list-not-mapping",
        write("tables/extra.yaml", "- a\n- b\n"),
        "tables/extra.yaml:1: expected a mapping of Table fields, got list",
    ),
    (
        "yaml-python-tag",
        write("tables/extra.yaml", "name: !!python/object/apply:os.system ['echo pwned']\n"),
        "tables/extra.yaml:1: YAML syntax error: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    ("not-utf8", write(V, b"\xff\xfe\x00name: x\n"), f"{V}: cannot read: not UTF-8 text (byte 0)"),
    # wrong types and values
    (
        "parameter-type",
        sub(V, "type: int\n    default: 90", "type: integer\n    default: 90"),
        f"{V}:8: parameters.0.type: Input should be {TYPE_VALUES} (got 'integer')",
    ),
    (
        "default-type",
        sub(V, "default: 90", "default: ninety"),
        f"{V}:7: parameters.0: default 'ninety' is not of type int",
    ),
    ("min-above-max", sub(V, "min: 1\n", "min: 5000\n"), f"{V}:7: parameters.0: min 5000.0 is greater than max 3650.0"),
    (
        "choices-type",
        sub(V, "min: 1\n", "choices: [a, b]\n    min: 1\n"),
        f"{V}:7: parameters.0: choice 'a' is not of type int",
    ),
    (
        "feature-type",
        sub(V, "{name: order_count, type: int", "{name: order_count, type: number"),
        f"{V}:14: features.0.type: Input should be 'int', 'float', 'decimal', 'date', 'timestamp', 'timestamptz', "
        "'string' or 'bool' (got 'number')",
    ),
    (
        "unknown-field",
        sub(V, "owner: growth-analytics", "owner: growth-analytics\nownr: x"),
        f"{V}:5: ownr: unknown field",
    ),
    ("missing-field", sub(ENTITY, "key: customer_id\n", ""), f"{ENTITY}:1: key: required field is missing"),
    (
        "bad-name",
        sub(V, "name: customer_orders", "name: Customer-Orders"),
        f"{V}:1: name: String should match pattern '^[a-z_][a-z0-9_]*$' (got 'Customer-Orders')",
    ),
    (
        "reserved-parameter",
        sub(V, "parameters:\n", "parameters:\n  - {name: entity_ids, type: string}\n"),
        f"{V}:6: parameters: parameter name 'entity_ids' is reserved: every view gets :entity_ids built in",
    ),
    (
        "reserved-as-of",
        sub(V, "parameters:\n", "parameters:\n  - {name: as_of, type: date}\n"),
        f"{V}:6: parameters: parameter name 'as_of' is reserved: every view gets :as_of built in",
    ),
    # unknown references and duplicates
    (
        "unknown-entity",
        sub(V, "entity: customer", "entity: custmer"),
        f"{V}:2: unknown entity 'custmer'; did you mean 'customer'?",
    ),
    (
        "unknown-view",
        sub("prompts/retention_note.yaml", "customer_orders", "customer_ordrs"),
        "prompts/retention_note.yaml:3: unknown view 'customer_ordrs'; did you mean 'customer_orders'?",
    ),
    ("unknown-table", in_sql("{{ table('ordrs') }}"), f"{S}:5: unknown table 'ordrs'; did you mean 'orders'?"),
    (
        "duplicate-view",
        lambda root: (root / "views" / "copy.yaml").write_text((root / V).read_text()),
        f"{V}:1: duplicate view name 'customer_orders', already declared in ...",
    ),
    (
        "duplicate-parameter",
        sub(V, "parameters:\n", "parameters:\n  - {name: lookback_days, type: int, default: 5}\n"),
        f"{V}:6: parameters: duplicate parameter name 'lookback_days'",
    ),
    (
        "duplicate-feature",
        sub(V, "features:\n", "features:\n  - {name: order_count, type: int}\n"),
        f"{V}:13: features: duplicate feature name 'order_count'",
    ),
    # regular expressions
    (
        "bad-regex",
        sub(ENTITY, r"'^C\d{5}$'", r"'^C(\d{5}$'"),
        f"{ENTITY}:4: pattern: invalid regular expression '^C(\\\\d{{5}}$': missing ), unterminated subpattern at "
        "position 2 (got '^C(\\\\d{5}$')",
    ),
    (
        "unanchored-regex",
        sub(ENTITY, r"'^C\d{5}$'", r"'C\d{5}'"),
        f"{ENTITY}:4: pattern: pattern 'C\\\\d{{5}}' must be anchored with ^ and $ so it checks the whole ID "
        "(got 'C\\\\d{5}')",
    ),
    # missing files
    ("missing-sql", delete(S), f"{V}:1: sql file customer_orders.sql not found beside the declaration"),
    (
        "missing-prompt",
        delete(P),
        "prompts/retention_note.yaml:1: template file retention_note.jinja not found beside the declaration",
    ),
    # binds and template variables: nothing undeclared reaches SQL
    (
        "undeclared-bind",
        sub(S, "AND :as_of\n", "AND :as_of AND :sneaky = 1\n"),
        f"{S}:8: bind :sneaky is not a declared parameter",
    ),
    (
        "unused-parameter",
        sub(V, "parameters:\n", "parameters:\n  - {name: unused, type: int, default: 1}\n"),
        f"{V}:7: declared parameter 'unused' is never used by the template (no :unused) in customer_orders.sql",
    ),
    (
        "no-entity-filter",
        sub(S, "WHERE customer_id IN :entity_ids\n      AND", "WHERE"),
        f"{S}: the template must filter on the bind :entity_ids",
    ),
    (
        "template-variable",
        in_sql("{{ table('orders') }} WHERE x = '{{ entity_ids }}'"),
        f"{S}:5: template variable 'entity_ids' is not allowed: values reach SQL only as binds (write :entity_ids); "
        "the only template helpers are table('name') and window('name', 'days_parameter')",
    ),
    (
        "parameter-as-variable",
        in_sql("{{ table('orders') }} /* {{ lookback_days }} */"),
        f"{S}:5: template variable 'lookback_days' is not allowed: values reach SQL only as binds "
        "(write :lookback_days); the only template helpers are table('name') and window('name', 'days_parameter')",
    ),
    ("jinja-syntax", in_sql("{{ table('orders') }"), f"{S}:5: Jinja syntax error: unexpected '}}'"),
    (
        "table-two-args",
        in_sql("{{ table('orders', 'x') }}"),
        f"{S}:5: table() takes one quoted table name, e.g. table('orders')",
    ),
    (
        "override-bad-bind",
        write(
            "views/customer_orders.duckdb.sql",
            "SELECT 1 FROM {{ table('orders') }} WHERE customer_id IN :entity_ids AND :lookback_days > 0 AND :nope\n",
        ),
        "views/customer_orders.duckdb.sql:1: bind :nope is not a declared parameter",
    ),
    # hostile templates: no Python internals, no files
    ("globals", in_sql("{{ table.__globals__ }}"), f"{S}:5: access to '__globals__' {SANDBOX}"),
    ("mro", in_sql("{{ ''.__class__.__mro__[1].__subclasses__() }}"), f"{S}:5: access to '__class__' {SANDBOX}"),
    ("lipsum", in_sql("{{ lipsum.__globals__['os'] }}"), f"{S}:5: access to '__globals__' {SANDBOX}"),
    ("cycler", in_sql("{{ cycler.__init__.__globals__.os }}"), f"{S}:5: access to '__init__' {SANDBOX}"),
    ("getitem", in_sql("{{ table['__globals__'] }}"), f"{S}:5: access to '__globals__' {SANDBOX}"),
    (
        "format-string",
        in_sql("{{ '{0.__class__}'.format(table) }}"),
        f"{S}:5: template error: access to attribute '__class__' of 'function' object is unsafe.",
    ),
    (
        "huge-range",
        in_sql("{{ table('orders') }}{% for i in range(10**9) %}{% endfor %}"),
        f"{S}:5: template error: ...",
    ),
    ("include", in_sql("{% include '/etc/passwd' %}"), f"{S}:5: {{% include %}} {FILES}"),
    ("import", in_sql("{% import 'os' as os %}{{ table('orders') }}"), f"{S}:5: {{% import %}} {FILES}"),
    ("from-import", in_sql("{% from '/etc/passwd' import x %}{{ table('orders') }}"), f"{S}:5: {{% from %}} {FILES}"),
    ("extends", sub(S, "WITH windowed", "{% extends '/etc/passwd' %}WITH windowed"), f"{S}:3: {{% extends %}} {FILES}"),
    (
        "prompt-globals",
        lambda root: (root / P).write_text((root / P).read_text() + "{{ lipsum.__globals__ }}\n"),
        f"{P}:6: access to '__globals__' {SANDBOX}",
    ),
    ("prompt-include", write(P, "Facts:\n{% include '/etc/passwd' %}\n"), f"{P}:2: {{% include %}} {FILES}"),
    ("prompt-syntax", sub(P, "{{", "{{ {{"), f"{P}:1: Jinja syntax error: expected token ':', got '}}'"),
]


def _matches(line: str, expected: str) -> bool:
    return line.startswith(expected[:-3]) if expected.endswith("...") else line == expected


@pytest.fixture
def broken(tmp_path: Path) -> Callable[[Edit], Path]:
    def make(edit: Edit) -> Path:
        root = tmp_path / "catalog"
        shutil.copytree(shipped_catalog(), root)
        edit(root)
        return root

    return make


@pytest.mark.parametrize(("case", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_broken_catalog_gives_exactly_one_precise_problem(
    broken: Callable[[Edit], Path], case: str, edit: Edit, expected: str
) -> None:
    tried("broken catalogs: featurekit.load")
    root = broken(edit)
    with pytest.raises(DeclarationError) as caught:
        featurekit.load(root)
    found = [str(p) for p in caught.value.problems]
    assert len(found) == 1, found
    prefix = f"{root}/"
    assert found[0].startswith(prefix), found
    assert _matches(found[0][len(prefix) :], expected), found[0]
    assert "\n" not in found[0]


@pytest.mark.parametrize(("case", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_cli_validate_reports_one_line_without_traceback(
    broken: Callable[[Edit], Path], cli, case: str, edit: Edit, expected: str
) -> None:
    tried("broken catalogs: featurekit validate")
    root = broken(edit)
    code, out, err = cli("validate", "--catalog", root)
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {root}/") and _matches(line.removeprefix(f"error: {root}/"), expected), line


def test_the_shipped_catalog_is_the_unbroken_baseline(broken: Callable[[Edit], Path], cli) -> None:
    """Without an edit the same copy loads and validates: each case above fails for its own edit only."""
    root = broken(lambda root: None)
    assert set(featurekit.load(root).views) >= {"customer_orders", "spend_trend"}
    code, out, _ = cli("validate", "--catalog", root)
    assert code == 0 and "is valid" in out


@pytest.mark.parametrize(
    "hostile",
    ["{{ ''.__class__ }}", "{{ table.__globals__ }}", "{% include '/etc/passwd' %}", "{% import 'os' as os %}"],
)
def test_hostile_templates_are_refused_before_anything_renders(hostile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The static check runs first: the template is never rendered, so nothing can read a file or an attribute."""
    from featurekit.catalog import templates

    rendered: list[str] = []
    original = templates.render_sql
    monkeypatch.setattr(templates, "render_sql", lambda *a, **k: rendered.append(a[2]) or original(*a, **k))
    analysis = templates.analyze_sql(
        f"SELECT * FROM x WHERE id IN :entity_ids {hostile}",
        "t.sql",
        known_tables=(),
        builtins=("entity_ids",),
        parameters=(),
    )
    assert analysis.findings and rendered == []


# -- random edits: whatever the files say, loading gives a catalog or problems, never a crash ------

import contextlib  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SHIPPED_FILES = sorted(str(p.relative_to(shipped_catalog())) for p in shipped_catalog().rglob("*") if p.is_file())
PIECES = [
    "'",
    '"',
    ":",
    "- ",
    "{",
    "}",
    "{{",
    "}}",
    "{%",
    "%}",
    "\t",
    "\n",
    "  ",
    "#",
    "&a",
    "*a",
    "!!",
    "|",
    ">",
    "[",
    "]",
    ",",
    ":entity_ids",
    ":nope",
    "table('orders')",
    "__class__",
    "\x00",
    "\ufeff",
    "Ｃ",
    "-- ",
    "/*",
]
edits = st.tuples(
    st.sampled_from(SHIPPED_FILES),
    st.sampled_from(["insert", "delete-line", "duplicate-line", "truncate", "replace"]),
    st.floats(0, 1),
    st.lists(st.sampled_from(PIECES) | st.text(max_size=3), min_size=1, max_size=4).map("".join),
)


def apply(root: Path, edit: tuple[str, str, float, str]) -> None:
    rel, kind, where, text = edit
    path = root / rel
    source = path.read_text()
    lines = source.splitlines(keepends=True)
    at = int(where * len(source))
    line = min(int(where * len(lines)), max(len(lines) - 1, 0))
    if kind == "insert":
        source = source[:at] + text + source[at:]
    elif kind == "replace":
        source = source[:at] + text + source[at + len(text) :]
    elif kind == "truncate":
        source = source[:at]
    elif kind == "delete-line" and lines:
        source = "".join(lines[:line] + lines[line + 1 :])
    elif lines:
        source = "".join(lines[: line + 1] + lines[line:])
    path.write_text(source)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(batch=st.lists(edits, min_size=1, max_size=3))
def test_random_edits_give_a_catalog_or_located_problems(tmp_path_factory: pytest.TempPathFactory, batch) -> None:
    from featurekit.errors import FeaturekitError
    from featurekit.render import Renderer

    tried("broken catalogs: random edits (hypothesis)")
    root = tmp_path_factory.mktemp("fuzz") / "catalog"
    shutil.copytree(shipped_catalog(), root)
    for edit in batch:
        apply(root, edit)
    try:
        catalog = featurekit.load(root)
    except DeclarationError as error:
        assert error.problems
        for problem in error.problems:
            path = Path(problem.file)
            assert path == root or root in path.parents, problem
            if problem.line is not None and path.is_file():
                assert 1 <= problem.line <= len(path.read_bytes().splitlines()) + 1, problem
            assert "\n" not in problem.message, problem
        return
    for view in catalog.views:  # what `featurekit validate` does next: every template adapts, or a typed error
        with contextlib.suppress(FeaturekitError):
            Renderer(catalog, "duckdb", lambda t: f'"{t.name}"', adapt.for_dialect("duckdb")).sql(view)
