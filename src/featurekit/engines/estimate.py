"""What a query would read, before it runs: files and bytes after partition pruning, and Athena's price.

The engine prunes partitions with the query's own predicates on partition columns, so the estimate
uses exactly those: every WHERE conjunct of a SELECT over the table that mentions only partition
columns (and bound values) is evaluated by an in-memory DuckDB over the table's file listing, with
the query's values bound, never written into SQL. Files come from the local folder, or from S3 with
one ListObjectsV2 listing of the first partition level and one per partition prefix that survives.

DuckDB and Athena read every byte of a JSON or CSV file a query touches, so for those formats the
estimate is the bytes read. Parquet is read by column and row group: the estimate is an upper bound.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from ..catalog.declarations import Table
from ..errors import ConfigError, CostLimitExceeded, FeaturekitError
from ..render import RenderedQuery
from .base import athena_cost
from .health import s3_files

#: A bound on the partition prefixes listed on S3 for one estimate (one ListObjectsV2 call each).
MAX_PREFIXES = 5000
_DUCK_TYPES = {"int": "BIGINT", "float": "DOUBLE", "date": "DATE", "string": "VARCHAR", "bool": "BOOLEAN"}


@dataclass(frozen=True)
class ScanEstimate:
    """Files and bytes one query would read from one table, and what that costs on Athena."""

    table: str
    files: int
    bytes: int
    partitions: int  # partitions read (a table without partitions counts as one)
    total_partitions: int
    pruned: bool  # False when no predicate on a partition column was found: every file counts
    exact: bool  # True for JSON/CSV (read whole); Parquet may read less than this

    @property
    def cost_usd(self) -> float:
        return athena_cost(self.bytes)

    def __str__(self) -> str:
        how = "after partition pruning" if self.pruned else "no partition pruning found: every file"
        bound = "" if self.exact else " at most"
        return (
            f"{self.table}: {self.partitions:,} of {self.total_partitions:,} partitions, {self.files:,} files, "
            f"{self.bytes:,} bytes{bound} ({how}); "
            f"on Athena ${self.cost_usd:.6f} per query"
        )


def scan_estimates(engine: Any, tables: Sequence[Table], query: RenderedQuery) -> tuple[ScanEstimate, ...]:
    """Per table, what `query` would read; empty when the engine cannot tell (no scan_estimate, no data_root)."""
    scan = getattr(engine, "scan_estimate", None)
    try:
        return tuple(scan(table, query) for table in tables) if scan else ()
    except ConfigError:  # e.g. relative table paths without data_root: the query-time guard still applies
        return ()


def partition_predicate(sql: str, dialect: str, table: Table) -> exp.Expression | None:
    """The AND of the query's conjuncts that constrain only `table`'s partition columns (or None)."""
    names = {c.name for c in table.partitioned_by}
    if not names:
        return None
    tree = sqlglot.parse_one(sql, read=dialect)
    found: list[exp.Expression] = []
    for select in tree.find_all(exp.Select):
        where = select.args.get("where")
        reads = any(t.name == table.name for t in select.find_all(exp.Table) if t.find_ancestor(exp.Select) is select)
        if where is None or not reads:
            continue
        for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
            columns = list(conjunct.find_all(exp.Column))
            if columns and all(c.name in names for c in columns) and not conjunct.find(exp.Select):
                bare = conjunct.copy()
                for column in bare.find_all(exp.Column):
                    column.set("table", None)
                found.append(bare)  # type: ignore[arg-type]  # sqlglot's copy() is typed loosely
    return exp.and_(*found) if found else None  # type: ignore[return-value]  # an And is an Expression


def _partition_values(path: str, table: Table) -> dict[str, str] | None:
    """`a=1/b=2/file` -> {'a': '1', 'b': '2'}; None when a declared partition folder is missing."""
    values = dict(part.split("=", 1) for part in path.split("/")[:-1] if "=" in part)
    return values if all(c.name in values for c in table.partitioned_by) else None


def select_files(
    listing: Sequence[tuple[str, int]],
    table: Table,
    predicate: exp.Expression | None,
    params: Mapping[str, Any],
) -> list[tuple[str, int]]:
    """The files of `listing` whose partition values satisfy `predicate`, evaluated by DuckDB with binds."""
    if predicate is None:
        return list(listing)
    import duckdb
    import pyarrow as pa

    from .. import arrays

    rows = [(path, size, values) for path, size in listing if (values := _partition_values(path, table)) is not None]
    names = ["__path"] + [c.name for c in table.partitioned_by]
    columns = [arrays.strings([p for p, _, _ in rows])]
    columns += [arrays.strings([v[c.name] for _, _, v in rows]) for c in table.partitioned_by]
    listing_table = pa.Table.from_arrays(columns, names=names)
    casts = ", ".join(
        f'TRY_CAST("{c.name}" AS {_DUCK_TYPES.get(c.type, "VARCHAR")}) AS "{c.name}"' for c in table.partitioned_by
    )
    query = exp.select("__path").from_("parts").where(predicate.copy())
    sql = f"WITH parts AS (SELECT __path, {casts} FROM listing_table) {query.sql('duckdb')}"
    used = {p.name for p in predicate.find_all(exp.Placeholder)}
    con = duckdb.connect(config={"enable_external_access": False})
    try:
        con.register("listing_table", listing_table)
        chosen = {r[0] for r in con.execute(sql, {k: _bindable(params[k]) for k in used}).fetchall()}
    finally:
        con.close()
    return [(p, s) for p, s, _ in rows if p in chosen]


def _bindable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def estimate_s3(
    s3: Any, location: str, table: Table, sql: str, dialect: str, params: Mapping[str, Any]
) -> ScanEstimate:
    """List the first partition level with a delimiter, prune it, then list each surviving prefix."""
    predicate = partition_predicate(sql, dialect, table)
    if predicate is None or not table.partitioned_by:
        return estimate_listing(table, s3_files(s3, location), sql, dialect, params)
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    prefixes: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        prefixes += [p["Prefix"][len(prefix) :] for p in page.get("CommonPrefixes", [])]
    first = table.partitioned_by[0].name
    candidates = [p for p in prefixes if p.startswith(first + "=")]
    # A predicate on the first level alone decides which prefixes to list; deeper levels are filtered after.
    first_only = Table(name=table.name, columns=table.columns, partitioned_by=table.partitioned_by[:1])
    level = partition_predicate(sql, dialect, first_only)
    # Each prefix stands for a file in it ("dt=2026-06-01/-"), so the same file filter prunes prefixes.
    kept = select_files([(p + "-", 0) for p in candidates], first_only, level, params)
    if len(kept) > MAX_PREFIXES:
        return estimate_listing(table, s3_files(s3, location), sql, dialect, params)
    listing: list[tuple[str, int]] = []
    for path, _ in kept:
        listing += [(path[:-1] + key, size) for key, size in s3_files(s3, location.rstrip("/") + "/" + path[:-1])]
    found = estimate_listing(table, listing, sql, dialect, params)
    return dataclasses.replace(found, total_partitions=len(candidates))


def estimate_listing(
    table: Table,
    listing: list[tuple[str, int]],
    sql: str,
    dialect: str,
    params: Mapping[str, Any],
    fmt: str | None = None,
) -> ScanEstimate:
    """What `sql` reads of `listing` ((path relative to the table, size) pairs); `fmt` resolves format auto."""
    listing = [(p, s) for p, s in listing if not any(part.startswith((".", "_")) for part in p.split("/"))]
    predicate = partition_predicate(sql, dialect, table)
    chosen = select_files(listing, table, predicate, params)
    return ScanEstimate(
        table=table.name,
        files=len(chosen),
        bytes=sum(s for _, s in chosen),
        partitions=len({p.rsplit("/", 1)[0] if "/" in p else "" for p, _ in chosen}),
        total_partitions=len({p.rsplit("/", 1)[0] if "/" in p else "" for p, _ in listing}),
        pruned=predicate is not None,
        exact=(fmt or table.format) in ("json", "csv"),
    )


def check_budget(estimates: Sequence[ScanEstimate], queries: int, limit: int | None, view: str) -> None:
    """Refuse a lookup before it starts when one of its queries would scan more than `limit` bytes."""
    per_query = sum(e.bytes for e in estimates)
    if limit is not None and per_query > limit:
        raise CostLimitExceeded(
            f"view {view!r} was not started: each of its {queries} quer{'y' if queries == 1 else 'ies'} would scan "
            f"an estimated {per_query:,} bytes, more than max_bytes_per_query={limit:,}"
        )


#: Engine settings a dry run shows: where a query would run, never how it authenticates.
WHERE_SETTINGS = (
    "region",
    "workgroup",
    "data_catalog",
    "schema_name",
    "s3_staging_dir",
    "endpoint_url",
    "result_reuse",
    "max_bytes_per_query",
    "max_bytes_per_session",
    "host",
    "port",
    "catalog",
    "schema",
)


def where_it_runs(engine: Any, tables: Sequence[Table]) -> dict[str, Any]:
    """What a dry run shows of where a query runs: the engine, its location settings (Athena, Trino; never
    credentials), and for an engine over local files the data root and each table's folder."""
    where: dict[str, Any] = {"engine": engine.name}
    settings = getattr(engine, "settings", None)
    if settings is not None:
        # Fields only: on a pydantic model `schema` is also a method, which is not a setting.
        fields = getattr(type(settings), "model_fields", {})
        where.update(
            {k: getattr(settings, k) for k in WHERE_SETTINGS if k in fields and getattr(settings, k) is not None}
        )
    locate = getattr(engine, "location", None)
    if locate is not None:
        data = getattr(engine, "data", None)
        where["data"] = str(data) if data else None
        for table in tables:
            try:
                where[f"table {table.name}"] = str(locate(table))
            except FeaturekitError as exc:
                where[f"table {table.name}"] = f"unavailable: {exc}"
    return where


