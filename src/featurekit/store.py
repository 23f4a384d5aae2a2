"""FeatureStore: the few lines a notebook or service writes.

    store = FeatureStore(data="data/")            # embedded DuckDB over local files
    store.get("customer_orders", "C00042")        # -> FeatureRow
    store.get("customer_orders", ids)             # -> FeatureFrame, one query for all misses
    store.note("retention_note", "C00042")        # -> Note (offline writer by default)

It wires the stages together: catalog → render → engine → cache → typed result → prompt → LLM.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import pyarrow as pa

from . import batch
from .cache import FeatureCache, Fetched, default_cache_dir
from .catalog import loader as catalog_mod
from .catalog.loader import ENGINES, Catalog
from .engines.base import Engine, QueryStats
from .engines.duckdb import DuckDBEngine
from .errors import ConfigError, FeaturekitError, NotFoundError
from .llm.notes import Note, NoteCache, write_note
from .llm.prompts import RenderedPrompt, render_prompt
from .llm.providers import Provider, get_provider
from .render import RenderedQuery, Renderer, parse_as_of
from .results import FeatureFrame, FeatureRow, Provenance, arrow_schema, typed

#: Engine settings a dry run shows: where a query would run, never how it authenticates.
_WHERE_SETTINGS = (
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


@dataclass(frozen=True)
class DryRun:
    """What a lookup would run, and where, computed without running it (`FeatureStore.dry_run`)."""

    query: RenderedQuery
    where: Mapping[str, Any]
    chunks: tuple[int, ...]
    max_concurrency: int

    def __str__(self) -> str:
        lines = [
            f"dry run: nothing was executed; {len(self.chunks)} quer{'y' if len(self.chunks) == 1 else 'ies'} "
            f"for {sum(self.chunks)} IDs at most (cached IDs are not queried), {self.max_concurrency} at once"
        ]
        lines += [f"  {k}: {v}" for k, v in self.where.items()]
        return "\n".join(lines)


def open_engine(kind: str, **settings: Any) -> Engine:
    """An engine by kind: `duckdb` (default), `athena` or `trino`, with its settings."""
    if kind == "duckdb":
        return DuckDBEngine(**settings)
    if kind == "athena":
        from .engines.athena import AthenaEngine

        return AthenaEngine(**settings)
    if kind == "trino":
        from .engines.trino import TrinoEngine

        return TrinoEngine(**settings)
    raise NotFoundError("engine", kind, ENGINES)


class FeatureStore:
    """Typed features from a catalog, computed by one engine, cached per entity."""

    def __init__(
        self,
        catalog: Catalog | str | os.PathLike[str] | None = None,
        *,
        engine: Engine | str = "duckdb",
        data: str | os.PathLike[str] | None = None,
        cache: FeatureCache | bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
        **engine_settings: Any,
    ) -> None:
        """`cache_dir` (or FEATUREKIT_CACHE_DIR) keeps the cache on disk too; `chunk_size` caps the IDs per
        query (Athena: also capped by its 262,144-byte query limit) and `max_concurrency` the queries at once."""
        self.catalog = catalog if isinstance(catalog, Catalog) else catalog_mod.load(catalog)
        if isinstance(engine, str):
            if data is not None:
                if engine != "duckdb":
                    raise ConfigError(
                        "data", f"--data is for the duckdb engine; {engine} reads the profile's data root"
                    )
                engine_settings["data"] = data
            engine = open_engine(engine, **engine_settings)
        self.engine: Engine = engine
        if cache is True:
            cache = FeatureCache(path=default_cache_dir(cache_dir))
        self.cache: FeatureCache | None = cache or None
        self.chunk_size, self.max_concurrency = chunk_size, max_concurrency
        # One bucket per store: concurrent get_frame calls share Athena's StartQueryExecution budget.
        self._bucket: batch.TokenBucket | None = None
        # Notes are cached too (TTL 1 h): a model call costs tokens and seconds, a repeat lookup should not.
        self.note_cache: NoteCache | None = NoteCache() if cache is not False else None
        self._renderer = Renderer(self.catalog, self.engine.dialect, self.engine.table_sql, self.engine.adapt_sql)
        self.session_queries: list[QueryStats] = []

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.flush()
        self.engine.close()

    def render(
        self, view: str, ids: Any, *, as_of: dt.date | str | None = None, params: Mapping[str, Any] | None = None
    ) -> RenderedQuery:
        """The SQL and bound values that `get` would run, without running it."""
        return self._renderer.render(view, ids, as_of=as_of, params=params)

    def dry_run(
        self, view: str, ids: Any, *, as_of: dt.date | str | None = None, params: Mapping[str, Any] | None = None
    ) -> DryRun:
        """What `get_frame` would run and where, without running anything or calling AWS.

        IDs and parameters are validated exactly as `get_frame` validates them. The chunk count is an upper
        bound: IDs already in the cache are not queried.
        """
        query = self.render(view, ids, as_of=as_of, params=params)
        plan = self._plan(query, query.entity_ids)
        where: dict[str, Any] = {"engine": self.engine.name}
        settings = getattr(self.engine, "settings", None)
        if settings is not None:  # Athena, Trino: only settings that say where, never credentials
            # Fields only: on a pydantic model `schema` is also a method, which is not a setting.
            fields = getattr(type(settings), "model_fields", {})
            where.update(
                {k: getattr(settings, k) for k in _WHERE_SETTINGS if k in fields and getattr(settings, k) is not None}
            )
        if isinstance(self.engine, DuckDBEngine):
            where["data"] = str(self.engine.data) if self.engine.data else None
            for name in query.tables:
                try:
                    where[f"table {name}"] = str(self.engine.location(self.catalog.table(name)))
                except FeaturekitError as exc:
                    where[f"table {name}"] = f"unavailable: {exc}"
        return DryRun(query, where, tuple(len(c) for c in plan.chunks), plan.max_concurrency)

    @overload
    def get(  # type: ignore[overload-overlap]  # a str is also an Iterable[str]; this one matches first
        self,
        view: str,
        ids: str | int,
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
    ) -> FeatureRow: ...

    @overload
    def get(
        self,
        view: str,
        ids: Iterable[str | int],
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
    ) -> FeatureFrame: ...

    def get(
        self,
        view: str,
        ids: str | int | Iterable[str | int],
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
    ) -> FeatureRow | FeatureFrame:
        """Features of one entity (a FeatureRow) or of many (a FeatureFrame, one row per ID, in order)."""
        frame = self.get_frame(
            view, [ids] if isinstance(ids, (str, int)) else ids, as_of=as_of, params=params, use_cache=use_cache
        )
        if isinstance(ids, (str, int)):
            return next(iter(frame))
        return frame

    def get_frame(
        self,
        view: str,
        ids: Iterable[str | int],
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
        progress: batch.Progress | bool | None = None,
    ) -> FeatureFrame:
        """Features of many entities as a FeatureFrame.

        The IDs the cache misses are split into chunks that run in parallel; `progress` is a callback
        `(entities done, total)` after each chunk, or True for a rich progress bar (terminal or Jupyter).
        """
        if progress is True:
            with batch.rich_progress(f"{view}: querying", min_entities=1) as bar:
                return self.get_frame(view, ids, as_of=as_of, params=params, use_cache=use_cache, progress=bar)
        report = progress or None
        start = time.perf_counter()
        query = self.render(view, ids, as_of=as_of, params=params)
        decl = self.catalog.view(view)
        entity = self.catalog.entity(decl.entity)
        self.engine.prepare(self.catalog.table(t) for t in query.tables)
        schema = arrow_schema(decl, entity.key, entity.key_type)
        queries: list[QueryStats] = []

        def run(missing: Sequence[Any]) -> pa.Table:
            plan = self._plan(query, missing)
            if plan.starts_per_second and self._bucket is None:
                self._bucket = batch.TokenBucket(plan.starts_per_second, burst=float(plan.max_concurrency))
            results = batch.run_chunks(
                plan, lambda chunk: self.engine.execute(query.with_ids(chunk)), progress=report, bucket=self._bucket
            )
            for _, stats in results:
                queries.append(stats)
                self.session_queries.append(stats)
            tables = [
                typed(decl, entity.key, entity.key_type, c, r) for c, (r, _) in zip(plan.chunks, results, strict=True)
            ]
            return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

        ids_in_order = query.entity_ids
        hits = 0
        if self.cache is not None and use_cache:
            prefix = self._cache_prefix(query)

            def fetch(missing: list[Hashable]) -> Fetched:
                table = run(missing)
                mine = queries[:]  # only this fetch ran queries; their cost is what a later hit saves
                return Fetched(
                    {entity_id: (table, n) for n, entity_id in enumerate(missing)},
                    scanned_bytes=sum(q.scanned_bytes or 0 for q in mine),
                    cost_usd=sum(q.cost_usd or 0.0 for q in mine),
                )

            codec = batch.RowCodec(schema) if self.cache.path is not None else None
            refs, hits = self.cache.lookup(prefix, ids_in_order, fetch, codec)
            # Rows stay in the tables the queries returned; one take() puts them in the order asked.
            table = batch.assemble([refs[i] for i in ids_in_order])
        else:
            table = run(ids_in_order)
        provenance = Provenance(
            engine=self.engine.name,
            view=decl.name,
            template_version=query.template_version,
            sql_hash=query.sql_hash,
            as_of=query.params["as_of"],
            parameters={k: v for k, v in query.params.items() if k not in ("entity_ids", "as_of")},
            queries=tuple(queries),
            cache_hits=hits,
            elapsed_ms=(time.perf_counter() - start) * 1000,
        )
        return FeatureFrame(decl, entity.key, table, provenance)

    def _plan(self, query: RenderedQuery, ids: Sequence[Any]) -> batch.BatchPlan:
        """How `ids` are split into queries on this engine; the dry run shows the same plan `get` runs."""
        return batch.plan(
            ids,
            query.sql,
            dialect=self.engine.dialect,
            chunk_size=self.chunk_size,
            max_concurrency=self.max_concurrency,
            max_query_bytes=getattr(self.engine, "max_query_bytes", None),
        )

    def _cache_prefix(self, query: RenderedQuery) -> tuple[Hashable, ...]:
        params = tuple(sorted((k, v) for k, v in query.params.items() if k != "entity_ids"))
        return (self.engine.name, query.view, query.template_version, params)

    def prompt(
        self,
        prompt: str,
        entity_id: str | int,
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
    ) -> RenderedPrompt:
        """Fetch the features a prompt needs and render it (nothing is sent to a model)."""
        decl = self.catalog.prompt(prompt)
        day = parse_as_of(as_of)
        given = dict(params or {})
        rows: dict[str, FeatureRow] = {}
        for view_name in decl.views:
            view = self.catalog.view(view_name)
            mine = {p.name: given[p.name] for p in view.parameters if p.name in given}
            rows[view_name] = self.get(view_name, entity_id, as_of=day, params=mine, use_cache=use_cache)
        declared = {p.name for v in decl.views for p in self.catalog.view(v).parameters}
        for name in given:
            if name not in declared:
                raise NotFoundError(f"parameter of prompt {prompt!r}", name, declared)
        return render_prompt(self.catalog, decl.name, entity_id, day, rows)

    def note(
        self,
        prompt: str,
        entity_id: str | int,
        *,
        provider: Provider | str = "offline",
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
        grounding: str = "warn",
    ) -> Note:
        """A note written from the entity's features, with the facts it rests on and a grounding report.

        `grounding` is the policy for numbers no fact supports: warn, retry (once) or fallback (offline note).
        If the model call fails, LLMError is raised with `partial` holding the features and rendered prompt.
        """
        rendered = self.prompt(prompt, entity_id, as_of=as_of, params=params, use_cache=use_cache)
        chosen = get_provider(provider) if isinstance(provider, str) else provider
        cache = self.note_cache if use_cache else None
        return write_note(rendered, chosen, grounding=grounding, cache=cache)
