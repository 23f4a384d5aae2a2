"""Prometheus metrics of one server process. Labels are routes, views, statuses: never IDs, tokens or values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("featurekit_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = Histogram(
            "featurekit_request_seconds", "HTTP request latency", ["route"], registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.queries = Counter("featurekit_queries", "Engine queries run", ["view", "engine"], registry=r)
        self.scanned = Counter("featurekit_scanned_bytes", "Bytes scanned by engine queries", ["view"], registry=r)
        self.cost = Counter("featurekit_cost_usd", "Estimated engine cost in dollars", ["view"], registry=r)
        self.entities = Counter("featurekit_entities", "Entities returned", ["view"], registry=r)
        self.cache_hits = Counter("featurekit_cache_hits", "Entities answered from the cache", ["view"], registry=r)
        self.cache_misses = Counter("featurekit_cache_misses", "Entities the cache missed", ["view"], registry=r)
        self.llm_tokens = Counter("featurekit_llm_tokens", "LLM tokens used", ["prompt", "kind"], registry=r)
        self.inflight = Gauge("featurekit_inflight_queries", "Lookups running now", registry=r)

    def lookup(self, view: str, engine: str, provenance: Any, entities: int) -> None:
        """Count one lookup from its provenance."""
        self.entities.labels(view).inc(entities)
        self.cache_hits.labels(view).inc(provenance.cache_hits)
        self.cache_misses.labels(view).inc(entities - provenance.cache_hits)
        if provenance.queries_run:
            self.queries.labels(view, engine).inc(provenance.queries_run)
        self.scanned.labels(view).inc(provenance.scanned_bytes or 0)
        self.cost.labels(view).inc(provenance.cost_usd or 0.0)

    def tokens(self, prompt: str, usage: Mapping[str, int]) -> None:
        for kind, count in usage.items():
            if isinstance(count, int) and count > 0:
                self.llm_tokens.labels(prompt, kind).inc(count)

    def text(self) -> bytes:
        return generate_latest(self.registry)
