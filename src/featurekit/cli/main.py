"""The `featurekit` command line: the library's operations, one line per error, never a traceback."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table as RichTable

from .. import batch
from ..catalog.loader import ENGINES
from ..errors import ConfigError, DeclarationError, FeaturekitError, InputError, LLMError, NotFoundError
from ..results import jsonable
from ..store import FeatureStore
from . import athena, lake, project, serve
from .options import AsOfOpt, CacheDirOpt, CatalogOpt, DataOpt, err, load_catalog, out
from .output import note_failure, print_frame, print_note

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
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A view parameter as NAME=VALUE; repeatable.")
]


def _store(catalog: Path | None, engine: str, data: Path | None, **settings: Any) -> FeatureStore:
    if engine not in ENGINES:
        raise NotFoundError("engine", engine, ENGINES)
    return FeatureStore(load_catalog(catalog), engine=engine, data=data if engine == "duckdb" else None, **settings)


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
    cat = load_catalog(catalog)
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
    cat = load_catalog(catalog)
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
    if query.dialect == "athena":  # say truthfully how values reach Athena: as literals, escaped by the driver
        out.print("-- bound parameters (PyAthena writes each as an escaped SQL literal on the client; Athena has no")
        out.print("-- bind for these, only DuckDB receives true bind parameters; featurekit never formats them):")
    else:
        out.print("-- bound parameters (sent separately, never formatted into the SQL):")
    out.print(
        json.dumps({k: jsonable(v) for k, v in query.bind_values().items()}, indent=2),
        markup=False,
    )


#: Batches this large get a progress bar on a terminal (smaller ones finish before a bar would help).
PROGRESS_MIN_ENTITIES = 10_000


def _decode_ids(data: bytes | str, source: Path) -> str:
    """UTF-8 with or without a BOM (editors on Windows add one); anything else is one error naming the line."""
    if isinstance(data, str):  # a text stream handed in place of stdin
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError("--ids-from", f"{source}:{line}: not UTF-8 text (byte {exc.start})") from None


def _read_ids(ids: list[str] | None, ids_from: Path | None) -> list[str]:
    given = list(ids or [])
    if ids_from is not None:
        try:
            stdin = getattr(sys.stdin, "buffer", sys.stdin)
            text = _decode_ids(stdin.read() if str(ids_from) == "-" else ids_from.read_bytes(), ids_from)
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
    on_invalid: Annotated[
        str,
        typer.Option("--on-invalid", help="An ID failing the entity pattern: error (stop) or null (a null row)."),
    ] = "error",
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when the window matched no data for any ID (all defaults).")
    ] = False,
) -> None:
    """Get features for one or more entities, one row per ID (a progress bar shows for large batches on a terminal)."""
    if format not in ("table", "json", "csv"):
        raise InputError("--format", f"{format!r} is not one of table, json, csv")
    if on_invalid not in ("error", "null"):
        raise InputError("--on-invalid", f"{on_invalid!r} is not one of error, null")
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
            on_invalid="null" if on_invalid == "null" else "error",
        )
        if store.cache is not None and store.cache.path is not None and format == "table":
            err.print(f"cache ({store.cache.path}): {store.cache.stats()}", markup=False)
    if frame.invalid:
        first = min(frame.invalid)
        err.print(
            f"warning: {len(frame.invalid):,} of {len(frame):,} IDs were refused and got a null row; "
            f"first, row {first + 1}: {frame.invalid[first]}",
            markup=False,
        )
    if frame.provenance.no_data:
        err.print(
            f"warning: no data in the window of view {view} as of {frame.provenance.as_of}: "
            f"no row for any of the {len(frame):,} IDs, every value is a declared default",
            markup=False,
        )
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
    if strict and frame.provenance.no_data:
        raise typer.Exit(1)


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
        str,
        typer.Option(
            "--grounding", help="Numbers no fact supports: warn, retry (once), fallback (offline) or strict (fail)."
        ),
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
    from ..llm.notes import Note
    from ..llm.providers import PROVIDERS, get_provider

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
                note_failure(entity_id, exc, format, written, bool(streamed))
                continue
            if format == "json":
                written.append(n.to_json())
            else:
                print_note(n, "".join(streamed))
    if format == "json":
        out.print(json.dumps(written, indent=2), markup=False)
    if failed:
        raise typer.Exit(1)


# Project commands (init, validate, demo, ...) and Athena commands (ddl, setup, optimize) live in their own modules.
project.register(app)
athena.register(app)
lake.register(app)
serve.register(app)


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
