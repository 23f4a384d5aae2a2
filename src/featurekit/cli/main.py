"""The `featurekit` command line: the library's operations, one line per error, never a traceback."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table as RichTable

from . import batch
from . import catalog as catalog_mod
from .cache import ENV_CACHE_DIR, FeatureCache
from .catalog import ENGINES, Catalog
from .cli_options import CatalogOpt, DataOpt, err, out
from .errors import ConfigError, DeclarationError, FeaturekitError, InputError, LLMError, NotFoundError
from .results import FeatureFrame, jsonable
from .store import FeatureStore

app = typer.Typer(
    name="featurekit",
    help="Grounded facts for LLM features: declared SQL features over files or S3, cached, typed, written into notes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
EngineOpt = Annotated[
    str, typer.Option("--engine", envvar="FEATUREKIT_ENGINE", help=f"Where queries run: {', '.join(ENGINES)}.")
]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Point-in-time date YYYY-MM-DD (default: today, UTC).")]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A view parameter as NAME=VALUE; repeatable.")
]


def _catalog(path: Path | None) -> Catalog:
    return catalog_mod.load(path)


def _store(catalog: Path | None, engine: str, data: Path | None, **settings: Any) -> FeatureStore:
    if engine not in ENGINES:
        raise NotFoundError("engine", engine, ENGINES)
    return FeatureStore(_catalog(catalog), engine=engine, data=data if engine == "duckdb" else None, **settings)


def _params(pairs: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError("--param", f"{pair!r} is not NAME=VALUE")
        params[name.strip()] = value
    return params


@app.command("list")
def list_(catalog: CatalogOpt = None) -> None:
    """List the feature views, tables, entities and prompts in the catalog."""
    cat = _catalog(catalog)
    table = RichTable("view", "entity", "features", "parameters", "description", title=f"feature views in {cat.root}")
    for view in cat.views.values():
        params = ", ".join(f"{p.name}={p.default}" for p in view.parameters)
        table.add_row(view.name, view.entity, ", ".join(f.name for f in view.features), params, view.description)
    out.print(table)
    out.print("tables: " + ", ".join(f"{t.name} ({t.format})" for t in cat.tables.values()))
    out.print("entities: " + ", ".join(f"{e.name} (key {e.key}, pattern {e.pattern})" for e in cat.entities.values()))
    out.print("prompts: " + ", ".join(f"{p.name} (views {', '.join(p.views)})" for p in cat.prompts.values()))


@app.command()
def show(view: str, catalog: CatalogOpt = None) -> None:
    """Show a feature view's declaration: entity, parameters, typed features, template."""
    cat = _catalog(catalog)
    decl = cat.view(view)
    entity = cat.entity(decl.entity)
    template = cat.view_templates[decl.name]
    out.print(f"[bold]{decl.name}[/bold] — {decl.description}")
    out.print(f"entity: {entity.name} (key {entity.key}, pattern {entity.pattern})")
    out.print(f"owner: {decl.owner or '-'}   tags: {', '.join(decl.tags) or '-'}")
    out.print(f"template: {template.file} (version {template.version}); tables: {', '.join(template.tables)}")
    if template.overrides:
        out.print(f"engine overrides: {', '.join(template.overrides)}")
    params = RichTable("parameter", "type", "default", "bounds", "description", title="parameters")
    params.add_row("as_of", "date", "today", "", "Point-in-time date the window ends at")
    for p in decl.parameters:
        bounds = f"{p.min if p.min is not None else ''}..{p.max if p.max is not None else ''}"
        params.add_row(p.name, p.type, str(p.default), bounds if bounds != ".." else "", p.description)
    out.print(params)
    features = RichTable("feature", "type", "default", "description", title="features")
    for f in decl.features:
        features.add_row(
            f"{decl.name}.{f.name}", f.type, "null" if f.default is None else str(f.default), f.description
        )
    out.print(features)


@app.command()
def render(
    view: str,
    ids: Annotated[list[str], typer.Argument(help="Entity IDs.")],
    engine: EngineOpt = "duckdb",
    as_of: AsOfOpt = None,
    param: ParamOpt = None,
    catalog: CatalogOpt = None,
    data: DataOpt = None,
) -> None:
    """Print the SQL a lookup would run on an engine, and the values bound to it (nothing runs)."""
    with _store(catalog, engine, data) as store:
        query = store.render(view, ids, as_of=as_of, params=_params(param))
    out.print(
        f"-- view {query.view} · engine {query.dialect} · template {query.template_version} · sql {query.sql_hash}"
    )
    out.print(query.sql.rstrip(), markup=False)
    out.print("-- bound parameters (sent separately, never formatted into the SQL):")
    out.print(
        json.dumps({k: jsonable(list(v) if isinstance(v, tuple) else v) for k, v in query.params.items()}, indent=2),
        markup=False,
    )


CacheDirOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", envvar=ENV_CACHE_DIR, help="Keep featurekit's cache on disk in this folder."),
]
#: Batches this large get a progress bar on a terminal (smaller ones finish before a bar would help).
PROGRESS_MIN_ENTITIES = 10_000


def _read_ids(ids: list[str] | None, ids_from: Path | None) -> list[str]:
    given = list(ids or [])
    if ids_from is not None:
        try:
            text = sys.stdin.read() if str(ids_from) == "-" else ids_from.read_text()
        except OSError as exc:
            raise InputError("--ids-from", f"cannot read {ids_from}: {exc.strerror or exc}") from None
        given += [line.strip() for line in text.splitlines() if line.strip()]
    if not given:
        raise InputError("ids", "no IDs given; pass them as arguments or with --ids-from FILE")
    return given


@app.command()
def get(
    view: str,
    ids: Annotated[list[str] | None, typer.Argument(help="Entity IDs.")] = None,
    ids_from: Annotated[
        Path | None, typer.Option("--ids-from", help="Read more IDs from a file, one per line ('-' for stdin).")
    ] = None,
    as_of: AsOfOpt = None,
    param: ParamOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass featurekit's cache.")] = False,
    cache_dir: CacheDirOpt = None,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", min=1, help="Most IDs per query.")] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", min=1, help="Most queries running at once.")
    ] = None,
    engine: EngineOpt = "duckdb",
    catalog: CatalogOpt = None,
    data: DataOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would run and where (engine, SQL, values); run nothing.")
    ] = False,
) -> None:
    """Get features for one or more entities (a progress bar shows for large batches on a terminal)."""
    if format not in ("table", "json", "csv"):
        raise InputError("--format", f"{format!r} is not one of table, json, csv")
    wanted = _read_ids(ids, ids_from)
    settings = {"cache_dir": cache_dir, "chunk_size": chunk_size, "max_concurrency": max_concurrency}
    if dry_run:
        with _store(catalog, engine, data, **settings) as store:
            planned = store.dry_run(view, wanted, as_of=as_of, params=_params(param))
        out.print(str(planned), markup=False)
        out.print(planned.query.sql.rstrip(), markup=False)
        values = {k: jsonable(list(v) if isinstance(v, tuple) else v) for k, v in planned.query.params.items()}
        out.print("-- bound parameters (sent separately, never formatted into the SQL):", markup=False)
        out.print(json.dumps(values, indent=2), markup=False)
        return
    with (
        _store(catalog, engine, data, **settings) as store,
        batch.rich_progress(f"{view}: querying", console=err, min_entities=PROGRESS_MIN_ENTITIES) as bar,
    ):
        frame = store.get_frame(
            view,
            wanted,
            as_of=as_of,
            params=_params(param),
            use_cache=not no_cache,
            progress=bar if err.is_terminal else None,
        )
        if store.cache is not None and store.cache.path is not None and format == "table":
            err.print(f"cache ({store.cache.path}): {store.cache.stats()}", markup=False)
    if format == "json":
        out.print(json.dumps(frame.to_json(), indent=2), markup=False)
    elif format == "csv":
        buffer = io.StringIO()
        import pandas as pd

        # Arrow-backed columns keep an int column with nulls printing as ints (9, not 9.0).
        frame.table.to_pandas(types_mapper=pd.ArrowDtype).to_csv(buffer, index=False)
        out.print(buffer.getvalue().rstrip(), markup=False)
    else:
        print_frame(frame)


def print_frame(frame: FeatureFrame) -> None:
    names = frame.table.column_names
    if len(frame) == 1:
        table = RichTable("feature", "value", title=f"{frame.view.name} · {frame.entity_ids[0]}")
        for name, value in frame.to_dicts()[0].items():
            if name != frame.key:
                table.add_row(name, _cell(value))
    else:
        table = RichTable(*names, title=frame.view.name)
        for row in frame.to_dicts():
            table.add_row(*(_cell(row[n]) for n in names))
    out.print(table)
    out.print(provenance_line(frame), markup=False)


