"""The Jinja sandbox every template runs in, and the static checks made when a catalog loads.

Jinja builds SQL structure only. The callables a SQL template sees are `table('name')` and
`window('name', 'days_parameter')` (the table's partition predicate, catalog/layouts.py); every value is a
SQLAlchemy bind (`:name`) that the database receives separately.
"""

from __future__ import annotations

import functools
import math
import re
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

# The same bind syntax sqlalchemy.text() recognises, so what we check is what it binds.
BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
SQL_GLOBALS = frozenset({"table", "window"})


#: Bounds on one render, so a template cannot burn CPU or memory when a catalog loads or a view renders.
MAX_OUTPUT_CHARS = 1_000_000
MAX_LOOP_ITERATIONS = 100_000
MAX_INT_BITS = 4096
#: Wall-clock bound on one render, checked at every loop step and call: cheap steps repeated can still burn CPU.
MAX_RENDER_SECONDS = 0.5
#: A format width or precision this long (`'%0999999999d'`, `'{:>999999999}'`) asks for too large a string.
_HUGE_WIDTH = re.compile(r"\d{7,}")


class TemplateLimit(SecurityError):
    """A template went past one of the render bounds; reported like any template error, with its line."""


#: Per render: [loop iterations so far, deadline (time.monotonic())].
_budget: ContextVar[list[float] | None] = ContextVar("featurekit_template_budget", default=None)


class _BoundedTemplate(jinja2.Template):
    """Renders chunk by chunk, stopping at MAX_OUTPUT_CHARS, with one loop budget shared by all loops."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        token = _budget.set([0, time.monotonic() + MAX_RENDER_SECONDS])
        try:
            out, size = [], 0
            for chunk in self.generate(*args, **kwargs):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateLimit(f"template output is longer than {MAX_OUTPUT_CHARS:,} characters")
                out.append(chunk)
            return "".join(out)
        finally:
            _budget.reset(token)


def _bounded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _budget.get() or [0, time.monotonic() + MAX_RENDER_SECONDS]
    for item in iterable:
        budget[0] += 1
        if budget[0] > MAX_LOOP_ITERATIONS:
            raise TemplateLimit(f"template loops run more than {MAX_LOOP_ITERATIONS:,} iterations")
        _check_deadline(budget)
        yield item


def _check_deadline(budget: list[float] | None) -> None:
    if budget is not None and time.monotonic() > budget[1]:
        raise TemplateLimit(f"template takes longer than {MAX_RENDER_SECONDS:g} s to render")


def _check_size(value: Any) -> None:
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > MAX_OUTPUT_CHARS:
        raise TemplateLimit(f"a value longer than {MAX_OUTPUT_CHARS:,} is not allowed in a template")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit(f"a number larger than {MAX_INT_BITS} bits is not allowed in a template")


def _check_widths(args: Iterable[Any]) -> None:
    """A width or count argument (`center(10**9)`, `'x'.ljust(10**9)`) must fit the output bound."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_OUTPUT_CHARS:
            raise TemplateLimit(f"width {arg} is larger than the template bound {MAX_OUTPUT_CHARS:,}")


def _check_format(spec: Any, args: Iterable[Any]) -> None:
    """`'%0999999999d' % 1`, `'{:>999999999}'.format(1)` and `'%*d' % (10**9, 1)` ask for a huge string."""
    if isinstance(spec, str) and _HUGE_WIDTH.search(spec):
        raise TemplateLimit("a format width of a million characters or more is not allowed")
    if isinstance(spec, str) and "*" in spec:
        _check_widths(args)


#: Filters whose width argument pads the output; every filter's result is also checked after the call.
_PADDING_FILTERS = frozenset({"center", "indent"})


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    skip = 2 if hasattr(original, "jinja_pass_arg") else 1  # the context/environment, then the value

    @functools.wraps(original)  # keeps Jinja's pass_context/pass_environment marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if name in _PADDING_FILTERS:
            _check_widths([*args[skip:], *kwargs.values()])
        elif name == "format" and len(args) >= skip:
            _check_format(args[skip - 1], args[skip:])
        elif name == "join" and len(args) >= skip:
            _check_join(args[skip] if len(args) > skip else kwargs.get("d", ""), args[skip - 1])
        result = original(*args, **kwargs)
        _check_size(result)
        return result

    return bounded


