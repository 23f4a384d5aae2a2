"""The `featurekit` command line: the library's operations, one line per error, never a traceback."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.table import Table as RichTable

from .. import batch
from ..catalog.loader import ENGINES, Catalog
from ..errors import ConfigError, DeclarationError, FeaturekitError, InputError, LLMError, NotFoundError
from ..results import jsonable
from ..store import FeatureStore
from . import athena, lake, project, serve
from .formats import FormatOpt, emit
from .ids import IdsColumnOpt, IdsFromOpt, read_ids
from .options import AsOfOpt, CacheDirOpt, CatalogOpt, DataOpt, ReaderGone, err, load_catalog, out
from .output import note_failure, print_frame, print_note

app = typer.Typer(
    name="featurekit",
    help="Grounded facts for LLM features: declared SQL features over files or S3, cached, typed, written into notes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"featurekit {version('featurekit')}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Grounded facts for LLM features: declared SQL features over files or S3, cached, typed, written into notes."""


EngineOpt = Annotated[
    str, typer.Option("--engine", envvar="FEATUREKIT_ENGINE", help=f"Where queries run: {', '.join(ENGINES)}.")
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A view parameter as NAME=VALUE; repeatable.")
]


def _store(catalog: Path | Catalog | None, engine: str, data: Path | None, **settings: Any) -> FeatureStore:
    if engine not in ENGINES:
        raise NotFoundError("engine", engine, ENGINES)
    cat = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    return FeatureStore(cat, engine=engine, data=data if engine == "duckdb" else None, **settings)


