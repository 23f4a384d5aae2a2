"""Render a view for a list of entity IDs: Jinja builds the SQL structure, every value is a bind.

The output is a frozen RenderedQuery: SQL text with `:name` binds, the bound values, and the
hashes that identify the template version and the exact text an engine will see.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from sqlalchemy import TextClause, bindparam, text

from .catalog import safety, templates
from .catalog.declarations import Entity, Parameter, Table, View
from .catalog.loader import Catalog
from .errors import InputError, InvalidEntityId, NotFoundError, TemplateError

# `IN :entity_ids` as written in Athena SQL; DuckDB SQL binds the IDs as one list instead (see engines/adapt.py).
_EXPANDING_IDS = re.compile(r"\bIN\s+:entity_ids\b", re.IGNORECASE)

#: The range of a declared int (Athena and DuckDB BIGINT).
INT64 = (-(2**63), 2**63 - 1)

#: How a table name becomes SQL for one engine (quoting, database prefix).
TableSql = Callable[[Table], str]
#: How rendered Athena SQL becomes the engine's own SQL: `(sql, where) -> sql`, supplied by the engine.
AdaptSql = Callable[[str, str], str]


def as_written(sql: str, _where: str) -> str:
    """The adapter of engines that speak Athena SQL (Athena, Trino)."""
    return sql


@dataclass(frozen=True)
class RenderedQuery:
    """One executable query: SQL with binds, and the values bound to them."""

    view: str
    dialect: str
    sql: str
    params: Mapping[str, Any] = field(repr=False)
    template_version: str
    tables: tuple[str, ...]

    @cached_property
    def sql_hash(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def entity_ids(self) -> tuple[Any, ...]:
        return tuple(self.params["entity_ids"])

    @property
    def ids_expand(self) -> bool:
        """Whether `entity_ids` expands to one bind per ID (`IN :entity_ids`) or binds as one list value."""
        return _EXPANDING_IDS.search(self.sql) is not None

    def statement(self) -> TextClause:
        """The SQLAlchemy statement; `IN :entity_ids` expands to one bind per ID, any other use is one list."""
        return text(self.sql).bindparams(bindparam("entity_ids", expanding=self.ids_expand))

    def bind_values(self) -> dict[str, Any]:
        """The values to execute `statement()` with (a list bind gets a list, which DuckDB binds as LIST)."""
        return {**self.params, "entity_ids": list(self.params["entity_ids"])}

    def with_ids(self, ids: Iterable[Any]) -> RenderedQuery:
        """The same query for other IDs (already validated), e.g. one chunk of a batch."""
        return RenderedQuery(
            self.view,
            self.dialect,
            self.sql,
            MappingProxyType({**self.params, "entity_ids": tuple(ids)}),
            self.template_version,
            self.tables,
        )


class Renderer:
    """Renders catalog views for one engine dialect; the SQL per view is built once and reused."""

    def __init__(self, catalog: Catalog, dialect: str, table_sql: TableSql, adapt_sql: AdaptSql = as_written) -> None:
        self.catalog, self.dialect, self.table_sql, self.adapt_sql = catalog, dialect, table_sql, adapt_sql
        self._sql: dict[str, str] = {}

    def sql(self, view: str) -> str:
        """The engine-ready SQL text of a view, with binds (cached per template version)."""
        if view not in self._sql:
            vt = self.catalog.view_templates[self.catalog.view(view).name]
            override = vt.overrides.get(self.dialect)
            source = override if override is not None else vt.source
            rendered = templates.render_sql(
                templates.sandbox(), source, str(vt.file), lambda name: self.table_sql(self.catalog.table(name))
            )
            cleaned = templates.strip_comments(rendered)
            where = f"{vt.file.with_suffix(f'.{self.dialect}.sql') if override is not None else vt.file}"
            final = cleaned if override is not None else self.adapt_sql(cleaned, where)
            # The text the engine receives is checked, in its own dialect, before it ever runs.
            allowed = [self.table_sql(t) for t in self.catalog.tables.values()]
            refusal = safety.check(final, self.dialect, allowed)
            if refusal:
                line = safety.template_line(source, refusal.token)
                raise TemplateError(f"{where}:{line}: {refusal.message}")
            self._sql[view] = final
        return self._sql[view]

    def render(
        self,
        view: str,
        ids: Iterable[Any],
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> RenderedQuery:
        decl = self.catalog.view(view)
        entity = self.catalog.entity(decl.entity)
        values: dict[str, Any] = {"entity_ids": validate_ids(entity, ids), "as_of": parse_as_of(as_of)}
        values.update(bind_parameters(decl, params or {}))
        vt = self.catalog.view_templates[decl.name]
        return RenderedQuery(decl.name, self.dialect, self.sql(view), MappingProxyType(values), vt.version, vt.tables)


def validate_ids(entity: Entity, ids: Iterable[Any]) -> tuple[Any, ...]:
    """Check every ID against the entity's pattern; keep the first occurrence of each."""
    if isinstance(ids, (str, int)):
        ids = [ids]
    elif isinstance(ids, (bytes, Mapping)) or not isinstance(ids, Iterable):  # e.g. 42.0 or {"a": 1} from JSON
        raise InvalidEntityId(entity.name, ids, entity.pattern)
    # ASCII: `\d` means 0-9 as in Athena's (Java) regexes, so look-alike digits (`C٠٠٠٤٢`, `C０００４２`) fail.
    pattern = re.compile(entity.pattern, re.ASCII)
    seen: dict[Any, None] = {}
    for raw in ids:
        value = raw
        if entity.key_type == "int" and isinstance(raw, str) and re.fullmatch(r"[0-9]+", raw):
            value = int(raw)
        wanted = int if entity.key_type == "int" else str
        if isinstance(value, str) and len(value) > entity.max_length:  # refused before the pattern reads it
            raise InvalidEntityId(entity.name, raw, entity.pattern, f"is longer than {entity.max_length} characters")
        if isinstance(value, bool) or not isinstance(value, wanted) or not pattern.fullmatch(str(value)):
            raise InvalidEntityId(entity.name, raw, entity.pattern)
        seen.setdefault(value, None)
    if not seen:
        raise InputError(f"{entity.name} id", "no IDs given")
    return tuple(seen)


