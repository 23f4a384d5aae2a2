"""The declared things: tables, entities, feature views and prompts.

These are frozen (pydantic) dataclasses, so one definition validates the YAML a data person
writes, is the immutable value the later stages pass around, and yields the published JSON
Schema for editors.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass

if sys.version_info >= (3, 11):
    from re import _constants as sre_constants
    from re import _parser as sre_parse
else:  # pragma: no cover - the same modules before Python 3.11
    import sre_constants
    import sre_parse

Identifier = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$", max_length=64)]
FeatureType = Literal["int", "float", "decimal", "date", "timestamp", "string", "bool"]
ParameterType = Literal["int", "float", "date", "string", "bool"]
Scalar = bool | int | float | str | dt.date | None
#: Binds every view has without declaring them (catalog.BUILTIN_BINDS); no parameter may take their names.
RESERVED_BINDS = ("entity_ids", "as_of")

_strict = ConfigDict(extra="forbid")

#: Python types a declared type accepts (bool is not an int here, on purpose).
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (float, int),
    "decimal": (Decimal, float, int),
    "date": (dt.date,),
    "timestamp": (dt.datetime,),
    "string": (str,),
    "bool": (bool,),
}


@dataclass(frozen=True, config=_strict)
class Column:
    """One column of a declared table."""

    name: Identifier
    type: FeatureType
    description: str = ""


@dataclass(frozen=True, config=_strict)
class Table:
    """A data source: files in a folder (local) or under an S3 prefix (Athena)."""

    name: Identifier
    columns: tuple[Column, ...] = Field(min_length=1)
    path: str = Field(
        default="",
        description="Folder of the table's files, relative to the data root of the profile "
        "(--data locally, data_root on Athena), or absolute (s3://... or /...). Defaults to the table name.",
    )
    format: Literal["json", "parquet", "csv"] = "json"
    partitioned_by: tuple[Column, ...] = ()
    description: str = ""

    @property
    def folder(self) -> str:
        return self.path or self.name

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.partitioned_by


#: Every ID is checked against its entity's pattern before anything runs; these bound that check.
MAX_ID_LENGTH = 1_000_000
_MAX_UNBOUNDED_REPEATS = 3
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None))


def backtracking_risk(pattern: str) -> str | None:
    """Why `pattern` could backtrack catastrophically on a hostile ID, or None.

    Python's regex engine backtracks: a repeat of something that can match in more than one way, as in
    `^(a+)+$` or `^(a|a)*$`, takes exponential time on a near miss. Those shapes are refused, as are
    backreferences, and more than three unbounded repeats (each adds a power of the ID length).
    """
    unbounded = 0

    def walk(items: Any, inside_variable_repeat: bool) -> str | None:
        nonlocal unbounded
        for op, arg in items:
            if op in _REPEATS:
                low, high, body = arg
                variable = low != high
                if variable and inside_variable_repeat:
                    return "a repeat inside a repeat (like (a+)+) can backtrack exponentially"
                unbounded += high == sre_constants.MAXREPEAT
                found = walk(body, inside_variable_repeat or (variable and high > 1))
            elif op is sre_constants.BRANCH:
                if inside_variable_repeat:
                    return "a repeated alternation (like (a|ab)*) can backtrack exponentially; use a character class"
                found = next((r for branch in arg[1] if (r := walk(branch, False))), None)
            elif op is sre_constants.SUBPATTERN:
                found = walk(arg[3], inside_variable_repeat)
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                found = walk(arg[1], inside_variable_repeat)
            elif op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
                return "backreferences are not allowed in an ID pattern"
            else:
                continue
            if found:
                return found
        return None

    found = walk(sre_parse.parse(pattern), False)
    if not found and unbounded > _MAX_UNBOUNDED_REPEATS:
        found = f"more than {_MAX_UNBOUNDED_REPEATS} unbounded repeats (+, *, {{n,}}) make checking an ID slow"
    return found


@dataclass(frozen=True, config=_strict)
class Entity:
    """What features describe: a customer, a product. Every incoming ID must match `pattern`."""

    name: Identifier
    key: Identifier
    pattern: str
    key_type: Literal["string", "int"] = "string"
    description: str = ""
    max_length: int = Field(
        default=256, ge=1, le=MAX_ID_LENGTH, description="Longest ID accepted; longer ones are refused unread."
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        if not (value.startswith("^") and value.endswith("$")):
            raise ValueError(f"pattern {value!r} must be anchored with ^ and $ so it checks the whole ID")
        risk = backtracking_risk(value)
        if risk:
            raise ValueError(f"pattern {value!r} is refused: {risk}")
        return value


@dataclass(frozen=True, config=_strict)
class Parameter:
    """A value a caller may pass to a view; it reaches SQL only as the bind `:name`."""

    name: Identifier
    type: ParameterType
    default: Scalar = None
    min: float | None = None
    max: float | None = None
    choices: tuple[Scalar, ...] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if self.default is not None and not isinstance(self.default, PYTHON_TYPES[self.type]):
            raise ValueError(f"default {self.default!r} is not of type {self.type}")
        if self.default is not None and isinstance(self.default, bool) and self.type != "bool":
            raise ValueError(f"default {self.default!r} is not of type {self.type}")
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError("min/max apply only to int and float parameters")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        for choice in self.choices or ():
            if not isinstance(choice, PYTHON_TYPES[self.type]) or (isinstance(choice, bool) and self.type != "bool"):
                raise ValueError(f"choice {choice!r} is not of type {self.type}")
        if self.choices is not None and self.default is not None and self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not one of the choices {list(self.choices)}")
        return self


@dataclass(frozen=True, config=_strict)
class Feature:
    """One typed output column of a view."""

    name: Identifier
    type: FeatureType
    description: str = ""
    default: Scalar = Field(default=None, description="Value for an entity with no rows (e.g. 0 for a count).")


@dataclass(frozen=True, config=_strict)
class View:
    """A feature view: one SQL template returning one row per entity key, with typed features."""

    name: Identifier
    entity: Identifier
    features: tuple[Feature, ...] = Field(min_length=1)
    parameters: tuple[Parameter, ...] = ()
    sql: str = Field(default="", description="Template file beside the declaration; defaults to <name>.sql.")
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: tuple[Parameter, ...]) -> tuple[Parameter, ...]:
        names = [p.name for p in value]
        for name in names:
            if name in RESERVED_BINDS:
                raise ValueError(f"parameter name {name!r} is reserved: every view gets :{name} built in")
            if names.count(name) > 1:
                raise ValueError(f"duplicate parameter name {name!r}")
        return value

    @field_validator("features")
    @classmethod
    def _feature_names(cls, value: tuple[Feature, ...]) -> tuple[Feature, ...]:
        names = [f.name for f in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"duplicate feature name {name!r}")
        return value

    def feature(self, name: str) -> Feature:
        from ..errors import NotFoundError

        for f in self.features:
            if f.name == name:
                return f
        raise NotFoundError(f"feature of view {self.name!r}", name, [f.name for f in self.features])

    def parameter(self, name: str) -> Parameter:
        from ..errors import NotFoundError

        for p in self.parameters:
            if p.name == name:
                return p
        raise NotFoundError(f"parameter of view {self.name!r}", name, [p.name for p in self.parameters] + ["as_of"])


@dataclass(frozen=True, config=_strict)
class Inference:
    """Inference settings handed to the model (Bedrock Converse inferenceConfig)."""

    max_tokens: int = Field(default=300, ge=1, le=10_000)
    temperature: float = Field(default=0.2, ge=0, le=1)
    top_p: float = Field(default=0.9, ge=0, le=1)
    stop_sequences: tuple[str, ...] = ()


@dataclass(frozen=True, config=_strict)
class Guardrail:
    """An optional Bedrock guardrail applied to the call."""

    identifier: str
    version: str = "DRAFT"
    trace: Literal["enabled", "disabled"] = "disabled"


@dataclass(frozen=True, config=_strict)
class Prompt:
    """A prompt: a Jinja template over feature values, its system text and inference settings."""

    name: Identifier
    views: tuple[Identifier, ...] = Field(min_length=1)
    system: str = Field(min_length=1)
    template: str = Field(default="", description="Prompt template file; defaults to <name>.jinja.")
    offline: str = Field(default="", description="Offline note template file; defaults to <name>.offline.jinja.")
    model: str = "amazon.nova-lite-v1:0"
    inference: Inference = Inference()
    guardrail: Guardrail | None = None
    description: str = ""


KINDS: dict[str, type] = {"tables": Table, "entities": Entity, "views": View, "prompts": Prompt}


def schema() -> dict[str, Any]:
    """The JSON Schema of every declaration kind, keyed by catalog folder."""
    from pydantic import TypeAdapter

    return {folder: TypeAdapter(cls).json_schema() for folder, cls in KINDS.items()}
