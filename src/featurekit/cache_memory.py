"""How the in-process cache keeps one prefix's entries: fills that are indexed only when a lookup reads them.

A fetch's values are stored as they came (a `Fill`) and paired with their IDs by the first lookup that
reads the prefix (`Shelf.index`), so storing a 1,000,000-entity batch costs no per-ID work and a batch
nobody reads back never costs any. The locking and the policy (TTL, eviction, single flight) are cache.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

#: Makes a fill's (ID, value) pairs, or a mapping of them: what dict.update takes.
Source = Callable[[], Iterable[tuple[Hashable, Any]] | Mapping[Hashable, Any]]


@dataclass(eq=False)
class Fill:
    """The entries one fetch stored: they share an expiry and a share of what the fetch cost."""

    ids: Sequence[Hashable]
    expires: float
    saved_bytes: float
    saved_usd: float
    nbytes: int
    #: (ID, value) pairs, or a mapping, until the first lookup that reads the shelf indexes the fill.
    source: Source | None = None


@dataclass(eq=False)
class Shelf:
    """One prefix's entries: its value and its fill per ID (two flat dicts, no tuple per entry).

    A new fill waits in `pending` and is indexed by the first lookup that reads the shelf: storing a
    1,000,000-entity batch costs no per-ID work, and a batch nobody reads back never costs any.
    """

    values: dict[Hashable, Any] = field(default_factory=dict)
    fills: dict[Hashable, Fill] = field(default_factory=dict)
    pending: list[Fill] = field(default_factory=list)

    def index(self) -> None:
        """Index the pending fills, oldest first, so a newer fill's value wins (lock held).

        A fill whose values cannot be made (its `rows` raise, or give more or fewer values than IDs) raises once,
        here, and is dropped with whatever it half wrote: failures are not cached, the next read fetches again."""
        while self.pending:
            fill = self.pending[0]
            assert fill.source is not None
            try:
                self.values.update(fill.source())
            except BaseException:
                for entity_id in fill.ids:
                    self.values.pop(entity_id, None)
                    self.fills.pop(entity_id, None)
                fill.ids, fill.source = (), None  # eviction then only takes its bytes off
                del self.pending[0]
                raise
            self.fills.update(dict.fromkeys(fill.ids, fill))
            fill.source = None
            del self.pending[0]

    def size(self) -> int:
        """Entries, counting a pending fill's IDs as new: exact once indexed, never an undercount."""
        return len(self.values) + sum(len(f.ids) for f in self.pending)


@dataclass(eq=False)
class Flight:
    """One running fetch: the IDs it was given and the future its waiters share."""

    ids: Sequence[Hashable]
    future: Future[Mapping[Hashable, Any]] = field(default_factory=Future)
    _members: set[Hashable] | None = None

    def __contains__(self, entity_id: Hashable) -> bool:
        # Built only when another lookup of the same prefix asks (lock held): a lone batch never pays for it.
        if self._members is None:
            self._members = set(self.ids)
        return entity_id in self._members


class Later(Mapping[Hashable, Any]):
    """The values of a fetch as a dict, made only if the caller reads them."""

    def __init__(self, make: Callable[[], dict[Hashable, Any]]) -> None:
        self._make: Callable[[], dict[Hashable, Any]] | None = make
        self._made: dict[Hashable, Any] = {}

    def _dict(self) -> dict[Hashable, Any]:
        # Waiters on one fetch read it from several threads: at worst two build the same dict, none sees half.
        make = self._make
        if make is not None:
            self._made = make()
            self._make = None
        return self._made

    def __getitem__(self, key: Hashable) -> Any:
        return self._dict()[key]

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())


def pairs(ids: list[Hashable], rows: Callable[[], Iterable[Any]] | None, values: Mapping[Hashable, Any]) -> Source:
    """The (ID, value) pairs of a fetch of `ids`, made when asked for: from `rows` (one per ID, in order) if the
    fetch gave them, else from `values`."""
    if rows is not None:
        return lambda: zip(ids, rows(), strict=True)
    if len(values) != len(ids):  # a fetch may return more than it was asked for: keep only what was
        values = {i: values[i] for i in ids}
    return lambda: values
