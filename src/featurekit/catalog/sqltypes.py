"""Athena (Trino) result types of catalog SQL, inferred statically with sqlglot.

sqlglot's own annotator types `1.0` as DOUBLE and `avg(decimal)` as DOUBLE; Trino does neither, and those
two differences change numbers (`avg(CASE WHEN x THEN 1.0 ELSE 0.0 END)` is 0.6 on Athena, 0.571 on DuckDB).
The rules below follow Trino: a literal with a decimal point and no exponent is DECIMAL(digits, decimals)
(Trino's default since decimal literals stopped parsing as DOUBLE); `avg(decimal(p, s))` returns
`decimal(p, s)` (trinodb/trino, core/trino-main/.../aggregation/DecimalAverageAggregation.java: signature
`decimal(p, s) -> decimal(p, s)`, the mean by `divideRoundUp`, i.e. ROUND_HALF_UP); `sum(decimal(p, s))` is
`decimal(38, s)`; `count`, `date_diff` are BIGINT. `validate` and the DuckDB adapter both reason about the
types Athena engine v3 would give; both import this module, which only reads SQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.presto import Presto
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

#: The declared catalog types as Athena column types.
ATHENA_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(38, 9)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMP",  # Athena reads a zoned column (Hive DDL) as the UTC instant: a TIMESTAMP
    "string": "VARCHAR",
    "bool": "BOOLEAN",
}

D = exp.DataType
MAX_PRECISION = 38
#: The decimal a Trino integer type converts to when mixed with decimals (Trino's implicit coercions).
_INT_DIGITS = {D.Type.TINYINT: 3, D.Type.SMALLINT: 5, D.Type.INT: 10, D.Type.BIGINT: 19}


def decimal_ps(t: exp.DataType | None) -> tuple[int, int] | None:
    """(precision, scale) of a DECIMAL type, else None (also when they are not integer literals: lint names that)."""
    if t is None or not t.is_type(D.Type.DECIMAL) or bad_decimal_params(t):
        return None
    params = [int(p.this.name) for p in t.expressions]
    return (params[0] if params else MAX_PRECISION), (params[1] if len(params) > 1 else 0)


def bad_decimal_params(t: exp.DataType) -> list[str]:
    """The precision and scale of a DECIMAL that are not integer literals (a bind, a name): Athena refuses them."""
    return [p.sql("trino") for p in t.expressions if not (isinstance(p.this, exp.Literal) and p.this.is_int)]


def decimal_type(precision: int, scale: int) -> exp.DataType:
    return D.build(f"DECIMAL({min(precision, MAX_PRECISION)}, {scale})")


def _literal(self: Any, e: exp.Literal) -> exp.Literal:
    text = e.name
    if e.is_string or e.is_int or "e" in text.lower() or "." not in text:
        return self._annotate_literal(e)  # strings, integers and 1e0-style doubles as sqlglot has them
    whole, frac = text.lstrip("+-").split(".", 1)
    digits = len(whole.lstrip("0")) + len(frac)
    self._set_type(e, decimal_type(max(digits, 1), len(frac)))
    return e


def _common_decimal(types: list[exp.DataType | None]) -> exp.DataType | None:
    """Trino's common super type of decimals and integers, or None when another type takes part."""
    whole = scale = 0
    seen_decimal = False
    for t in types:
        if t is None or t.is_type(D.Type.NULL, D.Type.UNKNOWN):
            continue
        ps = decimal_ps(t)
        if ps is None and t.this in _INT_DIGITS:
            ps = (_INT_DIGITS[t.this], 0)
        elif ps is not None:
            seen_decimal = True
        if ps is None:
            return None
        whole, scale = max(whole, ps[0] - ps[1]), max(scale, ps[1])
    return decimal_type(whole + scale, scale) if seen_decimal else None


def _branches(self: Any, e: exp.Expr, values: list[exp.Expr]) -> exp.Expr:
    common = _common_decimal([v.type for v in values if v is not None])
    if common is not None:
        self._set_type(e, common)
        return e
    return self._annotate_by_args(e, *[v for v in values if v is not None])


def _avg(self: Any, e: exp.Avg) -> exp.Avg:
    arg = e.this.this if isinstance(e.this, exp.Distinct) else e.this
    t = arg.expressions[0].type if isinstance(arg, exp.Distinct) and arg.expressions else arg.type
    self._set_type(e, t if decimal_ps(t) is not None else D.Type.DOUBLE)
    return e


def _sum(self: Any, e: exp.Sum) -> exp.Sum:
    t = e.this.type
    ps = decimal_ps(t)
    if ps is not None:
        self._set_type(e, decimal_type(MAX_PRECISION, ps[1]))
    elif t is not None and t.this in _INT_DIGITS:
        self._set_type(e, D.Type.BIGINT)
    else:  # double and real sum to DOUBLE; an unknown input stays unknown
        self._set_type(e, D.Type.UNKNOWN if t is None or t.is_type(D.Type.UNKNOWN) else D.Type.DOUBLE)
    return e


