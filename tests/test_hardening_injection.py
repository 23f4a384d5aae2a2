"""Hardening (issue 7): hostile entity IDs and parameter values, on DuckDB and on the Athena path.

Every value is either rejected with a typed error naming the parameter, or bound so that the query
returns exactly what equality with that literal returns, computed here in Python from the rows. On
the Athena path the SQL text the server received is parsed with sqlglot: each value must be exactly
one literal equal to the input, and the statement must otherwise be the catalog SQL unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

import featurekit
from featurekit.errors import FeaturekitError, InputError, InvalidEntityId
from featurekit.testing.athena import AthenaFake
from tests.conftest import AS_OF
from tests.hardening_support import AWKWARD, expected_probe, immediate, probe_rows, tried, write_probe_catalog
from tests.oracle import customer_orders, read_orders

PARAMS = ("label", "min_score", "until", "flag", "qty")
ROWS = probe_rows()
KNOWN_IDS = sorted({r["thing_id"] for r in ROWS})

# -- strategies ---------------------------------------------------------------------------------

_piece = (
    st.sampled_from(AWKWARD)
    | st.sampled_from(["'", "\\", "--", "/*", "*/", ";", "\x00", "%", ":", "Ｃ", "С", "٤", "２", "\n"])
    | st.text(max_size=4)
)
hostile = st.lists(_piece, max_size=6).map("".join)
very_long = st.builds(lambda s, n: (s or "'") * n, st.sampled_from(AWKWARD), st.integers(1_000, 4_000))
text_value = hostile | very_long | st.sampled_from(AWKWARD)
not_a_value = st.none() | st.lists(st.integers(), max_size=2) | st.just({"x": 1}) | st.just(b"bytes")

label_values = text_value | st.integers() | st.floats() | not_a_value
score_values = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(-2.5, 2.5)
    | st.integers(-(10**7), 10**7)
    | st.sampled_from(["1.5", " -0.25 ", "nan", "inf", "-inf", "1e309", "0x10", "1_000", "1e6", "1000001"])
    | text_value
    | st.booleans()
    | not_a_value
)
date_values = (
    st.dates()
    | st.datetimes()
    | st.dates().map(dt.date.isoformat)
    | st.sampled_from(["2026-02-30", "2026-1-5", "２０２６-01-01", "2026-01-01' OR '1'='1", "2026-01-01\n"])
    | text_value
    | st.integers()
    | not_a_value
)
bool_values = (
    st.booleans()
    | st.sampled_from(["true", "FALSE", "1", "0", "yes", "No", "ｔｒｕｅ", "true;", "true --"])
    | st.integers(0, 1)
    | text_value
    | not_a_value
)
int_values = (
    st.integers(-2, 4)
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.integers(max_value=-(2**62), min_value=-(2**80))
    | st.sampled_from(["3", " -1 ", "+2", "１", "٣", "3.0", "3; --", "0x3", "9" * 30])
    | st.floats()
    | st.booleans()
    | text_value
    | not_a_value
)
param_sets = st.fixed_dictionaries(
    {},
    optional={
        "label": label_values,
        "min_score": score_values,
        "until": date_values,
        "flag": bool_values,
        "qty": int_values,
    },
)
probe_ids = st.lists(st.sampled_from(KNOWN_IDS) | text_value, min_size=1, max_size=5)
DEFAULTS: dict[str, Any] = {"label": "plain", "min_score": 0.0, "until": dt.date(2026, 12, 31), "flag": True, "qty": 0}
INT64 = (-(2**63), 2**63 - 1)


def accepted_value(name: str, raw: Any) -> Any:
    """The value an accepted parameter must have been bound as (an independent reading of the input)."""
    if name == "label":
        assert isinstance(raw, str)
        return raw
    if name == "min_score":
        assert not isinstance(raw, bool) and isinstance(raw, (int, float, str))
        value = float(raw)
        assert math.isfinite(value) and -1_000_000 <= value <= 1_000_000, f"min_score accepted {raw!r}"
        return value
    if name == "until":
        assert not isinstance(raw, dt.datetime), f"until accepted the datetime {raw!r}"  # never cut to its date
        if isinstance(raw, dt.date):
            return raw
        assert isinstance(raw, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw), f"until accepted {raw!r}"
        return dt.date.fromisoformat(raw)
    if name == "flag":
        if isinstance(raw, bool):
            return raw
        assert isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"), raw
        return raw.lower() in ("true", "1", "yes")
    assert name == "qty"
    assert not isinstance(raw, bool) and isinstance(raw, (int, str)), f"qty accepted {raw!r}"
    if isinstance(raw, str):
        assert re.fullmatch(r"\s*[+-]?[0-9]+\s*", raw), f"qty accepted {raw!r}"
    value = int(raw)
    assert INT64[0] <= value <= INT64[1], f"qty accepted {raw!r}, outside BIGINT"
    return value


def check_rejection(error: FeaturekitError, ids: list[Any], params: dict[str, Any]) -> None:
    """A rejection must be an InputError naming the parameter (or the entity ID) and be one line."""
    assert isinstance(error, InputError), f"{type(error).__name__}: {error}"
    assert "\n" not in str(error).replace(repr("\n")[1:-1], ""), str(error)
    if isinstance(error, InvalidEntityId):
        assert error.parameter == "thing id"
        assert any(not isinstance(i, str) or not i for i in ids), f"a valid ID list was rejected: {ids!r}"
        return
    assert error.parameter in PARAMS, error.parameter
    assert str(error).startswith(f"{error.parameter}: ")
    raw = params.get(error.parameter)
    # Rejected means an independent reading also refuses it.
    with pytest.raises((AssertionError, ValueError, TypeError, OverflowError)):
        accepted_value(error.parameter, raw)


def expectation(ids: list[Any], params: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    values = {name: accepted_value(name, params[name]) if name in params else DEFAULTS[name] for name in PARAMS}
    unique = list(dict.fromkeys(ids))
    assert all(isinstance(i, str) and i for i in unique)
    return unique, values


# -- DuckDB -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[featurekit.FeatureStore, Path]]:
    catalog, data = write_probe_catalog(tmp_path_factory.mktemp("probe"))
    with featurekit.FeatureStore(catalog, data=data, cache=False) as store:
        yield store, catalog


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ids=probe_ids, params=param_sets)
def test_duckdb_every_value_is_rejected_or_bound_as_an_equal_literal(probe: Any, ids: list[Any], params: Any) -> None:
    tried("injection: DuckDB, hostile IDs x 5 parameter types")
    store, _ = probe
    try:
        frame = store.get_frame("probe", ids, params=params)
    except FeaturekitError as error:
        check_rejection(error, ids, params)
        return
    unique, values = expectation(ids, params)
    by_id = {row["thing_id"]: row for row in expected_probe(ROWS, unique, values)}
    assert frame.to_dicts() == [by_id[i] for i in ids]  # one row per ID given, duplicates included


@settings(max_examples=60, deadline=None)
@given(label=st.sampled_from(AWKWARD) | hostile)
def test_duckdb_cli_strings_bind_the_same_way(probe: Any, label: str) -> None:
    """`--param label=...` reaches the same bind: the CLI passes strings through to coercion untouched."""
    tried("injection: DuckDB, string parameter through the CLI parser")
    from featurekit.cli.main import _params

    store, _ = probe
    if "\x00" in label:
        return  # argv cannot carry NUL
    params = _params([f"label={label}"])
    assert params == {"label": label}
    frame = store.get_frame("probe", ["O'Brien"], params=params)
    assert frame.to_dicts() == expected_probe(ROWS, ["O'Brien"], {**DEFAULTS, "label": label})


@pytest.fixture(scope="module")
def shipped(sample_dir: Path) -> Iterator[tuple[featurekit.FeatureStore, dict[str, Any]]]:
    with featurekit.FeatureStore(data=sample_dir, cache=False) as store:
        yield store, customer_orders(read_orders(sample_dir), AS_OF)


customer_ids = (
    st.integers(1, 99_999).map(lambda n: f"C{n:05d}")
    | st.sampled_from(["Ｃ00042", "С00042", "C0004２", "C٠٠٠٤٢", "C00042\n", "C00042 ", "c00042", "C000042", "C00042'"])
    | st.builds(lambda cid, tail: cid + tail, st.sampled_from(["C00042", "C00007"]), hostile)
    | text_value
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids=st.lists(customer_ids, min_size=1, max_size=4))
def test_shipped_entity_pattern_rejects_look_alikes(shipped: Any, ids: list[str]) -> None:
    """Only ASCII `C` + five ASCII digits pass `^C\\d{5}$`: no fullwidth, Cyrillic or Arabic-Indic look-alikes."""
    tried("injection: DuckDB, customer IDs against ^C\\d{5}$")
    store, oracle = shipped
    valid = all(re.fullmatch(r"C[0-9]{5}", i) for i in ids)
    if not valid:
        with pytest.raises(InvalidEntityId) as caught:
            store.get_frame("customer_orders", ids, as_of=AS_OF)
        assert caught.value.parameter == "customer id" and caught.value.entity == "customer"
        return
    frame = store.get_frame("customer_orders", ids, as_of=AS_OF)
    for row in frame.to_dicts():
        expected = oracle.get(row["customer_id"])
        assert row["order_count"] == (expected["order_count"] if expected else 0)
        assert row["total_spend"] == pytest.approx(expected["total_spend"] if expected else 0.0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids=st.lists(customer_ids | st.sampled_from([b"C00042", None, 42, True, "C" + "0" * 300]), min_size=1))
def test_the_bulk_id_check_agrees_with_the_per_id_check(shipped: Any, ids: list[Any]) -> None:
    """A batch whose IDs are all valid skips the per-ID loop; any other batch must be judged as that loop would."""
    from featurekit import render

    tried("injection: bulk vs per-ID entity checks")
    entity = shipped[0].catalog.entity("customer")
    ids = ids * (64 // len(ids) + 1)  # a batch large enough for the bulk path, duplicates included
    bulk = render.check_ids(entity, ids, "null")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(render, "_all_valid_strings", lambda entity, given: False)
        per_id = render.check_ids(entity, ids, "null")
    assert (bulk.requested, bulk.unique, dict(bulk.invalid)) == (per_id.requested, per_id.unique, dict(per_id.invalid))
    assert render._all_valid_strings(entity, ids) == (not per_id.invalid)


class ShowsAnotherId(str):
    """A str whose methods lie: it prints, measures and encodes as a valid ID while holding another."""

    def __str__(self) -> str:
        return "C00001"

    def __len__(self) -> int:
        return 6

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        return b"C00001"

    def isdigit(self) -> bool:
        return True


class IntShowsAnother(int):
    def __str__(self) -> str:
        return "5"

    def __index__(self) -> int:
        return 5


@pytest.mark.parametrize("many", [1, 3, 70])  # 70: large enough for the bulk check
@pytest.mark.parametrize("held", ["../../etc/passwd", "C00042' OR 1=1", "zzz", "C0004２"])
def test_a_str_subclass_is_checked_for_what_it_holds(shipped: Any, held: str, many: int) -> None:
    """The pattern judges the characters that would be bound and cached, not what __str__ or __len__ claim."""
    tried("injection: str subclasses that misreport themselves")
    store, _ = shipped
    with pytest.raises(InvalidEntityId) as caught:
        store.get_frame("customer_orders", [ShowsAnotherId(held)] + ["C00002"] * (many - 1), as_of=AS_OF)
    assert held in str(caught.value)


@pytest.mark.parametrize("many", [1, 70])
def test_a_valid_str_subclass_gets_the_rows_of_the_id_it_holds(shipped: Any, many: int) -> None:
    import numpy as np

    tried("injection: str subclasses that misreport themselves", 2)
    store, oracle = shipped
    for ids in ([ShowsAnotherId("C00042")] * many, [np.str_("C00042")] * many):
        rows = store.get_frame("customer_orders", ids, as_of=AS_OF).to_dicts()
        assert [r["customer_id"] for r in rows] == ["C00042"] * many  # not C00001, whatever __str__ says
        assert {type(r["customer_id"]) for r in rows} == {str}
        assert rows[0]["order_count"] == oracle["C00042"]["order_count"]


def test_an_int_subclass_is_checked_for_the_value_it_holds() -> None:
    from featurekit import render
    from featurekit.catalog.declarations import Entity

    tried("injection: int subclasses that misreport themselves", 2)
    entity = Entity(name="account", key="account_id", key_type="int", pattern="^[0-9]{1,3}$")
    with pytest.raises(InvalidEntityId):  # holds 123456: too many digits, whatever __str__ and __index__ say
        render.check_ids(entity, [IntShowsAnother(123456)])
    checked = render.check_ids(entity, [IntShowsAnother(12)])
    assert checked.unique == (12,) and type(checked.unique[0]) is int


class AlwaysInRange(int):
    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False


class EqualsAnything(str):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def test_parameter_bounds_and_choices_judge_the_value_that_is_bound(shipped: Any) -> None:
    from featurekit import render
    from featurekit.catalog.declarations import Parameter

    tried("injection: parameter subclasses that misreport themselves", 3)
    store, _ = shipped
    with pytest.raises(InputError, match="above the maximum"):  # lookback_days: 1..3650
        store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": AlwaysInRange(10**9)})
    with pytest.raises(InputError, match="below the minimum"):
        store.get("customer_orders", "C00042", as_of=AS_OF, params={"lookback_days": AlwaysInRange(-5)})
    choice = Parameter(name="segment", type="string", default="retail", choices=["retail", "wholesale"])
    with pytest.raises(InputError, match="is not one of"):
        render.coerce(choice, EqualsAnything("'; DROP TABLE orders; --"))


# -- Athena -------------------------------------------------------------------------------------

COUNTS = ("n", "n_label", "n_score", "n_day", "n_flag", "n_qty")
PROBE_COLUMNS = [("thing_id", "varchar"), *((n, "bigint") for n in COUNTS), ("echo", "varchar")]


def _literal_sql(value: Any) -> exp.Expression:
    """How the value must appear in the received SQL: strings as one string literal holding exactly the value."""
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, dt.date):
        return sqlglot.parse_one(f"DATE '{value.isoformat()}'", read="athena")
    return sqlglot.parse_one(repr(value), read="athena")


def _bind_values(template: exp.Expression, ids: list[str], values: dict[str, Any]) -> exp.Expression:
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.In) and isinstance(node.args.get("field"), exp.Placeholder):
            return exp.In(this=node.this.copy(), expressions=[exp.Literal.string(i) for i in ids])
        if isinstance(node, exp.Placeholder) and node.name in values:
            return _literal_sql(values[node.name])
        return node

    return template.copy().transform(swap)


def _strings(tree: exp.Expression) -> list[str]:
    return [lit.this for lit in tree.find_all(exp.Literal) if lit.is_string]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ids=probe_ids, params=param_sets)
def test_athena_each_value_arrives_as_exactly_one_equal_literal(
    athena_fake: AthenaFake, probe: Any, ids: list[Any], params: Any
) -> None:
    tried("injection: Athena (moto), received SQL parsed with sqlglot")
    _, catalog = probe
    immediate(athena_fake)
    engine = athena_fake.engine()
    with featurekit.FeatureStore(catalog, engine=engine, cache=False) as store:
        try:
            planned = store.dry_run("probe", ids, params=params)
        except FeaturekitError as error:
            check_rejection(error, ids, params)
            return
        unique, values = expectation(ids, params)
        before = len(athena_fake.calls("StartQueryExecution"))
        for _ in planned.chunks:  # long IDs split the batch (Athena's 262,144-byte query limit)
            athena_fake.inject(PROBE_COLUMNS)
        frame = store.get_frame("probe", ids, params=params)
    starts = athena_fake.calls("StartQueryExecution")[before:]
    assert len(starts) == len(planned.chunks)
    template = sqlglot.parse_one(planned.query.sql, read="athena")
    chunks, at = [], 0
    for size in planned.chunks:  # each chunk's IDs are sent in canonical (sorted) order, for Athena's result reuse
        chunks.append(sorted(unique[at : at + size]))
        at += size
    expected = sorted(_bind_values(template, chunk, values).sql(dialect="athena") for chunk in chunks)
    received = [sqlglot.parse_one(start["QueryString"], read="athena") for start in starts]
    # Every string value is one literal, equal to the input, in its place; nothing else changed.
    assert sorted(s for tree in received for s in _strings(tree)) == sorted(
        s for chunk in chunks for s in _strings(_bind_values(template, chunk, values))
    )
    assert sorted(tree.sql(dialect="athena") for tree in received) == expected
    assert list(frame.entity_ids) == list(ids) and [r["n"] for r in frame.to_dicts()] == [0] * len(ids)


# -- the CLI: no input gives a traceback ----------------------------------------------------------

cli_text = (hostile | st.sampled_from(AWKWARD)).filter(lambda s: "\x00" not in s)  # argv cannot carry NUL


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    command=st.sampled_from(["get", "render"]),
    ids=st.lists(cli_text | st.sampled_from(["C00042", "C00007"]), min_size=1, max_size=3),
    params=st.lists(
        st.tuples(st.sampled_from(["lookback_days", "window_days", "", "x"]) | cli_text, cli_text).map(
            lambda kv: f"{kv[0]}={kv[1]}"
        )
        | cli_text,
        max_size=2,
    ),
    as_of=st.none() | cli_text | st.sampled_from(["2026-06-30", "2026-02-30", "２０２６-06-30"]),
    view=st.sampled_from(["customer_orders", "spend_trend", "customer_order"]) | cli_text,
)
def test_cli_never_prints_a_traceback(
    cli: Any, sample_dir: Path, command: str, ids: list[str], params: list[str], as_of: str | None, view: str
) -> None:
    tried("injection: CLI get/render with hostile arguments")
    args = [command, view, *ids, "--data", str(sample_dir), "--no-cache" if command == "get" else "--engine=duckdb"]
    for p in params:
        args += ["--param", p]
    if as_of is not None:
        args += ["--as-of", as_of]
    code, out, err = cli(*args)
    assert "Traceback" not in out + err
    if code != 0:
        assert code in (1, 2), (code, err)
        lines = err.strip().splitlines()
        # One error line (typer's own usage errors, for option-looking values, come as a boxed message).
        assert len(lines) == 1 or "Usage:" in err, err
        assert lines[0].startswith("error: ") or "Usage:" in err, err


# -- Converse tools: the model is an untrusted caller too -----------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text_value,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
tool_inputs = st.fixed_dictionaries(
    {},
    optional={
        "customer_id": customer_ids | json_values,
        "lookback_days": st.integers(-5, 4000) | json_values,
        "as_of": st.dates(dt.date(2025, 1, 1), dt.date(2027, 1, 1)).map(dt.date.isoformat) | json_values,
        "window_days": json_values,
    },
)


@pytest.fixture(scope="module")
def orders(sample_dir: Path) -> list[dict[str, Any]]:
    return read_orders(sample_dir)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tool_input=tool_inputs)
def test_tool_calls_from_a_model_are_answered_or_refused_never_raised(
    shipped: Any, orders: list[dict[str, Any]], tool_input: dict[str, Any]
) -> None:
    """Whatever JSON a model sends as tool input: a result equal to the oracle's, or an error result."""
    from featurekit.llm.tools import run_tool

    tried("injection: Converse tool inputs from the model")
    store, _ = shipped
    call = run_tool(store, "customer_orders", tool_input, ["customer_orders"])
    assert call.status in ("success", "error")
    if call.status == "error":
        assert call.error and "\n" not in call.error
        return
    cid = tool_input["customer_id"]
    assert isinstance(cid, str) and re.fullmatch(r"C[0-9]{5}", cid), cid
    lookback = tool_input.get("lookback_days", 90)
    assert isinstance(lookback, int) and not isinstance(lookback, bool) and 1 <= lookback <= 3650
    as_of = tool_input.get("as_of")
    day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else call.result["as_of"]
    assert "window_days" not in tool_input  # not a parameter of this view: must have been refused
    want = customer_orders(orders, day if isinstance(day, dt.date) else dt.date.fromisoformat(day), lookback).get(cid)
    assert call.result["entity_id"] == cid
    assert call.result["features"]["order_count"] == (want["order_count"] if want else 0)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    argv=st.one_of(
        st.tuples(
            st.just("note"), st.sampled_from(["retention_note"]) | cli_text, st.sampled_from(["C00042"]) | cli_text
        ),
        st.tuples(st.just("show"), st.sampled_from(["customer_orders"]) | cli_text),
        st.tuples(st.just("schema"), cli_text | st.sampled_from(["view", "table"])),
        st.tuples(
            st.just("ddl"),
            st.sampled_from(["orders"]) | cli_text,
            st.sampled_from(["--engine=duckdb", "--engine=athena"]) | cli_text.map(lambda s: f"--engine={s}"),
        ),
        st.tuples(
            st.just("get"),
            st.just("customer_orders"),
            st.just("C00042"),
            cli_text.map(lambda s: f"--format={s}")
            | cli_text.map(lambda s: f"--engine={s}")
            | cli_text.map(lambda s: f"--chunk-size={s}"),
        ),
    )
)
def test_other_commands_never_print_a_traceback(cli: Any, sample_dir: Path, argv: tuple[str, ...]) -> None:
    tried("injection: CLI note/show/schema/ddl/get options with hostile arguments")
    extra = ["--data", str(sample_dir)] if argv[0] in ("note", "get") else []
    code, out, err = cli(*argv, *extra)
    assert "Traceback" not in out + err
    if code != 0:
        assert code in (1, 2), (code, err)
        lines = err.strip().splitlines()
        assert (len(lines) == 1 and lines[0].startswith("error: ")) or "Usage:" in err, err