def _check_method(method: Any, args: tuple[Any, ...]) -> None:
    """Bound the string methods that build long strings before they run."""
    method = getattr(method, "__wrapped__", method)  # the sandbox wraps str.format in a checker of its own
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(owner, (str, bytes)):
        return
    if name in ("format", "format_map"):
        _check_format(owner, args)
    elif name in ("ljust", "rjust", "center", "zfill", "expandtabs"):
        _check_widths(args)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if (len(owner) // max(len(old), 1) + 1) * len(new) > MAX_OUTPUT_CHARS:
            raise TemplateLimit(f"replace() would build a string longer than {MAX_OUTPUT_CHARS:,}")
    elif name == "join" and args:
        _check_join(owner, args[0])


def _check_join(separator: Any, items: Any) -> None:
    if not isinstance(items, (list, tuple)):
        return
    size = len(str(separator)) * len(items) + sum(len(x) for x in items if isinstance(x, (str, bytes)))
    if size > MAX_OUTPUT_CHARS:
        raise TemplateLimit(f"join would build a string longer than {MAX_OUTPUT_CHARS:,}")


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with bounds: `*`, `**` and `%` on large operands, every loop, filter arguments and
    results, method calls and the output size. Constant folding is off for intercepted operators, so
    `10**(10**7)` is refused when it runs, with its line, not computed while the template compiles."""

    intercepted_binops = frozenset({"*", "**", "%"})
    template_class = _BoundedTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP_FILTER] = _bounded_loop

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        ast = super()._parse(source, name, filename)
        for loop in ast.find_all(nodes.For):  # every loop draws on the render's iteration budget
            loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
        return ast

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float)):
            if abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
                raise TemplateLimit(f"{left} ** {right} is larger than {MAX_INT_BITS} bits")
        elif operator == "*" and isinstance(left, int) != isinstance(right, int):
            count, seq = (left, right) if isinstance(left, int) else (right, left)
            if hasattr(seq, "__len__") and count * len(seq) > MAX_OUTPUT_CHARS:
                raise TemplateLimit(f"repeating a value {count} times is longer than {MAX_OUTPUT_CHARS:,}")
        elif operator == "*" and isinstance(left, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimit(f"a product larger than {MAX_INT_BITS} bits is not allowed in a template")
        elif operator == "%":
            _check_format(left, right if isinstance(right, tuple) else (right,))
        try:
            result = super().call_binop(context, operator, left, right)
        except (ArithmeticError, ValueError) as exc:  # e.g. 2.0 ** 5000: OverflowError, one located error
            raise jinja2.TemplateRuntimeError(f"{operator}: {exc}") from None
        _check_size(result)
        return result

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_deadline(_budget.get())
        _check_method(__obj, args)
        result = super().call(__context, __obj, *args, **kwargs)
        _check_size(result)
        return result


_LOOP_FILTER = "featurekit_bounded_loop"


def sandbox() -> ImmutableSandboxedEnvironment:
    """A bounded sandbox with StrictUndefined: unknown names fail instead of rendering empty."""
    return _BoundedSandbox(
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
            if isinstance(exc, TemplateLimit):  # rendering again would only spend the same bound twice
                return SqlAnalysis(tuple(tables), (), tuple(findings))
    # The bind scan renders leniently, so bind problems are reported alongside the ones above.
    lenient = _BoundedSandbox(undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    try:
        rendered = render_sql(lenient, source, name, lambda t: t, _bind_of_window)
    except Exception as exc:  # e.g. table('a', 'b'): a TypeError, already reported above as a finding
        if findings and not isinstance(exc, jinja2.TemplateError):
            return SqlAnalysis(tuple(tables), (), tuple(findings))
        finding = Finding(template_line(exc), f"template error: {exc}")
        return SqlAnalysis(tuple(tables), (), tuple(findings) if finding in findings else (*findings, finding))
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
    # A bound on the whole render (its output size) has no line of its own: point at the top.
    return frames[-1].lineno if frames else getattr(exc, "lineno", 1 if isinstance(exc, TemplateLimit) else None)


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
