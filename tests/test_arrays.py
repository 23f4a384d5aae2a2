"""featurekit.arrays builds the lookup's Arrow arrays from buffers; pyarrow's own conversion is the reference."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from featurekit import arrays
from featurekit.results import ARROW_TYPES

INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # any character Arrow can hold, NUL and astral too


def same(mine: pa.Array, reference: pa.Array) -> None:
    mine.validate(full=True)
    assert mine.type == reference.type
    assert mine.equals(reference), (mine, reference)
    assert mine.to_pylist() == reference.to_pylist()


@given(st.lists(st.one_of(st.none(), INT64), max_size=40))
def test_int64s_equal_pa_array(values: list[int | None]) -> None:
    same(arrays.int64s(values), pa.array(values, pa.int64()))


@given(st.lists(st.one_of(st.none(), TEXT), max_size=40))
def test_strings_equal_pa_array(values: list[str | None]) -> None:
    same(arrays.strings(values), pa.array(values, pa.string()))


COLUMNS = {
    "int64": (pa.int64(), INT64),
    "float64": (pa.float64(), st.floats() | st.integers(-(2**53), 2**53)),  # an int goes to pa.array
    "string": (pa.string(), TEXT),
    "bool": (pa.bool_(), st.booleans()),
    "date32": (pa.date32(), st.dates()),
}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_column_equals_pa_array_bit_for_bit(name: str) -> None:
    type_, values = COLUMNS[name]

    @given(st.lists(st.one_of(st.none(), values), max_size=30))
    def check(row: list) -> None:
        mine, reference = arrays.column(row, type_), pa.array(row, type_)
        mine.validate(full=True)
        assert mine.type == reference.type
        assert repr(mine.to_pylist()) == repr(reference.to_pylist())  # repr: NaN equals NaN, -0.0 is not 0.0

    check()


@given(st.lists(TEXT, min_size=1, max_size=20), st.sampled_from(["string", "int"]))
def test_keys_follow_the_key_type(values: list[str], key_type: str) -> None:
    if key_type == "int":
        ints = [len(v) * 7919 - 3 for v in values]
        same(arrays.keys(ints, pa.int64()), pa.array(ints, pa.int64()))
    else:
        same(arrays.keys(values, pa.string()), pa.array(values, pa.string()))


@pytest.mark.parametrize(
    ("build", "values", "error"),
    [
        (arrays.int64s, [1, 2**63], OverflowError),
        (arrays.int64s, [1, -(2**63) - 1], OverflowError),
        (arrays.strings, ["ok", "\ud800"], UnicodeEncodeError),  # a lone surrogate is not UTF-8
    ],
)
def test_values_arrow_cannot_hold_raise_what_pyarrow_raises(build, values: list, error: type) -> None:
    with pytest.raises(error):
        build(values)
    with pytest.raises(error):
        pa.array(values, pa.int64() if build is arrays.int64s else pa.string())


DEFAULTS = {
    "int": st.one_of(INT64),
    "float": st.floats(allow_nan=True) | st.integers(-(2**53), 2**53),
    "decimal": st.decimals(min_value=-(10**20), max_value=10**20, places=4, allow_nan=False),
    "date": st.dates(),
    "timestamp": st.datetimes(),
    "timestamptz": st.datetimes(timezones=st.just(dt.timezone.utc)),
    "string": TEXT,
    "bool": st.booleans(),
}


@pytest.mark.parametrize("declared", sorted(DEFAULTS))
def test_constant_equals_pa_scalar_for_every_declared_type(declared: str) -> None:
    target = ARROW_TYPES[declared]

    @given(DEFAULTS[declared])
    def check(value: object) -> None:
        mine, reference = arrays.constant(value, target), pa.scalar(value, target)
        assert mine.type == reference.type
        assert repr(mine.as_py()) == repr(reference.as_py())  # repr: NaN equals NaN, -0.0 is not 0.0

    check()


def test_constant_keeps_negative_zero_and_exact_decimals() -> None:
    assert str(arrays.constant(-0.0, pa.float64()).as_py()) == "-0.0"
    assert arrays.constant(Decimal("0.1"), ARROW_TYPES["decimal"]).as_py() == Decimal("0.100000000")


LOOKUPS = """
import datetime as dt, sys
import featurekit
as_of = dt.date(2026, 6, 30)
with featurekit.FeatureStore(data=sys.argv[1], cache={cache}, cache_dir=sys.argv[2]) as store:
    store.get("customer_orders", "C00042", as_of=as_of)
    store.get("spend_trend", "C99999", as_of=as_of)  # no rows: every declared default (int, float, string)
    frame = store.get_frame("customer_orders", ["C00001", "C99999", "C00001", "C00042"], as_of=as_of)
    frame = store.get_frame("customer_orders", ["C00002", "nope!", "C00042"], as_of=as_of, on_invalid="null")
    assert len(frame) == 3 and frame.provenance.queries_run <= 1
    frame = store.get_frame("customer_orders", [f"C{{i:05d}}" for i in range(1, 200)], as_of=as_of)
if {cache}:  # a new process answered from the disk cache: rows decoded from JSON
    with featurekit.FeatureStore(data=sys.argv[1], cache_dir=sys.argv[2]) as store:
        assert store.get_frame("customer_orders", ["C00001", "C99999"], as_of=as_of).provenance.cache_hits == 2
print(sorted(m for m in ("pandas", "boto3", "pyathena") if m in sys.modules))
"""


@pytest.mark.parametrize("cache", [True, False])
def test_a_duckdb_lookup_never_imports_pandas(sample_dir: Path, tmp_path: Path, cache: bool) -> None:
    # pandas costs 0.26 s and ~40 MiB on the first pa.array/pa.scalar; a lookup that never hands a frame to
    # pandas should not load it (FeatureFrame.to_pandas still works, importing it then).
    code = LOOKUPS.format(cache=cache)
    argv = [sys.executable, "-c", code, str(sample_dir), str(tmp_path)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_strings_past_32_bit_offsets_go_to_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    # Over 2 GiB of text does not fit int32 offsets (it would wrap); the limit is lowered to reach that branch.
    monkeypatch.setattr(arrays, "_INT32_MAX", 5)
    values = ["abc", None, "défg"]
    same(arrays.strings(values), pa.array(values, pa.string()))


class _Lies(str):
    def __len__(self) -> int:
        return 1

    def encode(self, *args: object, **kwargs: object) -> bytes:
        return b"x"


@pytest.mark.parametrize("held", ["abcdef", "ça va", "\x00"])
def test_strings_read_what_a_str_subclass_holds_not_what_it_reports(held: str) -> None:
    values = [_Lies(held), "tail", _Lies(held)]
    same(arrays.strings(values), pa.array(values, pa.string()))
    assert arrays.strings(values).to_pylist() == [held, "tail", held]