@dataclass(frozen=True)
class DryRun:
    """What a lookup would run, where, and what it would read, computed without running it (`FeatureStore.dry_run`)."""

    query: RenderedQuery
    where: Mapping[str, Any]
    chunks: tuple[int, ...]
    max_concurrency: int
    scans: tuple[ScanEstimate, ...] = ()

    @property
    def scanned_bytes(self) -> int:
        """Bytes all the chunks would read: each chunk's query reads the same partitions."""
        return len(self.chunks) * sum(s.bytes for s in self.scans)

    @property
    def cost_usd(self) -> float:
        """Athena's price of all the chunks, each rounded up to the MB with its 10 MB minimum."""
        return len(self.chunks) * athena_cost(sum(s.bytes for s in self.scans))

    def __str__(self) -> str:
        lines = [
            f"dry run: nothing was executed; {len(self.chunks)} quer{'y' if len(self.chunks) == 1 else 'ies'} "
            f"for {sum(self.chunks)} IDs at most (cached IDs are not queried), {self.max_concurrency} at once"
        ]
        lines += [f"  {k}: {v}" for k, v in self.where.items()]
        lines += [f"  reads {s}" for s in self.scans]
        if self.scans:
            lines.append(f"  estimate: {self.scanned_bytes:,} bytes in all, on Athena ${self.cost_usd:.6f}")
        return "\n".join(lines)
