"""A static check of every view against Athena's types: what `featurekit validate` adds to loading.

Loading proves each file is well formed; this proves the SQL can run and returns what it declares.
Each view is typed as Trino types it (sqltypes.py), with the declared table columns as the schema,
and each problem is one `Problem` with file:line:

- a column that no declared table (or CTE) has, with a did-you-mean;
- a declared feature the query does not return, or returns with another type class;
- constructs where Athena and DuckDB give different numbers and the DuckDB adapter cannot close
  the gap (engines/adapt.py rewrites what it can see; this names what it cannot);
- prompt templates that name a feature their views do not declare.

Only catalogs that loaded are checked, so a view over a table whose file failed to load never gets a
second, misleading error here.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import jinja2
from jinja2 import nodes
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

from ..errors import DeclarationError, NotFoundError, Problem
from . import layouts, sqltypes, templates
from .loader import Catalog

D = exp.DataType.Type
#: The declared feature types each inferred Athena type class may fill (a BIGINT fills a float feature).
ACCEPTS = {
    "int": {"int"},
    "float": {"float", "decimal", "int"},
    "decimal": {"decimal", "int"},
    "date": {"date"},
    "timestamp": {"timestamp", "date"},
    "timestamptz": {"timestamp", "date"},
    "string": {"string"},
    "bool": {"bool"},
}


def type_class(t: exp.DataType | None) -> str | None:
    """The declared-type class of an inferred Athena type, or None when the type is not known."""
    if t is None or t.is_type(D.UNKNOWN, D.NULL):
        return None
    if t.this in exp.DataType.INTEGER_TYPES:
        return "int"
    if t.is_type(D.DECIMAL):
        return "decimal"
    if t.this in exp.DataType.REAL_TYPES:
        return "float"
    if t.is_type(D.DATE):
        return "date"
    if t.this in exp.DataType.TEMPORAL_TYPES:
        return "timestamp"
    if t.this in exp.DataType.TEXT_TYPES:
        return "string"
    if t.is_type(D.BOOLEAN):
        return "bool"
    return None


def lint(catalog: Catalog) -> list[Problem]:
    """Every problem in the catalog's views and prompts, in file order."""
    problems = [p for view in catalog.views for p in lint_view(catalog, view)]
    for name in catalog.prompts:
        problems += lint_prompt(catalog, name)
    return problems


#: Problems per (template version, entity key, file): the version hashes the view, its SQL and its tables.
_SEEN: dict[tuple[str, str, str], tuple[Problem, ...]] = {}


def lint_view(catalog: Catalog, view: str) -> list[Problem]:
    """The problems of one view (cached per template version, so `get` can check cheaply on first use)."""
    decl, vt = catalog.view(view), catalog.view_templates[view]
    key = (vt.version, catalog.entity(decl.entity).key, str(vt.file))
    if key not in _SEEN:
        if len(_SEEN) > 1024:
            _SEEN.clear()
        _SEEN[key] = _lint_view(catalog, view)
    return list(_SEEN[key])


def athena_types(catalog: Catalog, view: str) -> dict[str, str]:
    """Each output column of a view with the type Athena reports for it (`varchar`, `decimal(12,2)`, ...)."""
    tree = _parse(catalog, view)
    if isinstance(tree, Problem):
        raise DeclarationError([tree])
    typed = _annotate(catalog, view, tree)
    selects = typed.selects if isinstance(typed, exp.Query) else []
    return {s.alias_or_name: _sql(s.type).lower().replace(", ", ",") for s in selects}


def _parse(catalog: Catalog, view: str) -> exp.Expr | Problem:
    file = str(catalog.view_templates[view].file)
    try:
        source = catalog.view_templates[view].source
        sql = templates.render_sql(
            templates.sandbox(),
            source,
            file,
            lambda n: f'"{n}"',
            lambda *args: layouts.window_in(catalog.tables, *args),
        )
        return sqltypes.parse(sql)
    except (jinja2.TemplateError, SqlglotError) as exc:
        return Problem(file, None, f"does not parse as Athena SQL: {str(exc).splitlines()[0]}")


