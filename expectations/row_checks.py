"""The row-level expectations of a suite, evaluated column-wise on the Arrow table of a delivery.

A municipal delivery has up to 1.6 M rows (France); Great Expectations evaluates each row
expectation of ``delivery_rows`` through pandas and its metric graph (~1.5 s for France). What
those expectations say is simple per column (a minimum, a set, a regex, unique pairs), so
:func:`verdict` evaluates them here with pyarrow compute, from the same suite JSON and the same
filled parameters, and says only one of three things:

* ``True``  — every expectation of the suite holds (then the runner records the suite as passed
  without handing 1.6 M rows to GX);
* ``False`` — at least one fails: the runner then runs the suite in Great Expectations, exactly as
  before, so the refusal (rule, message, rows, expected, found) comes from GX, unchanged;
* ``None``  — an expectation this module does not know, or a case where it cannot be sure to read
  it as GX does (``mostly``, a null in the column, values of another type than the column, a regex
  Python and RE2 may read differently): GX decides, as before.

So this is a shortcut for deliveries that pass, never a second contract: the suite JSON stays
what is checked, and GX what explains a refusal. Semantics follow GX's pandas engine: column
value expectations ignore nulls (we send nulls to GX instead), a compound-unique failure is any
combination present on more than one row, a regex "matches" where Python's ``re.search`` finds it.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

def _columns_match(table: pa.Table, kwargs: dict) -> bool | None:
    return list(table.column_names) == list(kwargs["column_list"])


def _row_count_between(table: pa.Table, kwargs: dict) -> bool | None:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if any(v is not None and (isinstance(v, bool) or not isinstance(v, int)) for v in (low, high)):
        return None
    count = table.num_rows
    return (low is None or count >= low) and (high is None or count <= high)


def _column(table: pa.Table, kwargs: dict) -> pa.ChunkedArray | None:
    """The expectation's column, or None (GX decides) when it is absent or has a null."""
    name = kwargs.get("column")
    if name not in table.column_names:
        return None
    column = table[name]
    return None if column.null_count else column


def _values_between(table: pa.Table, kwargs: dict) -> bool | None:
    column = _column(table, kwargs)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if column is None or not pa.types.is_integer(column.type) or (low is None and high is None):
        return None
    if any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))) for v in (low, high)):
        return None
    if len(column) == 0:
        return True
    extremes = pc.min_max(column).as_py()
    return (low is None or extremes["min"] >= low) and (high is None or extremes["max"] <= high)


def _values_in_set(table: pa.Table, kwargs: dict) -> bool | None:
    column = _column(table, kwargs)
    values = kwargs.get("value_set")
    if column is None or not isinstance(values, (list, tuple, set)):
        return None
    if pa.types.is_boolean(column.type):
        kind: type = bool
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        kind = str
    else:
        return None
    if not all(type(v) is kind for v in values):  # noqa: E721 (True is an int: exact types only)
        return None
    if len(column) == 0:
        return True
    allowed = pa.array(list(values), type=column.type)
    return bool(pc.all(pc.is_in(column, value_set=allowed)).as_py())


def _compound_unique(table: pa.Table, kwargs: dict) -> bool | None:
    names = kwargs.get("column_list") or []
    if not names or any(n not in table.column_names or table[n].null_count for n in names):
        return None
    if table.num_rows == 0:
        return True
    # Each column as dense codes (0 .. distinct-1), the combination as one integer: unique when
    # no integer repeats (a count per integer where the combinations are few, else a sort).
    key, size = np.zeros(table.num_rows, dtype=np.int64), 1
    for name in names:
        encoded = pc.dictionary_encode(table[name].combine_chunks())
        cardinality = len(encoded.dictionary)
        if size * cardinality >= 2 ** 62:
            return table.select(names).group_by(names).aggregate([]).num_rows == table.num_rows
        key = key * cardinality + encoded.indices.to_numpy(zero_copy_only=False)
        size *= cardinality
    if size <= 4 * table.num_rows + 1_000_000:
        return int(np.bincount(key, minlength=size).max()) <= 1
    return len(np.unique(key)) == table.num_rows


