"""What every `featurekit` command module shares: the consoles and the options that point at a catalog and data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console

from ..cache import ENV_CACHE_DIR
from ..catalog import loader as catalog_mod
from ..catalog.loader import ENV_CATALOG, Catalog
from ..engines.duckdb import ENV_DATA
from ..errors import ConfigError


def _flag_type(self: typer.core.TyperOption, ctx: Any) -> str | None:
    """Help shows no value type for a flag: `--no-cache` takes no value, so `<bool>` would mislead."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


# Piped output (CI logs, files) gets a wide table instead of rich's 80-column default.
class ReaderGone(Exception):
    """stdout's reader closed the pipe (`featurekit list | head -1`); main() ends quietly with exit 0."""


class _Stdout:
    """The current sys.stdout (tests swap it), with a closed pipe raised as ReaderGone: typer turns an
    OSError into exit 1, and a reader that has what it wanted is not an error."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except BrokenPipeError:
            raise ReaderGone from None

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise ReaderGone from None

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stdout, name)


out = Console(file=_Stdout(), highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)  # type: ignore[arg-type]
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
RedisOpt = Annotated[
    str | None, typer.Option("--redis", envvar="FEATUREKIT_REDIS_URL", help="Redis URL of the shared cache.")
]


def load_catalog(path: Path | None) -> Catalog:
    return catalog_mod.load(path)


def need_extra(setting: str, extra: str, *modules: str) -> None:
    """A ConfigError naming the pip extra to install when one of `modules` is not there (none is imported)."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            raise ConfigError(setting, f"needs the {extra} extra: pip install 'featurekit[{extra}]' ({name} missing)")