def _annotate(catalog: Catalog, view: str, tree: exp.Expr, *, with_schema: bool = True) -> exp.Expr:
    tables = catalog.view_templates[view].tables
    schema = sqltypes.table_schema(
        {t: {c.name: c.type for c in catalog.tables[t].all_columns} for t in tables if t in catalog.tables}
    )
    binds = {p.name: sqltypes.ATHENA_TYPES[p.type] for p in catalog.view(view).parameters}
    return sqltypes.annotate(tree, schema if with_schema else None, binds)


def _lint_view(catalog: Catalog, view: str) -> tuple[Problem, ...]:
    file = str(catalog.view_templates[view].file)
    tree = _parse(catalog, view)
    if isinstance(tree, Problem):
        return (tree,)
    # The DuckDB adapter types the SQL without the table declarations: what it sees, node by node.
    blind = [(_kind(n), _checked_type(n)) for n in _checked(_annotate(catalog, view, tree.copy(), with_schema=False))]
    tree = _annotate(catalog, view, tree)
    schema = {t: {c.name for c in catalog.tables[t].all_columns} for t in catalog.view_templates[view].tables}
    found = [Problem(file, line, message) for line, message in _decimal_params(tree)]
    found += [Problem(file, line, message) for line, message in _unknown_columns(tree, schema)]
    found += _outputs(catalog, view, tree)
    found += [Problem(file, line, message) for line, message in _divergences(tree, blind)]
    return tuple(found)


def _decimal_params(tree: exp.Expr) -> list[tuple[int | None, str]]:
    """DECIMAL types whose precision or scale is not an integer literal (e.g. a bind): no type to check against."""
    found = []
    for t in tree.find_all(exp.DataType):
        bad = sqltypes.bad_decimal_params(t) if t.is_type(D.DECIMAL) else []
        if bad:
            line = _line(t.parent) if t.parent is not None else None
            found.append((line, f"{_sql(t)}: precision and scale must be integer literals, not {', '.join(bad)}"))
    return found


def _line(node: exp.Expr) -> int | None:
    lines = [n.meta["line"] for n in node.walk() if isinstance(n, exp.Expr) and "line" in n.meta]
    return min(lines) if lines else None


