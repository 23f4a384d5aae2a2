"""Render a view for a list of entity IDs: Jinja builds the SQL structure, every value is a bind.

The output is a frozen RenderedQuery: SQL text with `:name` binds, the bound values, and the
hashes that identify the template version and the exact text an engine will see.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import TextClause, bindparam, text

from .catalog import layouts, lint, safety, templates
from .catalog.declarations import Entity, Parameter, Table, View
from .catalog.loader import Catalog
from .errors import DeclarationError, InputError, InvalidEntityId, NotFoundError, TemplateError

# `IN :entity_ids` as written in Athena SQL; DuckDB SQL binds the IDs as one list instead (see engines/adapt.py).
_EXPANDING_IDS = re.compile(r"\bIN\s+:entity_ids\b", re.IGNORECASE)

_AS_OF_TIME = re.compile(r":as_of_time\b")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

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
        """The values to execute `statement()` with (a list bind gets a list, which DuckDB binds as LIST).

        For Athena and Trino the IDs go in sorted: the driver writes them into the query text, result reuse needs
        byte-identical text, and `IN ('a', 'b')` is another query than `IN ('b', 'a')`. DuckDB binds them as
        values, so there they go as given (sorting a million IDs took 0.4 s). Results are matched to IDs by key.
        """
        ids = self.params["entity_ids"]
        return {**self.params, "entity_ids": list(ids) if self.dialect == "duckdb" else sorted(ids)}

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
        self._windows: dict[str, tuple[tuple[str, str | int, int], ...]] = {}

    def sql(self, view: str) -> str:
        """The engine-ready SQL text of a view, with binds (cached per template version)."""
        if view not in self._sql:
            vt = self.catalog.view_templates[self.catalog.view(view).name]
            override = vt.overrides.get(self.dialect)
            source = override if override is not None else vt.source
            windows: list[tuple[str, str | int, int]] = []

            def window(name: str, days: str | int, times: int = 1) -> str:
                windows.append((name, days, times))
                return layouts.window_sql(self.catalog.table(name), days, times)

            rendered = templates.render_sql(
                templates.sandbox(),
                source,
                str(vt.file),
                lambda name: self.table_sql(self.catalog.table(name)),
                window,
            )
            self._windows[view] = tuple(windows)
            cleaned = templates.strip_comments(rendered)
            where = f"{vt.file.with_suffix(f'.{self.dialect}.sql') if override is not None else vt.file}"
            final = cleaned if override is not None else self.adapt_sql(cleaned, where)
            # The text the engine receives is checked, in its own dialect, before it ever runs.
            allowed = [self.table_sql(t) for t in self.catalog.tables.values()]
            refusal = safety.check(final, self.dialect, allowed)
            if refusal:
                line = safety.template_line(source, refusal.token)
                raise TemplateError(f"{where}:{line}: {refusal.message}")
            # Never run what `featurekit validate` rejects (checked once per template version).
            problems = lint.lint_view(self.catalog, view) if override is None else []
            if problems:
                raise DeclarationError(problems)
            self._sql[view] = final
        return self._sql[view]

    def render(
        self,
        view: str,
        ids: Iterable[Any] | CheckedIds,
        *,
        as_of: dt.date | dt.datetime | str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> RenderedQuery:
        """The query for `ids` (validated here, or already by `check_ids`)."""
        decl = self.catalog.view(view)
        entity = self.catalog.entity(decl.entity)
        unique = ids.unique if isinstance(ids, CheckedIds) else validate_ids(entity, ids)
        day, instant = parse_as_of_time(as_of)
        values: dict[str, Any] = {"entity_ids": unique, "as_of": day}
        sql = self.sql(view)
        if _AS_OF_TIME.search(sql):  # only views that compare instants get one; the others see the whole day
            values["as_of_time"] = instant
        values.update(bind_parameters(decl, params or {}))
        vt = self.catalog.view_templates[decl.name]
        if self.dialect == "athena":  # only Athena reads partitions through a projection with a range
            today = dt.datetime.now(dt.timezone.utc).date()
            for name, days, times in self._windows[view]:
                span = times * (days if isinstance(days, int) else int(values[days]))
                first = values["as_of"] - dt.timedelta(days=span)
                layouts.check_window(self.catalog.table(name), first, values["as_of"], today)
        return RenderedQuery(decl.name, self.dialect, sql, MappingProxyType(values), vt.version, vt.tables)


#: What a batch does with an ID that fails the entity's pattern: fail the whole call, or give that ID a null row.
OnInvalid = Literal["error", "null"]


@dataclass(frozen=True)
class CheckedIds:
    """A batch of IDs after validation: the rows asked for, in order, and the distinct valid IDs to query."""

    #: One value per requested row, duplicates included: the ID as its key type, or as given when it is invalid.
    requested: tuple[Any, ...]
    #: The distinct valid IDs, first occurrence first: what the engine is asked for.
    unique: tuple[Any, ...]
    #: Row position -> why that ID was refused (only with on_invalid="null").
    invalid: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))


def check_ids(entity: Entity, ids: Iterable[Any], on_invalid: OnInvalid = "error") -> CheckedIds:
    """Check a batch of IDs against the entity's key type and pattern in one vectorised pass.

    With on_invalid="error" the first bad ID raises InvalidEntityId; with "null" every bad ID is recorded
    with its reason and the others go ahead. Duplicates are kept in `requested` and queried once.
    """
    if on_invalid not in ("error", "null"):
        raise InputError("on_invalid", f"{on_invalid!r} is not one of error, null")
    if isinstance(ids, (str, int)):
        ids = [ids]
    elif isinstance(ids, (bytes, Mapping)) or not isinstance(ids, Iterable):  # e.g. 42.0 or {"a": 1} from JSON
        raise InvalidEntityId(entity.name, ids, entity.pattern)
    given = list(ids)
    if not given:
        raise InputError(f"{entity.name} id", "no IDs given")
    # The common case in bulk; below ~64 IDs the fixed cost of a few Arrow calls is more than the loop's.
    if entity.key_type == "string" and len(given) >= 64 and _all_valid_strings(entity, given):
        return CheckedIds(tuple(given), tuple(dict.fromkeys(given)))
    given = [_exact(v) for v in given]
    if entity.key_type == "int":
        # A decimal digit string from a file or the CLI is an int ID; ASCII only, as Athena's `[0-9]` means.
        values = [int(v) if isinstance(v, str) and v.isascii() and v.isdigit() else v for v in given]
        typed_ok = [isinstance(v, int) and not isinstance(v, bool) for v in values]
    else:
        values = given
        # A lone surrogate is a str but no text: no engine, cache file or Arrow array can hold it.
        typed_ok = [isinstance(v, str) and is_text(v) for v in values]
    # An over-long ID is refused before the pattern reads it (untrusted input, bounded work).
    too_long = [ok and len(str(v)) > entity.max_length for v, ok in zip(values, typed_ok, strict=True)]
    texts = [str(v) if ok and not long else "" for v, ok, long in zip(values, typed_ok, too_long, strict=True)]
    matched = _fullmatch_all(entity.pattern, texts)
    invalid: dict[int, str] = {}
    for position, (ok, hit) in enumerate(zip(typed_ok, matched, strict=True)):
        if ok and hit and not too_long[position]:
            continue
        longer = f"is longer than {entity.max_length} characters" if too_long[position] else None
        if on_invalid == "error":
            raise InvalidEntityId(entity.name, given[position], entity.pattern, longer)
        why = longer or (f"does not match the pattern {entity.pattern}" if ok else f"is not a {entity.key_type} ID")
        invalid[position] = f"{entity.name} id {given[position]!r} {why}"
    requested = tuple(given[i] if i in invalid else v for i, v in enumerate(values))
    unique = tuple(dict.fromkeys(v for i, v in enumerate(values) if i not in invalid))
    return CheckedIds(requested, unique, MappingProxyType(invalid))


def is_text(value: str) -> bool:
    """Whether a str is valid Unicode text (encodes to UTF-8): not when it holds a lone surrogate."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _exact(value: Any) -> Any:
    """A str or int subclass (numpy.str_, an IntEnum, or a hostile one whose __str__ shows another ID) as the
    plain value it holds, read without its methods: the pattern must check what is bound and cached."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return operator.index(value)
    return value


def validate_ids(entity: Entity, ids: Iterable[Any]) -> tuple[Any, ...]:
    """Check every ID against the entity's pattern; the distinct IDs, first occurrence first."""
    return check_ids(entity, ids).unique


