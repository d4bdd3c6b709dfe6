"""The aggregate expectations evaluated column-wise (expectations/frame_checks.py) say what GX says.

``delivery_units``, ``delivery_country`` and ``delivery_changes`` skip GX when every expectation
holds there; when one fails (a refusal or a reviewers' warning) GX runs the suite and explains it.
So: for deliveries breaking each aggregate rule (and clean ones), every expectation GX evaluates
on the very frame the runner built is read the same way here, and the report (failures, warnings)
is the one GX alone gives.
"""
from __future__ import annotations

import pandas as pd
import pytest

from enr.delivery import parse_delivery
from enr.replay import make_delivery, wave_rows
from expectations import frame_checks, runner
from expectations.runner import validate_delivery

ELECTION = "ep2019"
AGGREGATE = ("delivery_units", "delivery_country", "delivery_changes")


def parsed(country, rows=None, wave="final:100", sequence=2, **kwargs):
    return parse_delivery(make_delivery(ELECTION, country, wave, sequence, rows=rows, **kwargs),
                          f"{ELECTION}-{country}-{sequence:04d}.csv")


def _unit(rows, index):
    return rows["unit_id"] == rows["unit_id"].unique()[index]


def _cases():
    """name -> (delivery, validate kwargs, the aggregate rules GX reports (failures, warnings))."""
    out = {}
    for country in ("MT", "LU", "AT", "CY"):
        out[f"{country} clean"] = (parsed(country), {}, ([], []))
    out["FR estimate"] = (parsed("FR", wave="estimate", sequence=1), {}, ([], []))
    out["CY same again"] = (parsed("CY", sequence=3), {"previous": parsed("CY").frame()}, ([], []))

    rows = wave_rows(ELECTION, "CY", "final:100")
    rows.loc[rows.index[_unit(rows, 1)][2], "registered"] += 5
    out["variants"] = (parsed("CY", rows), {}, (["unit_totals_inconsistent"], []))
    rows = wave_rows(ELECTION, "CY", "final:100")
    rows.loc[_unit(rows, 1), "registered"] = rows.loc[_unit(rows, 1), "voters"] - 3
    out["voters > registered"] = (parsed("CY", rows), {}, (["voters_exceed_registered"], ["turnout_implausible"]))
    rows = wave_rows(ELECTION, "LU", "final:100")
    unit = _unit(rows, 0)
    rows.loc[rows.index[unit][0], "votes"] += 6 * int(rows.loc[unit, "voters"].iloc[0])
    out["too many list votes"] = (parsed("LU", rows), {}, (["votes_sum_mismatch"], []))
    rows = wave_rows(ELECTION, "CY", "final:100")
    unit = _unit(rows, 0)
    rows.loc[rows.index[unit][0], "votes"] -= 1
    out["too few list votes"] = (parsed("CY", rows), {}, (["votes_sum_mismatch"], []))
    rows = wave_rows(ELECTION, "CY", "final:100")
    rows.loc[_unit(rows, 2), "registered"] = rows.loc[_unit(rows, 2), "voters"] * 40
    out["unit turnout warning"] = (parsed("CY", rows), {}, ([], ["turnout_implausible"]))
    rows = wave_rows(ELECTION, "CY", "final:100")
    rows["registered"] *= 40
    out["national turnout warning"] = (parsed("CY", rows), {},
                                       ([], ["turnout_implausible", "turnout_implausible_national"]))
    rows = wave_rows(ELECTION, "IE", "final:100")
    unit = _unit(rows, 0)
    rows.loc[unit, "constituency"] = next(c for c in rows["constituency"].unique()
                                          if c != rows.loc[unit, "constituency"].iloc[0])
    out["constituency"] = (parsed("IE", rows), {}, (["unit_constituency_mismatch"], []))
    rows = wave_rows(ELECTION, "CY", "final:100")
    out["unit missing from a final"] = (parsed("CY", rows[~_unit(rows, 3)]), {}, (["final_missing_units"], []))
    out["unit missing from a provisional"] = (parsed("CY", rows[~_unit(rows, 3)], wave="provisional:90"), {},
                                              ([], []))
    rows = wave_rows(ELECTION, "CY", "final:100")
    unit = _unit(rows, 0)
    rows.loc[rows.index[unit][0], "votes"] -= 3
    rows.loc[unit, "voters"] -= 3
    out["decreased"] = (parsed("CY", rows, sequence=3), {"previous": parsed("CY").frame()}, (["totals_decreased"], []))
    out["decreased, corrected"] = (parsed("CY", rows, sequence=3, corrects=2, reason="recount"),
                                   {"previous": parsed("CY").frame()}, ([], []))
    return out


CASES = _cases()


def _validated_by_gx_alone(monkeypatch, delivery, kwargs):
    """The report with the shortcut switched off, and the (type, kwargs) list and frame of each
    aggregate suite as the runner handed them to the shortcut."""
    seen = []

    def record(expectations, frame):
        seen.append((list(expectations), frame))
        return None  # not sure: GX decides

    with monkeypatch.context() as patch:
        patch.setattr(frame_checks, "verdict", record)
        report = validate_delivery(delivery, **kwargs)
    return report, seen


