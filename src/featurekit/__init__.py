"""featurekit: grounded facts for LLM features, from SQL over files (DuckDB locally, Athena on S3)."""

from __future__ import annotations

from .cache import CacheStats, FeatureCache
from .catalog import Catalog, load
from .engines import DuckDBEngine, QueryStats
from .errors import (
    ConfigError,
    DataError,
    DeclarationError,
    FeaturekitError,
    InputError,
    InvalidEntityId,
    LLMError,
    NotFoundError,
    QueryError,
    QueryTimeout,
    TemplateError,
)
from .llm import Completion, OfflineProvider
from .notes import Note
from .prompts import RenderedPrompt
from .render import RenderedQuery
from .results import FeatureFrame, FeatureRow, Provenance
from .store import FeatureStore

__version__ = "0.1.0"

__all__ = [
    "CacheStats",
    "Catalog",
    "Completion",
    "ConfigError",
    "DataError",
    "DeclarationError",
    "DuckDBEngine",
    "FeatureCache",
    "FeatureFrame",
    "FeatureRow",
    "FeatureStore",
    "FeaturekitError",
    "InputError",
    "InvalidEntityId",
    "LLMError",
    "NotFoundError",
    "Note",
    "OfflineProvider",
    "Provenance",
    "QueryError",
    "QueryStats",
    "QueryTimeout",
    "RenderedPrompt",
    "RenderedQuery",
    "TemplateError",
    "load",
]
