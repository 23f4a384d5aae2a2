"""What every `featurekit` command module shares: the consoles and the options that point at a catalog and data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .catalog import ENV_CATALOG
from .engines import ENV_DATA

# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

CatalogOpt = Annotated[
    Path | None,
    typer.Option("--catalog", envvar=ENV_CATALOG, help="Catalog folder (default: the shipped catalog)."),
]
DataOpt = Annotated[Path | None, typer.Option("--data", envvar=ENV_DATA, help="Data folder the local tables live in.")]
