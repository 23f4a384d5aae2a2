"""What every `featurekit` command module shares: the consoles and the options that point at a catalog and data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..cache import ENV_CACHE_DIR
from ..catalog import loader as catalog_mod
from ..catalog.loader import ENV_CATALOG, Catalog
from ..engines.duckdb import ENV_DATA

# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

CatalogOpt = Annotated[
    Path | None,
    typer.Option("--catalog", envvar=ENV_CATALOG, help="Catalog folder (default: the shipped catalog)."),
]
DataOpt = Annotated[Path | None, typer.Option("--data", envvar=ENV_DATA, help="Data folder the local tables live in.")]

AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="A date YYYY-MM-DD (the whole day) or a timestamp with offset, 2026-06-30T10:00Z (default: today).",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", envvar=ENV_CACHE_DIR, help="Keep featurekit's cache on disk in this folder."),
]


def load_catalog(path: Path | None) -> Catalog:
    return catalog_mod.load(path)
