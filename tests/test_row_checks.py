"""The row expectations evaluated column-wise (expectations/row_checks.py) say what GX says.

A delivery that passes them skips GX for ``delivery_rows``; one that fails goes to GX, whose
result names the rule and the rows. So: the shortcut must never pass what GX refuses, a fault deep
in a municipal-scale delivery must still be named by its line, and the Arrow units frame must be
the pandas one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from enr.delivery import FIRST_DATA_LINE, SCHEMA, Delivery, parse_delivery
from enr.replay import make_delivery, wave_rows
from expectations import row_checks
from expectations.runner import (load_suite, rows_table, suite_params, units_frame, units_frame_of_table,
                                 validate_delivery)

ELECTION = "ep2019"


def parsed(country, rows=None, wave="final:100", sequence=2):
    return parse_delivery(make_delivery(ELECTION, country, wave, sequence, rows=rows),
                          f"{ELECTION}-{country}-{sequence:04d}.csv")


def _unit(rows, index):
    return rows["unit_id"] == rows["unit_id"].unique()[index]


def _faults():
    """One delivery per rule of delivery_rows (CY), each with its fault on known lines."""
    out = {}
    rows = wave_rows(ELECTION, "CY", "final:100")
    bad = rows.copy()
    bad.loc[bad.index[7], "votes"] = -1
    bad.loc[bad.index[8], "votes"] += 1  # the unit's sum stays right: only the row rule fails
    out["negative_count"] = bad
    bad = rows.copy()
    bad.loc[bad.index[20], "list_id"] = "CY-NOPE"
    out["unknown_list"] = bad
    bad = rows.copy()
    bad.loc[_unit(bad, 2), "unit_id"] = "CY-XXXX"
    out["unknown_unit"] = bad
    bad = rows.copy()
    bad.loc[_unit(bad, 1), "constituency"] = "Atlantis"
    out["unknown_constituency"] = bad
    bad = rows.copy()
    bad.loc[bad.index[5], "list_id"] = bad.loc[bad.index[4], "list_id"]
    out["duplicate_row"] = bad
    bad = rows.copy()
    bad.loc[_unit(bad, 3), "unit_name"] = "<b>x</b>"
    out["markup_in_name"] = bad
    return out


@pytest.mark.parametrize("rule", list(_faults()))
def test_a_row_fault_fails_here_and_gx_names_it(rule):
    delivery = parsed("CY", _faults()[rule])
    params = suite_params(ELECTION, "CY", "final")
    table = rows_table(delivery, params)
    report = validate_delivery(delivery)
    rejection = report.rejection()
    assert rejection is not None and rejection.rule == rule and rejection.file == "ep2019-CY-0002.csv"
    assert rejection.rows and all(line >= FIRST_DATA_LINE for line in rejection.rows)
    # GX ran the suite (its result, with the failing expectation), and each expectation it
    # evaluated is read the same way here (True / False), or left to GX (None).
    gx = report.suites["delivery_rows"]
    assert "evaluated_by" not in (gx.get("meta") or {})
    assert not gx["success"]
    for result in gx["results"]:
        config = result["expectation_config"]
        kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
        mine = row_checks.check(config["type"], kwargs, table)
        assert mine in (None, result["success"]), (config["type"], mine, result["success"])
    failing = [r["expectation_config"]["meta"]["rule"] for r in gx["results"] if not r["success"]]
    assert rule in failing


def test_a_clean_delivery_passes_here_without_gx_on_the_rows():
    report = validate_delivery(parsed("CY"))
    assert report.success
    rows_suite = report.suites["delivery_rows"]
    assert rows_suite["success"] and "row_checks" in rows_suite["meta"]["evaluated_by"]
    rules = [r["expectation_config"]["meta"]["rule"] for r in rows_suite["results"]]
    assert rules == [e["meta"]["rule"] for e in load_suite("delivery_rows")["expectations"]]
    # the aggregate suites passed column-wise too (expectations/frame_checks.py, tests/test_frame_checks.py)
    assert "frame_checks" in report.suites["delivery_units"]["meta"]["evaluated_by"]


_IMPORTS_GX = """
import sys
from tests.test_row_checks import _faults, parsed
from expectations.runner import validate_delivery
report = validate_delivery(parsed("CY", rows=_faults()["unknown_list"] if sys.argv[1] == "bad" else None))
print(report.success, "great_expectations" in sys.modules)
"""


@pytest.mark.parametrize("kind, expected", [("good", "True False"), ("bad", "False True")])
def test_great_expectations_is_imported_only_for_a_suite_it_runs(kind, expected):
    # In a fresh task process (a Celery worker's fork) importing GX alone costs seconds: a delivery that
    # passes column-wise must not pay it; a failing one is named by GX itself.
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", _IMPORTS_GX, kind], cwd=root, capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "GX_ANALYTICS_ENABLED": "false"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == expected


def test_what_is_not_sure_here_goes_to_gx():
    table = pa.table({"votes": pa.array([1, None, 3], pa.int64()), "name": ["a", "b", None],
                      "flag": [True, True, True]})
    assert row_checks.check("expect_column_values_to_be_between", {"column": "votes", "min_value": 0}, table) is None
    assert row_checks.check("expect_column_values_to_be_between",
                            {"column": "votes", "min_value": 0, "mostly": 0.5}, table) is None
    assert row_checks.check("expect_column_values_to_not_match_regex", {"column": "name", "regex": "x"}, table) is None
    assert row_checks.check("expect_column_values_to_be_in_set", {"column": "flag", "value_set": [1]}, table) is None
    assert row_checks.check("expect_column_values_to_be_in_set", {"column": "flag", "value_set": [True]}, table)
    assert row_checks.check("expect_column_values_to_be_unique", {"column": "flag"}, table) is None
    assert row_checks.check("expect_column_values_to_not_match_regex", {"column": "x", "regex": "["}, table) is None
    assert row_checks.verdict([("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 3}),
                               ("expect_column_values_to_be_unique", {"column": "flag"})], table) is None
    assert row_checks.verdict([("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 2}),
                               ("expect_column_values_to_be_unique", {"column": "flag"})], table) is False


def test_regex_is_read_as_python_reads_it():
    table = pa.table({"name": ["plain", "caf\u00e9 <b>", "x"]})
    assert row_checks.check("expect_column_values_to_not_match_regex", {"column": "name", "regex": "[<>]"}, table) \
        is False
    assert row_checks.check("expect_column_values_to_not_match_regex", {"column": "name", "regex": r"\d"}, table)


@pytest.mark.parametrize("rows, distinct", [(2_000, 2_000), (3_000, 3)])
def test_compound_unique_on_many_or_few_combinations(rows, distinct):
    rng = np.random.default_rng(7)
    columns = {f"c{i}": pa.array(rng.permutation(rows) % distinct if i == 0 else np.arange(rows) % (distinct + i))
               for i in range(6)}
    table = pa.table({k: pa.array([str(v) for v in a.to_pylist()]) if k == "c1" else a for k, a in columns.items()})
    for width in (2, 3, 6):  # a count per combination, a sort, and Arrow's group_by for the widest
        names = [f"c{i}" for i in range(width)]
        expected = not pd.DataFrame({n: table[n].to_pylist() for n in names}).duplicated().any()
        assert row_checks.check("expect_compound_columns_to_be_unique", {"column_list": names}, table) == expected
        doubled = pa.concat_tables([table, table.slice(rows - 1, 1)])
        assert row_checks.check("expect_compound_columns_to_be_unique", {"column_list": names}, doubled) is False


@pytest.mark.parametrize("country, wave", [("MT", "final:100"), ("LU", "final:100"), ("BE", "final:100"),
                                           ("CY", "estimate"), ("NL", "provisional:40")])
def test_units_frame_of_the_arrow_table_is_the_pandas_one(country, wave):
    delivery = parsed(country, wave=wave, sequence=1 if wave == "estimate" else 2)
    params = suite_params(ELECTION, country, delivery.meta.status)
    expected = units_frame(delivery.frame(with_line=True), params)
    pd.testing.assert_frame_equal(units_frame_of_table(rows_table(delivery, params), params), expected)


def test_units_frame_with_inconsistent_unit_rows_counts_its_variants():
    rows = wave_rows(ELECTION, "CY", "final:100")
    rows.loc[rows.index[_unit(rows, 1)][2], "registered"] += 5
    rows.loc[rows.index[_unit(rows, 1)][3], "registered"] += 6
    rows.loc[rows.index[_unit(rows, 2)][1], "unit_name"] = "renamed"
    delivery = parsed("CY", rows)
    params = suite_params(ELECTION, "CY", "final")
    expected = units_frame(delivery.frame(with_line=True), params)
    assert sorted(expected["variants"].unique()) == [1, 2, 3]
    got = units_frame_of_table(rows_table(delivery, params), params, slow=lambda: delivery.frame(with_line=True))
    pd.testing.assert_frame_equal(got, expected)
    with pytest.raises(ValueError):
        units_frame_of_table(rows_table(delivery, params), params)


def _municipal_france(monkeypatch) -> tuple[Delivery, dict]:
    """France at municipal scale (35,000 units x 35 lists = 1,225,000 rows: the row cap), built column-wise."""
    small = parsed("FR")  # its metadata; the rows below replace its table
    monkeypatch.setenv("ENR_UNITS_SCALE", "municipal")
    from enr.simulation import units_at_scale

    units = units_at_scale(ELECTION, "FR")  # the scaled set, written into the home as the replay writes it
    params = suite_params(ELECTION, "FR", "final")
    lists = params["list_ids"]
    n_units, n_lists = len(units), len(lists)
    votes = np.full((n_units, n_lists), 10, dtype=np.int64)
    votes[:, 0] = 600 - 10 * (n_lists - 1)  # the unit's valid votes: 1000 voters - 300 blank - 100 invalid
    table = pa.Table.from_arrays([
        pa.array(np.repeat(units["unit_id"].to_numpy(), n_lists)),
        pa.array(np.repeat(units["unit_name"].to_numpy() if "unit_name" in units else units["unit_id"].to_numpy(),
                           n_lists)),
        pa.array(np.repeat(units["constituency"].to_numpy(), n_lists)),
        pa.array(np.full(n_units * n_lists, 2000, dtype=np.int64)),
        pa.array(np.full(n_units * n_lists, 1000, dtype=np.int64)),
        pa.array(np.full(n_units * n_lists, 300, dtype=np.int64)),
        pa.array(np.full(n_units * n_lists, 100, dtype=np.int64)),
        pa.array(np.tile(np.array(lists, dtype=object), n_units)),
        pa.array(votes.reshape(-1)),
    ], schema=SCHEMA)
    return Delivery(meta=small.meta, table=table, file_name="ep2019-FR-0002.csv"), params


def test_a_fault_in_row_1_123_456_of_1_225_000_is_named(monkeypatch):
    delivery, _ = _municipal_france(monkeypatch)
    assert delivery.table.num_rows == 1_225_000
    clean = validate_delivery(delivery)
    assert clean.success, [f.as_dict() for f in clean.failures]
    assert "row_checks" in clean.suites["delivery_rows"]["meta"]["evaluated_by"]
    line = 1_123_456
    votes = delivery.table["votes"].to_numpy().copy()
    index = line - FIRST_DATA_LINE
    votes[index + 1] += votes[index] + 1  # the next list of the same unit: the unit's sum is unchanged
    votes[index] = -1
    assert delivery.table["unit_id"][index] == delivery.table["unit_id"][index + 1]
    table = delivery.table.set_column(SCHEMA.get_field_index("votes"), SCHEMA.field("votes"), pa.array(votes))
    refused = validate_delivery(Delivery(meta=delivery.meta, table=table, file_name=delivery.file_name))
    rejection = refused.rejection()
    assert (rejection.rule, rejection.row, rejection.rows, rejection.file) == \
        ("negative_count", line, [line], "ep2019-FR-0002.csv")
    assert str(rejection).startswith("ep2019-FR-0002.csv:1123456: negative_count: negative votes")
