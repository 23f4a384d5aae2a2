"""The standing adversarial suite (issue 13): hostile catalogs and hostile inputs, each refused in one line.

An attacker with commit rights to a catalog folder (or a careless teammate) writes views that try to
write or read files, reach the network, load extensions or run a second statement; YAML made to hang
the loader; templates made to burn CPU and memory; entity patterns that backtrack forever. A caller
sends IDs and files meant to crash the CLI. Every case asserts the exact refusal, `file:line: message`,
through the library (`featurekit.load`) and the CLI (`validate` and `get`: exit 2, one `error:` line, no
traceback), and that nothing was written into the working folder or a folder outside the data root,
nor any byte of a file outside it shown. Loading any catalog costs under a second of CPU.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import pytest

import featurekit
from featurekit.catalog.loader import shipped_catalog
from featurekit.catalog.yamlfile import MAX_DECLARATION_BYTES
from featurekit.errors import DeclarationError, InvalidEntityId, TemplateError
from tests.hardening_support import tried

S, V, T, E = "views/customer_orders.sql", "views/customer_orders.yaml", "tables/orders.yaml", "entities/customer.yaml"
#: The folder outside the data root every attack aims at; `{out}` in a case is replaced by its path.
SECRET = "featurekit-adversarial-secret-3f1c"
BASE = (
    "SELECT customer_id, count(*) AS order_count FROM {{ table('orders') }}\n"
    "WHERE customer_id IN :entity_ids AND :lookback_days > 0 GROUP BY customer_id\n"
)
ONE = "must render to exactly one SELECT statement"
FILES = "is not allowed: views read only declared tables"
READ_ONLY = "is not allowed: a view is one read-only SELECT"
UNPARSED = "cannot be parsed as athena SQL, so it is refused: "
TEMPLATE = "template error: "


def sql(text: str, rel: str = S) -> Callable[[Path, Path], None]:
    """Replace the view's SQL template (or write an override) with `text`."""
    return lambda root, out: (root / rel).write_text(text.replace("{out}", str(out)))


def file(rel: str, text: str | bytes) -> Callable[[Path, Path], None]:
    def edit(root: Path, out: Path) -> None:
        (root / rel).write_bytes(text if isinstance(text, bytes) else text.encode())

    return edit


def sub(rel: str, old: str, new: str) -> Callable[[Path, Path], None]:
    def edit(root: Path, out: Path) -> None:
        text = (root / rel).read_text()
        assert old in text, (rel, old)
        (root / rel).write_text(text.replace(old, new, 1))

    return edit


def _call(place: str, call: str) -> str:
    """BASE with `call` as a value, as the table, or joined beside the table."""
    table = "{{ table('orders') }}"
    if place == "value":
        return BASE.replace("count(*)", f"(SELECT content FROM {call})" if call.startswith("read_") else call)
    return BASE.replace(table, call if place == "from" else f"{table}, {call}")


LAUGHS = "name: laughs\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)

