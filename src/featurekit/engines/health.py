"""File-size health of a table: partitions with too many small files, or files too large to split.

Athena reads best from files of 128 MB to 1 GB: each extra file costs a request and a split to
schedule, and thousands of tiny JSON files per day (what an event feed writes) make a query slow
and its bill larger than its data. `diagnose` lists each partition's files and flags the ones
outside that guidance; `featurekit load` rewrites a range of days as one right-sized Parquet file
per day, which is the fix it suggests.

Hidden and marker files (`.`/`_` prefixes) are skipped, exactly as Athena skips them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import athena_cost

MB = 1_000_000
SMALL_FILE = 128 * MB
LARGE_FILE = 1000 * MB
#: The size `featurekit load` aims for when it rewrites a day (mid-range of the guidance).
TARGET_FILE = 512 * MB
#: A partition with fewer files than this is fine even if they are small: a day is a day.
MIN_FILES = 8


@dataclass(frozen=True)
class PartitionHealth:
    """One partition's files and what, if anything, is wrong with them."""

    partition: str
    files: int
    bytes: int
    small_files: int
    large_files: int
    compacted_files: int  # how many files the same bytes need at TARGET_FILE each

    @property
    def problem(self) -> str | None:
        if self.large_files:
            return f"{self.large_files} file{'s' if self.large_files != 1 else ''} over {LARGE_FILE // MB:,} MB"
        if self.files >= MIN_FILES and self.small_files == self.files and self.files > self.compacted_files:
            return f"{self.files:,} files under {SMALL_FILE // MB} MB (average {self.bytes / self.files / 1e3:,.1f} kB)"
        return None


@dataclass(frozen=True)
class TableHealth:
    """Every partition of a table, the flagged ones, and what compacting them would save."""

    table: str
    location: str
    partitions: tuple[PartitionHealth, ...]

    @property
    def flagged(self) -> tuple[PartitionHealth, ...]:
        return tuple(p for p in self.partitions if p.problem)

    @property
    def files(self) -> int:
        return sum(p.files for p in self.partitions)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.partitions)

    @property
    def files_after(self) -> int:
        """Files after compacting the flagged partitions (the others stay as they are)."""
        return sum(p.compacted_files if p.problem and not p.large_files else p.files for p in self.partitions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "location": self.location,
            "files": self.files,
            "bytes": self.bytes,
            "files_after_compaction": self.files_after,
            "flagged": [
                {
                    "partition": p.partition,
                    "files": p.files,
                    "bytes": p.bytes,
                    "problem": p.problem,
                    "compacted_files": p.compacted_files,
                }
                for p in self.flagged
            ],
            "partitions": len(self.partitions),
            "full_scan_cost_usd": athena_cost(self.bytes),
        }

    def __str__(self) -> str:
        lines = [
            f"{self.table} at {self.location}: {len(self.partitions):,} partitions, {self.files:,} files, "
            f"{self.bytes:,} bytes"
        ]
        if not self.flagged:
            lines.append("healthy: no partition has too many small files or a file over 1 GB")
            return "\n".join(lines)
        lines += [f"  {p.partition}: {p.problem}" for p in self.flagged]
        saved = self.files - self.files_after
        lines.append(
            f"compacting the flagged partitions would read {self.files_after:,} files instead of {self.files:,} "
            f"({saved:,} fewer requests per full scan); fix: featurekit load {self.table} --since D --until D"
        )
        return "\n".join(lines)


def diagnose(table: str, location: str, files: Iterable[tuple[str, int]]) -> TableHealth:
    """Health of a table from its (relative path, size) pairs; the partition is the path's folder."""
    by_partition: dict[str, list[int]] = defaultdict(list)
    for path, size in files:
        parts = path.strip("/").split("/")
        if any(p.startswith((".", "_")) for p in parts):
            continue
        by_partition["/".join(parts[:-1]) or "(root)"].append(size)
    partitions = tuple(
        PartitionHealth(
            partition=name,
            files=len(sizes),
            bytes=sum(sizes),
            small_files=sum(1 for s in sizes if s < SMALL_FILE),
            large_files=sum(1 for s in sizes if s > LARGE_FILE),
            compacted_files=max(1, math.ceil(sum(sizes) / TARGET_FILE)),
        )
        for name, sizes in sorted(by_partition.items())
    )
    return TableHealth(table, location, partitions)


def local_files(folder: Path) -> list[tuple[str, int]]:
    """Every file under a local table folder, as (path relative to it, size); a single file is its own table."""
    if folder.is_file():
        return [(folder.name, folder.stat().st_size)]
    return [(str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file()]


def s3_files(s3: Any, location: str) -> list[tuple[str, int]]:
    """Every object under an s3:// table location (ListObjectsV2, paginated), as (key relative to it, size)."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [(o["Key"][len(prefix) :], o["Size"]) for o in page.get("Contents", []) if not o["Key"].endswith("/")]
    return found
