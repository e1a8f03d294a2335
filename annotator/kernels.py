"""The Arrow compute kernels the annotator calls, reached through ``pyarrow._compute`` directly.

Importing ``pyarrow.compute`` builds a documented Python wrapper for each of its ~290 functions
(~40 ms, about a tenth of a `gas annotate` start-up); these few call the same kernels without it.
Array methods such as ``Array.take`` and ``Array.cast`` import ``pyarrow.compute``, so the
annotate path calls the functions here instead.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow._compute as _c

_SCALAR_TYPES = {str: pa.string(), bytes: pa.binary(), int: pa.int64()}


def _call(name: str, args: list, options=None):
    # Python values become typed scalars: pyarrow's type inference imports dateutil (~3 ms).
    return _c.call_function(
        name,
        [pa.scalar(a, _SCALAR_TYPES[type(a)]) if type(a) in _SCALAR_TYPES else a for a in args],
        options,
    )


_FLATTEN = _c.ListFlattenOptions(False)
_TAKE = _c.TakeOptions(boundscheck=True)
_ANY = _c.ScalarAggregateOptions(skip_nulls=True, min_count=1)


def take(values, indices):
    """``values[indices]``, bounds-checked."""
    return _call("take", [values, indices], _TAKE)


def cast(values, target: pa.DataType):
    """A safe cast (fails rather than truncating)."""
    return _call("cast", [values], _c.CastOptions.safe(target))


def binary_join_element_wise(*strings, null_handling: str = "emit_null", null_replacement=""):
    """Per row, the strings joined by the last argument (the separator)."""
    return _call(
        "binary_join_element_wise",
        list(strings),
        _c.JoinOptions(null_handling=null_handling, null_replacement=null_replacement),
    )


def binary_join(lists, separator):
    """Per list, its items joined by ``separator``."""
    return _call("binary_join", [lists, separator])


def if_else(cond, left, right):
    return _call("if_else", [cond, left, right])


def equal(left, right):
    return _call("equal", [left, right])


def not_equal(left, right):
    return _call("not_equal", [left, right])


def greater(left, right):
    return _call("greater", [left, right])


def subtract(left, right):
    return _call("subtract", [left, right])


def fill_null(values, fill):
    """``values`` with nulls replaced by ``fill`` (a Python value of the same type)."""
    if not isinstance(fill, pa.Array | pa.ChunkedArray | pa.Scalar):
        fill = pa.scalar(fill, type=values.type)
    return _call("coalesce", [values, fill])


def any_true(values) -> bool:
    return bool(_call("any", [values], _ANY).as_py())


def list_flatten(lists):
    return _call("list_flatten", [lists], _FLATTEN)


def list_value_length(lists):
    return _call("list_value_length", [lists])


def replace_substring_regex(values, pattern: str, replacement: str):
    return _call(
        "replace_substring_regex",
        [values],
        _c.ReplaceSubstringOptions(pattern, replacement, max_replacements=None),
    )
