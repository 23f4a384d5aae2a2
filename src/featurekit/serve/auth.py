"""Who may call the feature server: bearer tokens from a file or the environment, optionally scoped to views.

A tokens file has one token a line, optionally followed by the views it may read:

    3f9c...e1  customer_orders customer_profile
    7a21...9b                                      # every view

`FEATUREKIT_TOKENS` holds the same lines, separated by newlines or `;`. Tokens are compared in constant time
against every known token (no early exit), and are never logged: a caller is known by its token's position
("token 2"), which is what limits and logs use.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

ENV_TOKENS = "FEATUREKIT_TOKENS"
ENV_TOKENS_FILE = "FEATUREKIT_TOKENS_FILE"
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: a name safe to log, and the views it may read (None: every view)."""

    name: str
    views: frozenset[str] | None

    def may_read(self, view: str) -> bool:
        return self.views is None or view in self.views


@dataclass(frozen=True)
class Tokens:
    """The accepted tokens; an empty set means authentication is off (only allowed on a loopback bind)."""

    entries: tuple[tuple[bytes, Caller], ...]

    @property
    def enabled(self) -> bool:
        return bool(self.entries)

    def check(self, header: str | None) -> Caller | None:
        """The caller an `Authorization: Bearer ...` header names, or None if it names nobody."""
        if not header:
            return None
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return None
        presented = given.strip().encode()
        match: Caller | None = None
        for token, caller in self.entries:  # every comparison runs, so timing says nothing about which failed
            if hmac.compare_digest(token, presented):
                match = caller
        return match


def parse(lines: Iterable[str], source: str) -> Tokens:
    entries: list[tuple[bytes, Caller]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        token, *views = line.split()
        if len(token) < MIN_TOKEN_LENGTH:
            # Never echo the token itself: the message names where it is, not what it is.
            raise ConfigError("tokens", f"{source}:{number}: a token must be at least {MIN_TOKEN_LENGTH} characters")
        entries.append((token.encode(), Caller(f"token {len(entries) + 1}", frozenset(views) if views else None)))
    return Tokens(tuple(entries))


def load(file: str | os.PathLike[str] | None = None) -> Tokens:
    """Tokens from `file` (or FEATUREKIT_TOKENS_FILE), else from FEATUREKIT_TOKENS, else none."""
    chosen = file or os.environ.get(ENV_TOKENS_FILE)
    if chosen:
        try:
            text = Path(chosen).read_text()
        except OSError as exc:
            raise ConfigError("tokens", f"cannot read {chosen}: {exc.strerror or exc}") from None
        return parse(text.splitlines(), str(chosen))
    value = os.environ.get(ENV_TOKENS, "")
    return parse(value.replace(";", "\n").splitlines(), ENV_TOKENS)
