"""`--ids-from`: entity IDs from a file or stdin, read the way people keep ID lists.

A plain list has one ID per line; blank lines and `# comments` are skipped, and a first line naming the column
(the entity's key, `id` or `ids`) is a header. With `--ids-column NAME` the file is a table instead: CSV with a
header line, or Parquet (by its `.parquet` suffix). A line that is not an ID matching the entity's pattern is
reported by its line number.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..catalog.declarations import Entity
from ..errors import InputError

IdsFromOpt = Annotated[
    Path | None,
    typer.Option(
        "--ids-from",
        help="Read more IDs from a file ('-' for stdin): one per line, # comments, blank lines and a header skipped.",
    ),
]
IdsColumnOpt = Annotated[
    str | None,
    typer.Option(
        "--ids-column", help="Read --ids-from as a CSV (or .parquet) table and take the IDs from this column."
    ),
]
#: Header words accepted on the first line of a plain list, beside the entity's key.
HEADERS = ("id", "ids")


def decode(raw: bytes, source: Path) -> str:
    """The text of an --ids-from file (the one place its bytes are decoded): UTF-8 with or without a BOM
    (editors on Windows add one); anything else is one error naming the line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError("--ids-from", f"{source}:{line}: not UTF-8 text (byte {exc.start})") from None


def _read_bytes(source: Path) -> bytes:
    try:
        return sys.stdin.buffer.read() if str(source) == "-" else source.read_bytes()
    except OSError as exc:
        raise InputError("--ids-from", f"cannot read {source}: {exc.strerror or exc}") from None


def _column(source: Path, column: str) -> list[tuple[int, str]]:
    """(line, value) of one column of a CSV or Parquet file; Parquet "lines" are rows, counted from 1."""
    if source.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(source)
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise InputError("--ids-from", f"{source}: not a readable Parquet file: {exc}") from None
        if column not in table.column_names:
            raise InputError(
                "--ids-column", f"{source} has no column {column!r}; it has {', '.join(table.column_names)}"
            )
        return [(i, "" if v is None else str(v)) for i, v in enumerate(table[column].to_pylist(), start=1)]
    reader = csv.reader(io.StringIO(decode(_read_bytes(source), source)))
    header = next(reader, [])
    if column not in header:
        raise InputError("--ids-column", f"{source}: line 1 has no column {column!r}; it has {', '.join(header)}")
    at = header.index(column)
    return [(reader.line_num, row[at].strip() if at < len(row) else "") for row in reader if any(row)]


def _lines(source: Path, entity: Entity) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for number, line in enumerate(decode(_read_bytes(source), source).splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not found and text.lower() in (entity.key.lower(), *HEADERS):
            continue  # a header line naming the column
        found.append((number, text))
    return found


def read_ids(
    ids: list[str] | None, source: Path | None, column: str | None, entity: Entity, *, check: bool = True
) -> list[str]:
    """IDs from the arguments and --ids-from; with `check`, a file line that is no ID of `entity` is an error
    naming FILE:LINE (without it, `--on-invalid null` gives such an ID a null row with its reason)."""
    given = list(ids or [])
    if column is not None and source is None:
        raise InputError("--ids-column", "needs --ids-from FILE (a CSV or Parquet file)")
    if source is not None:
        found = _column(source, column) if column else _lines(source, entity)
        pattern = re.compile(entity.pattern, re.ASCII)
        for number, value in found if check else ():
            # The length first: an over-long line never reaches the pattern (untrusted input, bounded work).
            if len(value) > entity.max_length or not pattern.fullmatch(value):
                raise InputError(
                    "--ids-from",
                    f"{source}:{number}: {value[:80]!r} is not a {entity.name} ID (pattern {entity.pattern})",
                )
        given += [value for _, value in found]
    if not given:
        raise InputError("ids", "no IDs given; pass them as arguments or with --ids-from FILE")
    return given