def _params(pairs: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError("--param", f"{pair!r} is not NAME=VALUE")
        params[name.strip()] = value
    return params


@app.command("list")
def list_(catalog: CatalogOpt = None, format: FormatOpt = "table") -> None:
    """List the feature views, tables, entities and prompts in the catalog."""
    cat = load_catalog(catalog)
    if format != "table":
        items = [
            {"type": "view", "name": v.name, "detail": f"entity {v.entity}: {', '.join(f.name for f in v.features)}",
             "description": v.description} for v in cat.views.values()
        ]  # fmt: skip
        items += [{"type": "table", "name": t.name, "detail": t.format, "description": t.description}
                  for t in cat.tables.values()]  # fmt: skip
        items += [{"type": "entity", "name": e.name, "detail": f"key {e.key}", "description": e.description}
                  for e in cat.entities.values()]  # fmt: skip
        items += [{"type": "prompt", "name": p.name, "detail": f"views {', '.join(p.views)}",
                   "description": p.description} for p in cat.prompts.values()]  # fmt: skip
        emit(format, "catalog", items, {"catalog": str(cat.root)})
        return
    table = RichTable("view", "entity", "features", "parameters", "description", title=f"feature views in {cat.root}")
    for view in cat.views.values():
        params = ", ".join(f"{p.name}={p.default}" for p in view.parameters)
        table.add_row(view.name, view.entity, ", ".join(f.name for f in view.features), params, view.description)
    out.print(table)
    out.print("tables: " + ", ".join(f"{t.name} ({t.format})" for t in cat.tables.values()))
    out.print("entities: " + ", ".join(f"{e.name} (key {e.key}, pattern {e.pattern})" for e in cat.entities.values()))
    out.print("prompts: " + ", ".join(f"{p.name} (views {', '.join(p.views)})" for p in cat.prompts.values()))


@app.command()
def show(view: str, catalog: CatalogOpt = None, format: FormatOpt = "table") -> None:
    """Show a feature view's declaration: entity, parameters, typed features, template."""
    cat = load_catalog(catalog)
    decl = cat.view(view)
    entity = cat.entity(decl.entity)
    template = cat.view_templates[decl.name]
    if format != "table":
        items = [
            {"section": "parameter", "name": p.name, "type": p.type, "default": p.default, "min": p.min,
             "max": p.max, "description": p.description} for p in decl.parameters
        ]  # fmt: skip
        items += [{"section": "feature", "name": f.name, "type": f.type, "default": f.default, "min": None,
                   "max": None, "description": f.description} for f in decl.features]  # fmt: skip
        provenance = {"catalog": str(cat.root), "view": decl.name, "entity": entity.name, "key": entity.key,
                      "template": str(template.file), "version": template.version}  # fmt: skip
        emit(format, "view", items, provenance)
        return
    out.print(f"[bold]{decl.name}[/bold] — {decl.description}")
    out.print(f"entity: {entity.name} (key {entity.key}, pattern {entity.pattern})")
    out.print(f"owner: {decl.owner or '-'}   tags: {', '.join(decl.tags) or '-'}")
    out.print(f"template: {template.file} (version {template.version}); tables: {', '.join(template.tables)}")
    if template.overrides:
        out.print(f"engine overrides: {', '.join(template.overrides)}")
    params = RichTable("parameter", "type", "default", "bounds", "description", title="parameters")
    params.add_row("as_of", "date", "today", "", "Point-in-time date the window ends at")
    for p in decl.parameters:
        bounds = f"{_bound(p.min, p.type)}..{_bound(p.max, p.type)}"
        params.add_row(p.name, p.type, str(p.default), bounds if bounds != ".." else "", p.description)
    out.print(params)
    features = RichTable("feature", "type", "default", "description", title="features")
    for f in decl.features:
        features.add_row(
            f"{decl.name}.{f.name}", f.type, "null" if f.default is None else str(f.default), f.description
        )
    out.print(features)


def _bound(value: Any, type_: str) -> str:
    """A parameter bound as declared: an int parameter's bounds print as ints (3650, not 3650.0)."""
    if value is None:
        return ""
    return str(int(value)) if type_ == "int" else str(value)


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


@app.command()
def get(
    view: str,
    ids: Annotated[list[str] | None, typer.Argument(help="Entity IDs.")] = None,
    ids_from: IdsFromOpt = None,
    ids_column: IdsColumnOpt = None,
    as_of: AsOfOpt = None,
    param: ParamOpt = None,
    format: FormatOpt = "table",
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
    if on_invalid not in ("error", "null"):
        raise InputError("--on-invalid", f"{on_invalid!r} is not one of error, null")
    cat = load_catalog(catalog)
    wanted = read_ids(ids, ids_from, ids_column, cat.entity(cat.view(view).entity), check=on_invalid == "error")
    settings = {"cache_dir": cache_dir, "chunk_size": chunk_size, "max_concurrency": max_concurrency}
    if dry_run:
        with _store(cat, engine, data, **settings) as store:
            planned = store.dry_run(view, wanted, as_of=as_of, params=_params(param))
        out.print(str(planned), markup=False)
        out.print(planned.query.sql.rstrip(), markup=False)
        values = {k: jsonable(list(v) if isinstance(v, tuple) else v) for k, v in planned.query.params.items()}
        out.print("-- bound parameters (sent separately, never formatted into the SQL):", markup=False)
        out.print(json.dumps(values, indent=2), markup=False)
        return
    with (
        _store(cat, engine, data, **settings) as store,
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
    if format == "table":
        print_frame(frame)
    else:
        shown = frame.to_json()
        emit(format, "features", shown["rows"], shown["provenance"], rows=True, invalid=shown.get("invalid", ()))
    if strict and frame.provenance.no_data:
        raise typer.Exit(1)


@app.command()
def note(
    prompt: str,
    ids: Annotated[list[str], typer.Argument(help="Entity IDs.")],
    as_of: AsOfOpt = None,
    param: ParamOpt = None,
    format: Annotated[
        Literal["text", "json", "jsonl"],
        typer.Option("--format", "-f", help="text for people; json (one envelope) or jsonl (one note per line)."),
    ] = "text",
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
        store.catalog.prompt(prompt)  # an unknown prompt fails before any entity header is printed
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
            if format != "text":
                written.append(n.to_json())
            else:
                print_note(n, "".join(streamed))
    if format != "text":
        emit(format, "notes", written, {"prompt": prompt, "provider": provider})
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
    """Entry point: run the app; featurekit errors and bad usage become one line and a non-zero exit."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        fail("interrupted", 130)
    except typer.BadParameter as exc:
        fail(_option_line(exc), 2)
    except typer.TyperException as exc:  # other usage errors: a missing argument, an unknown option
        fail(" ".join(str(getattr(exc, "format_message", exc.__str__)()).split()), getattr(exc, "exit_code", 2))
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
    except ReaderGone:
        # Point stdout at /dev/null so the interpreter's last flush does not meet the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _option_line(exc: typer.BadParameter) -> str:
    """`--format: 'xml' is not one of 'table', 'json', ...`: the option, then what is wrong with it."""
    message = exc.message.removeprefix("Value error, ")
    param = exc.param
    if param is None or not message:  # a missing argument says so in format_message()
        return message or exc.format_message()
    names = [o for o in param.opts if o.startswith("--")] or param.opts or [param.name or "value"]
    return f"{names[0]}: {message}"


if __name__ == "__main__":  # pragma: no cover
    main()
