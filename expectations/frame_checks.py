"""The expectations of the aggregate suites, evaluated column-wise on their (small) pandas frames.

``delivery_units`` (one row per unit), ``delivery_country`` (one row) and ``delivery_changes`` (a
few dozen rows) are small, but Great Expectations pays a fixed cost for every expectation it
evaluates (its metric dependency graph, its configurations rebuilt): about half of a worker's CPU
for a small country. What these expectations say is one comparison per column or column pair, so
:func:`verdict` evaluates them here with pandas/numpy, from the same suite JSON and the same
filled parameters (and only the expectations whose ``meta.when`` holds: the runner chooses them),
and says one of three things, as :mod:`expectations.row_checks` does for the rows:

* ``True``  — every expectation holds, warnings included: the runner records the suite as passed
  without GX;
* ``False`` — one fails (a refusal *or* a ``severity: warning`` such as an implausible turnout):
  the runner runs the suite in GX exactly as before, so the refusal or the reviewers' warning
  (rule, rows, expected, found) is GX's;
* ``None``  — an expectation not known here, a keyword not read here (``mostly``, ``strict_min``,
  ``ignore_row_if`` ...), a null in a compared column, a column of an unexpected type: GX decides.

Semantics follow GX's pandas engine: ``between`` is inclusive (``min_value <= v <= max_value``),
``a_to_be_greater_than_b`` with ``or_equal`` is ``A >= B`` (without it ``A > B``), ``pair ... equal``
is ``A == B``, ``not_be_null`` is no ``isnull()`` in the column. Nulls are never interpreted here
(GX's ``ignore_row_if`` rules decide what a null means).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from expectations import row_checks


def _numeric(frame: pd.DataFrame, name) -> np.ndarray | None:
    """The column as a numpy array of ints or floats without a null, or None (GX decides)."""
    if name not in frame.columns:
        return None
    column = frame[name]
    if pd.api.types.is_bool_dtype(column.dtype) or not pd.api.types.is_numeric_dtype(column.dtype):
        return None
    if column.isna().any():
        return None
    return column.to_numpy()


def _bound(value) -> bool:
    return value is None or (not isinstance(value, bool) and isinstance(value, (int, float)))


def _values_between(frame: pd.DataFrame, kwargs: dict) -> bool | None:
    values = _numeric(frame, kwargs.get("column"))
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if values is None or (low is None and high is None) or not (_bound(low) and _bound(high)):
        return None
    return bool((low is None or (values >= low).all()) and (high is None or (values <= high).all()))


def _pair_greater(frame: pd.DataFrame, kwargs: dict) -> bool | None:
    a, b = _numeric(frame, kwargs.get("column_A")), _numeric(frame, kwargs.get("column_B"))
    or_equal = kwargs.get("or_equal", False)
    if a is None or b is None or not isinstance(or_equal, bool):
        return None
    return bool((a >= b).all() if or_equal else (a > b).all())


def _not_null(frame: pd.DataFrame, kwargs: dict) -> bool | None:
    name = kwargs.get("column")
    if name not in frame.columns:
        return None
    return not bool(frame[name].isnull().any())


def _pair_equal(frame: pd.DataFrame, kwargs: dict) -> bool | None:
    names = kwargs.get("column_A"), kwargs.get("column_B")
    if any(name not in frame.columns for name in names):
        return None
    a, b = (frame[name] for name in names)
    if a.isna().any() or b.isna().any():
        return None
    if all(pd.api.types.is_object_dtype(c.dtype) or pd.api.types.is_string_dtype(c.dtype) for c in (a, b)):
        if not all(type(v) is str for c in (a, b) for v in c.tolist()):  # noqa: E721 (strings only)
            return None
    elif not all(pd.api.types.is_integer_dtype(c.dtype) for c in (a, b)):
        return None
    return bool((a.to_numpy() == b.to_numpy()).all())


CHECKS: dict[str, Callable[[pd.DataFrame, dict], bool | None]] = {
    "expect_column_values_to_be_between": _values_between,
    "expect_column_pair_values_a_to_be_greater_than_b": _pair_greater,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_pair_values_to_be_equal": _pair_equal,
}
_ALLOWED_KWARGS = {
    "expect_column_values_to_be_between": {"column", "min_value", "max_value"},
    "expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "or_equal"},
    "expect_column_values_to_not_be_null": {"column"},
    "expect_column_pair_values_to_be_equal": {"column_A", "column_B"},
}


def check(expectation_type: str, kwargs: dict, frame: pd.DataFrame) -> bool | None:
    """One expectation on ``frame``: True (holds), False (fails) or None (unknown here: ask GX)."""
    return row_checks.run_check(CHECKS, _ALLOWED_KWARGS, expectation_type, kwargs, frame)


def verdict(expectations: list[tuple[str, dict]], frame: pd.DataFrame) -> bool | None:
    """True when every ``(type, filled kwargs)`` holds on ``frame``, False when one fails, else None."""
    return row_checks.verdict(expectations, frame, checker=check)


__all__ = ["CHECKS", "check", "verdict"]
