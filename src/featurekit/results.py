"""Typed feature results with their provenance.

One entity gives a FeatureRow (a read-only mapping); many give a FeatureFrame backed by an
Arrow table. Values are typed as declared, and an entity with no rows gets the declared
defaults, so every requested ID has exactly one row, in the order asked.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from . import arrays
from .catalog.declarations import Feature, View
from .engines.base import QueryStats
from .errors import QueryError

if TYPE_CHECKING:
    import pandas as pd

ARROW_TYPES: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.decimal128(38, 9),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "string": pa.string(),
    "bool": pa.bool_(),
}


@functools.lru_cache(maxsize=256)
def arrow_schema(view: View, key: str, key_type: str) -> pa.Schema:
    key_field = pa.field(key, pa.int64() if key_type == "int" else pa.string(), nullable=False)
    return pa.schema([key_field] + [pa.field(f.name, ARROW_TYPES[f.type]) for f in view.features])


def typed(
    view: View, key: str, key_type: str, ids: Sequence[Any], result: pa.Table, query_id: str | None = None
) -> pa.Table:
    """One typed row per requested ID, in order; IDs missing from `result` get declared defaults.

    The result is checked against the request first: a NULL key, a key of the wrong type, a key nobody asked
    for (a CHAR-padded 'C00042  ' is not 'C00042'), two rows for one key, or a value of the wrong type for
    a feature (a boolean for a float) is a QueryError naming the view, the query ID and the key. So a
    default only ever stands for an entity the query genuinely found no rows for.
    """
    schema = arrow_schema(view, key, key_type)
    missing = [name for name in schema.names if name not in result.column_names]
    if missing:
        raise QueryError(
            f"view {view.name!r}: the query did not return the declared column(s) {', '.join(missing)}",
            query_id=query_id,
        )
    found_keys = _plain(result[key])
    wanted_type = schema.field(key).type
    if not (pa.types.is_null(found_keys.type) or _fits(key_type, found_keys.type)):
        raise QueryError(
            f"view {view.name!r}: key column {key!r} is {found_keys.type}, the entity key is {key_type}",
            query_id=query_id,
        )
    found_keys = found_keys.cast(wanted_type)
    if found_keys.null_count:
        raise QueryError(f"view {view.name!r} returned a row with a NULL {key}", query_id=query_id)
    keys = arrays.keys(ids, wanted_type)
    unasked = pc.filter(found_keys, pc.invert(pc.is_in(found_keys, value_set=keys)))
    if len(unasked):
        value = unasked[0].as_py()
        hint = (
            " (padded: a CHAR column? trim it or cast it to varchar)"
            if str(value).strip() in set(map(str, ids))
            else ""
        )
        raise QueryError(
            f"view {view.name!r} returned {key} {value!r}, which was not requested{hint}", query_id=query_id
        )
    if pc.count_distinct(found_keys).as_py() != result.num_rows:
        counts = pc.value_counts(found_keys.combine_chunks())
        twice = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))[0].as_py()
        raise QueryError(
            f"view {view.name!r} returned more than one row for {key} {twice!r}; GROUP BY {key}", query_id=query_id
        )
    # Position of each requested ID in the result (null where it has no row): one vectorised pass,
    # and take() returns the rows in the order asked, with nulls for the IDs the query did not return.
    positions = pc.index_in(keys, value_set=arrays.combined(found_keys))
    present = pc.is_valid(positions)
    picked = result.select([f.name for f in view.features]).take(positions)
    columns = [keys] + [_with_default(view, f, picked[f.name], present, query_id) for f in view.features]
    return pa.Table.from_arrays(columns, schema=schema)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary-encoded column (a DuckDB ENUM) as its values."""
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


#: Which Arrow types a declared type accepts from an engine: the same kind, or an exact numeric widening.
_ACCEPTS: dict[str, Callable[[pa.DataType], bool]] = {
    # DuckDB's SUM of integers is a HUGEINT, which Arrow holds as decimal(38, 0): whole numbers, cast checked.
    "int": lambda t: pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale == 0),
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t),
    "decimal": lambda t: pa.types.is_decimal(t) or pa.types.is_integer(t),
    "date": pa.types.is_date32,
    "timestamp": lambda t: pa.types.is_timestamp(t) and t.tz is None,
    # A zone-less engine timestamp (Athena's TIMESTAMP) is UTC by convention; a zoned one is converted to UTC.
    "timestamptz": pa.types.is_timestamp,
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    "bool": pa.types.is_boolean,
}


def _fits(declared: str, returned: pa.DataType) -> bool:
    return _ACCEPTS[declared](returned)


