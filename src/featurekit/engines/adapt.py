"""Adapt catalog SQL (written in Athena/Trino SQL) to the engine that runs it.

Athena and Trino get the text as written. DuckDB gets it transpiled by sqlglot, with binds
kept as `:name` so SQLAlchemy still binds every value. Transpiling costs a few milliseconds,
so each distinct text is transpiled once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from ..errors import TemplateError

#: sqlglot's name for the dialect each engine speaks.
SQLGLOT_DIALECT = {"duckdb": "duckdb", "athena": "athena", "trino": "trino"}
#: The bind holding the entity IDs; the one list-valued bind a template has.
LIST_BIND = "entity_ids"


def for_dialect(dialect: str) -> Callable[[str, str], str]:
    """The `(sql, where) -> sql` adapter for one dialect, as a Renderer takes it."""
    return lambda sql, where: adapt(sql, dialect, where)


def adapt(sql: str, dialect: str, where: str = "") -> str:
    """SQL for `dialect`; raises TemplateError naming `where` if it does not transpile."""
    if dialect in ("athena", "trino"):
        return sql
    return _transpile(sql, dialect, where)


@lru_cache(maxsize=512)
def _transpile(sql: str, dialect: str, where: str) -> str:
    try:
        tree = sqlglot.parse_one(sql, read="athena", error_level=ErrorLevel.RAISE)
        if dialect == "duckdb":
            tree = tree.transform(_ids_as_list)
        # sqlglot would write binds as DuckDB's $name, which sqlalchemy.text() does not bind.
        tree = tree.transform(lambda n: exp.var(f":{n.name}") if isinstance(n, exp.Placeholder) and n.name else n)
        return tree.sql(dialect=SQLGLOT_DIALECT[dialect], unsupported_level=ErrorLevel.RAISE, pretty=True) + "\n"
    except SqlglotError as exc:
        first = str(exc).splitlines()[0]
        raise TemplateError(
            f"{where}: does not transpile from Athena SQL to {dialect}: {first}; "
            f"write an override file beside it ({_override_name(where, dialect)})"
        ) from None


def _ids_as_list(node: exp.Expression) -> exp.Expression:
    """`key IN :entity_ids` → `key IN (SELECT UNNEST(:entity_ids))`: the IDs bind as one DuckDB list value.

    Measured on 2M rows: 50,000 IDs as expanded binds (one `$n` each) took 16 s in DuckDB, as one list 0.3 s.
    """
    field = node.args.get("field") if isinstance(node, exp.In) else None
    if isinstance(field, exp.Placeholder) and field.name == LIST_BIND:
        return exp.In(this=node.this, query=exp.select(exp.Unnest(expressions=[field])).subquery())
    return node


def _override_name(where: str, dialect: str) -> str:
    return where[:-4] + f".{dialect}.sql" if where.endswith(".sql") else f"<view>.{dialect}.sql"
