"""Load a catalog folder into a validated, immutable Catalog.

A catalog is a folder a data person edits, never Python:

    tables/orders.yaml
    entities/customer.yaml
    views/customer_orders.yaml   + customer_orders.sql   (+ customer_orders.duckdb.sql, an override)
    prompts/retention_note.yaml  + retention_note.jinja  + retention_note.offline.jinja

Every problem in every file is collected, each with file and line, and raised together.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
import yaml
from pydantic import TypeAdapter, ValidationError

from ..errors import DeclarationError, NotFoundError, Problem
from . import layouts, safety, templates
from .declarations import KINDS, Entity, Prompt, Table, View
from .yamlfile import UnsafeYaml, editor_line, read_yaml

ENV_CATALOG = "FEATUREKIT_CATALOG"
#: The engines a profile can name; each may have an override file `<view>.<engine>.sql`.
ENGINES = ("duckdb", "athena", "trino")
#: Binds every view template may use without declaring them.
BUILTIN_BINDS = ("entity_ids", "as_of", "as_of_time")


@dataclass(frozen=True)
class ViewTemplate:
    """A view's SQL template source, its per-engine overrides and its version hash."""

    file: Path
    source: str
    overrides: Mapping[str, str]
    tables: tuple[str, ...]
    version: str


@dataclass(frozen=True)
class PromptTemplate:
    file: Path
    source: str
    offline_file: Path
    offline: str
    version: str


@dataclass(frozen=True)
class Catalog:
    """Every declaration in a catalog folder, validated together."""

    root: Path
    tables: Mapping[str, Table]
    entities: Mapping[str, Entity]
    views: Mapping[str, View]
    prompts: Mapping[str, Prompt]
    view_templates: Mapping[str, ViewTemplate] = field(repr=False)
    prompt_templates: Mapping[str, PromptTemplate] = field(repr=False)
    files: Mapping[str, Path] = field(repr=False)

    def table(self, name: str) -> Table:
        return _get(self.tables, "table", name)

    def entity(self, name: str) -> Entity:
        return _get(self.entities, "entity", name)

    def view(self, name: str) -> View:
        return _get(self.views, "view", name)

    def prompt(self, name: str) -> Prompt:
        return _get(self.prompts, "prompt", name)


def _get(items: Mapping[str, Any], kind: str, name: str) -> Any:
    try:
        return items[name]
    except KeyError:
        raise NotFoundError(kind, name, items) from None