def _unknown_columns(tree: exp.Expr, schema: Mapping[str, Collection[str]]) -> list[tuple[int | None, str]]:
    """Unknown columns; a misspelt table column is reported once, not again where its CTE is read."""
    base: list[tuple[int | None, str]] = []
    derived: list[tuple[int | None, str]] = []
    for scope in traverse_scope(tree):
        for column in scope.columns:
            known = _columns_of(scope, column.table, schema)
            if known is None or column.name in known:
                continue
            if not column.table and column.name in _named(scope.expression) and not _projected(column, scope):
                continue  # an output alias used in ORDER BY / GROUP BY
            close = difflib.get_close_matches(column.name, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            where = f" of {column.table!r}" if column.table else ""
            sources = [scope.sources.get(column.table)] if column.table else list(scope.sources.values())
            (derived if all(isinstance(x, Scope) for x in sources) else base).append(
                (_line(column), f"unknown column {column.name!r}{where}{hint}")
            )
    return base or derived


def _named(node: exp.Expr) -> list[str]:
    return node.named_selects if isinstance(node, exp.Query) else []


def _sql(t: exp.DataType | None) -> str:
    return t.sql("trino") if t is not None else "UNKNOWN"


def _projected(node: exp.Expr, scope: Scope) -> bool:
    """Whether a node sits in the SELECT list of its scope (where output aliases are not visible)."""
    while node.parent is not None and node.parent is not scope.expression:
        node = node.parent
    return node.arg_key == "expressions"


def _columns_of(scope: Scope, table: str, schema: Mapping[str, Collection[str]]) -> set[str] | None:
    """The columns a reference can name: one source's, or every source's when it is unqualified."""
    sources = [scope.sources[table]] if table in scope.sources else [] if table else list(scope.sources.values())
    if table and not sources:
        return None  # an outer reference (correlated subquery): qualify could not place it
    names: set[str] = set()
    for source in sources:
        if isinstance(source, Scope):
            selected = _named(source.expression)
            if "*" in selected or not selected:
                return None
            names.update(selected)
        elif isinstance(source, exp.Table):
            cols = schema.get(source.name)
            if cols is None:
                return None
            names.update(cols)
    return names


def _outputs(catalog: Catalog, view: str, tree: exp.Expr) -> Iterator[Problem]:
    decl, file = catalog.view(view), str(catalog.view_templates[view].file)
    key = catalog.entity(decl.entity).key
    yaml_file = catalog.files.get(f"views:{view}")
    yaml_text = yaml_file.read_text(encoding="utf-8") if yaml_file else ""
    returned = {s.alias_or_name: s for s in tree.selects} if isinstance(tree, exp.Query) else {}
    if "*" in returned:
        return
    if key not in returned:
        yield Problem(file, None, f"view {view!r} does not return its entity key column {key!r}")
    for feature in decl.features:
        select = returned.get(feature.name)
        if select is None:
            close = difflib.get_close_matches(feature.name, sorted(returned), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            line = templates.line_of(yaml_text, rf"\bname:\s*['\"]?{feature.name}\b")
            yield Problem(
                str(yaml_file or file), line, f"feature {feature.name!r} is not returned by {Path(file).name}{hint}"
            )
            continue
        got = type_class(select.type)
        if got is not None and got not in ACCEPTS[feature.type]:
            yield Problem(
                file,
                _line(select),
                f"feature {feature.name!r} is declared {feature.type} but Athena returns "
                f"{_sql(select.type)}; cast it: CAST(... AS {sqltypes.ATHENA_TYPES[feature.type]})",
            )


def _checked(tree: exp.Expr) -> list[exp.Expr]:
    """The nodes whose result the DuckDB adapter rewrites from their types (of their argument, for a CAST)."""
    return list(tree.find_all(exp.Avg, exp.Div, exp.DateAdd, exp.Cast))


def _kind(node: exp.Expr) -> str:
    return type(node).__name__


def _checked_type(node: exp.Expr) -> exp.DataType | None:
    return node.this.type if isinstance(node, exp.Cast) else node.type


#: Estimates: Athena and DuckDB use other algorithms, so their numbers differ (an exact match is impossible).
_APPROX = {
    "approx_distinct": "count(DISTINCT ...)",
    "approx_percentile": "an exact rank: row_number() and count(*) in a subquery",
}


def _cast_divergence(node: exp.Cast, seen: exp.DataType | None) -> str | None:
    """What a CAST computes otherwise on DuckDB, when only the declarations (not the SQL, `seen`) show its type."""
    source, to, cast = node.this.type, node.to.this, node.sql("trino")
    if type_class(source) == "float" and to in exp.DataType.TEXT_TYPES:
        return (
            f"{cast}: Athena prints a {_sql(source)} as Java does (1.0E7, 1.0E-4), DuckDB as 10000000.0 and 0.0001; "
            "cast it to a DECIMAL first, e.g. CAST(CAST(x AS DECIMAL(18, 2)) AS VARCHAR)"
        )
    if type_class(source) == "float" and to in exp.DataType.INTEGER_TYPES and type_class(seen) != "float":
        return (
            f"{cast} rounds a {_sql(source)} half away from zero on Athena (2.5 -> 3), DuckDB half to even, and "
            "DuckDB cannot tell from the SQL alone; CAST the table column to its type where it is read"
        )
    if type_class(source) == "string" and to in exp.DataType.INTEGER_TYPES and type_class(seen) != "string":
        return (
            f"{cast} reads a string column, which DuckDB cannot tell from the SQL alone: it would also read ' 12', "
            "'1.5' (as 2) and '1e3', where Athena fails (try_cast: NULL); write CAST(CAST(col AS VARCHAR) AS INTEGER)"
        )
    return None


def _divergences(tree: exp.Expr, blind: list[tuple[str, exp.DataType | None]]) -> Iterator[tuple[int | None, str]]:
    checked = _checked(tree)
    same_shape = [k for k, _ in blind] == [_kind(n) for n in checked]
    for i, node in enumerate(checked):
        seen = blind[i][1] if same_shape else None
        if isinstance(node, exp.Cast):
            message = _cast_divergence(node, seen)
            if message:
                yield _line(node), message
            continue
        if isinstance(node, exp.Avg) and sqltypes.decimal_ps(node.type):
            arg = node.this
            if _all_literal(arg):
                yield (
                    _line(node),
                    f"avg() of {_sql(node.type)} literals is {_sql(node.type)} on Athena "
                    "(4 of 7 is 0.6): divide DOUBLEs instead, e.g. CAST(count_if(...) AS DOUBLE) / count(*)",
                )
            elif isinstance(arg, exp.Distinct) or isinstance(node.parent, exp.Window):
                yield _line(node), "avg(DISTINCT) or windowed avg() of a DECIMAL cannot be matched on DuckDB"
        # The adapter types SQL without the table declarations: a rewrite it needs must be visible in the SQL.
        if type_class(node.type) != type_class(seen) and (
            not isinstance(node, exp.Div) or type_class(node.type) in ("int", "decimal")
        ):
            yield (
                _line(node),
                f"{node.sql('trino')} is {_sql(node.type)} on Athena, but DuckDB cannot tell from the SQL "
                "alone; CAST the table column to its type where it is read",
            )
    for func in tree.find_all(exp.ApproxDistinct, exp.ApproxQuantile, exp.Anonymous):
        name = func.sql_name().lower() if not isinstance(func, exp.Anonymous) else func.name.lower()
        name = {"approx_count_distinct": "approx_distinct", "approx_quantile": "approx_percentile"}.get(name, name)
        if name.startswith("approx_"):
            hint = _APPROX.get(name, "an exact aggregate")
            yield (
                _line(func),
                f"{name}() is an estimate that Athena and DuckDB compute differently (the numbers differ); use {hint}",
            )
    for node in tree.find_all(exp.Round):
        ps, digits = sqltypes.decimal_ps(node.this.type), node.args.get("decimals")
        if isinstance(node.this, exp.Avg) and _all_literal(node.this.this):
            continue  # reported above as the literal average it is
        if ps and isinstance(digits, exp.Literal) and digits.is_int and int(digits.name) > ps[1]:
            yield (
                _line(node),
                f"round(..., {digits.name}) of a {_sql(node.this.type)} keeps {ps[1]} decimal(s) on Athena; "
                f"compute it as a DOUBLE or a DECIMAL with scale {digits.name}",
            )
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between):
        sides = [node.this, *(node.args.get(k) for k in ("expression", "low", "high") if node.args.get(k))]
        kinds = {type_class(s.type) for s in sides}
        if "string" in kinds and kinds & {"date", "timestamp"}:
            yield (
                _line(node),
                "compares a string with a date: Athena refuses it (no implicit cast), DuckDB casts; "
                "write try_cast(... AS DATE) or compare strings",
            )


def _all_literal(node: exp.Expr) -> bool:
    if isinstance(node, (exp.Case, exp.If)):
        values = [i.args["true"] for i in node.args.get("ifs", [])] + [
            node.args.get(k) for k in ("default", "true", "false") if node.args.get(k) is not None
        ]
        return all(_all_literal(v) for v in values)
    return isinstance(node, (exp.Literal, exp.Null)) or (isinstance(node, exp.Neg) and _all_literal(node.this))


def lint_prompt(catalog: Catalog, name: str) -> list[Problem]:
    """Feature names a prompt's templates use that none of its views declares (did-you-mean, file:line)."""
    prompt, pt = catalog.prompt(name), catalog.prompt_templates[name]
    features = {v: {f.name for f in catalog.view(v).features} for v in prompt.views if v in catalog.views}
    problems = []
    for path, source in ((pt.file, pt.source), (pt.offline_file, pt.offline)):
        ast = templates.sandbox().parse(source)
        aliases = {
            a.target.name: a.node.attr
            for a in ast.find_all(nodes.Assign)
            if isinstance(a.target, nodes.Name) and isinstance(a.node, nodes.Getattr) and _is_features(a.node)
        }
        for node in ast.find_all(nodes.Getattr):
            view = node.node.attr if isinstance(node.node, nodes.Getattr) and _is_features(node.node) else None
            if isinstance(node.node, nodes.Name) and node.node.name in aliases:
                view = aliases[node.node.name]
            if view is None:
                if _is_features(node) and node.attr not in features:
                    problems.append(Problem(str(path), node.lineno, str(NotFoundError("view", node.attr, features))))
                continue
            known = features.get(view)
            if known is not None and node.attr not in known:
                hint = NotFoundError("feature", node.attr, known).suggestion
                message = f"unknown feature {node.attr!r} of view {view!r}" + (
                    f"; did you mean {hint!r}?" if hint else ""
                )
                problems.append(Problem(str(path), node.lineno, message))
    return problems


def _is_features(node: nodes.Node) -> bool:
    """`features.<view>`: the one attribute chain that names a view in a prompt template."""
    return isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) and node.node.name == "features"