def provenance_line(frame: FeatureFrame) -> str:
    p = frame.provenance
    parts = [
        f"engine {p.engine}",
        f"as_of {p.as_of}",
        f"{p.queries_run} quer{'y' if p.queries_run == 1 else 'ies'}",
        f"{p.cache_hits} cache hits",
        f"{p.elapsed_ms:.1f} ms",
        f"sql {p.sql_hash}",
    ]
    parts += [f"{k}={v}" for k, v in p.parameters.items()]
    ids = [q.query_id for q in p.queries if q.query_id]
    if ids:
        parts.append("query id " + ", ".join(ids))
    if p.scanned_bytes is not None:
        parts.append(f"scanned {p.scanned_bytes:,} bytes")
    if p.cost_usd is not None:
        parts.append(f"est. cost ${p.cost_usd:.6f}")
    return "· " + " · ".join(parts)


def _cell(value: Any) -> str:
    return "null" if value is None else str(jsonable(value))


@app.command()
def note(
    prompt: str,
    ids: Annotated[list[str], typer.Argument(help="Entity IDs.")],
    as_of: AsOfOpt = None,
    param: ParamOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    provider: Annotated[
        str, typer.Option("--provider", envvar="FEATUREKIT_PROVIDER", help="offline (default) or bedrock.")
    ] = "offline",
    stream: Annotated[bool, typer.Option("--stream", help="Print the model's text as it arrives (bedrock).")] = False,
    grounding: Annotated[
        str, typer.Option("--grounding", help="Numbers no fact supports: warn, retry (once) or fallback (offline).")
    ] = "warn",
    model: Annotated[str | None, typer.Option("--model", help="Bedrock model or inference profile ID.")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Bedrock region (else AWS_REGION).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile for Bedrock.")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="Bedrock runtime endpoint.")] = None,
    engine: EngineOpt = "duckdb",
    catalog: CatalogOpt = None,
    data: DataOpt = None,
) -> None:
    """Write a note per entity from its features (offline writer by default), with a grounding report."""
    from .llm import PROVIDERS, get_provider
    from .notes import Note

    if format not in ("text", "json"):
        raise InputError("--format", f"{format!r} is not one of text, json")
    if provider not in PROVIDERS:
        raise NotFoundError("provider", provider, PROVIDERS)
    streamed: list[str] = []

    def show_chunk(chunk: str) -> None:
        if not streamed:
            out.print("[dim](streaming)[/dim]")
        streamed.append(chunk)
        out.print(chunk, end="", markup=False)

    settings: dict[str, Any] = {}
    if provider == "bedrock":
        settings = {"model": model, "region": region, "profile": profile, "endpoint_url": endpoint_url}
        if stream:
            settings.update(stream=True, on_text=show_chunk if format == "text" else None)
    writer = get_provider(provider, **settings)
    written: list[dict[str, Any]] = []
    failed = 0
    with _store(catalog, engine, data) as store:
        for entity_id in ids:
            streamed.clear()
            if format == "text":
                out.print(f"[bold]{entity_id}[/bold]")
            try:
                n: Note = store.note(
                    prompt, entity_id, provider=writer, as_of=as_of, params=_params(param), grounding=grounding
                )
            except LLMError as exc:
                failed += 1
                _note_failure(entity_id, exc, format, written, bool(streamed))
                continue
            if format == "json":
                written.append(n.to_json())
            else:
                _print_note(n, "".join(streamed))
    if format == "json":
        out.print(json.dumps(written, indent=2), markup=False)
    if failed:
        raise typer.Exit(1)


def _print_note(n: Any, streamed: str) -> None:
    label = "offline note — deterministic template, no LLM" if n.offline else f"{n.provider} · {n.model}"
    if streamed:
        out.print()
    if streamed.strip() != n.text:
        out.print(n.text, markup=False)
    c = n.completion
    parts = [label]
    if n.grounding_action != "none":
        parts.append(f"grounding: {n.grounding_action}")
    if n.cached:
        parts.append("from the note cache")
    if not n.offline:
        parts.append(f"stop {c.stop_reason}")
        usage = c.usage
        if usage:
            shown = ", ".join(f"{k.removesuffix('_tokens')} {v}" for k, v in usage.items())
            parts.append(f"tokens: {shown}")
        else:
            parts.append("tokens: not reported")
        if c.latency_ms is not None:
            parts.append(f"latency {c.latency_ms:.0f} ms")
        if c.attempts and c.attempts > 1:
            parts.append(f"{c.attempts} attempts")
    out.print("· " + " · ".join(parts), markup=False)
    if n.grounding is not None:
        for line in n.grounding.lines():
            out.print(line, markup=False)


def _note_failure(entity_id: str, exc: Any, format: str, written: list[dict[str, Any]], streamed: bool) -> None:
    """The features are still printed (stdout); one line says what failed and what to do (stderr)."""
    partial = exc.partial
    line = " ".join(str(exc).split())
    if format == "json":
        entry = partial.to_json() if partial is not None else {"entity_id": entity_id}
        entry["error"] = {"code": exc.code, "message": line, "hint": exc.hint}
        written.append(entry)
    else:
        if streamed:
            out.print()
        if partial is not None:
            out.print(f"features (kept; no note was written):\n{partial.prompt.facts}", markup=False)
    err.print(f"error: {entity_id}: {line}", markup=False)


cache_app = typer.Typer(help="featurekit's on-disk cache: statistics and clearing.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _disk_cache(cache_dir: Path | None) -> FeatureCache:
    if cache_dir is None:
        raise ConfigError("--cache-dir", f"no disk cache chosen; pass --cache-dir DIR or set {ENV_CACHE_DIR}")
    return FeatureCache(path=cache_dir)


@cache_app.command("stats")
def cache_stats(
    cache_dir: CacheDirOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Hits, misses, queries avoided, bytes and dollars saved, as recorded in the disk cache."""
    cache = _disk_cache(cache_dir)
    try:
        stats = cache.stats()
    finally:
        cache.close()
    if format == "json":
        out.print(json.dumps(stats.to_dict(), indent=2), markup=False)
    else:
        out.print(f"cache {cache.path}: {stats}", markup=False)


@cache_app.command("clear")
def cache_clear(cache_dir: CacheDirOpt = None) -> None:
    """Delete every entry and counter in the disk cache."""
    cache = _disk_cache(cache_dir)
    cache.clear()
    cache.close()
    out.print(f"cleared {cache.path}", markup=False)


@app.command()
def validate(catalog: CatalogOpt = None) -> None:
    """Check the catalog: declarations, templates, and that every template transpiles for every local engine."""
    from .engines import quote
    from .render import Renderer

    cat = _catalog(catalog)
    failures = []
    for view in cat.views:
        try:
            Renderer(cat, "duckdb", lambda t: quote(t.name)).sql(view)
        except FeaturekitError as exc:
            failures.append(str(exc))
    if failures:
        for line in failures:
            err.print(f"error: {line}", markup=False)
        raise typer.Exit(1)
    out.print(
        f"catalog {cat.root} is valid: {len(cat.tables)} tables, {len(cat.entities)} entities, "
        f"{len(cat.views)} views, {len(cat.prompts)} prompts; every view transpiles for duckdb",
        markup=False,
    )


@app.command("sample-data")
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

    from .render import parse_as_of
    from .sample import write_sample

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


@app.command()
def demo(
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Keep the generated data here (default: a temp folder).")
    ] = None,
    customers: Annotated[list[str] | None, typer.Option("--customer", help="Customers to show; repeatable.")] = None,
) -> None:
    """The whole flow on the embedded default: sample data → features → notes, offline, in seconds."""
    from .sample import write_sample

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


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="New (or empty) folder to create the catalog in.")],
) -> None:
    """Create an editable catalog: a copy of the shipped one, a README, and JSON Schemas for editors."""
    from .scaffold import init_catalog

    made = init_catalog(folder)
    out.print(
        f"created catalog {folder}: {_count(made.tables, 'table')}, {_count(made.entities, 'entity', 'entities')}, "
        f"{_count(made.views, 'view')}, {_count(made.prompts, 'prompt')}, a README.md and JSON Schemas in schema/",
        markup=False,
    )
    out.print("next steps:", markup=False)
    for step in (
        f"featurekit validate --catalog {folder}",
        "featurekit sample-data --out data",
        f"featurekit get customer_orders C00042 --catalog {folder} --data data",
    ):
        out.print(f"  {step}", markup=False)


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


@app.command("schema")
def schema_(
    kind: Annotated[
        str | None, typer.Argument(help="table, entity, view or prompt (default: all, keyed by file name).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write <kind>.schema.json files into this folder instead.")
    ] = None,
) -> None:
    """Print the JSON Schema of the declaration files (for editor completion and validation)."""
    from .scaffold import KIND_NAMES, schema_documents, schema_text, write_schemas

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


# Athena/DDL commands (ddl, setup, optimize) live in their own module.
from .cli_athena import register as _register_athena_commands  # noqa: E402

_register_athena_commands(app)


def fail(message: str, code: int) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise SystemExit(code)


def main() -> None:
    """Entry point: run the app; featurekit errors become one line and a non-zero exit."""
    try:
        app()
    except DeclarationError as exc:
        for problem in exc.problems:
            err.print(f"error: {problem}", markup=False)
        raise SystemExit(2) from None
    except (InputError, NotFoundError, ConfigError) as exc:
        fail(str(exc), 2)
    except FeaturekitError as exc:
        fail(str(exc), 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)


if __name__ == "__main__":  # pragma: no cover
    main()
