"""The package is a map of the pipeline: imports run one way, left to right, with no cycles.

declare (catalog) → render → execute (engines) → cache → result → prompt/LLM → store → serve → CLI.
A module may import its own stage and the stages to its left. Imports under `if TYPE_CHECKING:`
are for annotations only and do not count; imports inside functions (lazy ones) must follow the
rule too, but only module-level imports can form a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "featurekit"

#: Stages in flow order. Modules that support every stage (errors, sample data) come first.
STAGES = [
    "errors",
    "tracing",
    "sample",
    "arrays",
    "catalog",
    "config",
    "render",
    "engines",
    "cache_disk",
    "cache_memory",
    "cache",
    "cache_redis",
    "batch",
    "results",
    "report",
    "llm",
    "store",
    "serve",
    "integrations",
    "testing",
    "cli",
    "__init__",
    "__main__",
]
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> Iterator[tuple[str, bool, int]]:
    """(imported featurekit module, at module level?, line) for every runtime import in a file."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]

    def walk(nodes: list[ast.stmt], top: bool) -> Iterator[tuple[str, bool, int]]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                yield from walk(node.orelse, top)
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                if target.split(".")[0] == "featurekit":
                    for alias in node.names:  # `from . import x` imports the module x
                        candidate = f"{target}.{alias.name}"
                        yield (candidate if _exists(candidate) else target), top, node.lineno
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "featurekit":
                        yield alias.name, top, node.lineno
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list) and children and isinstance(children[0], ast.AST):
                    inner_top = top and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                    if isinstance(node, ast.ClassDef):
                        inner_top = top
                    yield from walk(children, inner_top)  # type: ignore[arg-type]

    yield from walk(ast.parse(path.read_text()).body, True)


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle in `graph` (module -> modules it imports at load time), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_stage_is_known() -> None:
    unknown = {stage_of(module_name(p)) for p in _files()} - set(STAGES)
    assert not unknown, f"add {sorted(unknown)} to STAGES in flow order"


def test_imports_run_with_the_flow() -> None:
    against = []
    for path in _files():
        here = module_name(path)
        for target, _top, line in imports(path):
            if STAGES.index(stage_of(target)) > STAGES.index(stage_of(here)):
                against.append(f"{path.relative_to(PACKAGE)}:{line}: {here} imports {target}")
    assert not against, "imports against the flow:\n" + "\n".join(against)


def test_no_import_cycles_at_load_time() -> None:
    graph: dict[str, set[str]] = {}
    for path in _files():
        here = module_name(path)
        graph[here] = {t for t, top, _ in imports(path) if top and t != here and not here.startswith(t + ".")}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_finder_finds_cycles() -> None:
    # The rule holds only if the checker can fail: a two-module cycle (bedrock <-> llm, as it once was).
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.name}: split it by concern"
