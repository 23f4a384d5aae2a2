"""Engine settings and profiles: explicit arguments > a profile file > environment variables > defaults.

A profile file is YAML, `featurekit.yaml` in the current directory, or the file named by
`--profile-file` / `FEATUREKIT_PROFILE_FILE`. It holds named profiles, each with an `engine`
and that engine's settings; `default:` names the profile used when none is asked for
(`--profile` / `FEATUREKIT_PROFILE` choose another):

    default: prod
    profiles:
      prod:
        engine: athena
        region: eu-west-1
        workgroup: featurekit
        s3_staging_dir: s3://my-athena-results/featurekit/
        schema: features
        data_root: s3://my-data-lake/shop/
      local:
        engine: duckdb
        data: ./data

Environment variables are `FEATUREKIT_ATHENA_<SETTING>` / `FEATUREKIT_TRINO_<SETTING>` /
`FEATUREKIT_BEDROCK_<SETTING>` (upper case), plus the standard `AWS_REGION` / `AWS_DEFAULT_REGION`
for a region.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from .catalog.loader import ENGINES
from .errors import ConfigError, NotFoundError

ENV_PROFILE = "FEATUREKIT_PROFILE"
ENV_PROFILE_FILE = "FEATUREKIT_PROFILE_FILE"
PROFILE_FILE_NAMES = ("featurekit.yaml", "featurekit.yml")


class AthenaSettings(BaseModel):
    """Everything the Athena engine needs; each field's default is what you get when nobody sets it."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    region: str | None = Field(None, description="AWS region; falls back to AWS_REGION / AWS_DEFAULT_REGION.")
    workgroup: str = Field("primary", description="Athena workgroup (engine v3 for result reuse).")
    s3_staging_dir: str | None = Field(
        None, description="Result location, s3://bucket/prefix/. Required unless the workgroup sets one."
    )
    result_encryption: Literal["SSE_S3", "SSE_KMS", "CSE_KMS"] | None = Field(
        None, description="Encryption of query results in S3."
    )
    kms_key: str | None = Field(None, description="KMS key ARN or ID, required for SSE_KMS / CSE_KMS.")
    schema_name: str = Field("default", alias="schema", description="Glue database the tables live in.")
    # Not `catalog`: FeatureStore(catalog=...) already means the feature catalog folder.
    data_catalog: str = Field("awsdatacatalog", description="Athena data catalog (Glue: awsdatacatalog).")
    data_root: str | None = Field(
        None, description="s3:// prefix that relative table paths resolve against (DDL, CTAS)."
    )
    poll_interval: float = Field(0.5, gt=0, description="Seconds between GetQueryExecution polls.")
    kill_on_interrupt: bool = Field(True, description="Stop the query on the server on Ctrl-C.")
    query_timeout: float | None = Field(
        300.0,
        description="Seconds before a query is stopped (StopQueryExecution) and QueryTimeout raised; "
        "0 or null for none.",
    )
    retry_attempts: int = Field(5, ge=1, le=20, description="Attempts per API call on throttling, first included.")
    retry_multiplier: float = Field(0.5, gt=0, description="Backoff multiplier in seconds (exponential, jittered).")
    retry_max_delay: float = Field(20.0, gt=0, description="Longest wait between two attempts, in seconds.")
    result_reuse: bool = Field(True, description="Athena query result reuse (engine v3).")
    result_reuse_minutes: int = Field(60, ge=1, le=10080, description="Max age of a reused result (7 days max).")
    cursor_cache_size: int = Field(
        0, ge=0, description="PyAthena cursor cache: recent executions searched for identical SQL (0 = off)."
    )
    cursor_cache_expiration: int = Field(
        3600, ge=0, description="PyAthena cursor cache: max age in seconds of a reused execution."
    )
    driver: Literal["rest", "arrow"] = Field(
        "rest", description="rest: GetQueryResults (small results); arrow: read the result file from S3."
    )
    aws_profile: str | None = Field(None, description="Named AWS profile for credentials (else the default chain).")
    endpoint_url: str | None = Field(None, description="Athena endpoint override (tests, VPC endpoints).")
    log_parameter_values: bool = Field(
        True,
        description="Write bound parameter values (not entity IDs) in the one log line per query; "
        "false logs only their names (params=label=<redacted>,...). PyAthena itself logs the query text, "
        "values included, at DEBUG on the `pyathena` logger: keep that logger at INFO or above.",
    )
    max_bytes_per_query: int | None = Field(
        None,
        ge=1,
        description="Cost guard: a query that has scanned more bytes is stopped (StopQueryExecution) and "
        "CostLimitExceeded raised. Athena enforces the workgroup's BytesScannedCutoffPerQuery itself; set both.",
    )
    max_bytes_per_session: int | None = Field(
        None,
        ge=1,
        description="Cost guard: once this engine's queries have scanned this many bytes in total, a running "
        "query is stopped and no new one starts (CostLimitExceeded).",
    )

    @model_validator(mode="after")
    def _check(self) -> AthenaSettings:
        if self.result_encryption in ("SSE_KMS", "CSE_KMS") and not self.kms_key:
            raise ValueError(f"kms_key: result_encryption {self.result_encryption} needs a KMS key")
        if self.s3_staging_dir is not None and not self.s3_staging_dir.startswith("s3://"):
            raise ValueError(f"s3_staging_dir: {self.s3_staging_dir!r} is not an s3:// URL")
        if self.data_root is not None and not self.data_root.startswith("s3://"):
            raise ValueError(f"data_root: {self.data_root!r} is not an s3:// prefix")
        return self