def _exact_ps(t: exp.DataType | None) -> tuple[int, int] | None:
    """(precision, scale) of a DECIMAL, or of the DECIMAL an integer type converts to, else None."""
    ps = decimal_ps(t)
    if ps is None and t is not None and t.this in _INT_DIGITS:
        return _INT_DIGITS[t.this], 0
    return ps


def _add_sub(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return max(a[0] - a[1], b[0] - b[1]) + max(a[1], b[1]) + 1, max(a[1], b[1])


#: Trino's result decimal of `a op b` from (p, s) of each side (trinodb/trino, type/DecimalOperators.java).
_DECIMAL_RESULT = {
    exp.Add: _add_sub,
    exp.Sub: _add_sub,
    exp.Mul: lambda a, b: (a[0] + b[0], a[1] + b[1]),
    exp.Div: lambda a, b: (a[0] + b[1] + max(b[1] - a[1], 0), max(a[1], b[1])),
}


def _arithmetic(kind: type[exp.Binary]) -> Any:
    """Decimal arithmetic typed as Trino types it (sqlglot keeps one side's scale); other operands as sqlglot does."""
    default = Presto.EXPRESSION_METADATA[kind]["annotator"]

    def annotate(self: Any, e: exp.Binary) -> exp.Expr:
        left, right = _exact_ps(e.left.type), _exact_ps(e.right.type)
        if left and right and (decimal_ps(e.left.type) or decimal_ps(e.right.type)):
            self._set_type(e, decimal_type(*_DECIMAL_RESULT[kind](left, right)))
            return e
        return default(self, e)

    return annotate


def _date_add(self: Any, e: exp.Expr) -> exp.Expr:
    """Trino's date_add keeps the type of its date argument (DATE stays DATE for day units and larger)."""
    self._set_type(e, e.this.type if e.this.type is not None else D.Type.UNKNOWN)
    return e


TRINO_METADATA: dict[type[exp.Expr], dict[str, Any]] = {
    **Presto.EXPRESSION_METADATA,
    exp.Literal: {"annotator": _literal},
    exp.Avg: {"annotator": _avg},
    exp.Sum: {"annotator": _sum},
    exp.Case: {
        "annotator": lambda self, e: _branches(
            self, e, [i.args["true"] for i in e.args["ifs"]] + [e.args.get("default")]
        )
    },
    exp.If: {"annotator": lambda self, e: _branches(self, e, [e.args.get("true"), e.args.get("false")])},
    **{kind: {"annotator": _arithmetic(kind)} for kind in _DECIMAL_RESULT},
    exp.Count: {"returns": D.Type.BIGINT},
    exp.DateDiff: {"returns": D.Type.BIGINT},
    exp.DateAdd: {"annotator": _date_add},
    exp.DateSub: {"annotator": _date_add},
    exp.TsOrDsAdd: {"annotator": _date_add},
}


def table_schema(tables: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """`{table: {column: declared type}}` as the Athena column types sqlglot reads."""
    return {t: {c: ATHENA_TYPES[ty] for c, ty in cols.items()} for t, cols in tables.items()}


def parse(sql: str) -> exp.Expr:
    """Catalog SQL (Athena dialect) as a sqlglot tree; raises sqlglot's ParseError."""
    return sqlglot.parse_one(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)


def annotate(
    tree: exp.Expr, schema: Mapping[str, Mapping[str, str]] | None = None, binds: Mapping[str, str] | None = None
) -> exp.Expr:
    """`tree` qualified and typed as Trino would type it. `binds` maps a `:name` to its Athena type.

    With no schema, columns of base tables stay UNKNOWN; types still flow from CASTs and literals.
    """
    binds = {"as_of": "DATE", **(binds or {})}
    # Every node is (re)typed: a CAST is typed from the parse, and the annotator would skip it with everything under
    # it, leaving the avg() or `/` inside CAST(avg(x) AS DOUBLE) untyped (and unadapted). Binds keep their types.
    placeholder = {
        "annotator": lambda self, e: self._set_type(e, D.build(binds[e.name]) if e.name in binds else D.Type.UNKNOWN)
    }
    # An unresolvable reference stays unqualified: lint reports it, typing does what it can.
    with contextlib.suppress(SqlglotError):
        tree = qualify(
            tree,
            schema=dict(schema or {}),
            dialect="trino",
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
    metadata = {**TRINO_METADATA, exp.Placeholder: placeholder}
    return annotate_types(tree, schema=dict(schema or {}), expression_metadata=metadata, dialect="trino")
