"""Issue 12, "never a silently wrong answer": each scenario of its Why list reproduced and answered right.

Cache identity is tested through the disk cache across processes: every lookup is a separate
`python -m featurekit.cli get` sharing one FEATUREKIT_CACHE_DIR, as two notebooks or CLI runs would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import featurekit
from featurekit.sample import write_sample
from featurekit.testing.athena import COLUMNS, DUMMY_ENV, REGION, STAGING, AthenaFake
from tests.conftest import AS_OF
from tests.hardening_support import tried


def cli_get(cache_dir: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One `featurekit get --format json` in its own process; returns the parsed JSON result."""
    run_env = {**os.environ, "FEATUREKIT_CACHE_DIR": str(cache_dir), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "featurekit.cli", "get", *args, "--as-of", AS_OF.isoformat(), "--format", "json"],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def truth(data: Path, entity_id: str) -> dict[str, Any]:
    """The uncached answer, computed in this process."""
    with featurekit.FeatureStore(data=data, cache=False) as store:
        return store.get("customer_orders", entity_id, as_of=AS_OF).to_json()["rows"][0]


def test_two_data_roots_never_share_a_disk_cache_entry(tmp_path: Path) -> None:
    d1, d2, cache = tmp_path / "d1", tmp_path / "d2", tmp_path / "cache"
    write_sample(d1, customers=60, orders=400, as_of=AS_OF, seed=1)
    write_sample(d2, customers=60, orders=400, as_of=AS_OF, seed=2)
    assert truth(d1, "C00042") != truth(d2, "C00042")
    first = cli_get(cache, "customer_orders", "C00042", "--data", str(d1))
    second = cli_get(cache, "customer_orders", "C00042", "--data", str(d2))
    again = cli_get(cache, "customer_orders", "C00042", "--data", str(d1))
    tried("cache identity: data roots", 3)
    assert first["rows"][0] == truth(d1, "C00042") and first["provenance"]["queries_run"] == 1
    assert second["rows"][0] == truth(d2, "C00042") and second["provenance"]["queries_run"] == 1
    # The disk cache does work across processes: the third run is a hit, with d1's answer.
    assert again["rows"][0] == truth(d1, "C00042") and again["provenance"]["cache_hits"] == 1


