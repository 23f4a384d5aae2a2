"""Hardening (issue 7): 16 threads x 1,000 mixed lookups with the cache on.

Random single IDs and small batches, two views, several parameter sets, unknown IDs among them.
Every row must equal the serial answer for its (view, parameters, ID): no cross-talk between
entities or parameter sets. Single flight must hold: the engine is asked for each distinct key
exactly once, however many threads want it at the same moment. The same on the Athena path (moto),
with results synthesised per query from the SQL it received.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import featurekit
from featurekit.cache import FeatureCache
from featurekit.testing.athena import COLUMNS, AthenaFake
from tests.conftest import AS_OF
from tests.hardening_support import immediate, tried

THREADS, LOOKUPS = 16, 1_000
IDS = [f"C{n:05d}" for n in range(1, 61)] + ["C00099", "C01000", "C99999"]  # the last three have no orders
SETTINGS: list[tuple[str, tuple[tuple[str, int], ...]]] = [
    ("customer_orders", (("lookback_days", 30),)),
    ("customer_orders", (("lookback_days", 90),)),
    ("customer_orders", (("lookback_days", 365),)),
    ("spend_trend", (("window_days", 7),)),
    ("spend_trend", (("window_days", 30),)),
]


def plan(seed: int, n: int) -> list[tuple[str, tuple[tuple[str, int], ...], list[str]]]:
    rng = random.Random(seed)
    work = []
    for _ in range(n):
        view, params = rng.choice(SETTINGS)
        size = 1 if rng.random() < 0.6 else rng.randint(2, 6)
        work.append((view, params, rng.sample(IDS, size)))
    return work


def hammer(store: featurekit.FeatureStore, plans: list[list[Any]]) -> tuple[list[BaseException], list[Any]]:
    """Run each plan in its own thread, all released at once; returns (errors, [(view, params, ids, rows)])."""
    errors: list[BaseException] = []
    answers: list[Any] = []
    gate = threading.Barrier(len(plans))

    def work(mine: list[Any]) -> None:
        got = []
        try:
            gate.wait()
            for view, params, ids in mine:
                frame = store.get_frame(view, ids, as_of=AS_OF, params=dict(params))
                got.append((view, params, ids, frame.to_dicts()))
        except BaseException as exc:  # collected and asserted by the caller
            errors.append(exc)
        answers.extend(got)

    threads = [threading.Thread(target=work, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, answers


def test_duckdb_16_threads_no_errors_no_cross_talk_single_flight(sample_dir: Path) -> None:
    with featurekit.FeatureStore(data=sample_dir, cache=False) as serial:
        truth = {
            (view, params, row["customer_id"]): row
            for view, params in SETTINGS
            for row in serial.get_frame(view, IDS, as_of=AS_OF, params=dict(params)).to_dicts()
        }
    plans = [plan(seed, LOOKUPS) for seed in range(THREADS)]
    with featurekit.FeatureStore(data=sample_dir, cache=FeatureCache(ttl=3600)) as store:
        errors, answers = hammer(store, plans)
        queries = list(store.session_queries)
    tried("concurrency: DuckDB lookups", sum(len(p) for p in plans))
    assert errors == []
    assert len(answers) == THREADS * LOOKUPS
    for view, params, ids, rows in answers:
        assert [r["customer_id"] for r in rows] == ids  # one row per ID, in the order asked
        for row in rows:
            assert row == truth[(view, params, row["customer_id"])], (view, params, row)
    wanted = {(view, params, i) for p in plans for view, params, ids in p for i in ids}
    # Single flight: the engine computed each distinct key exactly once across all threads.
    assert sum(q.entities for q in queries) == len(wanted)
    assert len(queries) <= len(wanted)


def test_duckdb_single_flight_under_a_thundering_herd(sample_dir: Path) -> None:
    """16 threads ask for the same cold key at the same instant: one query, 16 equal answers."""
    with featurekit.FeatureStore(data=sample_dir) as store:
        errors, answers = hammer(store, [[("customer_orders", (("lookback_days", 90),), ["C00042"])]] * THREADS)
        assert errors == [] and len(store.session_queries) == 1
    tried("concurrency: DuckDB lookups", THREADS)
    assert len({repr(rows) for *_, rows in answers}) == 1


# -- Athena: the same load, fewer distinct keys -------------------------------------------------
# moto runs no SQL, so each query's result is synthesised from the SQL it received: a hook on the
# recording proxy reads the IDs and lookback from StartQueryExecution and answers with rows that
# encode them (order_count = lookback, total_spend = the ID's number). Results are queued FIFO by
# moto, so queries are serialised by the hook's lock; threads still race in featurekit's cache.


def test_athena_threads_no_cross_talk_single_flight(athena_fake: AthenaFake) -> None:
    import re

    seen: Counter[tuple[int, str]] = Counter()

    def answer(operation: str, body: dict[str, Any]) -> None:
        if operation != "StartQueryExecution":
            return
        sql = body["QueryString"]
        ids = re.findall(r"'(C\d{5})'", sql.split("IN (", 1)[1].split(")", 1)[0])
        lookback = int(re.search(r"date_add\('day', -(\d+),", sql).group(1))
        for i in ids:
            seen[(lookback, i)] += 1
        rows = [(i, lookback, float(i[1:]), 1.0, "2024-04-20", 0.0, "books", 1) for i in ids if i != "C00099"]
        athena_fake.inject(COLUMNS, *rows)

    immediate(athena_fake)
    athena_fake.proxy.on_call = answer
    lookbacks = (30, 90)
    ids = [f"C{n:05d}" for n in range(1, 21)] + ["C00099"]
    plans = []
    for seed in range(THREADS):
        rng = random.Random(seed)
        plans.append(
            [
                ("customer_orders", (("lookback_days", rng.choice(lookbacks)),), rng.sample(ids, rng.randint(1, 3)))
                for _ in range(LOOKUPS)
            ]
        )
    # One connection: moto hands out injected results in the order queries start, so starts must not race.
    engine = athena_fake.engine()
    with featurekit.FeatureStore(engine=engine, cache=FeatureCache(ttl=3600), max_concurrency=1) as store:
        lock = threading.Lock()
        original = engine.execute

        def one_at_a_time(query: Any) -> Any:
            with lock:
                return original(query)

        engine.execute = one_at_a_time  # type: ignore[method-assign]
        errors, answers = hammer(store, plans)
    tried("concurrency: Athena lookups", sum(len(p) for p in plans))
    assert errors == []
    for _, params, asked, rows in answers:
        lookback = dict(params)["lookback_days"]
        assert [r["customer_id"] for r in rows] == asked
        for row in rows:
            if row["customer_id"] == "C00099":
                assert row["order_count"] == 0  # declared default: no row came back
            else:
                assert (row["order_count"], row["total_spend"]) == (lookback, float(row["customer_id"][1:])), row
    wanted = {(dict(params)["lookback_days"], i) for p in plans for _, params, asked in p for i in asked}
    assert set(seen) == wanted and max(seen.values()) == 1  # every key sent to Athena exactly once


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEATUREKIT_CACHE_DIR", raising=False)