def parse_as_of(value: dt.date | str | None) -> dt.date:
    """`as_of` as a date: a date, an ISO 'YYYY-MM-DD' string, or None for today (UTC)."""
    if value is None:
        return dt.datetime.now(dt.timezone.utc).date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError("as_of", f"{value!r} is not a date in YYYY-MM-DD form")


def bind_parameters(view: View, given: Mapping[str, Any]) -> dict[str, Any]:
    """Declared parameters with defaults applied, values coerced and checked against bounds."""
    known = {p.name: p for p in view.parameters}
    for name in given:
        if name not in known:
            raise NotFoundError(f"parameter of view {view.name!r}", name, known)
    values = {}
    for name, param in known.items():
        value = given.get(name, param.default)
        if value is None:
            raise InputError(name, f"parameter of view {view.name!r} has no default; pass a {param.type}")
        values[name] = coerce(param, value)
    return values


def coerce(param: Parameter, value: Any) -> Any:
    """A parameter value as its declared type; strings (from the CLI) are parsed."""
    where = param.name
    try:
        if param.type == "int":
            if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(where, f"{value!r} is not an int")
            if not INT64[0] <= value <= INT64[1]:
                raise InputError(where, f"{value!r} is outside the 64-bit integer range (BIGINT)")
        elif param.type == "float":
            if isinstance(value, str):
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(where, f"{value!r} is not a float")
            value = float(value)
            if not math.isfinite(value):  # NaN would slip past min/max: every comparison with it is false
                raise InputError(where, f"{value!r} is not a finite number")
        elif param.type == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                value = value.lower() in ("true", "1", "yes")
            if not isinstance(value, bool):
                raise InputError(where, f"{value!r} is not a bool (true or false)")
        elif param.type == "date":
            value = parse_as_of(value) if value is not None else None
        elif not isinstance(value, str):
            raise InputError(where, f"{value!r} is not a string")
    except ValueError:
        raise InputError(where, f"{value!r} is not a {param.type}") from None
    except InputError as exc:
        if exc.parameter == where:
            raise
        raise InputError(where, str(exc).split(": ", 1)[-1]) from None
    if param.min is not None and value < param.min:
        raise InputError(where, f"{value!r} is below the minimum {_num(param.min)}")
    if param.max is not None and value > param.max:
        raise InputError(where, f"{value!r} is above the maximum {_num(param.max)}")
    if param.choices is not None and value not in param.choices:
        raise InputError(where, f"{value!r} is not one of {list(param.choices)}")
    return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
