"""FeatureStore: the few lines a notebook or service writes.

    store = FeatureStore(data="data/")            # embedded DuckDB over local files
    store.get("customer_orders", "C00042")        # -> FeatureRow
    store.get("customer_orders", ids)             # -> FeatureFrame, one query for all misses
    store.note("retention_note", "C00042")        # -> Note (offline writer by default)

It wires the stages together: catalog → render → engine → cache → typed result → prompt → LLM.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence, Sized
from typing import TYPE_CHECKING, Any, overload

import pyarrow as pa

from . import batch, tracing
from .cache import FeatureCache, Fetched, default_cache_dir
from .catalog import loader as catalog_mod
from .catalog.loader import Catalog
from .engines import identity
from .engines.base import Engine, QueryStats
from .engines.estimate import DryRun, ScanEstimate, check_budget, scan_estimates, where_it_runs
from .engines.registry import open_engine
from .errors import ConfigError, FeaturekitError, NotFoundError
from .llm.prompts import RenderedPrompt, render_prompt
from .llm.providers import Provider, get_provider
from .render import OnInvalid, RenderedQuery, Renderer, check_ids, parse_as_of
from .report import ENV_QUERY_LOG, Lookup, QueryLog, WorkloadReport
from .results import FeatureFrame, FeatureRow, Provenance, arrow_schema, typed

if TYPE_CHECKING:
    from .llm.notes import Note, NoteCache


#: Cache keys whose no-data verdict a store remembers (see FeatureStore._no_data).
EMPTY_WINDOWS_KEPT = 4_096


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
        query_log: str | os.PathLike[str] | None = None,
        **engine_settings: Any,
    ) -> None:
        """`cache_dir` (or FEATUREKIT_CACHE_DIR) keeps the cache on disk too; `chunk_size` caps the IDs per
        query (Athena: also capped by its 262,144-byte query limit) and `max_concurrency` the queries at once;
        `query_log` (or FEATUREKIT_QUERY_LOG) appends every lookup to a JSON-lines file for `featurekit report`."""
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
        # A cache the store made is closed with it; one passed in may be shared, so its owner closes it.
        self._owns_cache = cache is True
        if cache is True:
            cache = FeatureCache(path=default_cache_dir(cache_dir))
        self.cache: FeatureCache | None = cache or None
        self.chunk_size, self.max_concurrency = chunk_size, max_concurrency
        # One bucket per store: concurrent get_frame calls share Athena's StartQueryExecution budget.
        self._bucket: batch.TokenBucket | None = None
        # Notes are cached too (TTL 1 h): a model call costs tokens and seconds, a repeat lookup should not.
        # The cache is made by the first note, so a process that only looks features up never loads that stage.
        self.note_cache: NoteCache | None = None
        self._cache_notes = cache is not False
        self._renderer = Renderer(self.catalog, self.engine.dialect, self.engine.table_sql, self.engine.adapt_sql)
        self._empty_windows: dict[Hashable, bool] = {}  # cache key -> its window matched no data file
        self.session_queries: list[QueryStats] = []
        self.session_lookups: list[Lookup] = []
        log = query_log or os.environ.get(ENV_QUERY_LOG)
        self.query_log: QueryLog | None = QueryLog(log) if log else None

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush the cache's counters and release every descriptor: the disk cache's SQLite file, the engine."""
        if self.cache is not None:
            if self._owns_cache:
                self.cache.close()
            else:
                self.cache.flush()
        self.engine.close()

    def render(
        self, view: str, ids: Any, *, as_of: dt.date | str | None = None, params: Mapping[str, Any] | None = None
    ) -> RenderedQuery:
        """The SQL and bound values that `get` would run, without running it."""
        return self._renderer.render(view, ids, as_of=as_of, params=params)

    def dry_run(
        self,
        view: str,
        ids: Any,
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        estimate: bool = True,
    ) -> DryRun:
        """What `get_frame` would run, where, and what it would read, without running a query.

        IDs and parameters are validated exactly as `get_frame` validates them. The chunk count is an upper
        bound: IDs already in the cache are not queried. With `estimate`, the files and bytes each query would
        read after partition pruning come from the local folder or from S3 listings (never from Athena).
        """
        query = self.render(view, ids, as_of=as_of, params=params)
        plan = self._plan(query, query.entity_ids)
        where = where_it_runs(self.engine, [self.catalog.table(t) for t in query.tables])
        scans = self._scan_estimates(query) if estimate else ()
        return DryRun(query, where, tuple(len(c) for c in plan.chunks), plan.max_concurrency, scans)

    def _no_data(self, query: RenderedQuery, queries: Sequence[QueryStats], prefix: Hashable) -> bool:
        """Whether the window matched no data file or partition at all. That is a property of the window and the
        files, not of an ID, so it is kept per cache key: a lookup answered from the cache carries its fill's flag."""
        known = self._empty_windows.get(prefix) if prefix is not None else False  # no key: every ID was invalid
        if not queries and known is not None:
            return known
        if any(q.rows for q in queries):
            verdict = False
        else:
            scans = self._scan_estimates(query)
            # Where the engine cannot list what a query reads, no row for any ID is all there is to go by; a
            # lookup filled elsewhere (disk, Redis) that ran no query has not even that.
            verdict = all(scan.files == 0 for scan in scans) and bool(scans or queries)
        if prefix is not None:
            if len(self._empty_windows) >= EMPTY_WINDOWS_KEPT:  # forgetting only costs a listing, once
                self._empty_windows.clear()
            self._empty_windows[prefix] = verdict
        return verdict

    def _scan_estimates(self, query: RenderedQuery) -> tuple[ScanEstimate, ...]:
        return scan_estimates(self.engine, [self.catalog.table(t) for t in query.tables], query)

    @overload
    def get(  # type: ignore[overload-overlap]  # a str is also an Iterable[str]; this one matches first
        self,
        view: str,
        ids: str | int,
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
        on_invalid: OnInvalid = "error",
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
        on_invalid: OnInvalid = "error",
    ) -> FeatureFrame: ...

    def get(
        self,
        view: str,
        ids: str | int | Iterable[str | int],
        *,
        as_of: dt.date | str | None = None,
        params: Mapping[str, Any] | None = None,
        use_cache: bool = True,
        on_invalid: OnInvalid = "error",
    ) -> FeatureRow | FeatureFrame:
        """Features of one entity (a FeatureRow) or of many (a FeatureFrame, one row per ID, in order)."""
        frame = self.get_frame(
            view,
            [ids] if isinstance(ids, (str, int)) else ids,
            as_of=as_of,
            params=params,
            use_cache=use_cache,
            on_invalid=on_invalid,
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
        on_invalid: OnInvalid = "error",
    ) -> FeatureFrame:
        """Features of many entities as a FeatureFrame: one row per ID given, in order, duplicates included.

        The IDs the cache misses are split into chunks that run in parallel; `progress` is a callback
        `(entities done, total)` after each chunk, or True for a rich progress bar (terminal or Jupyter).
        `on_invalid="null"` gives an ID that fails the entity's pattern a null row with its reason
        (`frame.invalid`) instead of failing the whole batch. Each call, success or failure, is one record in
        `session_lookups` (and in the query log).
        """
        start = time.perf_counter()
        try:
            with tracing.span("featurekit.get", {"featurekit.view": view, "featurekit.engine": self.engine.name}) as sp:
                frame = self._get_frame(
                    view, ids, as_of=as_of, params=params, use_cache=use_cache, progress=progress, on_invalid=on_invalid
                )
                p = frame.provenance
                tracing.set_attributes(
                    sp,
                    {"featurekit.entities": len(frame), "featurekit.cache_hits": p.cache_hits,
                     "featurekit.queries": p.queries_run, "featurekit.scanned_bytes": p.scanned_bytes},
                )  # fmt: skip
        except FeaturekitError as exc:
            entities = len(ids) if isinstance(ids, Sized) and not isinstance(ids, (str, bytes)) else 1
            self._record(
                Lookup(
                    view,
                    self.engine.name,
                    entities,
                    0,
                    (time.perf_counter() - start) * 1000,
                    error=type(exc).__name__,
                    message=str(exc).splitlines()[0] if str(exc) else None,
                )
            )
            raise
        p = frame.provenance
        self._record(Lookup(view, p.engine, len(frame), p.cache_hits, p.elapsed_ms, p.queries))
        return frame

    def _record(self, lookup: Lookup) -> None:
        self.session_lookups.append(lookup)
        if self.query_log is not None:
            self.query_log.append(lookup)

    def workload(self) -> WorkloadReport:
        """This store's lookups so far as a report: counts, latency percentiles, bytes, cost, hit rates."""
        return WorkloadReport.build(self.session_lookups)

    def _get_frame(
        self,
        view: str,
        ids: Iterable[str | int],
        *,
        as_of: dt.date | str | None,
        params: Mapping[str, Any] | None,
        use_cache: bool,
        progress: batch.Progress | bool | None,
        on_invalid: OnInvalid,
    ) -> FeatureFrame:
        if progress is True:
            with batch.rich_progress(f"{view}: querying", min_entities=1) as bar:
                return self._get_frame(
                    view, ids, as_of=as_of, params=params, use_cache=use_cache, progress=bar, on_invalid=on_invalid
                )
        report = progress or None
        start = time.perf_counter()
        ran_at = dt.datetime.now(dt.timezone.utc)
        decl = self.catalog.view(view)
        entity = self.catalog.entity(decl.entity)
        with tracing.span("featurekit.render", {"featurekit.view": view}):
            checked = check_ids(entity, ids, on_invalid)
            query = self._renderer.render(view, checked, as_of=as_of, params=params)
        self.engine.prepare(self.catalog.table(t) for t in query.tables)
        schema = arrow_schema(decl, entity.key, entity.key_type)
        queries: list[QueryStats] = []

        def run(missing: Sequence[Any]) -> pa.Table:
            plan = self._plan(query, missing)
            limit = getattr(getattr(self.engine, "settings", None), "max_bytes_per_query", None)
            if limit is not None:  # refuse before anything starts, not after the money is spent
                check_budget(self._scan_estimates(query), len(plan.chunks), limit, view)
            if plan.starts_per_second and self._bucket is None:
                self._bucket = batch.TokenBucket(plan.starts_per_second, burst=float(plan.max_concurrency))
            results = batch.run_chunks(
                plan,
                tracing.in_current_context(lambda chunk: self._execute(query, chunk)),
                progress=report,
                bucket=self._bucket,
            )
            for _, stats in results:
                queries.append(stats)
                self.session_queries.append(stats)
            tables = [
                typed(decl, entity.key, entity.key_type, c, r, s.query_id)
                for c, (r, s) in zip(plan.chunks, results, strict=True)
            ]
            return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

        ids_in_order = query.entity_ids
        hits = 0
        prefix: Hashable = None
        if not ids_in_order:  # every ID was invalid (on_invalid="null"): nothing to ask the engine
            table = schema.empty_table()
        elif self.cache is not None and use_cache:
            prefix = identity.cache_prefix(self.engine, query, [self.catalog.table(t) for t in query.tables])

            fetched: list[pa.Table] = []

            def fetch(missing: list[Hashable]) -> Fetched:
                table = run(missing)
                fetched.append(table)
                mine = queries[:]  # only this fetch ran queries; their cost is what a later hit saves
                # One row per ID, in the order asked: the cache pairs them with `missing` only if it reads them.
                return Fetched(
                    rows=lambda: zip(itertools.repeat(table), range(table.num_rows)),
                    scanned_bytes=sum(q.scanned_bytes or 0 for q in mine),
                    cost_usd=sum(q.cost_usd or 0.0 for q in mine),
                    nbytes=table.nbytes,
                )

            codec = batch.RowCodec(schema, entity.key) if self.cache.tier is not None else None
            with tracing.span("featurekit.cache", {"featurekit.entities": len(ids_in_order)}) as span:
                refs, hits = self.cache.lookup(prefix, ids_in_order, fetch, codec, distinct=True)
                span.set_attribute("featurekit.cache_hits", hits)
            if fetched and fetched[0].num_rows == len(ids_in_order):
                table = fetched[0]  # every ID missed and was fetched, in the order asked: nothing to assemble
            else:
                # Rows stay in the tables the queries returned; one take() puts them in the order asked.
                table = batch.assemble([refs[i] for i in ids_in_order])
        else:
            table = run(ids_in_order)
        table = batch.as_requested(table, checked, schema)
        provenance = Provenance(
            engine=self.engine.name,
            view=decl.name,
            template_version=query.template_version,
            sql_hash=query.sql_hash,
            as_of=query.params["as_of"],
            parameters={k: v for k, v in query.params.items() if k not in ("entity_ids", "as_of", "as_of_time")},
            # Views without :as_of_time filter by day: what they included ends with the as_of day.
            as_of_time=query.params.get("as_of_time", dt.datetime.combine(query.params["as_of"], dt.time.max)),
            ran_at=ran_at,
            no_data=self._no_data(query, queries, prefix),
            queries=tuple(queries),
            cache_hits=hits,
            elapsed_ms=(time.perf_counter() - start) * 1000,
        )
        return FeatureFrame(decl, entity.key, table, provenance, checked.invalid)

    def _execute(self, query: RenderedQuery, chunk: Sequence[Any]) -> tuple[pa.Table, QueryStats]:
        with tracing.span(
            "featurekit.query", {"featurekit.view": query.view, "featurekit.entities": len(chunk)}
        ) as span:
            table, stats = self.engine.execute(query.with_ids(chunk))
            tracing.set_attributes(
                span,
                {"featurekit.query_id": stats.query_id, "featurekit.scanned_bytes": stats.scanned_bytes,
                 "featurekit.rows": stats.rows, "featurekit.engine": stats.engine},
            )  # fmt: skip
            return table, stats

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
            rows[view_name] = self.get(view_name, entity_id, as_of=as_of, params=mine, use_cache=use_cache)
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

        `grounding` is the policy for numbers no fact supports: warn, retry (once), fallback (offline note) or
        strict (raise GroundingError).
        If the model call fails, LLMError is raised with `partial` holding the features and rendered prompt.
        """
        from .llm.notes import NoteCache, write_note

        if self.note_cache is None and self._cache_notes:
            self.note_cache = NoteCache()

        with tracing.span("featurekit.note", {"featurekit.prompt": prompt}):
            with tracing.span("featurekit.prompt", {"featurekit.prompt": prompt}):
                rendered = self.prompt(prompt, entity_id, as_of=as_of, params=params, use_cache=use_cache)
            chosen = get_provider(provider) if isinstance(provider, str) else provider
            cache = self.note_cache if use_cache else None
            with tracing.span("featurekit.model", {"featurekit.provider": chosen.name}) as span:
                written = write_note(rendered, chosen, grounding=grounding, cache=cache)
                usage = {f"featurekit.tokens.{k}": v for k, v in written.completion.usage.items()}
                report = written.grounding
                tracing.set_attributes(
                    span,
                    {**usage, "featurekit.model": written.model, "featurekit.cached": written.cached,
                     "featurekit.grounding_action": written.grounding_action,
                     "featurekit.grounding.ungrounded": None if report is None else len(report.ungrounded)},
                )  # fmt: skip
            return written