# (case, edit, expected "file:line: message"); `...` at the end means "starts with" (parser wording follows).
CASES: list[tuple[str, Callable[[Path, Path], None], str]] = [
    # -- a view is one read-only SELECT ----------------------------------------------------------
    ("copy-then-select", sql("COPY (SELECT 42 AS pwned) TO '{out}/pwned.csv';\n" + BASE),
     f"{S}:1: {ONE}, found 2 (COPY statement, SELECT statement)"),
    ("select-then-copy", sql(BASE + ";\nCOPY (SELECT 42 AS pwned) TO '{out}/pwned.csv'\n"),
     f"{S}:1: {ONE}, found 2 (SELECT statement, COPY statement)"),
    ("semicolon-from-jinja", sql(BASE + "{{ ';' }} COPY (SELECT 1) TO '{out}/pwned.csv'\n"),
     f"{S}:1: {ONE}, found 2 (SELECT statement, COPY statement)"),
    ("statement-in-backslash-string", sql(BASE + "AND 'a\\'; COPY (SELECT 1) TO '{out}/pwned.csv'; --' = ''\n"),
     f"{S}:1: {ONE}, found 2 (SELECT statement, COPY statement)"),
    ("copy-hidden-after-comment", sql(BASE + "-- harmless\n/* ; */ ; COPY (SELECT 1) TO '{out}/pwned.csv'\n"),
     f"{S}:1: {ONE}, found 2 (SELECT statement, COPY statement)"),
    # a function in the select list ("value"), as the table ("from") or beside it ("join"): refused by name
    *(
        (f"function-{name}-{place}", sql(_call(place, f"{name}({args})")), f"{S}:1: function {name}() {FILES}")
        for place, name, args in [
            ("value", "read_text", "'{out}/secret.txt'"),
            ("join", "read_text", "'{out}/secret.txt'"),
            ("value", "read_blob", "'{out}/secret.txt'"),
            ("from", "read_csv_auto", "'{out}/secret.txt'"),
            ("from", "read_csv", "'{out}/secret.txt'"),
            ("from", "read_json", "'{out}/secret.txt'"),
            ("from", "read_parquet", "'https://example.com/x.parquet'"),
            ("from", "parquet_scan", "'s3://bucket/x.parquet'"),
            ("from", "sqlite_scan", "'{out}/x.db', 't'"),
            ("value", "getenv", "'HOME'"),
            ("value", "current_setting", "'home_directory'"),
            ("from", "duckdb_settings", ""),
            ("from", "query", "'SELECT 1'"),
        ]
    ),
    ("glob", sql(BASE.replace("count(*)", "(SELECT count(*) FROM glob('{out}/*'))")), f"{S}:1: {UNPARSED}..."),
    ("range-table-function", sql(BASE.replace("{{ table('orders') }}", "range(10)")),
     f"{S}:1: table function range() {FILES}"),
    ("file-as-table", sql(BASE.replace("{{ table('orders') }}", "'{out}/secret.txt'")),
     f"{S}:1: table '{{out}}/secret.txt' is not a declared table read through {{{{ table('name') }}}}: "
     "views read only declared tables"),
    ("url-as-table", sql(BASE.replace("{{ table('orders') }}", "'https://example.com/x.csv'")),
     f"{S}:1: table 'https://example.com/x.csv' is not a declared table read through {{{{ table('name') }}}}: "
     "views read only declared tables"),
    ("bare-table-name", sql(BASE.replace("{{ table('orders') }}", "orders")),
     f"{S}:1: table 'orders' is not a declared table read through {{{{ table('name') }}}}: "
     "views read only declared tables"),
    ("information-schema", sql(BASE.replace("{{ table('orders') }}", "information_schema.tables")),
     f"{S}:1: table 'information_schema.tables' is not a declared table read through {{{{ table('name') }}}}: "
     "views read only declared tables"),
    ("attach", sql("ATTACH '{out}/x.db' AS x;\n" + BASE), f"{S}:1: {UNPARSED}..."),
    ("install", sql("INSTALL httpfs;\n" + BASE), f"{S}:1: {ONE}, found 2..."),
    ("load", sql("LOAD httpfs;\n" + BASE), f"{S}:1: {ONE}, found 2 (LOAD statement, SELECT statement)"),
    ("pragma", sql("PRAGMA enable_external_access;\n" + BASE),
     f"{S}:1: {ONE}, found 2 (PRAGMA statement, SELECT statement)"),
    ("set", sql("SET enable_external_access = true;\n" + BASE),
     f"{S}:1: {ONE}, found 2 (SET statement, SELECT statement)"),
    ("export", sql("EXPORT DATABASE '{out}/dump';\n" + BASE), f"{S}:1: {UNPARSED}..."),
    ("unload", sql("UNLOAD (" + BASE + ") TO 's3://bucket/out/'\n"), f"{S}:1: {ONE}, found UNLOAD statement"),
    ("create-table-as", sql("CREATE TABLE pwned AS " + BASE), f"{S}:1: {ONE}, found CREATE statement"),
    ("insert", sql(BASE + ";\nINSERT INTO orders VALUES (1)\n"),
     f"{S}:1: {ONE}, found 2 (SELECT statement, INSERT statement)"),
    ("delete", sql("DELETE FROM {{ table('orders') }} WHERE customer_id IN :entity_ids AND :lookback_days > 0\n"),
     f"{S}:1: {ONE}, found DELETE statement"),
    ("drop", sql(BASE + ";\nDROP TABLE orders\n"), f"{S}:1: {ONE}, found 2 (SELECT statement, DROP statement)"),
    ("select-into", sql(BASE.replace(" FROM ", " INTO pwned FROM ", 1)), f"{S}:1: INTO statement {READ_ONLY}"),
    ("duckdb-override-attach", sql("ATTACH '{out}/x.db' AS x;\n" + BASE, "views/customer_orders.duckdb.sql"),
     f"views/customer_orders.duckdb.sql:1: {ONE}, found 2 (ATTACH statement, SELECT statement)"),
    ("duckdb-override-read-text", sql(BASE.replace("count(*)", "(SELECT content FROM read_text('{out}/secret.txt'))"),
                                      "views/customer_orders.duckdb.sql"),
     f"views/customer_orders.duckdb.sql:1: function read_text() {FILES}"),
    ("trino-override-copy", sql("COPY (SELECT 1) TO '{out}/x';\n" + BASE, "views/customer_orders.trino.sql"),
     f"views/customer_orders.trino.sql:1: {ONE}, found 2 (COPY statement, SELECT statement)"),
    # -- templates cannot burn CPU or memory -------------------------------------------------------
    ("huge-power", sql(BASE + "{{ (10**(10**7))|string }}\n"),
     f"{S}:3: {TEMPLATE}10 ** 10000000 is larger than 4096 bits"),
    ("nested-loops", sql(BASE + "{% for a in 'x'*3000 %}{% for b in 'x'*3000 %}{% endfor %}{% endfor %}\n"),
     f"{S}:3: {TEMPLATE}template loops run more than 100,000 iterations"),
    ("gigabyte-string", sql(BASE + "{{ ('x' * 10**9)|length }}\n"),
     f"{S}:3: {TEMPLATE}repeating a value 1000000000 times is longer than 1,000,000"),
    ("center-width", sql(BASE + "{{ 'x'|center(10**9) }}\n"),
     f"{S}:3: {TEMPLATE}width 1000000000 is larger than the template bound 1,000,000"),
    ("format-width", sql(BASE + "{{ '%0999999999d' % 1 }}\n"),
     f"{S}:3: {TEMPLATE}a format width of a million characters or more is not allowed"),
    ("str-format-width", sql(BASE + "{{ '{:>999999999}'.format(1) }}\n"),
     f"{S}:3: {TEMPLATE}a format width of a million characters or more is not allowed"),
    ("replace-blowup", sql(BASE + "{{ ('x'*1000000).replace('', 'yy') }}\n"),
     f"{S}:3: {TEMPLATE}replace() would build a string longer than 1,000,000"),
    ("join-blowup", sql(BASE + "{{ (['x'*1000000]*1000000)|join }}\n"),
     f"{S}:3: {TEMPLATE}join would build a string longer than 1,000,000"),
    ("float-overflow", sql(BASE + "{{ 2.0 ** 5000 }}\n"), f"{S}:3: {TEMPLATE}2.0 ** 5000 is larger than 4096 bits"),
    ("slow-loop", sql(BASE + "{% for i in range(100000) %}{% set y = 'x'*1000000 ~ 'x'*1000000 %}{% endfor %}\n"),
     f"{S}:3: {TEMPLATE}template takes longer than 0.5 s to render"),
    ("output-too-long", sql(BASE + "{{ 'x' * 1000000 }}{{ 'x' * 1000000 }}\n"),
     f"{S}:1: {TEMPLATE}template output is longer than 1,000,000 characters"),
    # -- known Jinja sandbox escapes ---------------------------------------------------------------
    ("escape-cycler-globals", sql(BASE + "{{ cycler.__init__.__globals__.os.popen('id').read() }}\n"),
     f"{S}:3: access to '__init__' is not allowed: templates cannot reach Python internals"),
    ("escape-attr-filter", sql(BASE + "{{ ''|attr('__class__') }}\n"),
     f"{S}:3: {TEMPLATE}access to attribute '__class__' of 'str' object is unsafe."),
    ("escape-lipsum", sql(BASE + "{{ lipsum.__globals__['os'] }}\n"),
     f"{S}:3: access to '__globals__' is not allowed: templates cannot reach Python internals"),
    ("escape-self-context", sql(BASE + "{{ self._TemplateReference__context }}\n"),
     f"{S}:3: access to '_TemplateReference__context' is not allowed: templates cannot reach Python internals"),
    ("escape-mro", sql(BASE + "{{ ()['__class__']['__base__']['__subclasses__']() }}\n"),
     f"{S}:3: access to '__class__' is not allowed: templates cannot reach Python internals"),
    ("escape-format-attr", sql(BASE + "{{ '{0.__class__}'.format(table) }}\n"),
     f"{S}:3: {TEMPLATE}access to attribute '__class__' of 'function' object is unsafe."),
    ("escape-include", sql(BASE + "{% include '{out}/secret.txt' %}\n"),
     f"{S}:3: {{% include %}} is not allowed: a template cannot read other files"),
    ("prompt-escape", file("prompts/retention_note.jinja", "{{ features.__class__ }}\n"),
     "prompts/retention_note.jinja:1: access to '__class__' is not allowed: templates cannot reach Python internals"),
    # -- YAML cannot hang the loader ---------------------------------------------------------------
    ("billion-laughs", file("tables/laughs.yaml", LAUGHS),
     "tables/laughs.yaml:3: YAML aliases (*name) are not allowed in a declaration"),
    ("self-alias", file("tables/loop.yaml", "name: &n loop\ncolumns: [*n]\n"),
     "tables/loop.yaml:2: YAML aliases (*name) are not allowed in a declaration"),
    ("too-many-values", file("tables/dense.yaml", "name: dense\ncolumns: [" + "1, " * 60_000 + "]\n"),
     "tables/dense.yaml: more than 50,000 YAML values in one declaration"),
    ("oversize-file", file("tables/big.yaml", "name: big\n" + "# padding\n" * 30_000),
     f"tables/big.yaml: file is 300,010 bytes; a declaration may be at most {MAX_DECLARATION_BYTES:,} bytes"),
    ("deep-flow-nesting", file("tables/deep.yaml", "name: " + "[" * 20_000 + "]" * 20_000 + "\n"),
     "tables/deep.yaml: YAML nesting is too deep for a declaration"),
    # Under libyaml's own limit of 1,000 levels: refused on the event stream before a node is built.
    ("deep-block-nesting",
     file("tables/deeper.yaml", "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "x\n"),
     "tables/deeper.yaml: YAML nesting is too deep for a declaration"),
    # -- entity patterns cannot backtrack forever --------------------------------------------------
    *(
        (f"pattern-{case}", sub(E, "pattern: '^C\\d{5}$'", f"pattern: '{pattern}'"),
         f"{E}:4: pattern: pattern {pattern!r} is refused: {reason} (got {pattern!r})")
        for case, pattern, reason in [
            ("nested-plus", "^(a+)+$", "a repeat inside a repeat (like (a+)+) can backtrack exponentially"),
            ("nested-bounded", "^(\\d{1,2})+$", "a repeat inside a repeat (like (a+)+) can backtrack exponentially"),
            ("alternation", "^(a|ab)*$",
             "a repeated alternation (like (a|ab)*) can backtrack exponentially; use a character class"),
            ("backreference", "^(C)\\1\\d+$", "backreferences are not allowed in an ID pattern"),
            ("polynomial", "^C\\d*\\d*\\d*\\d*$",
             "more than 3 unbounded repeats (+, *, {n,}) make checking an ID slow"),
        ]
    ),
]  # fmt: skip


def _matches(line: str, expected: str) -> bool:
    return line.startswith(expected[:-3]) if expected.endswith("...") else line == expected


@dataclasses.dataclass
class Arena:
    """A catalog copy, a data root, a working folder and an `outside` folder with a secret in it."""

    root: Path
    data: Path
    cwd: Path
    out: Path

    def untouched(self) -> None:
        """Nothing was written into the working folder or outside the data root; the secret is as it was."""
        assert sorted(p.name for p in self.out.iterdir()) == ["secret.txt"]
        assert (self.out / "secret.txt").read_text() == SECRET
        assert list(self.cwd.iterdir()) == []


@pytest.fixture
def arena(tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Arena:
    root, cwd, out = tmp_path / "catalog", tmp_path / "cwd", tmp_path / "outside"
    shutil.copytree(shipped_catalog(), root)
    cwd.mkdir()
    out.mkdir()
    (out / "secret.txt").write_text(SECRET)
    monkeypatch.chdir(cwd)
    return Arena(root, sample_dir, cwd, out)


@pytest.mark.parametrize(("case", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hostile_catalog_is_refused_in_one_line_by_library_and_cli(
    arena: Arena, cli, case: str, edit: Callable[[Path, Path], None], expected: str
) -> None:
    edit(arena.root, arena.out)
    expected = f"{arena.root}/{expected.replace('{out}', str(arena.out))}"

    tried("adversarial: hostile catalogs, featurekit.load")
    started = time.process_time()
    with pytest.raises(DeclarationError) as caught:
        featurekit.load(arena.root)
    spent = time.process_time() - started
    found = [str(p) for p in caught.value.problems]
    assert len(found) == 1 and _matches(found[0], expected), found
    assert "\n" not in found[0]
    assert spent < 1.0, f"loading took {spent:.2f} s of CPU"

    for command in (["validate"], ["get", "customer_orders", "C00042", "--data", str(arena.data)]):
        tried(f"adversarial: hostile catalogs, featurekit {command[0]}")
        code, out, err = cli(*command, "--catalog", arena.root)
        assert code == 2, (code, out, err)
        assert "Traceback" not in out + err and SECRET not in out + err
        [line] = err.strip().splitlines()
        assert line.startswith("error: ") and _matches(line.removeprefix("error: "), expected), line
    arena.untouched()


def test_the_arena_baseline_loads_and_gets(arena: Arena, cli) -> None:
    """Without an edit the copy answers, and the base query every SQL case starts from validates: each case
    fails for its own edit only."""
    code, out, err = cli("get", "customer_orders", "C00042", "--data", arena.data, "--catalog", arena.root)
    assert code == 0 and "C00042" in out, err
    (arena.root / S).write_text(BASE + "-- a comment; COPY (SELECT 1) TO 'x' stays a comment\n")
    # BASE returns order_count only and validate's lint wants every declared feature returned (and every
    # feature a prompt names declared): declare order_count alone, without the prompt over the others.
    declared = (arena.root / V).read_text().splitlines(keepends=True)
    (arena.root / V).write_text("".join(x for x in declared if not x.startswith("  - {name: ") or "order_count" in x))
    for prompt in (arena.root / "prompts").glob("retention_note.*"):
        prompt.unlink()
    assert "customer_orders" in featurekit.load(arena.root).views
    code, _, err = cli("validate", "--catalog", arena.root)
    assert code == 0, err
    arena.untouched()


@pytest.mark.parametrize(
    ("case", "text"),
    [
        ("copy", "COPY (SELECT 42 AS pwned) TO '{out}/pwned.csv';\n" + BASE),
        ("read-text", BASE.replace("count(*)", "(SELECT content FROM read_text('{out}/secret.txt'))")),
        ("file-as-table", BASE.replace("{{ table('orders') }}", "'{out}/secret.txt'")),
    ],
)
def test_a_template_swapped_after_loading_is_refused_before_it_runs(arena: Arena, case: str, text: str) -> None:
    """The check on the exact text an engine receives does not depend on the load-time check."""
    tried("adversarial: templates swapped after loading, FeatureStore.get")
    catalog = featurekit.load(arena.root)
    vt = catalog.view_templates["customer_orders"]
    hostile = dataclasses.replace(vt, source=text.replace("{out}", str(arena.out)))
    catalog = dataclasses.replace(
        catalog, view_templates=MappingProxyType({**catalog.view_templates, "customer_orders": hostile})
    )
    with (
        featurekit.FeatureStore(catalog, data=arena.data, cache=False) as store,
        pytest.raises(TemplateError) as caught,
    ):
        store.get("customer_orders", "C00042")
    assert str(caught.value).startswith(f"{vt.file}:1: ") and "\n" not in str(caught.value)
    arena.untouched()


# -- hostile inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "content", "expected"),
    [
        ("binary", b"C00042\n\xff\xfe\x00\x01\n", "error: --ids-from: {file}:2: not UTF-8 text (byte 7)"),
        ("latin-1", "C00042\nC0004é\n".encode("latin-1"), "error: --ids-from: {file}:2: not UTF-8 text (byte 12)"),
        ("utf-16", "C00042\n".encode("utf-16"), "error: --ids-from: {file}:1: not UTF-8 text (byte 0)"),
        (
            "long-id",
            ("C" + "0" * 5000 + "\n").encode(),
            "error: --ids-from: {file}:1: '" + "C" + "0" * 79 + "' is not a customer ID (pattern ^C\\d{5}$)",
        ),
        (
            "near-miss-id",
            ("C" + "0" * 200 + "x\n").encode(),
            "error: --ids-from: {file}:1: '" + "C" + "0" * 79 + "' is not a customer ID (pattern ^C\\d{5}$)",
        ),
    ],
)
def test_hostile_ids_from_files_are_one_line(arena: Arena, cli, case: str, content: bytes, expected: str) -> None:
    tried("adversarial: hostile --ids-from files, featurekit get")
    ids = arena.out / "ids.txt"
    ids.write_bytes(content)
    code, out, err = cli("get", "customer_orders", "--ids-from", ids, "--data", arena.data)
    assert code == 2 and "Traceback" not in out + err, (code, out, err)
    [line] = err.strip().splitlines()
    assert _matches(line, expected.replace("{file}", str(ids))), line
    ids.unlink()
    arena.untouched()


def test_ids_from_with_a_byte_order_mark_reads_every_id(arena: Arena, cli) -> None:
    tried("adversarial: hostile --ids-from files, featurekit get")
    ids = arena.cwd / "ids.txt"
    ids.write_bytes(b"\xef\xbb\xbfC00042\nC00043\n")
    code, out, err = cli("get", "customer_orders", "--ids-from", ids, "--data", arena.data, "--format", "json")
    ids.unlink()
    assert code == 0, err
    assert "C00042" in out and "C00043" in out


def test_long_and_near_miss_ids_are_refused_fast_by_the_library(store: featurekit.FeatureStore) -> None:
    """The pattern never sees an ID past `max_length`; a near miss within it is a linear-time check."""
    for hostile in ("C" + "0" * 10**6, "C" + "0" * 250 + "!", "C00042\n", "C０００４２"):
        tried("adversarial: hostile IDs, FeatureStore.get")
        started = time.process_time()
        with pytest.raises(InvalidEntityId) as caught:
            store.get("customer_orders", hostile)
        assert time.process_time() - started < 0.5
        assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_a_declaration_near_the_size_cap_loads_in_under_a_second(arena: Arena) -> None:
    """The flat-file case that used to take a minute: line numbers no longer rescan the text per node."""
    columns = "".join(f"  - name: c{i}\n    type: string\n    description: column {i}\n" for i in range(4_000))
    text = "name: wide\npath: orders\ncolumns:\n" + columns
    assert MAX_DECLARATION_BYTES * 0.8 < len(text) <= MAX_DECLARATION_BYTES
    (arena.root / "tables" / "wide.yaml").write_text(text)
    tried("adversarial: near-cap declarations")
    started = time.process_time()
    catalog = featurekit.load(arena.root)
    assert time.process_time() - started < 1.0
    assert len(catalog.table("wide").columns) == 4_000


#: How each engine names the declared table in the SQL it runs (engines' table_sql).
ENGINE_TABLES = {"duckdb": '"orders"', "athena": '"features"."orders"', "trino": '"hive"."features"."orders"'}


@pytest.mark.parametrize("dialect", sorted(ENGINE_TABLES))
@pytest.mark.parametrize(
    ("attack", "expected"),
    [
        ("COPY (SELECT 1) TO '/tmp/x'; {q}", f"{ONE}, found 2 (COPY statement, SELECT statement)"),
        ("{q}; DROP TABLE {t}", f"{ONE}, found 2 (SELECT statement, DROP statement)"),
        ("{q} AND 'a\\'; DELETE FROM {t}; --' = ''", f"{ONE}, found 2 (SELECT statement, DELETE statement)"),
        ("INSERT INTO {t} {q}", f"{ONE}, found INSERT statement"),
        ("{q} UNION ALL SELECT content, 1 FROM read_text('/etc/passwd')", f"function read_text() {FILES}"),
        ("{q} UNION ALL SELECT * FROM information_schema.tables", "table 'information_schema.tables' is not..."),
        ("{q} UNION ALL SELECT * FROM orders_copy", "table 'orders_copy' is not a declared table..."),
        ("WITH x AS ({q}) SELECT * FROM x", None),
        ("{q} UNION ALL {q}", None),
    ],
)
def test_the_rule_is_the_same_on_every_engine(dialect: str, attack: str, expected: str | None) -> None:
    """Athena and Trino text (schema- and catalog-qualified tables) gets the same rule as DuckDB's."""
    from featurekit.catalog import safety

    tried(f"adversarial: rendered SQL checked as {dialect}")
    table = ENGINE_TABLES[dialect]
    query = f"SELECT customer_id, count(*) FROM {table} WHERE customer_id IN :entity_ids GROUP BY customer_id"
    refusal = safety.check(attack.format(q=query, t=table), dialect, [table])
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None and _matches(refusal.message, expected), refusal