def _with_default(
    view: View, feature: Feature, column: pa.ChunkedArray, present: pa.ChunkedArray, query_id: str | None
) -> pa.ChunkedArray:
    target = ARROW_TYPES[feature.type]
    column = _plain(column)
    problem = None if pa.types.is_null(column.type) or _fits(feature.type, column.type) else "the wrong type"
    try:
        if problem is None and pa.types.is_decimal(column.type) and pa.types.is_floating(target):
            # Arrow scales the unscaled integer by 10**-scale (24.15 -> 24.150000000000002); parsing the
            # decimal's exact text gives the nearest double, the value a reader expects.
            column = column.cast(pa.string())
        if problem is None:
            column = column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        problem = str(exc)
    if problem is not None:
        raise QueryError(
            f"view {view.name!r}: feature {feature.name!r} is declared {feature.type} but the query returned "
            f"{column.type} ({problem})",
            query_id=query_id,
        )
    if feature.default is None:
        return column
    default = arrays.constant(feature.default, target)
    return pc.if_else(present, column, default)


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: the engine, the exact SQL, the values bound, and every query run."""

    engine: str
    view: str
    template_version: str
    sql_hash: str
    as_of: dt.date
    parameters: Mapping[str, Any]
    queries: tuple[QueryStats, ...] = ()
    cache_hits: int = 0
    elapsed_ms: float = 0.0
    #: The latest instant the lookup included (naive UTC): the end of the `as_of` day, or the timestamp given.
    as_of_time: dt.datetime | None = None
    #: When the lookup ran (UTC).
    ran_at: dt.datetime | None = None
    #: The window matched no data file or partition (as_of after the data ends, before it starts, or a missing
    #: partition), so every row holds declared defaults; kept for lookups answered from the cache.
    no_data: bool = False

    @property
    def queries_run(self) -> int:
        return len(self.queries)

    @property
    def scanned_bytes(self) -> int | None:
        counted = [q.scanned_bytes for q in self.queries if q.scanned_bytes is not None]
        return sum(counted) if counted else None

    @property
    def cost_usd(self) -> float | None:
        counted = [q.cost_usd for q in self.queries if q.cost_usd is not None]
        return sum(counted) if counted else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "view": self.view,
            "template_version": self.template_version,
            "sql_hash": self.sql_hash,
            "as_of": self.as_of.isoformat(),
            "as_of_time": self.as_of_time.isoformat() + "Z" if self.as_of_time else None,
            "ran_at": self.ran_at.isoformat() if self.ran_at else None,
            "no_data": self.no_data,
            "parameters": dict(self.parameters),
            "queries_run": self.queries_run,
            "cache_hits": self.cache_hits,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "scanned_bytes": self.scanned_bytes,
            "cost_usd": self.cost_usd,
            "queries": [q.to_dict() for q in self.queries],
        }


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 query`, `2 queries`, `0 cache hits`."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def provenance_caption(p: Provenance) -> str:
    """One line saying where results came from, for notebooks: engine, as_of, queries, cache hits, time, SQL."""
    parts = [
        p.engine,
        f"as_of {p.as_of}",
        plural(p.queries_run, "query", "queries"),
        plural(p.cache_hits, "cache hit"),
        f"{p.elapsed_ms:.1f} ms",
        f"sql {p.sql_hash}",
    ]
    parts += [f"{k}={v}" for k, v in p.parameters.items()]
    if p.scanned_bytes is not None:
        parts.append(f"scanned {p.scanned_bytes:,} bytes")
    return " · ".join(parts)


def html_cell(value: Any) -> str:
    """A value in an HTML table: NULL as an empty cell, booleans as true/false, dates in ISO, text escaped."""
    value = jsonable(value)
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<td>{html.escape(str(value))}</td>"


#: pandas dtypes that keep NULLs without changing a column's type (an int column with a NULL stays Int64, not
#: float64). Dates, timestamps and decimals stay Arrow-typed (pd.ArrowDtype), so they are never object columns.
def _pandas_types() -> dict[pa.DataType, Any]:
    import pandas as pd

    return {
        pa.int64(): pd.Int64Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.string(): pd.StringDtype(),
        pa.date32(): pd.ArrowDtype(pa.date32()),
        pa.timestamp("us"): pd.ArrowDtype(pa.timestamp("us")),
    }


def jsonable(value: Any) -> Any:
    """A feature value as plain JSON: dates as ISO strings, decimals as numbers."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def python_rows(table: pa.Table) -> list[dict[str, Any]]:
    """`table.to_pylist()`; one row (a single `get`) as a scalar per column, half the cost of to_pylist's setup."""
    if table.num_rows != 1:
        return table.to_pylist()
    return [{name: column[0].as_py() for name, column in zip(table.column_names, table.columns, strict=True)}]


