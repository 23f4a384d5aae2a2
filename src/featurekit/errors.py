"""featurekit's one error tree.

FeaturekitError
├── DeclarationError      a catalog file is wrong (carries every problem found, each with file:line)
├── NotFoundError         an unknown view, feature, table, entity, prompt or profile ("did you mean")
├── InputError            a caller's value is wrong: an entity ID, a parameter, a date
│   └── InvalidEntityId
├── TemplateError         a SQL or prompt template cannot be rendered or adapted to an engine
├── DataError             the data behind a table is missing, empty or unreadable
├── ConfigError           a profile setting is missing or wrong (names the setting)
├── QueryError            the engine ran the query and it failed (carries the query ID and reason)
│   ├── QueryTimeout      it ran too long and was stopped on the server
│   └── CostLimitExceeded a byte-scanned limit would be or was exceeded
└── LLMError              the note writer failed; features are kept on the error
    └── GroundingError    the strict grounding policy rejected a note citing numbers no fact supports
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class FeaturekitError(Exception):
    """Root of every error featurekit raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one declaration file."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class DeclarationError(FeaturekitError):
    """The catalog has one or more problems; all of them are listed, not only the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = [str(p) for p in self.problems]
        head = lines[0] if len(lines) == 1 else f"{len(lines)} problems in the catalog:\n  " + "\n  ".join(lines)
        super().__init__(head)


class NotFoundError(FeaturekitError, KeyError):
    """An unknown name; suggests the closest known one.

    Also a KeyError, so mapping idioms (`row.get(name)`, `name in row`) behave as usual.
    """

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind, self.name = kind, name
        self.known = tuple(sorted(known))
        close = difflib.get_close_matches(name, self.known, n=1)
        self.suggestion = close[0] if close else None
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        if not hint and self.known:
            hint = f"; known: {', '.join(self.known[:10])}"
        super().__init__(f"unknown {kind} {name!r}{hint}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InputError(FeaturekitError):
    """A value a caller passed is not acceptable; `parameter` names which one."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class InvalidEntityId(InputError):
    """An entity ID does not match the entity's declared key pattern."""

    def __init__(self, entity: str, value: object, pattern: str, reason: str | None = None) -> None:
        self.entity, self.value, self.pattern = entity, value, pattern
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "...'"
        super().__init__(f"{entity} id", f"{shown} {reason or f'does not match the pattern {pattern}'}")


class TemplateError(FeaturekitError):
    """A template failed to render or to transpile for an engine."""


class DataError(FeaturekitError):
    """The files behind a declared table are missing, empty or unreadable."""


class ConfigError(FeaturekitError):
    """A profile setting is missing or invalid; `setting` names it."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")


class QueryError(FeaturekitError):
    """The engine could not run a query."""

    def __init__(
        self, message: str, *, query_id: str | None = None, reason: str | None = None, state: str | None = None
    ) -> None:
        self.query_id, self.reason, self.state = query_id, reason, state
        where = f" (query {query_id})" if query_id else ""
        super().__init__(f"{message}{where}" + (f": {reason}" if reason else ""))


class QueryTimeout(QueryError):
    """The query ran past its timeout; it was stopped on the server before this was raised."""


class QueryThrottled(QueryError):
    """The service answered TooManyRequests/Throttling to every retry; try again later or raise the quota."""


class CostLimitExceeded(QueryError):
    """Bytes scanned would exceed, or did exceed, a configured limit."""


class LLMError(FeaturekitError):
    """The language model call failed. The features and the rendered prompt are kept on `partial`."""

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None, partial: Any = None) -> None:
        self.code, self.hint, self.partial = code, hint, partial
        super().__init__(message + (f" ({hint})" if hint else ""))


class GroundingError(LLMError):
    """The `strict` grounding policy rejected a note: it states numbers no fact supports. `report` lists them."""

    def __init__(self, message: str, *, report: Any, partial: Any = None) -> None:
        self.report = report
        super().__init__(message, code="ungrounded", hint="--grounding retry or fallback to recover", partial=partial)
