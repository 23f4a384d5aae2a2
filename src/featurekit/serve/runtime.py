"""How a server process builds itself: settings in, store and app out.

Uvicorn's workers are separate processes that import the app by name, so `featurekit serve` hands its
settings to them in one environment variable (JSON) and each worker calls `app_from_env()`. Tokens are not in
it: each worker reads them from the tokens file or FEATUREKIT_TOKENS itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..cache import FeatureCache
from ..errors import ConfigError
from ..store import FeatureStore
from . import auth
from .http import Limits, create_app

ENV_SETTINGS = "FEATUREKIT_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    catalog: str | None = None
    data: str | None = None
    engine: str = "duckdb"
    redis: str | None = None
    cache_ttl: float = 300.0
    tokens_file: str | None = None
    provider: str = "offline"
    mcp: bool = True
    limits: Limits = field(default_factory=Limits)
    file_check_interval: float = 0.0

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeSettings:
        raw = os.environ.get(ENV_SETTINGS)
        if not raw:
            raise ConfigError(ENV_SETTINGS, "not set; start the server with `featurekit serve`")
        values = json.loads(raw)
        return cls(**{**values, "limits": Limits(**values["limits"])})


def open_store(settings: ServeSettings) -> FeatureStore:
    """The store a server process answers from; with `redis`, its cache is shared by every worker."""
    cache: FeatureCache | bool = True
    if settings.redis:
        from ..cache_redis import RedisTier

        cache = FeatureCache(ttl=settings.cache_ttl, tier=RedisTier(settings.redis))
    if settings.engine != "duckdb":
        return FeatureStore(settings.catalog, engine=settings.engine, cache=cache)
    return FeatureStore(
        settings.catalog, data=settings.data, cache=cache, file_check_interval=settings.file_check_interval
    )


def build_app(settings: ServeSettings) -> Any:
    store = open_store(settings)
    tokens = auth.load(settings.tokens_file)
    if not settings.mcp:
        return create_app(store, tokens=tokens, limits=settings.limits, provider=settings.provider)
    from .mcp import mounted

    routes, lifespan = mounted(store)
    return create_app(
        store,
        tokens=tokens,
        limits=settings.limits,
        provider=settings.provider,
        extra_routes=routes,
        lifespan=lifespan,
    )


def app_from_env() -> Any:
    """Uvicorn factory (`featurekit.serve.runtime:app_from_env`) for each worker process."""
    return build_app(ServeSettings.from_env())