def shipped_catalog() -> Path:
    """The catalog shipped with featurekit (the repository's sql/ folder, packaged in the wheel)."""
    packaged = Path(str(resources.files("featurekit") / "sql"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "sql"


def resolve_catalog(path: str | os.PathLike[str] | None = None) -> Path:
    """Explicit path first, then $FEATUREKIT_CATALOG, then the shipped catalog."""
    chosen = path or os.environ.get(ENV_CATALOG)
    return Path(chosen) if chosen else shipped_catalog()


def load(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Load and validate a catalog folder; raise DeclarationError listing every problem."""
    root = resolve_catalog(path)
    if not root.is_dir():
        raise DeclarationError([Problem(str(root), None, "catalog folder does not exist")])
    loader = _Loader(root)
    return loader.run()


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.found: dict[str, dict[str, tuple[Any, Path, dict[tuple[Any, ...], int]]]] = {k: {} for k in KINDS}
        # Names whose own file is broken: references to them are not reported again as unknown.
        self.broken: set[str] = set()

    def problem(self, file: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(self._show(file), line, message))

    def _show(self, file: Path) -> str:
        try:
            return str(file.relative_to(Path.cwd()))
        except ValueError:
            return str(file)

    def run(self) -> Catalog:
        files = sorted(p for kind in KINDS for p in (self.root / kind).glob("*.y*ml"))
        # A skeleton (`featurekit init --empty`) has the four folders and nothing in them yet: a valid, empty
        # catalog. A folder without them is most likely the wrong folder, and is refused.
        if not files and not all((self.root / kind).is_dir() for kind in KINDS):
            self.problem(self.root, None, f"no declarations found (expected {', '.join(k + '/*.yaml' for k in KINDS)})")
        for file in files:
            self._declaration(file.parent.name, file)
        tables = {n: d for n, (d, _, _) in self.found["tables"].items()}
        entities = {n: d for n, (d, _, _) in self.found["entities"].items()}
        views = {n: d for n, (d, _, _) in self.found["views"].items()}
        prompts = {n: d for n, (d, _, _) in self.found["prompts"].items()}

        view_templates = {}
        for name, (view, file, lines) in self.found["views"].items():
            if view.entity not in entities and view.entity not in self.broken:
                self.problem(file, lines.get(("entity",)), str(NotFoundError("entity", view.entity, entities)))
            loaded = self._view_template(view, file, tables, lines)
            if loaded:
                view_templates[name] = loaded
        prompt_templates = {}
        for name, (prompt, file, lines) in self.found["prompts"].items():
            for i, used in enumerate(prompt.views):
                if used not in views and used not in self.broken:
                    self.problem(file, lines.get(("views", i)), str(NotFoundError("view", used, views)))
            loaded_prompt = self._prompt_template(prompt, file, lines)
            if loaded_prompt:
                prompt_templates[name] = loaded_prompt
        if self.problems:
            raise DeclarationError(self.problems)
        everything = {f"{kind}:{n}": f for kind in KINDS for n, (_, f, _) in self.found[kind].items()}
        return Catalog(
            root=self.root,
            tables=MappingProxyType(tables),
            entities=MappingProxyType(entities),
            views=MappingProxyType(views),
            prompts=MappingProxyType(prompts),
            view_templates=MappingProxyType(view_templates),
            prompt_templates=MappingProxyType(prompt_templates),
            files=MappingProxyType(everything),
        )

    def _declaration(self, kind: str, file: Path) -> None:
        try:
            data, lines = read_yaml(file)
        except yaml.YAMLError as exc:
            text = file.read_text(encoding="utf-8", errors="replace")
            mark = getattr(exc, "problem_mark", None)
            line = editor_line(text, mark.index) if mark else None
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            if isinstance(exc, yaml.reader.ReaderError):  # a control character: no mark, only a position
                line = editor_line(text, exc.position)
                reason = f"character {exc.character!r} is not allowed in YAML"
            self.problem(file, line, f"YAML syntax error: {reason}")
            # Declarations are named after their file: references to it are not reported again as unknown.
            self.broken.add(file.stem)
            return
        except UnsafeYaml as exc:
            self.problem(file, exc.line, str(exc))
            self.broken.add(file.stem)
            return
        except OSError as exc:
            self.problem(file, None, f"cannot read: {exc.strerror}")
            self.broken.add(file.stem)
            return
        except UnicodeDecodeError as exc:
            self.problem(file, None, f"cannot read: not UTF-8 text (byte {exc.start})")
            self.broken.add(file.stem)
            return
        if not isinstance(data, dict):
            self.problem(file, 1, f"expected a mapping of {KINDS[kind].__name__} fields, got {type(data).__name__}")
            self.broken.add(file.stem)
            return
        try:
            declared: Any = TypeAdapter(KINDS[kind]).validate_python(data)
        except ValidationError as exc:
            if isinstance(data.get("name"), str):
                self.broken.add(data["name"])
            self.broken.add(file.stem)
            errors = exc.errors()
            for err in errors[:MAX_PROBLEMS_PER_FILE]:
                loc = tuple(err["loc"])
                self.problem(file, _nearest_line(lines, loc), _describe(loc, err))
            if len(errors) > MAX_PROBLEMS_PER_FILE:
                self.problem(file, None, f"{len(errors) - MAX_PROBLEMS_PER_FILE:,} more problems not shown")
            return
        previous = self.found[kind].get(declared.name)
        if previous:
            self.problem(
                file,
                lines.get(("name",)),
                f"duplicate {kind[:-1]} name {declared.name!r}, already declared in {self._show(previous[1])}",
            )
            return
        self.found[kind][declared.name] = (declared, file, lines)

    def _view_template(
        self, view: View, file: Path, tables: Mapping[str, Table], lines: Mapping[tuple[Any, ...], int]
    ) -> ViewTemplate | None:
        sql_file = file.parent / (view.sql or f"{view.name}.sql")
        source = self._read_beside(file, sql_file, "sql", lines.get(("sql",), lines.get(("name",))))
        if source is None:
            return None
        overrides = {}
        for engine in ENGINES:
            override = sql_file.with_suffix(f".{engine}.sql")
            if override.is_file():
                text = self._read_beside(file, override, f"{engine} override", lines.get(("name",)))
                if text is None:
                    return None
                overrides[engine] = text
        names = [p.name for p in view.parameters]
        used_tables: list[str] = []
        for shown, text in [(sql_file, source)] + [
            (sql_file.with_suffix(f".{e}.sql"), t) for e, t in overrides.items()
        ]:
            analysis = templates.analyze_sql(
                text,
                str(shown),
                known_tables=[*tables, *self.broken],  # a table whose file failed is reported once, there
                builtins=BUILTIN_BINDS,
                parameters=names,
                required=("entity_ids",),
            )
            for finding in analysis.findings:
                if finding.parameter in names:  # an unused parameter: point at its declaration
                    at = lines.get(("parameters", names.index(finding.parameter)))
                    self.problem(file, at, f"{finding.message} in {shown.name}")
                else:
                    self.problem(shown, finding.line, finding.message)
            if not analysis.findings:
                self._one_select(shown, text, tables)
            used_tables += [t for t in analysis.tables if t not in used_tables]
        table_decls = [repr(tables[t]) for t in sorted(used_tables) if t in tables]
        version = _digest(repr(view), source, *sorted(overrides.items()), *table_decls)
        return ViewTemplate(sql_file, source, MappingProxyType(overrides), tuple(used_tables), version)

    def _one_select(self, shown: Path, source: str, tables: Mapping[str, Table]) -> None:
        """Render with representative table names and refuse anything but one read-only SELECT."""
        dialect = shown.suffixes[-2][1:] if len(shown.suffixes) > 1 and shown.suffixes[-2][1:] in ENGINES else "athena"
        try:
            rendered = templates.render_sql(
                templates.sandbox(), source, str(shown), _representative, lambda *args: layouts.window_in(tables, *args)
            )
        except Exception as exc:  # rendered once already; only a render bound (time) can differ this time
            self.problem(shown, templates.template_line(exc), f"template error: {exc}")
            return
        # A table whose file failed to load is reported once, there: reading it is not a second problem.
        allowed = [_representative(t) for t in [*tables, *self.broken]]
        refusal = safety.check(templates.strip_comments(rendered), dialect, allowed)
        if refusal:
            self.problem(shown, safety.template_line(source, refusal.token), refusal.message)

    def _prompt_template(
        self, prompt: Prompt, file: Path, lines: Mapping[tuple[Any, ...], int]
    ) -> PromptTemplate | None:
        main = file.parent / (prompt.template or f"{prompt.name}.jinja")
        offline = file.parent / (prompt.offline or f"{prompt.name}.offline.jinja")
        text = self._read_beside(file, main, "template", lines.get(("template",), lines.get(("name",))))
        offline_text = self._read_beside(file, offline, "offline", lines.get(("offline",), lines.get(("name",))))
        if text is None or offline_text is None:
            return None
        env = templates.sandbox()
        ok = True
        for path, source in ((main, text), (offline, offline_text)):
            try:
                ast = env.parse(source)
            except jinja2.TemplateSyntaxError as exc:
                self.problem(path, exc.lineno, f"Jinja syntax error: {exc.message}")
                ok = False
                continue
            for finding in templates.forbidden(ast):
                self.problem(path, finding.line, finding.message)
                ok = False
        if not ok:
            return None
        return PromptTemplate(main, text, offline, offline_text, _digest(repr(prompt), text, offline_text))

    def _read_beside(self, declaration: Path, path: Path, key: str, line: int | None = None) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            self.problem(declaration, line, f"{key} file {path.name} not found beside the declaration")
        except UnicodeDecodeError as exc:
            self.problem(path, None, f"cannot read: not UTF-8 text (byte {exc.start})")
        return None


#: Validation problems listed per declaration file; thousands of lines of the same mistake help nobody.
MAX_PROBLEMS_PER_FILE = 20


def _representative(table: str) -> str:
    """A table as the load-time check renders it: qualified, so a bare name in a template is not mistaken for it."""
    return f'"featurekit"."{table}"'


def _nearest_line(lines: Mapping[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _describe(loc: tuple[Any, ...], err: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in loc) or "file"
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"{where}: unknown field"
    message = str(err["msg"]).removeprefix("Value error, ")
    got = err.get("input")
    shown = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
    return f"{where}: {message}{shown}"


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]
