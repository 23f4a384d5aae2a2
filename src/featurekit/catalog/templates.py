"""The Jinja sandbox every template runs in, and the static checks made when a catalog loads.

Jinja builds SQL structure only. The callables a SQL template sees are `table('name')` and
`window('name', 'days_parameter')` (the table's partition predicate, catalog/layouts.py); every value is a
SQLAlchemy bind (`:name`) that the database receives separately.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The same bind syntax sqlalchemy.text() recognises, so what we check is what it binds.
BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
SQL_GLOBALS = frozenset({"table", "window"})


def sandbox() -> ImmutableSandboxedEnvironment:
    """A sandboxed environment with StrictUndefined: unknown names fail instead of rendering empty."""
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def strip_comments(sql: str) -> str:
    """Drop `--` and `/* */` comments outside quotes, keeping line breaks.

    Comments never reach the database: a bind-like word in a comment would otherwise become a
    bind, and PyAthena once changed its escaping for statements starting with `--`.
    """
    out: list[str] = []
    i, n, quote = 0, len(sql), ""
    while i < n:
        ch = sql[i]
        if quote:
            out.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            stop = n if end < 0 else end + 2
            out.append("\n" * sql.count("\n", i, stop))
            i = stop
            continue
        else:
            out.append(ch)
        i += 1
    lines = [line.rstrip() for line in "".join(out).split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def binds(sql: str) -> list[str]:
    """Bind names in SQL text, in order of first use."""
    seen: dict[str, None] = {}
    for match in BIND.finditer(strip_comments(sql)):
        seen.setdefault(match.group(1), None)
    return list(seen)


def line_of(source: str, pattern: str) -> int | None:
    """First 1-based line of `source` matching the regex `pattern`."""
    for number, line in enumerate(source.splitlines(), 1):
        if re.search(pattern, line):
            return number
    return None


@dataclass(frozen=True)
class Finding:
    line: int | None
    message: str
    #: The declared parameter the finding is about, so the loader can point at its line in the YAML.
    parameter: str | None = None


_FILE_TAGS = {nodes.Extends: "extends", nodes.Include: "include", nodes.Import: "import", nodes.FromImport: "from"}


def forbidden(ast: nodes.Template) -> list[Finding]:
    """Constructs no template may use, found before anything renders: reading other files (include, import,
    extends) and any `_private` attribute or item (the road to `__globals__`, `__class__.__mro__`, ...)."""
    found: dict[int, Finding] = {}  # one per line: `''.__class__.__mro__` is one problem, named by its first step
    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        tag = _FILE_TAGS[type(node)]
        found[node.lineno] = Finding(node.lineno, f"{{% {tag} %}} is not allowed: a template cannot read other files")
    for access in ast.find_all((nodes.Getattr, nodes.Getitem)):
        key = access.attr if isinstance(access, nodes.Getattr) else getattr(access, "arg", None)
        name = key if isinstance(key, str) else getattr(key, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            message = f"access to {name!r} is not allowed: templates cannot reach Python internals"
            found[access.lineno] = Finding(access.lineno, message)
    return [found[line] for line in sorted(found)]


@dataclass(frozen=True)
class SqlAnalysis:
    tables: tuple[str, ...]
    binds: tuple[str, ...]
    findings: tuple[Finding, ...]


def analyze_sql(
    source: str,
    name: str,
    *,
    known_tables: Iterable[str],
    builtins: Iterable[str],
    parameters: Iterable[str],
    required: Iterable[str] = (),
) -> SqlAnalysis:
    """Check a SQL template without running it: syntax, names, tables and binds."""
    env = sandbox()
    try:
        ast = env.parse(source, name=name)
    except jinja2.TemplateSyntaxError as exc:
        return SqlAnalysis((), (), (Finding(exc.lineno, f"Jinja syntax error: {exc.message}"),))

    findings: list[Finding] = forbidden(ast)
    if findings:
        return SqlAnalysis((), (), tuple(findings))
    for var in sorted(meta.find_undeclared_variables(ast) - SQL_GLOBALS):
        line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == var), None)
        findings.append(
            Finding(
                line,
                f"template variable {var!r} is not allowed: values reach SQL only as binds (write :{var}); "
                "the only template helpers are table('name') and window('name', 'days_parameter')",
            )
        )

    known = set(known_tables)
    tables: list[str] = []
    for call in ast.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name in SQL_GLOBALS):
            continue
        if call.node.name == "window":
            if len(call.args) not in (2, 3) or not all(isinstance(a, nodes.Const) for a in call.args) or call.kwargs:
                findings.append(Finding(call.lineno, "window() takes constants: window('orders', 'lookback_days')"))
                continue
        elif len(call.args) != 1:
            findings.append(Finding(call.lineno, "table() takes one quoted table name, e.g. table('orders')"))
            continue
        if not isinstance(call.args[0], nodes.Const) or not isinstance(call.args[0].value, str):
            findings.append(Finding(call.lineno, f"{call.node.name}() takes a quoted table name first, e.g. 'orders'"))
            continue
        table = call.args[0].value
        if table not in known:
            from ..errors import NotFoundError

            findings.append(Finding(call.lineno, str(NotFoundError("table", table, known))))
        elif table not in tables:
            tables.append(table)
    if not findings:
        try:
            render_sql(env, source, name, lambda t: t, _bind_of_window)
        except Exception as exc:  # unsafe attribute access in the sandbox, a too large range(), among others
            findings.append(Finding(template_line(exc), f"template error: {exc}"))
    # The bind scan renders leniently, so bind problems are reported alongside the ones above.
    lenient = ImmutableSandboxedEnvironment(undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    try:
        rendered = render_sql(lenient, source, name, lambda t: t, _bind_of_window)
    except Exception as exc:  # e.g. table('a', 'b'): a TypeError, already reported above as a finding
        if findings and not isinstance(exc, jinja2.TemplateError):
            return SqlAnalysis(tuple(tables), (), tuple(findings))
        return SqlAnalysis(tuple(tables), (), (*findings, Finding(template_line(exc), f"template error: {exc}")))
    found = binds(rendered)
    declared, builtin = set(parameters), set(builtins)
    for bind in found:
        if bind not in declared and bind not in builtin:
            findings.append(Finding(line_of(source, rf":{bind}\b"), f"bind :{bind} is not a declared parameter"))
    for param in sorted(declared - set(found)):
        findings.append(
            Finding(None, f"declared parameter {param!r} is never used by the template (no :{param})", param)
        )
    for bind in required:
        if bind not in found:
            findings.append(Finding(None, f"the template must filter on the bind :{bind}"))
    return SqlAnalysis(tuple(tables), tuple(found), tuple(findings))


def template_line(exc: BaseException) -> int | None:
    """The template line an error was raised at: Jinja rewrites tracebacks to point into the template."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else getattr(exc, "lineno", None)


def _bind_of_window(_table: str, days: object, times: int = 1) -> str:
    """Stands in for window() when checking a template: what matters there is the bind it uses."""
    return f"(:{days} * {times})" if isinstance(days, str) else "TRUE"


def render_sql(
    env: jinja2.Environment,
    source: str,
    name: str,
    table: Callable[[str], str],
    window: Callable[..., str],
) -> str:
    """Render a SQL template with its two helpers, table() and window()."""
    return env.from_string(source).render(table=table, window=window)