class TrinoSettings(BaseModel):
    """A self-hosted Trino cluster reached through the `trino` SQLAlchemy dialect."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

    host: str | None = Field(None, description="Coordinator host name.")
    port: int = Field(8080, description="Coordinator port (443 behind TLS).")
    user: str = Field("featurekit", description="Trino user the queries run as.")
    data_catalog: str = Field("hive", description="Trino catalog holding the tables (not `catalog`, see Athena).")
    schema_name: str = Field("default", alias="schema", description="Schema holding the tables.")
    http_scheme: Literal["http", "https"] = Field("http", description="http or https.")
    auth: Literal["none", "basic", "jwt"] = Field("none", description="Authentication method.")
    password: SecretStr | None = Field(None, description="Password for basic auth (never logged).")
    jwt_token: SecretStr | None = Field(None, description="Token for JWT auth (never logged).")
    verify: bool | str = Field(True, description="TLS verification: true, false, or a CA bundle path.")
    query_timeout: float | None = Field(300.0, description="Seconds before the client gives up on a query.")
    source: str = Field("featurekit", description="Client source name shown in the Trino UI.")
    data_root: str | None = Field(None, description="Prefix that relative table paths resolve against (DDL).")

    @model_validator(mode="after")
    def _check(self) -> TrinoSettings:
        if self.auth == "basic" and (self.password is None or self.http_scheme != "https"):
            raise ValueError("password: basic auth needs a password and http_scheme https")
        if self.auth == "jwt" and self.jwt_token is None:
            raise ValueError("jwt_token: jwt auth needs a token")
        return self


class BedrockSettings(BaseModel):
    """Where notes are written by a Bedrock model; `model` overrides the prompt's declared model when set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field("us-east-1", description="AWS region; falls back to AWS_REGION / AWS_DEFAULT_REGION.")
    profile: str | None = Field(None, description="Named AWS profile for credentials (else the default chain).")
    endpoint_url: str | None = Field(None, description="bedrock-runtime endpoint override (tests, VPC endpoints).")
    model: str | None = Field(None, description="Model or inference profile ID, overriding the prompt's.")
    max_attempts: int = Field(3, ge=1, le=20, description="Requests per call, first included (standard retry mode).")
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the model's answer.")