def _all_valid_strings(entity: Entity, given: list[Any]) -> bool:
    """Whether every ID is a `str` no longer than `max_length` that matches the pattern, with no Python work per
    ID beyond C-level `type`/`len`; False sends the batch to the per-ID path, which says what is wrong with which."""
    import pyarrow.compute as pc

    if set(map(type, given)) != {str} or max(map(len, given)) > entity.max_length:  # Arrow takes bytes, None too
        return False
    found = _re2_fullmatch(entity.pattern, given)
    return found is not None and bool(pc.all(found).as_py())


def _fullmatch_all(pattern: str, texts: list[str]) -> list[bool]:
    """Whether each text matches the whole pattern: one RE2 pass in Arrow, or Python's `re` where RE2 cannot."""
    if len(texts) == 1 and len(texts[0]) <= _MEMO_MAX_CHARS:
        return [_fullmatch_one(pattern, texts[0])]
    return _fullmatch_each(pattern, texts)


def _fullmatch_each(pattern: str, texts: list[str]) -> list[bool]:
    found = _re2_fullmatch(pattern, texts)
    if found is not None:
        return found.to_pylist()
    compiled = re.compile(pattern, re.ASCII)
    return [compiled.fullmatch(t) is not None for t in texts]


#: Longest ID the one-ID memo keeps: 4,096 entries then hold ~1 MB, whatever length an entity accepts.
_MEMO_MAX_CHARS = 256