@dataclass(frozen=True)
class FeatureFrame:
    """Features for many entities: one row per requested ID, typed as declared."""

    view: View
    key: str
    table: pa.Table = field(repr=False)
    provenance: Provenance = field(repr=False)
    #: Row position -> why its ID was refused (get(..., on_invalid="null")); such a row's features are null.
    invalid: Mapping[int, str] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return self.table.num_rows

    def __iter__(self) -> Iterator[FeatureRow]:
        for n, values in enumerate(python_rows(self.table)):
            yield FeatureRow(self.view, self.key, values, self.provenance, self.invalid.get(n))

    def __getitem__(self, entity_id: Any) -> FeatureRow:
        for row in self:
            if row.entity_id == entity_id:
                return row
        raise KeyError(entity_id)

    @property
    def entity_ids(self) -> list[Any]:
        return self.table[self.key].to_pylist()

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with nullable dtypes: int → Int64, float → Float64, bool → boolean, string → string,
        date/timestamp/decimal → pd.ArrowDtype (date32, timestamp[us], decimal128); NULL is pd.NA."""
        import pandas as pd

        types = _pandas_types()
        return self.table.to_pandas(
            types_mapper=lambda t: types.get(t) or (pd.ArrowDtype(t) if pa.types.is_decimal(t) else None)
        )

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.table)

    def to_dicts(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    def to_json(self) -> dict[str, Any]:
        rows = [{k: jsonable(v) for k, v in row.items()} for row in self.table.to_pylist()]
        shown: dict[str, Any] = {"view": self.view.name, "rows": rows, "provenance": self.provenance.to_dict()}
        if self.invalid:
            shown["invalid"] = [{"row": n, "reason": why} for n, why in sorted(self.invalid.items())]
        return shown

    def __repr__(self) -> str:
        p = self.provenance
        head = (
            f"<FeatureFrame {self.view.name}: {len(self)} rows × {len(self.view.features)} features, "
            f"{p.engine}, {plural(p.queries_run, 'query', 'queries')}, {plural(p.cache_hits, 'cache hit')}, "
            f"as_of {p.as_of}>"
        )
        preview = self.table.slice(0, 10).to_pylist()
        lines = [head] + ["  " + ", ".join(f"{k}={jsonable(v)!r}" for k, v in row.items()) for row in preview]
        if len(self) > 10:
            lines.append(f"  ... {len(self) - 10} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        names = self.table.column_names
        rows = self.table.slice(0, 50).to_pylist()
        head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        body = "".join("<tr>" + "".join(html_cell(r[n]) for n in names) + "</tr>" for r in rows)
        caption = html.escape(f"{self.view.name} · {plural(len(self), 'row')} · {provenance_caption(self.provenance)}")
        more = f"<p>… {plural(len(self) - 50, 'more row')}</p>" if len(self) > 50 else ""
        return f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


class FeatureRow(Mapping[str, Any]):
    """Features of one entity: a read-only mapping from feature name to typed value."""

    def __init__(
        self, view: View, key: str, values: Mapping[str, Any], provenance: Provenance, invalid: str | None = None
    ) -> None:
        self.view, self.key, self.provenance = view, key, provenance
        #: Why this entity's ID was refused (on_invalid="null"); None for a looked-up entity.
        self.invalid = invalid
        self.entity_id = values[key]
        self._values = {f.name: values[f.name] for f in view.features}

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            self.view.feature(name)  # raises NotFoundError with a suggestion
            raise

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        """`row.total_spend` reads like `row["total_spend"]`; an unknown name suggests the closest feature."""
        values = self.__dict__.get("_values")
        if values is None or name.startswith("_"):
            raise AttributeError(name)
        if name in values:
            return values[name]
        try:
            self.view.feature(name)
        except Exception as exc:  # NotFoundError with its did-you-mean, as an AttributeError (hasattr works)
            raise AttributeError(str(exc)) from None
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self._values]

    def to_dict(self) -> dict[str, Any]:
        """The features as JSON-safe values (dates in ISO, decimals as numbers): `json.dumps(row.to_dict())` works.
        `dict(row)` keeps the typed values."""
        return {k: jsonable(v) for k, v in self._values.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "view": self.view.name,
            "rows": [{self.key: self.entity_id, **{k: jsonable(v) for k, v in self._values.items()}}],
            "provenance": self.provenance.to_dict(),
        }

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={jsonable(v)!r}" for k, v in self._values.items())
        return f"<FeatureRow {self.view.name}[{self.entity_id}]: {values}>"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(k)}</th>{html_cell(v)}</tr>" for k, v in self._values.items())
        caption = html.escape(f"{self.view.name} · {self.entity_id} · {provenance_caption(self.provenance)}")
        return f"<table><caption>{caption}</caption>{rows}</table>"


def facts_json(features: Mapping[str, Mapping[str, Any]]) -> str:
    """Features as the JSON data block handed to a model."""
    return json.dumps(
        {view: {k: jsonable(v) for k, v in values.items()} for view, values in features.items()}, indent=2
    )
