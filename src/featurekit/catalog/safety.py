"""A rendered view must be one read-only query over declared tables, on every engine.

A catalog is code many people commit; the engine runs what a template renders to. So the rendered
text is parsed (sqlglot, in the dialect of the engine that will run it) and refused unless it is
exactly one `SELECT` / `WITH ... SELECT` (set operations included) that reads only declared tables
and CTEs and calls no function that reads files, URLs, settings or the environment. Anything the
parser cannot read is refused too: a check that guesses would let a second statement through.

The check runs when a catalog loads (rendered with representative table names), in `validate`, and
on the exact text an engine receives, just before it is first executed.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

#: sqlglot's name for the dialect each engine speaks (catalog SQL is written in Athena SQL).
DIALECTS = {"duckdb": "duckdb", "athena": "athena", "trino": "trino"}

#: Functions that read files, URLs, other databases, settings or the environment (DuckDB's, mostly; Trino
#: and Athena have none that read files, but the names are refused on every engine so a view stays portable).
_DENIED_FUNCTIONS = frozenset(
    {
        "glob",
        "sniff_csv",
        "query",
        "query_table",
        "getenv",
        "current_setting",
        "load_extension",
        "st_read",
        "st_read_meta",
        "httpfs",
        "http_get",
        "http_post",
        "from_json_file",
        "iceberg_scan",
        "delta_scan",
        "which_secret",
    }
)
_DENIED_PREFIXES = ("read_", "parquet_", "sqlite_", "postgres_", "mysql_", "duckdb_", "pragma_", "http", "s3_", "gcs_")
_DENIED_SUFFIXES = ("_scan", "_metadata", "_attach")

#: Statements and clauses that write, change settings, load code or reach outside the query.
_DENIED_NODE_NAMES = (
    "Create",
    "Drop",
    "Alter",
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Copy",
    "Command",
    "Pragma",
    "Set",
    "Use",
    "Attach",
    "Detach",
    "Install",
    "LoadData",
    "Into",
    "Transaction",
    "Commit",
    "Rollback",
    "Describe",
    "Show",
    "Export",
    "Analyze",
    "TruncateTable",
    "Grant",
    "Revoke",
)
_DENIED_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in _DENIED_NODE_NAMES if hasattr(exp, name)
)


class _NoFallbackNoise(logging.Filter):
    """sqlglot logs a warning before parsing an unknown statement as a Command; that statement is refused
    here with its own one-line error, so the warning would only print a second, confusing line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_NoFallbackNoise())


@dataclass(frozen=True)
class Refusal:
    """Why a rendered view is not one read-only query; `token` is what to look for in the template."""

    message: str
    token: str | None = None


def check(sql: str, dialect: str, allowed_tables: Iterable[str]) -> Refusal | None:
    """None if `sql` is one read-only query over `allowed_tables` (table SQL as the engine writes it)."""
    read = DIALECTS[dialect]
    try:
        parsed = sqlglot.parse(sql, read=read, error_level=ErrorLevel.RAISE)
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except SqlglotError as exc:
        return Refusal(f"cannot be parsed as {dialect} SQL, so it is refused: {str(exc).splitlines()[0]}")
    if len(statements) != 1:
        kinds = ", ".join(_kind(s) for s in statements) or "nothing"
        return Refusal(f"must render to exactly one SELECT statement, found {len(statements)} ({kinds})")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        return Refusal(f"must render to exactly one SELECT statement, found {_kind(tree)}", _kind(tree).split()[0])
    if dialect == "duckdb":  # the engine's own parser has the last word on where statements end
        second = _duckdb_statements(sql)
        if second is not None:
            return second
    for node in tree.walk():
        if isinstance(node, _DENIED_NODES):
            kind = _kind(node)
            return Refusal(f"{kind} is not allowed: a view is one read-only SELECT", kind.split()[0])
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if _denied_function(name):
                return Refusal(f"function {name}() is not allowed: views read only declared tables", name)
    return _check_tables(tree, read, allowed_tables)


def _check_tables(tree: exp.Expr, read: str, allowed_tables: Iterable[str]) -> Refusal | None:
    allowed = set()
    for name in allowed_tables:
        # A declared name that does not parse (a broken declaration, reported where it is) can match nothing.
        with contextlib.suppress(SqlglotError):
            allowed.add(_table_key(sqlglot.parse_one(name, read=read, into=exp.Table)))
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):  # a table function: FROM read_text(...), FROM range(...)
            name = _function_name(table.this) if isinstance(table.this, exp.Func) else table.this.sql(read)
            return Refusal(f"table function {name}() is not allowed: views read only declared tables", name)
        key = _table_key(table)
        if key in allowed or (not table.db and not table.catalog and table.name.lower() in ctes):
            continue
        shown = ".".join(p for p in (table.catalog, table.db, table.name) if p)
        return Refusal(
            f"table {shown!r} is not a declared table read through {{{{ table('name') }}}}: "
            "views read only declared tables",
            table.name,
        )
    return None


def _duckdb_statements(sql: str) -> Refusal | None:
    import duckdb

    from .templates import BIND

    try:  # DuckDB writes binds as $name
        found = duckdb.extract_statements(BIND.sub(lambda m: f"${m.group(1)}", sql))
    except duckdb.Error as exc:
        return Refusal(f"cannot be parsed as duckdb SQL, so it is refused: {str(exc).splitlines()[0]}")
    kinds = [s.type.name for s in found]
    if kinds != ["SELECT"]:
        shown = ", ".join(f"{k} statement" for k in kinds)
        return Refusal(f"must render to exactly one SELECT statement, DuckDB reads {len(kinds)} ({shown})")
    return None


def _table_key(table: exp.Table) -> tuple[str, str, str]:
    return (table.catalog.lower(), table.db.lower(), table.name.lower())


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return f"{str(node.this).upper()} statement"
    return f"{node.key.upper()} statement" if not isinstance(node, exp.Query) else "SELECT statement"


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def _denied_function(name: str) -> bool:
    return name in _DENIED_FUNCTIONS or name.startswith(_DENIED_PREFIXES) or name.endswith(_DENIED_SUFFIXES)


def template_line(source: str, token: str | None) -> int:
    """The first template line mentioning `token` (case-insensitive), else line 1: every refusal is located."""
    if token:
        pattern = re.compile(rf"(?<!\w){re.escape(token)}(?!\w)", re.IGNORECASE)
        for number, line in enumerate(source.splitlines(), 1):
            if pattern.search(line):
                return number
    return 1