def _not_match_regex(table: pa.Table, kwargs: dict) -> bool | None:
    column = _column(table, kwargs)
    regex = kwargs.get("regex")
    if column is None or not isinstance(regex, str) or not (pa.types.is_string(column.type)
                                                           or pa.types.is_large_string(column.type)):
        return None
    try:
        pattern = re.compile(regex)
    except re.error:
        return None
    # Python's re on each distinct value: exactly pandas' str.contains, and a unit name repeats on
    # every row of its unit (a few ten thousand distinct names for a million rows).
    return not any(pattern.search(value) for value in pc.unique(column).to_pylist())


CHECKS: dict[str, Callable[[pa.Table, dict], bool | None]] = {
    "expect_table_columns_to_match_ordered_list": _columns_match,
    "expect_table_row_count_to_be_between": _row_count_between,
    "expect_column_values_to_be_between": _values_between,
    "expect_column_values_to_be_in_set": _values_in_set,
    "expect_compound_columns_to_be_unique": _compound_unique,
    "expect_column_values_to_not_match_regex": _not_match_regex,
}
_ALLOWED_KWARGS = {
    "expect_table_columns_to_match_ordered_list": {"column_list"},
    "expect_table_row_count_to_be_between": {"min_value", "max_value"},
    "expect_column_values_to_be_between": {"column", "min_value", "max_value"},
    "expect_column_values_to_be_in_set": {"column", "value_set"},
    "expect_compound_columns_to_be_unique": {"column_list"},
    "expect_column_values_to_not_match_regex": {"column", "regex"},
}


def run_check(checks: dict, allowed_kwargs: dict, expectation_type: str, kwargs: dict, data: Any,
              errors: tuple[type[Exception], ...] = (TypeError, ValueError)) -> bool | None:
    """``checks[expectation_type]`` on ``data``: None (GX decides) for an unknown type, a keyword
    not in ``allowed_kwargs`` (``mostly`` ...) or one of ``errors`` raised while evaluating."""
    evaluate = checks.get(expectation_type)
    if evaluate is None or set(kwargs) - allowed_kwargs[expectation_type]:
        return None
    try:
        return evaluate(data, kwargs)
    except errors as exc:  # anything surprising: GX decides
        log.debug("check %s not evaluated here (%s)", expectation_type, exc)
        return None


def check(expectation_type: str, kwargs: dict, table: pa.Table) -> bool | None:
    """One expectation on ``table``: True (holds), False (fails) or None (unknown here: ask GX)."""
    return run_check(CHECKS, _ALLOWED_KWARGS, expectation_type, kwargs, table,
                     (pa.ArrowException, TypeError, ValueError))


def verdict(expectations: list[tuple[str, dict]], table: Any, *,
            checker: Callable[[str, dict, Any], bool | None] = check) -> bool | None:
    """True when every ``(type, filled kwargs)`` holds on ``table`` (by ``checker``), False when
    one fails, else None."""
    unsure = False
    for expectation_type, kwargs in expectations:
        outcome = checker(expectation_type, kwargs, table)
        if outcome is False:
            return False
        unsure = unsure or outcome is None
    return None if unsure else True


ROWS_EVALUATED_BY = "expectations.row_checks (pyarrow); Great Expectations on a failure"


def passed_suite_json(name: str, expectations: list[tuple[str, dict, dict]], table: pa.Table, *,
                      evaluated_by: str = ROWS_EVALUATED_BY) -> dict[str, Any]:
    """What the report keeps of a suite that passed here: the shape of GX's result (one passed
    result per expectation, its configuration, the statistics), saying who evaluated it
    (``table``: the Arrow table, or the pandas frame of :mod:`expectations.frame_checks`)."""
    element_count = table.num_rows if isinstance(table, pa.Table) else len(table)
    results = [{"success": True, "expectation_config": {"type": kind, "kwargs": kwargs, "meta": meta},
                "result": {"element_count": element_count}} for kind, kwargs, meta in expectations]
    count = len(results)
    return {"success": True, "suite_name": name, "results": results,
            "statistics": {"evaluated_expectations": count, "successful_expectations": count,
                           "unsuccessful_expectations": 0, "success_percent": 100.0},
            "meta": {"evaluated_by": evaluated_by}}


__all__ = ["CHECKS", "check", "passed_suite_json", "run_check", "verdict"]
