"""featurekit: grounded facts for LLM features, from SQL over files (DuckDB locally, Athena on S3).

The public names below load on first use, so `import featurekit` stays fast and loads no cloud
SDK, SQLAlchemy dialect or settings model until a name that needs one is touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module (under featurekit) that defines it.
_EXPORTS = {
    "ask": "llm.tools",
    "AthenaEngine": "engines.athena",
    "BedrockProvider": "llm.bedrock",
    "CacheStats": "cache",
    "Catalog": "catalog.loader",
    "Completion": "llm.providers",
    "ConfigError": "errors",
    "CostLimitExceeded": "errors",
    "DataError": "errors",
    "DeclarationError": "errors",
    "DryRun": "engines.estimate",
    "DuckDBEngine": "engines.duckdb",
    "FeatureCache": "cache",
    "FeatureFrame": "results",
    "FeaturekitError": "errors",
    "FeatureRow": "results",
    "FeatureStore": "store",
    "GroundingReport": "llm.grounding",
    "InputError": "errors",
    "InvalidEntityId": "errors",
    "LLMError": "errors",
    "load": "catalog.loader",
    "Note": "llm.notes",
    "NotFoundError": "errors",
    "OfflineProvider": "llm.providers",
    "Partial": "llm.notes",
    "Provenance": "results",
    "QueryError": "errors",
    "QueryStats": "engines.base",
    "QueryThrottled": "errors",
    "QueryTimeout": "errors",
    "RenderedPrompt": "llm.prompts",
    "RenderedQuery": "render",
    "TemplateError": "errors",
    "tool_config": "llm.tools",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'featurekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # the same names, eagerly, for type checkers and editors
    from .engines.athena import AthenaEngine
    from .engines.base import QueryStats
    from .engines.duckdb import DuckDBEngine
    from .engines.estimate import DryRun
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
    from .llm.bedrock import BedrockProvider
    from .llm.grounding import GroundingReport
    from .llm.notes import Note, Partial
    from .llm.prompts import RenderedPrompt
    from .llm.providers import Completion, OfflineProvider
    from .llm.tools import ask, tool_config
    from .render import RenderedQuery
    from .results import FeatureFrame, FeatureRow, Provenance
    from .store import FeatureStore

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
