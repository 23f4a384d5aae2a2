"""The local files behind a declared table, found and checked as Athena would read them.

Athena skips files and folders whose names start with `_` or `.` (`_SUCCESS`, `.part.crc`, macOS `._x.json`);
so do we. A partition folder that does not parse as the declared layout (`dt=20260620/`) is a DataError, not
a folder quietly left out; so is a JSON or CSV file whose rows lack a declared column or carry an undeclared
one (or, under `on_schema_mismatch: warn`, one warning counting such files).
"""

from __future__ import annotations

import csv
import hashlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..catalog.declarations import Table
from ..catalog.layouts import parse_partition
from ..errors import DataError

SUFFIXES = {"json": (".json", ".jsonl"), "csv": (".csv",), "parquet": (".parquet",)}


class SchemaMismatchWarning(UserWarning):
    """Files of a table (declared `on_schema_mismatch: warn`) whose columns differ from the declaration."""


@dataclass(frozen=True)
class Files:
    """What a table reads: its format (resolved from `auto`), its files, and their fingerprint."""

    format: str
    paths: tuple[Path, ...]
    fingerprint: Fingerprint


#: (path, size, mtime, ctime, inode) of each visible file: a file rewritten with the same size and mtime (a copy
#: that keeps times, `touch -d`) still changes its ctime or inode.
Fingerprint = tuple[tuple[str, int, int, int, int], ...]


def scan(table: Table, place: Path) -> Fingerprint:
    """The Fingerprint of every visible file at `place` (a folder or one file), one `stat` each and no reads:
    cheap enough to run before every query, so a new, changed or removed file is seen by the next one."""
    if place.is_file():
        st = place.stat()
        return ((str(place), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino),)
    if not place.is_dir():
        raise DataError(f"table {table.name!r}: data folder {place} does not exist")
    return tuple(sorted(_walk(str(place))))


def digest(scanned: Fingerprint, table: Table) -> str:
    """A short digest of a Fingerprint (and of the declaration it is read with), for cache keys
    (identity.cache_prefix)."""
    return hashlib.sha256(repr((table, scanned)).encode()).hexdigest()[:32]


def _walk(folder: str) -> Iterator[tuple[str, int, int, int, int]]:
    # os.scandir with strings: DirEntry caches the type and stat, several times faster than Path.rglob.
    # A folder or file removed while we list (a writer replacing a partition) is simply not there: the list
    # is the state after the removal (the table's own folder gone too: find() then says it has no files).
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith(("_", ".")):  # Athena skips these: _SUCCESS, .crc, ._x.json, _temporary/
                    continue
                if entry.is_dir():
                    yield from _walk(entry.path)
                elif entry.is_file():
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    yield entry.path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino
    except FileNotFoundError:
        return


def find(table: Table, place: Path, scanned: Fingerprint) -> Files:
    """The files `table` reads from `scan()`'s list: format resolved from `auto`, partition folders checked."""
    candidates = [Path(entry[0]) for entry in scanned]
    fmt: str = table.format
    if fmt == "auto":
        found = {f for f, suffixes in SUFFIXES.items() if any(p.name.endswith(suffixes) for p in candidates)}
        if len(found) != 1:
            what = "no .json, .csv or .parquet files" if not found else f"files of several formats ({sorted(found)})"
            raise DataError(f"table {table.name!r} (format auto): {place} has {what}")
        fmt = found.pop()
    paths = tuple(p for p in candidates if p.name.endswith(SUFFIXES[fmt]))
    if not paths:
        raise DataError(f"table {table.name!r}: data folder {place} has no *{SUFFIXES[fmt][0]} files")
    if place.is_dir() and table.partitioned_by:
        for path in paths:
            _check_partition(table, place, path)
    return Files(fmt, paths, scanned)


def _check_partition(table: Table, root: Path, path: Path) -> None:
    folders = path.relative_to(root).parts[:-1]
    values = dict(part.split("=", 1) for part in folders if "=" in part)
    if len(values) != len(folders) or parse_partition(table, values) is None:
        want = "/".join(f"{c.name}=<{c.type}>" for c in table.partitioned_by)
        raise DataError(
            f"table {table.name!r}: partition folder {path.parent} does not parse as {want} "
            f"({table.layout} layout); rename it or fix the declaration"
        )


def check_columns(table: Table, files: Files, keys_of: Callable[[Sequence[Path]], dict[Path, list[set[str]]]]) -> None:
    """Compare the column names of each file's rows with the declared ones (`keys_of` reads them for JSON)."""
    if files.format == "parquet":
        return  # Parquet carries its own schema; DuckDB reports a missing column when the view is created
    declared = {c.name for c in table.columns}
    headers = {p: _csv_header(table, p) for p in files.paths} if files.format == "csv" else {}
    found = keys_of(files.paths) if files.format == "json" else {p: [set(h)] for p, h in headers.items()}
    bad: dict[Path, tuple[set[str], set[str]]] = {}
    for path, key_sets in found.items():
        lacks = declared - set[str].intersection(*key_sets)
        extra = set[str].union(*key_sets) - declared
        if lacks or extra:
            bad[path] = (lacks, extra)
    order = [c.name for c in table.columns]
    for path, header in sorted(headers.items()):
        if path not in bad and header != order:  # DuckDB would match names; Athena's SerDe matches positions
            raise DataError(
                f"table {table.name!r}: {path} has its columns in another order ({', '.join(header)}) than "
                f"declared ({', '.join(order)}); Athena reads CSV columns by position"
            )
    if not bad:
        return
    path, (lacks, extra) = min(bad.items())
    parts = ([f"lacks {sorted(lacks)}"] if lacks else []) + ([f"has undeclared {sorted(extra)}"] if extra else [])
    message = f"table {table.name!r}: {path} {' and '.join(parts)}"
    if table.on_schema_mismatch == "error":
        raise DataError(f"{message} (declare the columns, or set on_schema_mismatch: warn to read NULLs)")
    warnings.warn(f"{message}; {len(bad)} of {len(files.paths)} files differ", SchemaMismatchWarning, stacklevel=2)


def _csv_header(table: Table, path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f), [])
    except UnicodeDecodeError as exc:
        raise DataError(f"table {table.name!r}: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
