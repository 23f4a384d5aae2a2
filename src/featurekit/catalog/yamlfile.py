"""Read one declaration file: bounded YAML with the line of every key and list item.

A catalog file is committed by many people and loaded by every command, so reading it is bounded: a size
cap checked before reading, a cap on the number of values counted on the parser's event stream before
anything is built, no aliases, and line numbers found by bisection rather than by rescanning the text.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import yaml

#: A declaration is a few kilobytes; the cap keeps every load under a second (measured: a 238 KB table
#: declaration loads in about 0.5 s on a busy 2-core machine) and refuses a file made to exhaust memory unread.
MAX_DECLARATION_BYTES = 256 * 1024
#: Keys, values and list items in one file: building each costs time, so their number is bounded too.
MAX_YAML_VALUES = 50_000
#: Nested mappings and lists: a declaration needs a handful; refusing deeper on the event stream is
#: immediate, where composing 20,000 levels would first cost seconds and then overflow the stack.
MAX_YAML_DEPTH = 64
#: libyaml when installed (PyYAML's wheels ship it); its parse is several times faster than pure Python.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UnsafeYaml(Exception):
    """A declaration file refused before its content is used: too large, too many values, aliases, too deep."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        super().__init__(message)


def editor_line(text: str, index: int) -> int:
    """The 1-based line of a character offset as an editor counts lines.

    YAML also breaks lines at NEL, LS and PS (U+0085, U+2028, U+2029); editors do not, so YAML's own
    line numbers would point past the line a person has to fix.
    """
    return text.count("\n", 0, index) + 1


def read_yaml(file: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML and remember the 1-based line of every key and list item, in linear time.

    Aliases are refused: expanding nested aliases ("billion laughs") is exponential, and a declaration has
    no use for them. So are more than MAX_YAML_VALUES values, counted on the parser's event stream (fast)
    before anything is built from it.
    """
    size = file.stat().st_size
    if size > MAX_DECLARATION_BYTES:
        raise UnsafeYaml(None, f"file is {size:,} bytes; a declaration may be at most {MAX_DECLARATION_BYTES:,} bytes")
    text = file.read_text(encoding="utf-8")
    # Offsets of line breaks as an editor counts them, so each node's line is a bisection, not a rescan.
    breaks = [i for i, ch in enumerate(text) if ch == "\n"]
    _check_events(text, breaks)
    try:
        try:
            node = _compose(_FAST_LOADER, text)
        except yaml.YAMLError:  # PyYAML's own parser words its errors better, and this is the rare path
            node = _compose(yaml.SafeLoader, text)
    except RecursionError:
        raise UnsafeYaml(None, "YAML nesting is too deep for a declaration") from None
    if node is None:
        return None, {}
    lines: dict[tuple[Any, ...], int] = {}
    todo: list[tuple[yaml.Node, tuple[Any, ...]]] = [(node, ())]
    while todo:
        n, path = todo.pop()
        lines.setdefault(path, bisect.bisect_left(breaks, n.start_mark.index) + 1)
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                child = (*path, key.value)
                lines[child] = bisect.bisect_left(breaks, key.start_mark.index) + 1
                todo.append((value, child))
        elif isinstance(n, yaml.SequenceNode):
            todo.extend((item, (*path, i)) for i, item in enumerate(n.value))
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node), lines
    finally:
        loader.dispose()


def _check_events(text: str, breaks: list[int]) -> None:
    values = depth = 0
    try:
        for event in yaml.parse(text, Loader=_FAST_LOADER):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line = bisect.bisect_left(breaks, mark.index) + 1 if mark else None
                raise UnsafeYaml(line, "YAML aliases (*name) are not allowed in a declaration")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise UnsafeYaml(None, "YAML nesting is too deep for a declaration")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                values += 1
                if values > MAX_YAML_VALUES:
                    raise UnsafeYaml(None, f"more than {MAX_YAML_VALUES:,} YAML values in one declaration")
    except yaml.YAMLError as exc:
        # libyaml stops at 1,000 levels before any event; PyYAML's own parser, which words the other errors,
        # would take seconds to reach the same point.
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):
            raise UnsafeYaml(None, "YAML nesting is too deep for a declaration") from None
        return  # a syntax error: composing reports it, in PyYAML's words and with its line


def _compose(loader_class: type[yaml.SafeLoader], text: str) -> yaml.Node | None:
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()
