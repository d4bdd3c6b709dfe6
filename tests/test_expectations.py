"""The Great Expectations suites (reviewable JSON) and their runner: each rule fails for its reason."""
from __future__ import annotations

import json

import pytest

from enr.definition import load_election
from enr.delivery import parse_delivery
from enr.replay import estimate_rows, make_delivery, wave_rows
from expectations.runner import SUITE_ORDER, SUITES_DIR, load_suite, suite_params, validate_delivery

ELECTION = "ep2019"


def delivery(country, rows=None, wave="final:100", **kwargs):
    return parse_delivery(make_delivery(ELECTION, country, wave, kwargs.pop("sequence", 2), rows=rows, **kwargs),
                          f"{ELECTION}-{country}-0002.csv")


def first_unit(rows, index=0):
    return rows["unit_id"] == rows["unit_id"].unique()[index]


def test_suites_are_reviewable_json_with_a_rule_for_every_expectation():
    from great_expectations.expectations.registry import get_expectation_impl

    assert sorted(p.stem for p in SUITES_DIR.glob("*.json")) == sorted(SUITE_ORDER)
    for name in SUITE_ORDER:
        suite = json.loads((SUITES_DIR / f"{name}.json").read_text())
        assert suite["name"] == name and suite["frame"] and suite["description"]
        for expectation in suite["expectations"]:
            get_expectation_impl(expectation["type"])  # a real GX expectation
            assert expectation["meta"]["rule"] and expectation["meta"]["message"]
            assert expectation.get("severity", "critical") in ("critical", "warning")


def test_placeholders_resolve_for_every_country():
    import re

    tokens = {t for name in SUITE_ORDER for t in re.findall(r"\$([a-z_]+)", json.dumps(load_suite(name)["expectations"]))}
    assert {"list_ids", "max_rows", "constituencies", "units_total", "votes_per_voter", "country"} <= tokens
    for country in sorted(load_election(ELECTION).countries):
        params = suite_params(ELECTION, country, "final")
        assert tokens <= set(params), (country, tokens - set(params))
        assert params["units_total"] == len(params["unit_ids"])


@pytest.mark.parametrize("country", ["MT", "LU", "NL", "IT", "UK"])
def test_real_final_waves_pass(country):
    report = validate_delivery(delivery(country))
    assert report.success, [f.as_dict() for f in report.failures]


def test_luxembourg_votes_per_voter_comes_from_the_definition():
    rows = wave_rows(ELECTION, "LU", "final:100")
    unit = first_unit(rows)
    ratio = rows.loc[unit, "votes"].sum() / (rows.loc[unit, "voters"].iloc[0] - rows.loc[unit, "invalid"].iloc[0])
    assert 5 < ratio <= 6  # list votes are ~6x the valid ballots, and that is accepted
    valid = rows.loc[unit, "voters"].iloc[0] - rows.loc[unit, "invalid"].iloc[0]
    rows.loc[rows.index[unit][0], "votes"] += 6 * valid  # now more than 6 votes per valid ballot
    report = validate_delivery(delivery("LU", rows))
    assert report.rejection().rule == "votes_sum_mismatch"
    assert report.rejection().found[0]["unit_id"] == rows["unit_id"].iloc[0]


def test_country_without_separate_blank_count():
    report = validate_delivery(delivery("AT"))
    assert report.success
    assert report.params["blank_reported"] is False


def test_unit_filed_under_another_constituency():
    rows = wave_rows(ELECTION, "IE", "final:100")
    unit = first_unit(rows)
    other = next(c for c in rows["constituency"].unique() if c != rows.loc[unit, "constituency"].iloc[0])
    rows.loc[unit, "constituency"] = other
    report = validate_delivery(delivery("IE", rows))
    assert report.rejection().rule == "unit_constituency_mismatch"


def test_national_pseudo_unit_only_in_an_estimate():
    assert validate_delivery(delivery("FR", wave="estimate", sequence=1)).success
    rows = estimate_rows(ELECTION, "FR")
    report = validate_delivery(delivery("FR", rows, wave="provisional:10"))
    assert report.rejection().rule == "unknown_unit"
    assert report.rejection().row == 3


def test_turnout_outside_the_plausible_range_is_a_warning():
    rows = wave_rows(ELECTION, "CY", "final:100")
    unit = first_unit(rows, 2)
    rows.loc[unit, "registered"] = rows.loc[unit, "voters"] * 40
    report = validate_delivery(delivery("CY", rows))
    assert report.success
    assert [w.rule for w in report.warnings] == ["turnout_implausible"]
    assert report.warnings[0].rows and "turnout_implausible" in report.warning_texts()[0]