def _rules(items):
    return [(f.rule, f.suite) for f in items if f.suite in AGGREGATE]


@pytest.mark.parametrize("case", list(CASES))
def test_each_aggregate_expectation_is_read_here_as_gx_reads_it(case, monkeypatch):
    delivery, kwargs, (failing, warning) = CASES[case]
    gx_report, seen = _validated_by_gx_alone(monkeypatch, delivery, kwargs)
    assert [r for r, _ in _rules(gx_report.failures)] == failing
    assert [r for r, _ in _rules(gx_report.warnings)] == warning
    gx_suites = [name for name in AGGREGATE if name in gx_report.suites]
    assert len(gx_suites) == len(seen) >= 2
    for name, (expectations, frame) in zip(gx_suites, seen):
        results = sorted(gx_report.suites[name]["results"], key=lambda r: r["expectation_config"]["meta"]["index"])
        assert [r["expectation_config"]["type"] for r in results] == [kind for kind, _ in expectations]
        for result, (kind, kw) in zip(results, expectations):
            # Exact agreement: never "not sure" on the frames the runner builds.
            assert frame_checks.check(kind, kw, frame) is result["success"], (name, kind, kw)
        assert frame_checks.verdict(expectations, frame) is gx_report.suites[name]["success"] or \
            not all(r["success"] for r in results)

    # With the shortcut: the same failures and warnings (GX's), and GX ran exactly the suites
    # with a failing expectation.
    report = validate_delivery(delivery, **kwargs)
    assert [f.as_dict() for f in report.failures] == [f.as_dict() for f in gx_report.failures]
    assert [w.as_dict() for w in report.warnings] == [w.as_dict() for w in gx_report.warnings]
    for name in gx_suites:
        clean = all(r["success"] for r in gx_report.suites[name]["results"])
        by_here = "frame_checks" in (report.suites[name].get("meta") or {}).get("evaluated_by", "")
        assert by_here is clean, name
        if not clean:
            assert report.suites[name]["results"] == gx_report.suites[name]["results"]


def test_meta_when_is_honoured():
    """final_missing_units runs only for a final (``when: is_final``), totals_decreased only with
    an earlier snapshot (``when: monotonic``): a provisional missing units passes without GX."""
    rows = wave_rows(ELECTION, "CY", "final:100")
    report = validate_delivery(parsed("CY", rows[~_unit(rows, 3)], wave="provisional:90"))
    assert report.success and not report.warnings
    country = report.suites["delivery_country"]
    assert "frame_checks" in country["meta"]["evaluated_by"]
    assert "final_missing_units" not in [r["expectation_config"]["meta"]["rule"] for r in country["results"]]
    assert "delivery_changes" not in report.suites


def test_what_is_not_sure_here_goes_to_gx():
    frame = pd.DataFrame({"a": [1, None, 3], "b": [1, 2, 3], "s": ["x", "y", "z"], "t": ["x", 1, "z"],
                          "flag": [True, False, True]})
    between = "expect_column_values_to_be_between"
    assert frame_checks.check(between, {"column": "a", "min_value": 0}, frame) is None  # a null
    assert frame_checks.check(between, {"column": "b", "min_value": 0, "mostly": 0.5}, frame) is None
    assert frame_checks.check(between, {"column": "b", "min_value": 0, "strict_min": True}, frame) is None
    assert frame_checks.check(between, {"column": "flag", "min_value": 0}, frame) is None
    assert frame_checks.check(between, {"column": "s", "min_value": 0}, frame) is None
    assert frame_checks.check(between, {"column": "nope", "min_value": 0}, frame) is None
    assert frame_checks.check(between, {"column": "b", "min_value": "0"}, frame) is None
    assert frame_checks.check(between, {"column": "b", "min_value": 1, "max_value": 3}, frame) is True
    assert frame_checks.check(between, {"column": "b", "max_value": 2}, frame) is False
    pair = "expect_column_pair_values_a_to_be_greater_than_b"
    assert frame_checks.check(pair, {"column_A": "a", "column_B": "b", "or_equal": True}, frame) is None
    assert frame_checks.check(pair, {"column_A": "b", "column_B": "b", "or_equal": True}, frame) is True
    assert frame_checks.check(pair, {"column_A": "b", "column_B": "b"}, frame) is False
    equal = "expect_column_pair_values_to_be_equal"
    assert frame_checks.check(equal, {"column_A": "s", "column_B": "t"}, frame) is None  # mixed types
    assert frame_checks.check(equal, {"column_A": "s", "column_B": "s"}, frame) is True
    assert frame_checks.check(equal, {"column_A": "s", "column_B": "b"}, frame) is None
    assert frame_checks.check("expect_column_values_to_not_be_null", {"column": "a"}, frame) is False
    assert frame_checks.check("expect_column_values_to_be_unique", {"column": "b"}, frame) is None
    assert frame_checks.verdict([(between, {"column": "b", "max_value": 2}),
                                 ("expect_column_values_to_be_unique", {"column": "b"})], frame) is False
    assert frame_checks.verdict([(between, {"column": "b", "max_value": 3}),
                                 ("expect_column_values_to_be_unique", {"column": "b"})], frame) is None
    assert runner.FRAME_EVALUATED_BY.startswith("expectations.frame_checks")