@lru_cache(maxsize=4096)
def _fullmatch_one(pattern: str, text: str) -> bool:
    """One ID's check, remembered: a service asks about the same entities over and over, and one Arrow call
    costs ~35 µs, most of a cached lookup. Bounded; the answer is a pure function of its arguments."""
    return _fullmatch_each(pattern, [text])[0]


def _re2_fullmatch(pattern: str, texts: list[str]) -> Any:
    """An Arrow boolean array: whether each text matches the whole pattern, in one RE2 pass. None where RE2
    cannot: a pattern it does not support (look-arounds), or text Arrow cannot hold (a lone surrogate)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import arrays

    try:
        # `^(?:...)$` makes a substring search a full match; RE2's \d, \w are ASCII, as Athena's (Java) are.
        return pc.match_substring_regex(arrays.strings(texts), pattern=f"^(?:{pattern})$")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeError):
        return None


#: An ISO timestamp with its offset (`Z` or `+02:00`); without one it would name no instant.
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:?[0-9]{2})"
)


def parse_as_of(value: dt.date | str | None) -> dt.date:
    """`as_of` as a date: the day itself, or the UTC day of a timestamp (see `parse_as_of_time`)."""
    return parse_as_of_time(value)[0]


def parse_as_of_time(value: dt.date | dt.datetime | str | None) -> tuple[dt.date, dt.datetime]:
    """`as_of` as (UTC day, latest instant included, naive UTC): what views bind as `:as_of` and `:as_of_time`.

    A date (or 'YYYY-MM-DD', or None for today in UTC) includes its whole day: the instant is its last
    microsecond. A timezone-aware timestamp (or an ISO string with `Z`/an offset) is that instant in UTC.
    A naive datetime names no instant (whose 10:00?), so it is an error, never a silent truncation.
    """
    if value is None:
        value = dt.datetime.now(dt.timezone.utc).date()
    if isinstance(value, str):
        text = value  # not stripped: "2026-06-30\n" is refused, as before
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            with contextlib.suppress(ValueError):  # e.g. 2026-13-01: refused below, with the others
                value = dt.date.fromisoformat(text)
        elif _ISO_TIME.fullmatch(text):
            with contextlib.suppress(ValueError):
                value = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+", text):
            raise InputError("as_of", f"{value!r} has no UTC offset; add one (2026-06-30T10:00:00+02:00 or ...Z)")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError(
                "as_of", f"{value.isoformat()!r} is a naive datetime; pass a date or a timezone-aware timestamp"
            )
        instant = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return instant.date(), instant
    if isinstance(value, dt.date):
        return value, dt.datetime.combine(value, dt.time.max)
    raise InputError("as_of", f"{value!r} is not a date in YYYY-MM-DD form or a timestamp with an offset")


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
    value = _exact(value)  # bounds and choices must judge the value that is bound, not a subclass's __lt__/__eq__
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
            # A date parameter is a day: a datetime (naive or not) or a timestamp string is not silently cut to one.
            if isinstance(value, dt.datetime) or (isinstance(value, str) and not _ISO_DATE.fullmatch(value)):
                raise InputError(where, f"{value!r} is not a date in YYYY-MM-DD form")
            value = parse_as_of(value)
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