SETTINGS_MODELS: dict[str, type[BaseModel]] = {
    "athena": AthenaSettings,
    "trino": TrinoSettings,
    "bedrock": BedrockSettings,
}


@dataclass(frozen=True)
class Profile:
    """A named profile from a profile file: which engine, with which settings."""

    name: str
    engine: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    file: Path | None = None


def profile_file(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The profile file in use: explicit path, then $FEATUREKIT_PROFILE_FILE, then ./featurekit.yaml (if any)."""
    chosen = path or os.environ.get(ENV_PROFILE_FILE)
    if chosen:
        file = Path(chosen).expanduser()
        if not file.is_file():
            raise ConfigError("profile_file", f"{file} does not exist")
        return file
    for name in PROFILE_FILE_NAMES:
        if Path(name).is_file():
            return Path(name)
    return None


def load_profile(name: str | None = None, path: str | os.PathLike[str] | None = None) -> Profile | None:
    """A profile by name (or $FEATUREKIT_PROFILE, or the file's `default:`); None when there is no profile file."""
    file = profile_file(path)
    name = name or os.environ.get(ENV_PROFILE)
    if file is None:
        if name:
            raise ConfigError(
                "profile", f"profile {name!r} asked for but no featurekit.yaml found (set --profile-file)"
            )
        return None
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError("profile_file", f"{file}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    profiles = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(profiles, dict):
        raise ConfigError("profile_file", f"{file}: expected a 'profiles:' mapping of named profiles")
    name = name or data.get("default")
    if name is None:
        return None
    if name not in profiles:
        raise NotFoundError("profile", str(name), profiles)
    body = dict(profiles[name] or {})
    engine = body.pop("engine", None)
    if engine not in ENGINES:
        raise ConfigError(f"profiles.{name}.engine", f"must be one of {', '.join(ENGINES)} (got {engine!r})")
    return Profile(str(name), engine, body, file)


def _env_settings(kind: str) -> dict[str, Any]:
    model = SETTINGS_MODELS[kind]
    found: dict[str, Any] = {}
    for fname, info in model.model_fields.items():
        key = info.alias or fname
        value = os.environ.get(f"FEATUREKIT_{kind.upper()}_{key.upper()}")
        if value is not None:
            found[key] = None if value.lower() in ("", "none", "null") and fname in _NULLABLE[kind] else value
    if "region" in model.model_fields and "region" not in found:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region:
            found["region"] = region
    return found


def _nullable(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(n for n, f in model.model_fields.items() if type(None) in typing.get_args(f.annotation))


_NULLABLE = {kind: _nullable(model) for kind, model in SETTINGS_MODELS.items()}


def resolve(
    kind: str,
    explicit: Mapping[str, Any] | None = None,
    *,
    profile: str | None = None,
    profile_path: str | os.PathLike[str] | None = None,
) -> BaseModel:
    """Settings of engine `kind`: explicit arguments > the profile > environment variables > defaults."""
    model = SETTINGS_MODELS[kind]
    merged: dict[str, Any] = _env_settings(kind)
    # Profiles name an engine; a provider such as bedrock takes its settings from arguments and environment.
    chosen = load_profile(profile, profile_path) if kind in ENGINES else None
    if chosen is not None:
        if chosen.engine != kind:
            if profile or os.environ.get(ENV_PROFILE):
                raise ConfigError("profile", f"profile {chosen.name!r} is for engine {chosen.engine}, not {kind}")
        else:
            merged.update(chosen.settings)
    merged.update({k: v for k, v in (explicit or {}).items() if v is not None})
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if ": " in message and not loc:
            loc, message = message.split(": ", 1)
        if first["type"] == "extra_forbidden":
            raise NotFoundError(f"{kind} setting", loc, [f.alias or n for n, f in model.model_fields.items()]) from None
        raise ConfigError(loc or kind, message) from None