def test_regenerated_files_invalidate_their_entries(tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    write_sample(data, customers=60, orders=400, as_of=AS_OF, seed=1)
    before = cli_get(cache, "customer_orders", "C00042", "C00013", "--data", str(data))
    assert before["rows"][0] == truth(data, "C00042")
    # Same folder, same file names, new contents (as a nightly job would rewrite them).
    write_sample(data, customers=60, orders=400, as_of=AS_OF, seed=2)
    after = cli_get(cache, "customer_orders", "C00042", "C00013", "--data", str(data))
    assert after["rows"][0] == truth(data, "C00042") != before["rows"][0]
    assert after["provenance"]["cache_hits"] == 0
    # One new file in one partition is a change too.
    day = data / "orders" / f"dt={AS_OF.isoformat()}"
    (day / "part-9.json").write_text(
        json.dumps(
            {
                "order_id": "O-new",
                "customer_id": "C00042",
                "order_date": AS_OF.isoformat(),
                "category": "books",
                "amount": 1.0,
                "refunded": False,
            }
        )
        + "\n"
    )
    added = cli_get(cache, "customer_orders", "C00042", "--data", str(data))
    tried("cache identity: regenerated files", 3)
    assert added["provenance"]["cache_hits"] == 0
    assert added["rows"][0]["order_count"] == after["rows"][0]["order_count"] + 1


def test_two_athena_schemas_never_share_a_disk_cache_entry(athena_fake: AthenaFake, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {
        **DUMMY_ENV,
        "FEATUREKIT_ATHENA_REGION": REGION,
        "FEATUREKIT_ATHENA_S3_STAGING_DIR": STAGING,
        "FEATUREKIT_ATHENA_ENDPOINT_URL": athena_fake.endpoint,
        "FEATUREKIT_ATHENA_POLL_INTERVAL": "0.01",
    }
    prod = ("C00042", 3, 412.5, 137.5, "2026-06-20", 0.25, "books", 10)
    staging = ("C00042", 7, 99.0, 14.0, "2026-06-29", 0.0, "food", 1)
    athena_fake.inject(COLUMNS, prod)
    athena_fake.inject(COLUMNS, staging)
    athena_fake.inject(COLUMNS, ("C00042", 5, 1.0, 0.2, "2026-06-01", 0.0, "toys", 29))
    athena_fake.client().create_work_group(Name="b", Configuration={"ResultConfiguration": {"OutputLocation": STAGING}})
    args = ("customer_orders", "C00042", "--engine", "athena")
    got_prod = cli_get(cache, *args, env={**env, "FEATUREKIT_ATHENA_SCHEMA": "prod"})
    got_staging = cli_get(cache, *args, env={**env, "FEATUREKIT_ATHENA_SCHEMA": "staging"})
    got_prod_again = cli_get(cache, *args, env={**env, "FEATUREKIT_ATHENA_SCHEMA": "prod"})
    got_wg = cli_get(cache, *args, env={**env, "FEATUREKIT_ATHENA_SCHEMA": "prod", "FEATUREKIT_ATHENA_WORKGROUP": "b"})
    tried("cache identity: athena locations", 4)
    assert got_prod["rows"][0]["order_count"] == 3
    assert got_staging["rows"][0]["order_count"] == 7 and got_staging["provenance"]["queries_run"] == 1
    assert got_prod_again["rows"][0]["order_count"] == 3 and got_prod_again["provenance"]["cache_hits"] == 1
    # Another workgroup may see other data (its own catalog permissions): it is another key.
    assert got_wg["rows"][0]["order_count"] == 5 and got_wg["provenance"]["queries_run"] == 1
    queries = [e["Query"] for e in athena_fake.executions()]
    assert '"prod"."orders"' in queries[0] and '"staging"."orders"' in queries[1]


@pytest.mark.parametrize("kind", ["athena", "trino"])
def test_location_settings_are_in_the_key(kind: str) -> None:
    from featurekit.engines import identity
    from featurekit.engines.registry import open_engine

    base = {"athena": {"region": REGION, "s3_staging_dir": STAGING}, "trino": {"host": "h1"}}[kind]
    changes = {
        "athena": [{"region": "eu-west-1"}, {"schema": "s2"}, {"data_catalog": "c2"}, {"workgroup": "w2"}],
        "trino": [{"host": "h2"}, {"schema": "s2"}, {"data_catalog": "c2"}, {"port": 443}],
    }[kind]
    keys = {identity.where(open_engine(kind, **base), [])}
    for change in changes:
        keys.add(identity.where(open_engine(kind, **{**base, **change}), []))
    tried("cache identity: location settings", len(changes))
    assert len(keys) == len(changes) + 1


def test_cache_stats_says_what_an_entry_depends_on_and_its_ttl(cli: Any, tmp_path: Path) -> None:
    code, out, _ = cli("cache", "stats", "--cache-dir", tmp_path / "cache")
    assert code == 0
    assert "entries expire 300 s after they are written" in out
    assert "names, sizes, mtimes" in out and "workgroup" in out
    [shown] = json.loads(cli("cache", "stats", "--cache-dir", tmp_path / "cache", "-f", "json")[1])["items"]
    assert shown["ttl_seconds"] == 300 and any("as_of" in p for p in shown["key_depends_on"])


# --- Why 3: a result with no row for a requested key must not read as "no activity" ----------------------


def _orders_view() -> Any:
    return featurekit.load().view("customer_orders")


def _one_row(key: Any, key_type: pa.DataType | None = None, **changes: Any) -> pa.Table:
    """A customer_orders result row as an engine might return it, with some columns changed."""
    values: dict[str, Any] = {
        "customer_id": pa.array([key], key_type or pa.string()),
        "order_count": pa.array([3], pa.int64()),
        "total_spend": pa.array([412.5]),
        "avg_order": pa.array([137.5]),
        "last_order": pa.array([AS_OF], pa.date32()),
        "refund_rate": pa.array([0.25]),
        "top_category": pa.array(["books"]),
        "days_since_last_order": pa.array([0], pa.int64()),
    }
    values.update(changes)
    return pa.table(values)


WRONG_RESULTS = [
    ("padded CHAR key", _one_row("C00042  "), "returned customer_id 'C00042  ', which was not requested (padded"),
    ("int key for a string entity", _one_row(42, pa.int64()), "key column 'customer_id' is int64"),
    ("another entity's key", _one_row("C00043"), "returned customer_id 'C00043', which was not requested"),
    ("NULL key", _one_row(None), "returned a row with a NULL customer_id"),
    ("bool for a float", _one_row("C00042", total_spend=pa.array([True])), "'total_spend' is declared float"),
    ("string for an int", _one_row("C00042", order_count=pa.array(["3"])), "'order_count' is declared int"),
    ("float for an int", _one_row("C00042", order_count=pa.array([2.5])), "'order_count' is declared int"),
    ("timestamp for a date", _one_row("C00042", last_order=pa.array([dt.datetime(2026, 6, 1)])), "declared date"),
    ("int for a string", _one_row("C00042", top_category=pa.array([7])), "'top_category' is declared string"),
]


@pytest.mark.parametrize("name, result, message", WRONG_RESULTS, ids=[w[0] for w in WRONG_RESULTS])
def test_a_result_that_does_not_answer_the_request_is_a_typed_error(name: str, result: pa.Table, message: str) -> None:
    from featurekit.results import typed

    tried("result checks: wrong results", 1)
    with pytest.raises(featurekit.QueryError) as caught:
        typed(_orders_view(), "customer_id", "string", ["C00042"], result, "q-123")
    assert message in str(caught.value) and "(query q-123)" in str(caught.value)
    assert "customer_orders" in str(caught.value)


def test_two_rows_for_one_key_name_the_key() -> None:
    from featurekit.results import typed

    doubled = pa.concat_tables([_one_row("C00042"), _one_row("C00042")])
    with pytest.raises(featurekit.QueryError, match="more than one row for customer_id 'C00042'"):
        typed(_orders_view(), "customer_id", "string", ["C00042", "C00013"], doubled, "q-1")


def test_defaults_only_for_entities_with_no_rows(athena_fake: AthenaFake) -> None:
    """Over Athena (moto): a padded key for the requested entity is an error, not C00042 with order_count 0."""
    athena_fake.inject(COLUMNS, ("C00042  ", 3, 412.5, 137.5, "2026-06-20", 0.25, "books", 10))
    athena_fake.inject(COLUMNS, ("C00042", 3, 412.5, 137.5, "2026-06-20", None, "books", 10))
    with featurekit.FeatureStore(engine=athena_fake.engine(), cache=False) as store:
        with pytest.raises(featurekit.QueryError, match=r"'C00042  ', which was not requested.*\(query "):
            store.get("customer_orders", "C00042", as_of=AS_OF)
        frame = store.get("customer_orders", ["C00042", "C00099"], as_of=AS_OF)
    rows = frame.to_dicts()
    # A NULL value in a returned row stays NULL; only C00099, with no row at all, gets the declared defaults.
    assert rows[0]["refund_rate"] is None and rows[0]["order_count"] == 3
    assert rows[1]["order_count"] == 0


# --- Why 4 and 6: one row per ID given, in order; one bad ID does not sink a batch -----------------------


def test_duplicate_ids_keep_their_rows_and_order(store: Any) -> None:
    asked = ["C00042", "C00013", "C00042", "C00099", "C00013"]
    frame = store.get("customer_orders", asked, as_of=AS_OF)
    one = {i: store.get("customer_orders", i, as_of=AS_OF).to_dict() for i in set(asked)}
    tried("one row per ID: duplicates", len(asked))
    assert frame.entity_ids == asked
    assert [r.to_dict() for r in frame] == [one[i] for i in asked]
    assert frame.provenance.queries_run + frame.provenance.cache_hits >= 1
    # Joins back onto the input frame row by row.
    import pandas as pd

    joined = pd.DataFrame({"customer_id": asked, "n": range(5)}).join(frame.to_pandas(), suffixes=("", "_f"))
    assert list(joined["customer_id_f"]) == asked


def test_one_bad_id_in_100000(store: Any) -> None:
    ids = [f"C{(i % 60) + 1:05d}" for i in range(100_000)]
    ids[71_234] = "C0004'2; DROP TABLE orders"
    with pytest.raises(featurekit.InvalidEntityId, match="C0004'2; DROP"):
        store.get_frame("customer_orders", ids, as_of=AS_OF)
    frame = store.get_frame("customer_orders", ids, as_of=AS_OF, on_invalid="null")
    tried("on_invalid: 100,000-ID batch", 100_000)
    assert len(frame) == 100_000 and list(frame.invalid) == [71_234]
    assert "does not match the pattern" in frame.invalid[71_234]
    rows = frame.to_dicts()
    bad = rows[71_234]
    assert bad["customer_id"] == ids[71_234] and all(bad[f.name] is None for f in frame.view.features)
    assert rows[71_233]["customer_id"] == ids[71_233] and rows[71_233]["order_count"] is not None
    assert frame.provenance.queries_run <= 1  # 60 distinct valid IDs: at most one query
    assert list(frame)[71_234].invalid == frame.invalid[71_234]


@pytest.mark.parametrize(
    "bad",
    ["", " C00042", "C00042\n", "c00042", "C０００４２", "C0004", 42, None, 4.2, True, "C00042' OR '1'='1"],
    ids=repr,
)
def test_on_invalid_null_gives_each_bad_id_a_reasoned_null_row(store: Any, bad: Any) -> None:
    frame = store.get_frame("customer_orders", ["C00042", bad, "C00042"], as_of=AS_OF, on_invalid="null")
    tried("on_invalid: hostile IDs", 1)
    assert list(frame.invalid) == [1] and repr(bad) in frame.invalid[1]
    assert frame.to_dicts()[0] == frame.to_dicts()[2] and frame.to_dicts()[0]["order_count"] is not None


def test_cli_on_invalid_null_warns_in_one_line(cli: Any, sample_dir: Path) -> None:
    args = ("get", "customer_orders", "C00042", "nope", "--data", sample_dir, "--as-of", AS_OF.isoformat())
    code, _, err = cli(*args)
    assert code == 2 and err.startswith("error: customer id: 'nope' does not match")
    code, out, err = cli(*args, "--on-invalid", "null", "-f", "json")
    assert code == 0 and err.count("\n") == 1 and "1 of 2 IDs were refused" in err
    assert json.loads(out)["invalid"] == [
        {"row": 1, "reason": "customer id 'nope' does not match the pattern ^C\\d{5}$"}
    ]
    assert cli(*args, "--on-invalid", "skip")[0] == 2


# --- Why 5: time is exact, and an empty window is flagged ---------------------------------------------


AS_OF_INPUTS = [
    (AS_OF, AS_OF, dt.datetime(2026, 6, 30, 23, 59, 59, 999999)),
    ("2026-06-30", AS_OF, dt.datetime(2026, 6, 30, 23, 59, 59, 999999)),
    ("2026-06-30T10:00:00+02:00", AS_OF, dt.datetime(2026, 6, 30, 8, 0)),
    ("2026-07-01T01:30:00+02:00", AS_OF, dt.datetime(2026, 6, 30, 23, 30)),
    ("2026-06-30T23:30:00Z", AS_OF, dt.datetime(2026, 6, 30, 23, 30)),
    (dt.datetime(2026, 6, 30, 22, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), dt.date(2026, 7, 1), None),
]


@pytest.mark.parametrize("given, day, instant", AS_OF_INPUTS, ids=[repr(a[0]) for a in AS_OF_INPUTS])
def test_as_of_is_a_date_or_an_aware_instant(given: Any, day: dt.date, instant: dt.datetime | None) -> None:
    from featurekit.render import parse_as_of_time

    tried("time: as_of forms", 1)
    got = parse_as_of_time(given)
    assert got[0] == day and (instant is None or got[1] == instant)


@pytest.mark.parametrize(
    "given", [dt.datetime(2026, 6, 30, 10, 0), "2026-06-30T10:00:00", "2026-06-30 10:00", "2026-06-30T25:00Z"]
)
def test_a_naive_or_broken_timestamp_is_an_error_not_a_truncation(store: Any, given: Any) -> None:
    tried("time: naive as_of", 1)
    with pytest.raises(featurekit.InputError, match=r"^as_of: "):
        store.get("customer_orders", "C00042", as_of=given)


def test_results_say_when_they_ran_and_for_which_as_of(store: Any) -> None:
    before = dt.datetime.now(dt.timezone.utc)
    row = store.get("customer_orders", "C00042", as_of="2026-06-30T10:00:00+02:00", use_cache=False)
    shown = row.provenance.to_dict()
    assert shown["as_of"] == "2026-06-30" and shown["as_of_time"] == "2026-06-30T23:59:59.999999Z"
    assert before <= row.provenance.ran_at <= dt.datetime.now(dt.timezone.utc)
    assert shown["no_data"] is False


def test_a_window_with_no_data_is_flagged(store: Any, cli: Any, sample_dir: Path) -> None:
    later = AS_OF + dt.timedelta(days=400)  # the sample data ends at AS_OF: the window holds nothing
    frame = store.get("customer_orders", ["C00042", "C00013"], as_of=later, use_cache=False)
    tried("time: empty windows", 2)
    assert frame.provenance.no_data and [r["order_count"] for r in frame] == [0, 0]
    assert not store.get("customer_orders", ["C00042"], as_of=AS_OF, use_cache=False).provenance.no_data
    # Customers with no orders in a window that holds data are inactive, not missing data: no flag.
    quiet = store.get("customer_orders", ["C99998", "C99999"], as_of=AS_OF, use_cache=False)
    assert [r["order_count"] for r in quiet] == [0, 0] and not quiet.provenance.no_data
    args = ("get", "customer_orders", "C00042", "--data", sample_dir, "--as-of", later.isoformat(), "--no-cache")
    code, _, err = cli(*args)
    assert code == 0 and err.count("warning: no data in the window of view customer_orders") == 1
    assert cli(*args, "--strict")[0] == 1
    assert (
        cli("get", "customer_orders", "C00042", "--data", sample_dir, "--as-of", AS_OF.isoformat(), "--strict")[0] == 0
    )


# --- the latest row at or before as_of within a TTL: a shipped view, checked against an independent reading ---


def _latest_oracle(data: Path, ids: list[str], as_of: dt.date, max_age_days: int) -> list[dict[str, Any] | None]:
    """From the orders files, in plain Python: the latest snapshot day in (as_of - max_age, as_of], its totals."""
    orders = [
        json.loads(line)
        for f in sorted((data / "orders").rglob("*.json"))
        for line in f.read_text().split("\n")
        if line
    ]
    out: list[dict[str, Any] | None] = []
    for entity_id in ids:
        mine = [o for o in orders if o["customer_id"] == entity_id]
        days = [dt.date.fromisoformat(o["order_date"]) for o in mine]
        recent = [d for d in days if as_of - dt.timedelta(days=max_age_days - 1) <= d <= as_of]
        if not recent:
            out.append(None)
            continue
        day = max(recent)
        upto = [o for o, d in zip(mine, days, strict=True) if d <= day]
        cents = sum(round(o["amount"] * 100) for o in upto)
        out.append(
            {
                "customer_id": entity_id,
                "orders_to_date": len(upto),
                "spend_to_date": cents / 100,
                # 23:30 at +02:00 is 21:30 UTC
                "snapshot_time": dt.datetime.combine(day, dt.time(21, 30), dt.timezone.utc),
                "snapshot_age_days": (as_of - day).days,
            }
        )
    return out


def test_latest_row_view_matches_an_independent_reading(store: Any, sample_dir: Path) -> None:
    ids = [f"C{i:05d}" for i in range(1, 61)] + ["C00042", "C00001"]
    checked = 0
    for as_of, ttl in [(AS_OF, 7), (AS_OF - dt.timedelta(days=40), 30), (AS_OF, 1), (AS_OF + dt.timedelta(days=3), 2)]:
        frame = store.get("customer_latest", ids, as_of=as_of, params={"max_age_days": ttl}, use_cache=False)
        expected = _latest_oracle(sample_dir, ids, as_of, ttl)
        assert frame.entity_ids == ids  # every requested entity returned, in order
        for row, want in zip(frame.to_dicts(), expected, strict=True):
            assert row == (want or {"customer_id": row["customer_id"], **{f.name: None for f in frame.view.features}})
            checked += 1
    tried("latest row: entities x as_of", checked)


def test_latest_row_honours_an_instant(store: Any) -> None:
    """The snapshot of 2026-06-30 is stamped 23:30+02:00 = 21:30 UTC: one microsecond before, it is not yet there."""
    before = store.get("customer_latest", "C00004", as_of="2026-06-30T23:29:59.999999+02:00", use_cache=False)
    at = store.get("customer_latest", "C00004", as_of="2026-06-30T21:30:00Z", use_cache=False)
    assert at["snapshot_time"] == dt.datetime(2026, 6, 30, 21, 30, tzinfo=dt.timezone.utc)
    assert before["snapshot_time"] is None or before["snapshot_time"] < at["snapshot_time"]


def test_latest_row_age_counts_whole_days_elapsed_at_an_instant(store: Any) -> None:
    """Athena's date_diff('day', ...) counts whole days elapsed (Joda's difference): a snapshot 12.5 hours before the
    instant is 0 days old although midnight lies between them. DuckDB's own date_diff counts the midnights (1)."""
    row = store.get("customer_latest", "C00004", as_of="2026-07-01T10:00:00Z", use_cache=False)
    assert row["snapshot_time"] == dt.datetime(2026, 6, 30, 21, 30, tzinfo=dt.timezone.utc)
    assert row["snapshot_age_days"] == 0
    a_day = store.get("customer_latest", "C00004", as_of="2026-07-01T21:30:00Z", use_cache=False)
    assert a_day["snapshot_age_days"] == 1
    almost = store.get("customer_latest", "C00004", as_of="2026-07-01T21:29:59.999999Z", use_cache=False)
    assert almost["snapshot_age_days"] == 0


def test_latest_row_view_on_athena(athena_fake: AthenaFake) -> None:
    columns = [
        ("customer_id", "varchar"),
        ("orders_to_date", "bigint"),
        ("spend_to_date", "double"),
        ("snapshot_time", "timestamp"),
        ("snapshot_age_days", "bigint"),
    ]
    athena_fake.inject(columns, ("C00004", 12, 462.73, "2026-06-30 21:30:00.000", 0))
    with featurekit.FeatureStore(engine=athena_fake.engine(), cache=False) as store:
        frame = store.get("customer_latest", ["C00004", "C00042"], as_of="2026-06-30T22:00:00Z")
    [execution] = athena_fake.executions()
    assert '"default"."customer_daily"' in execution["Query"]
    assert "TIMESTAMP '2026-06-30 22:00:00.000'" in execution["Query"]
    rows = frame.to_dicts()
    assert rows[0]["snapshot_time"] == dt.datetime(2026, 6, 30, 21, 30, tzinfo=dt.timezone.utc)
    assert rows[1] == {"customer_id": "C00042", **{f.name: None for f in frame.view.features}}


def test_the_no_data_flag_survives_a_cache_hit(sample_dir: Path) -> None:
    """The flag is about the window and the files, so a repeat answered from the cache (this store's, or one
    another store filled) says it too; a populated window stays unflagged on a hit."""
    later = AS_OF + dt.timedelta(days=400)
    shared = featurekit.FeatureCache()
    with featurekit.FeatureStore(data=sample_dir, cache=shared) as store:
        first = store.get("customer_orders", ["C00042", "C00013"], as_of=later)
        again = store.get("customer_orders", ["C00013", "C00042"], as_of=later)
        assert first.provenance.no_data and first.provenance.queries_run == 1
        assert again.provenance.no_data and again.provenance.queries_run == 0
        full = store.get("customer_orders", ["C00042", "C99999"], as_of=AS_OF)
        assert not full.provenance.no_data
        assert not store.get("customer_orders", ["C99999"], as_of=AS_OF).provenance.no_data  # inactive, cached
    with featurekit.FeatureStore(data=sample_dir, cache=shared) as other:  # knows nothing of the fills
        hit = other.get("customer_orders", "C00042", as_of=later)
        assert hit.provenance.queries_run == 0 and hit.provenance.no_data
        assert not other.get("customer_orders", "C00042", as_of=AS_OF).provenance.no_data
    tried("time: empty windows", 4)
