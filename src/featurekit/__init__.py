"""featurekit: grounded facts for LLM features, from SQL over files (DuckDB locally, Athena on S3)."""

from __future__ import annotations

from .athena import AthenaEngine
from .bedrock import BedrockProvider
from .cache import CacheStats, FeatureCache
from .catalog import Catalog, load
from .engines import DuckDBEngine, QueryStats
from .errors import (
    ConfigError,
    CostLimitExceeded,
    DataError,
    DeclarationError,
    FeaturekitError,
    InputError,
    InvalidEntityId,
    LLMError,
    NotFoundError,
    QueryError,
    QueryThrottled,
    QueryTimeout,
    TemplateError,
)
from .grounding import GroundingReport
from .llm import Completion, OfflineProvider
from .notes import Note, Partial
from .prompts import RenderedPrompt
from .render import RenderedQuery
from .results import FeatureFrame, FeatureRow, Provenance
from .store import DryRun, FeatureStore
from .tools import ask, tool_config

__version__ = "0.1.0"

__all__ = [
    "AthenaEngine",
    "BedrockProvider",
    "CacheStats",
    "Catalog",
    "Completion",
    "ConfigError",
    "CostLimitExceeded",
    "DataError",
    "DeclarationError",
    "DryRun",
    "DuckDBEngine",
    "FeatureCache",
    "FeatureFrame",
    "FeatureRow",
    "FeatureStore",
    "FeaturekitError",
    "GroundingReport",
    "InputError",
    "InvalidEntityId",
    "LLMError",
    "NotFoundError",
    "Note",
    "OfflineProvider",
    "Partial",
    "Provenance",
    "QueryError",
    "QueryStats",
    "QueryThrottled",
    "QueryTimeout",
    "RenderedPrompt",
    "RenderedQuery",
    "TemplateError",
    "ask",
    "load",
    "tool_config",
]
