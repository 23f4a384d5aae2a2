"""Engines by name: the one place that maps `duckdb`, `athena` and `trino` to their classes (cloud ones lazily)."""

from __future__ import annotations

from typing import Any

from ..catalog.loader import ENGINES
from ..errors import NotFoundError
from .base import Engine


def open_engine(kind: str, **settings: Any) -> Engine:
    """An engine by kind: `duckdb` (default), `athena` or `trino`, with its settings."""
    if kind == "duckdb":
        from .duckdb import DuckDBEngine

        return DuckDBEngine(**settings)
    if kind == "athena":
        from .athena import AthenaEngine

        return AthenaEngine(**settings)
    if kind == "trino":
        from .trino import TrinoEngine

        return TrinoEngine(**settings)
    raise NotFoundError("engine", kind, ENGINES)
