"""Project commands: start a catalog (`init`, `schema`), check it (`validate`), make data (`sample-data`),
see the whole flow (`demo`), and look after the disk or Redis cache (`cache stats|clear`).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ..cache import ENV_CACHE_DIR, FeatureCache
from ..errors import ConfigError, FeaturekitError, NotFoundError
from ..store import FeatureStore
from .formats import FormatOpt, emit
from .options import AsOfOpt, CacheDirOpt, CatalogOpt, RedisOpt, err, load_catalog, need_extra, out
from .output import print_frame

# Commands are declared on this app and copied onto the main one by register().
_commands = typer.Typer()

cache_app = typer.Typer(help="featurekit's disk or Redis cache: statistics and clearing.", no_args_is_help=True)


def _shared_cache(cache_dir: Path | None, redis: str | None) -> tuple[FeatureCache, str]:
    """The cache shared by processes that a command looks after, and how to name it (never the Redis URL: it may
    hold a password)."""
    if redis:
        need_extra("--redis", "serve", "redis")
        from ..cache_redis import RedisTier

        try:
            tier = RedisTier(redis)
        except ValueError as exc:  # redis-py on a URL it cannot read; its message names the scheme, not a password
            raise ConfigError("--redis", str(exc).splitlines()[0]) from None
        if not tier.ping():
            raise ConfigError("--redis", f"{tier.degraded}")
        return FeatureCache(tier=tier), f"redis (namespace {tier.namespace})"
    if cache_dir is None:
        raise ConfigError(
            "--cache-dir", f"no cache chosen; pass --cache-dir DIR (or set {ENV_CACHE_DIR}) or --redis URL"
        )
    cache = FeatureCache(path=cache_dir)
    return cache, str(cache.path)


@cache_app.command("stats")
def cache_stats(
    cache_dir: CacheDirOpt = None,
    redis: RedisOpt = None,
    format: FormatOpt = "table",
) -> None:
    """Hits, misses, queries avoided, bytes and dollars saved, as recorded in the disk or Redis cache."""
    cache, name = _shared_cache(cache_dir, redis)
    try:
        stats = cache.stats()
    finally:
        cache.close()
    from ..engines.identity import KEY_PARTS

    if format == "table":
        out.print(f"cache {name}: {stats}", markup=False)
        out.print(f"entries expire {cache.ttl:g} s after they are written; a key depends on:", markup=False)
        out.print("\n".join(f"  - {part}" for part in KEY_PARTS), markup=False)
    else:
        shown = {**stats.to_dict(), "ttl_seconds": cache.ttl, "key_depends_on": list(KEY_PARTS)}
        emit(format, "cache_stats", [shown], {"cache": name})


@cache_app.command("clear")
def cache_clear(cache_dir: CacheDirOpt = None, redis: RedisOpt = None) -> None:
    """Delete every entry and counter in the disk or Redis cache. Processes using it (a notebook, `featurekit
    serve` workers) drop what they hold in memory at their next lookup."""
    cache, name = _shared_cache(cache_dir, redis)
    try:
        cache.clear()
    finally:
        cache.close()
    degraded = getattr(cache.tier, "degraded", None)
    if degraded:
        raise ConfigError("--redis", f"not cleared: {degraded}")
    out.print(f"cleared {name}", markup=False)


@_commands.command()
def validate(catalog: CatalogOpt = None, format: FormatOpt = "table") -> None:
    """Check the catalog: declarations, templates, Athena types of every view, and that each transpiles for DuckDB."""
    from ..catalog.lint import lint
    from ..engines import adapt
    from ..engines.base import quote
    from ..render import Renderer

    cat = load_catalog(catalog)
    failures = [str(problem) for problem in lint(cat)]
    checked = [{"view": None, "ok": False, "error": line} for line in failures]
    for view in [] if failures else cat.views:  # after type problems, transpiling would only repeat them
        try:
            Renderer(cat, "duckdb", lambda t: quote(t.name), adapt.for_dialect("duckdb")).sql(view)
            checked.append({"view": view, "ok": True, "error": None})
        except FeaturekitError as exc:
            failures.append(str(exc))
            checked.append({"view": view, "ok": False, "error": str(exc)})
    if format != "table":
        emit(format, "validation", checked, {"catalog": str(cat.root)})
        if failures:
            raise typer.Exit(1)
        return
    if failures:
        for line in failures:
            err.print(f"error: {line}", markup=False)
        raise typer.Exit(1)
    out.print(
        f"catalog {cat.root} is valid: {len(cat.tables)} tables, {len(cat.entities)} entities, "
        f"{len(cat.views)} views, {len(cat.prompts)} prompts; every view transpiles for duckdb",
        markup=False,
    )


@_commands.command("sample-data")
def sample_data(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the orders table into.")],
    customers: Annotated[int, typer.Option(help="Number of customers (C00001...).")] = 60,
    orders: Annotated[int, typer.Option(help="Number of orders.")] = 400,
    as_of: AsOfOpt = None,
    days: Annotated[int, typer.Option(help="Days of history ending at --as-of.")] = 365,
    format: Annotated[str, typer.Option("--format", help="json (JSON lines) or parquet.")] = "json",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 42,
) -> None:
    """Write a deterministic, Hive-partitioned orders dataset dated relative to --as-of."""
    from rich.progress import Progress

    from ..render import parse_as_of
    from ..sample import write_sample

    day = parse_as_of(as_of)
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("writing partitions", total=None)
        summary = write_sample(
            out_dir,
            customers=customers,
            orders=orders,
            as_of=day,
            days=days,
            fmt=format,
            seed=seed,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    out.print(
        f"wrote {summary.orders:,} orders for {summary.customers:,} customers in {summary.files:,} files "
        f"({summary.first_day} .. {summary.last_day}) to {summary.folder}",
        markup=False,
    )


@_commands.command()
def demo(
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Keep the generated data here (default: a temp folder).")
    ] = None,
    customers: Annotated[list[str] | None, typer.Option("--customer", help="Customers to show; repeatable.")] = None,
) -> None:
    """The whole flow on the embedded default: sample data → features → notes, offline, in seconds."""
    from ..sample import write_sample

    as_of = dt.datetime.now(dt.timezone.utc).date()
    ids = customers or ["C00042", "C00007", "C00013", "C00051"]
    with tempfile.TemporaryDirectory(prefix="featurekit-demo-") as tmp:
        folder = out_dir or Path(tmp)
        summary = write_sample(folder, as_of=as_of)
        out.print(
            f"[bold]1. sample data[/bold]: {summary.orders} orders, {summary.customers} customers, "
            f"{summary.files} daily partitions in {summary.folder}"
        )
        with FeatureStore(data=folder) as store:
            out.print(f"[bold]2. features[/bold] for {', '.join(ids)} over the 90 days to {as_of} (one query, DuckDB):")
            frame = store.get_frame("customer_orders", ids, as_of=as_of)
            print_frame(frame)
            again = store.get_frame("customer_orders", ids, as_of=as_of)
            out.print(
                f"   asked again: {again.provenance.queries_run} queries, {again.provenance.cache_hits} cache hits "
                f"({again.provenance.elapsed_ms:.2f} ms)"
            )
            out.print("[bold]3. notes[/bold] (offline note writer — deterministic template, no LLM):")
            for entity_id in ids:
                written = store.note("retention_note", entity_id, as_of=as_of)
                out.print(f"   [bold]{entity_id}[/bold]: {written.text}", markup=True)
    out.print("Next: `featurekit get customer_orders C00042 --data DIR`, or `featurekit --help`.")


@_commands.command()
def init(
    folder: Annotated[Path, typer.Argument(help="New (or empty) folder to create the catalog in.")],
    empty: Annotated[
        bool, typer.Option("--empty", help="A skeleton with no example domain, instead of the shipped catalog.")
    ] = False,
) -> None:
    """Create an editable catalog: a copy of the shipped one (or, with --empty, a skeleton), a README, JSON Schemas."""
    from ..catalog.scaffold import init_catalog

    made = init_catalog(folder, empty=empty)
    out.print(
        f"created catalog {folder}: {_count(made.tables, 'table')}, {_count(made.entities, 'entity', 'entities')}, "
        f"{_count(made.views, 'view')}, {_count(made.prompts, 'prompt')}, a README.md and JSON Schemas in schema/",
        markup=False,
    )
    out.print("next steps:", markup=False)
    steps = (
        (
            f"declare a table in {folder}/tables/, an entity in {folder}/entities/, a view in {folder}/views/ "
            f"(see {folder}/README.md)",
            f"featurekit validate --catalog {folder}",
            f"featurekit get <view> <ID> --catalog {folder} --data <your data folder>",
        )
        if empty
        else (
            f"featurekit validate --catalog {folder}",
            "featurekit sample-data --out data",
            f"featurekit get customer_orders C00042 --catalog {folder} --data data",
        )
    )
    for step in steps:
        out.print(f"  {step}", markup=False)


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


@_commands.command("schema")
def schema_(
    kind: Annotated[
        str | None, typer.Argument(help="table, entity, view or prompt (default: all, keyed by file name).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write <kind>.schema.json files into this folder instead.")
    ] = None,
) -> None:
    """Print the JSON Schema of the declaration files (for editor completion and validation)."""
    from ..catalog.scaffold import KIND_NAMES, schema_documents, schema_text, write_schemas

    if out_dir is not None:
        for path in write_schemas(out_dir):
            out.print(f"wrote {path}", markup=False)
        return
    documents = schema_documents()
    if kind is None:
        out.print(json.dumps(documents, indent=2, ensure_ascii=False), markup=False)
        return
    if f"{kind}.schema.json" not in documents:
        raise NotFoundError("declaration kind", kind, KIND_NAMES.values())
    out.print(schema_text(documents[f"{kind}.schema.json"]).rstrip(), markup=False)


def register(app: typer.Typer) -> None:
    """Add the project commands and the `cache` group to the main app."""
    app.registered_commands.extend(_commands.registered_commands)
    app.add_typer(cache_app, name="cache")
