"""Arrow arrays from Python values, built from their buffers.

`pa.array` and `pa.scalar` first ask pandas whether their input is one of its objects, which imports
pandas when it is installed: 0.26 s and ~40 MiB in a process that never uses it (a one-entity
`featurekit get`, a service worker). A lookup turns only three kinds of Python values into Arrow: row
positions, entity IDs and declared defaults, and a disk or Redis cache hit turns JSON rows back into
columns. They are built here from their buffers; anything this does not cover goes to `pa.array`, which
stays the reference: tests/test_arrays.py holds the two equal.
"""

from __future__ import annotations

import array
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

_EPOCH = dt.date(1970, 1, 1)
_INT32_MAX = 2**31 - 1


def int64s(values: Sequence[Any]) -> pa.Array:
    """An int64 array; None is null. OverflowError outside int64, TypeError for a non-int."""
    return _fixed(pa.int64(), "q", values, 0)


def strings(values: Sequence[Any]) -> pa.Array:
    """A string array; None is null. UnicodeEncodeError for a lone surrogate, as Arrow cannot hold one."""
    given = values
    try:
        validity, text = None, "".join(values)
    except TypeError:  # a None among them (or a non-str, which raises again below)
        validity, values = _validity(values, "")
        text = "".join(values)
    # str's own methods: a subclass may override len() or encode(), and the offsets must match the joined data.
    if text.isascii():  # one character is one byte: no encoding per value
        data, lengths = text.encode("ascii"), map(str.__len__, values)
    else:
        encoded = [str.encode(v) for v in values]
        data, lengths = b"".join(encoded), map(len, encoded)
    if len(data) > _INT32_MAX:
        return pa.array(given, pa.string())  # over 2 GiB needs chunks; pa.array makes them
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(lengths, dtype=np.int32, count=len(values)), out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(values), [validity, pa.py_buffer(offsets), pa.py_buffer(data)])


def keys(values: Sequence[Any], key_type: pa.DataType) -> pa.Array:
    """Entity IDs as the key column: strings or int64."""
    return strings(values) if pa.types.is_string(key_type) else int64s(values)


def column(values: Sequence[Any], type_: pa.DataType, *, exact: bool = False) -> pa.Array:
    """Values of one Python type (or None) as an array of the Arrow type that holds them exactly.

    `exact`: a value of any other Python type is a TypeError, not pyarrow's conversion of it (which truncates
    2.5 to an int64 2 and reads 1 as a bool True): for rows read back, where another type means damage.
    """
    kinds = set(map(type, values)) - {type(None)}
    if type_ == pa.string() and kinds <= {str}:
        return strings(values)
    if type_ == pa.int64() and kinds <= {int}:
        return int64s(values)
    if type_ == pa.float64() and kinds <= {float}:
        return _fixed(type_, "d", values, 0.0)
    if type_ == pa.date32() and kinds <= {dt.date}:
        return _fixed(type_, "i", [None if v is None else (v - _EPOCH).days for v in values], 0)
    if type_ == pa.bool_() and kinds <= {bool}:
        validity, values = _validity(values, False)
        bits = np.packbits(np.fromiter(values, dtype=bool, count=len(values)), bitorder="little")
        return pa.Array.from_buffers(type_, len(values), [validity, pa.py_buffer(bits)])
    if exact:
        raise TypeError(f"values of type {', '.join(sorted(k.__name__ for k in kinds))} for a {type_} column")
    # Decimals, timestamps, an int for a float (pyarrow refuses one a double cannot hold): rarer, and
    # their conversions are pyarrow's to get right.
    return pa.array(values, type_)


def constant(value: Any, type_: pa.DataType) -> pa.Scalar:
    """One declared default as an Arrow scalar of the declared type."""
    return column([value], type_)[0]


def combined(chunked: pa.ChunkedArray) -> pa.Array:
    """The column as one array; `combine_chunks` makes an empty one with `pa.array` when there are no chunks."""
    return chunked.combine_chunks() if chunked.num_chunks else pa.nulls(0, chunked.type)


def _fixed(type_: pa.DataType, code: str, values: Sequence[Any], filler: Any) -> pa.Array:
    """A fixed-width array from the machine values `array.array(code)` packs (Arrow's layout is native-endian)."""
    try:
        validity, data = None, array.array(code, values)  # strict: TypeError for a None, a float for an int
    except TypeError:
        validity, values = _validity(values, filler)
        data = array.array(code, values)
    return pa.Array.from_buffers(type_, len(values), [validity, pa.py_buffer(data)])


def _validity(values: Sequence[Any], filler: Any) -> tuple[pa.Buffer | None, Sequence[Any]]:
    """The validity bitmap (None when nothing is null) and the values with nulls replaced by `filler`."""
    if None not in values:
        return None, values
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))  # Arrow bitmaps are LSB-first
    return bitmap, [filler if v is None else v for v in values]