def test_totals_may_only_decrease_in_a_declared_correction():
    previous = delivery("CY").frame()
    rows = wave_rows(ELECTION, "CY", "final:100")
    unit = first_unit(rows)
    rows.loc[rows.index[unit][0], "votes"] -= 3
    rows.loc[unit, "voters"] -= 3
    refused = validate_delivery(delivery("CY", rows, sequence=3), previous=previous)
    assert refused.rejection().rule == "totals_decreased"
    assert {"key": "voters"} in [{"key": f["key"]} for f in refused.rejection().found]
    corrected = validate_delivery(delivery("CY", rows, sequence=3, corrects=2, reason="recount"), previous=previous)
    assert corrected.success
    estimate = validate_delivery(delivery("CY", wave="estimate", sequence=3), previous=previous)
    assert estimate.success  # an estimate is never compared with counted units


def test_report_json_and_html():
    rows = wave_rows(ELECTION, "CY", "final:100")
    rows.loc[first_unit(rows, 1), "unit_name"] = "<script>alert(1)</script>"
    report = validate_delivery(delivery("CY", rows))
    rejection = report.rejection()
    assert rejection.rule == "markup_in_name" and rejection.rows == list(range(19, 19 + 16))[:5]
    as_json = report.to_json()
    json.dumps(as_json)
    assert as_json["failures"][0]["rule"] == "markup_in_name"
    assert set(as_json["suites"]) == {"delivery_rows", "delivery_units", "delivery_country"}
    html = report.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html and "REFUSED" in html


def test_large_value_sets_are_not_copied_into_the_report():
    report = validate_delivery(delivery("PL"))
    assert report.success
    text = json.dumps(report.to_json())
    assert "149901" not in text and len(text) < 200_000


# -- one GX context per process -------------------------------------------------------------------

def _comparable(report) -> str:
    """The report as written beside the snapshot, without GX's batch load time (a timestamp)."""
    import re

    text = json.dumps(report.to_json(), ensure_ascii=False, default=repr)
    return (re.sub(r'"ge_load_time": "[^"]*"', '"ge_load_time": ""', text) + report.to_html()
            + "\n".join(report.warning_texts()))


def _mixed_deliveries():
    lu_rows = wave_rows(ELECTION, "LU", "final:100")
    unit = first_unit(lu_rows)
    lu_rows.loc[lu_rows.index[unit][0], "votes"] += 6 * int(lu_rows.loc[unit, "voters"].iloc[0])
    cy_rows = wave_rows(ELECTION, "CY", "final:100")
    cy_rows.loc[first_unit(cy_rows, 1), "unit_name"] = "<b>x</b>"
    cy_rows.loc[first_unit(cy_rows, 2), "registered"] *= 40
    return {"MT ok": (delivery("MT"), {}), "LU refused": (delivery("LU", lu_rows), {}),
            "LU ok": (delivery("LU"), {}), "CY refused": (delivery("CY", cy_rows), {}),
            "CY decreased": (delivery("CY", wave="provisional:40", sequence=3), {"previous": delivery("CY").frame()}),
            "MT estimate": (delivery("MT", wave="estimate", sequence=1), {})}


def test_reused_context_gives_the_reports_of_a_fresh_one():
    from expectations import runner

    cases = _mixed_deliveries()
    fresh = {}
    for name, (parsed, kwargs) in cases.items():
        runner._GX_SESSION = None  # as the first call of a process: a new context
        fresh[name] = _comparable(validate_delivery(parsed, **kwargs))
    assert "markup_in_name" in fresh["CY refused"] and "turnout_implausible" in fresh["CY refused"]
    assert "votes_sum_mismatch" in fresh["LU refused"] and "totals_decreased" in fresh["CY decreased"]
    session = runner._session()
    # Countries alternate; a refusal follows an acceptance and the other way round, twice over.
    order = ["MT ok", "LU refused", "LU ok", "CY refused", "MT ok", "CY decreased", "MT estimate", "LU refused",
             "CY refused", "LU ok", "CY decreased", "MT ok"]
    for name in order:
        parsed, kwargs = cases[name]
        report = validate_delivery(parsed, **kwargs)
        assert _comparable(report) == fresh[name], name
        assert report.success == name.endswith(("ok", "estimate")), name
        assert runner._session() is session  # the same context, data source and batch definition
        assert session.datasource._execution_engine is None  # no frame or metric kept after a delivery
        assert [a.name for a in session.datasource.assets] == ["frame"]
        assert [b.name for b in session.datasource.get_asset("frame").batch_definitions] == ["whole"]


def test_threads_validating_at_once_get_their_own_reports():
    from concurrent.futures import ThreadPoolExecutor

    cases = _mixed_deliveries()
    alone = {name: _comparable(validate_delivery(parsed, **kwargs)) for name, (parsed, kwargs) in cases.items()}
    names = list(cases) * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda name: _comparable(validate_delivery(cases[name][0], **cases[name][1])), names))
    assert together == [alone[name] for name in names]
