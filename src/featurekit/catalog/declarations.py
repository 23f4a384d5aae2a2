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
FeatureType = Literal["int", "float", "decimal", "date", "timestamp", "timestamptz", "string", "bool"]
ParameterType = Literal["int", "float", "date", "string", "bool"]
Scalar = bool | int | float | str | dt.date | None
#: Binds every view has without declaring them (catalog.BUILTIN_BINDS); no parameter may take their names.
RESERVED_BINDS = ("entity_ids", "as_of", "as_of_time")

_strict = ConfigDict(extra="forbid")

#: A feature's unit, which the grounding check uses to decide which written numbers may cite it.
Unit = Literal["count", "money", "share", "percent"]
UNIT_TYPES: dict[str, tuple[str, ...]] = {
    "count": ("int",),
    "money": ("int", "float", "decimal"),
    "share": ("float", "decimal"),
    "percent": ("int", "float", "decimal"),
}
#: Characters of a string feature shown to a model unless the feature declares `max_length`.
DEFAULT_MAX_LENGTH = 200
MAX_STRING_LENGTH = 10_000

#: Python types a declared type accepts (bool is not an int here, on purpose).
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (float, int),
    "decimal": (Decimal, float, int),
    "date": (dt.date,),
    "timestamp": (dt.datetime,),
    "timestamptz": (dt.datetime,),
    "string": (str,),
    "bool": (bool,),
}


@dataclass(frozen=True, config=_strict)
class Column:
    """One column of a declared table."""

    name: Identifier
    type: FeatureType
    description: str = ""


#: How a table's files are laid out in time, from its `partitioned_by` (see Table.layout).
Layout = Literal["none", "day", "date", "ymd_int", "ymd_string"]
LAYOUTS_HELP = (
    "partitioned_by must be empty, one date column, one string column holding 'YYYY-MM-DD' (e.g. dt), "
    "or year, month, day (all int, or all zero-padded strings)"
)


@dataclass(frozen=True, config=_strict)
class Table:
    """A data source: files in a folder (local) or under an S3 prefix (Athena), or one local file."""

    name: Identifier
    columns: tuple[Column, ...] = Field(min_length=1)
    path: str = Field(
        default="",
        description="Folder of the table's files (or one file), relative to the data root of the profile "
        "(--data locally, data_root on Athena), or absolute (s3://... or /...). Defaults to the table name.",
    )
    format: Literal["json", "parquet", "csv", "auto"] = Field(
        default="json", description="File format; `auto` detects it from the files present (locally)."
    )
    partitioned_by: tuple[Column, ...] = Field(default=(), description=LAYOUTS_HELP + ".")
    partition_start: dt.date | None = Field(
        default=None,
        description="First day of the partitions: Athena's partition projection starts here "
        "(default: three years before today). A window reaching before it is an error, not a short answer.",
    )
    on_schema_mismatch: Literal["error", "warn"] = Field(
        default="error",
        description="Local JSON/CSV files whose rows lack a declared column or carry undeclared ones: "
        "`error` (a DataError naming the file) or `warn` (one warning counting the files; missing values are NULL).",
    )
    description: str = ""

    @model_validator(mode="after")
    def _known_layout(self) -> Table:
        self.layout  # noqa: B018  # raises for a partitioning no engine can prune
        return self

    @property
    def folder(self) -> str:
        return self.path or self.name

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.partitioned_by

    @property
    def layout(self) -> Layout:
        """The time layout of the partitions: what `window()` prunes by and Athena projects."""
        parts = self.partitioned_by
        if not parts:
            return "none"
        if len(parts) == 1 and parts[0].type == "date":
            return "date"
        if len(parts) == 1 and parts[0].type == "string":
            return "day"
        types = {c.type for c in parts}
        if [c.name for c in parts] == ["year", "month", "day"] and len(types) == 1:
            if types == {"int"}:
                return "ymd_int"
            if types == {"string"}:
                return "ymd_string"
        raise ValueError(f"{LAYOUTS_HELP}; got {[f'{c.name} {c.type}' for c in parts]}")


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
    unit: Unit | None = Field(
        default=None,
        description=(
            "What a number means, for the grounding check: count, money, share (0-1, cited as a percent) or "
            "percent (already x100). Undeclared: int is a count, float/decimal a plain amount (never a percent)."
        ),
    )
    max_length: int | None = Field(
        default=None,
        ge=1,
        le=MAX_STRING_LENGTH,
        description=f"String features: characters shown to a model (default {DEFAULT_MAX_LENGTH}); the rest is cut.",
    )

    @model_validator(mode="after")
    def _unit_fits_type(self) -> Feature:
        if self.unit is not None and self.type not in UNIT_TYPES[self.unit]:
            raise ValueError(f"unit {self.unit} applies to {'/'.join(UNIT_TYPES[self.unit])} features, not {self.type}")
        if self.max_length is not None and self.type != "string":
            raise ValueError(f"max_length applies to string features, not {self.type}")
        return self


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
