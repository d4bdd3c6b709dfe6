"""Every threshold of both elections, exactly at the line and one vote below (and above).

For each country rule with a legal threshold, a synthetic table puts a list *exactly* on the line
(the base is chosen so the line is a whole number of votes) and checks that it takes part iff the
law says a list at the line qualifies (``threshold_inclusive``); then one vote below (the vote moved
to the largest list, so the base does not change) it must fail and win nothing; one vote above it
must pass.
"""
from __future__ import annotations

from fractions import Fraction

import pandas as pd
import pytest

from enr.definition import load_election
from transforms.apportionment import Totals
from transforms.national import allocate_country
from transforms.rules import parse_rules
from transforms.threshold import ThresholdSpec, apply_threshold
from transforms.tie import Where


def _threshold_rules():
    out = []
    for election in ("ep2019", "ep2024"):
        for cc, rule in sorted(parse_rules(load_election(election).rules).items()):
            if rule.threshold is not None and rule.allocation_level == "national":
                out.append(pytest.param(election, cc, id=f"{election}-{cc}"))
    return out


def _table(rule, edge_votes: int, total: int) -> tuple[pd.DataFrame, dict]:
    others = [("big", total // 2), ("mid", total // 4)]
    rest = total - edge_votes - sum(v for _, v in others)
    rows = [("big", others[0][1] + rest), ("mid", others[1][1]), ("edge", edge_votes)]
    df = pd.DataFrame(rows, columns=["list_id", "votes"])
    totals = {"registered": 2 * total, "voters": total, "valid": total, "blank": 0, "invalid": 0}
    return df, totals


def _line(rule, total: int) -> Fraction:
    seats = rule.allocated_seats
    return rule.threshold.line(total, seats)


def _edge_result(alloc) -> str:
    return [s["result"] for s in alloc.steps if s["kind"] == "threshold" and s.get("list_id") == "edge"][0]


@pytest.mark.parametrize("election,cc", _threshold_rules())
def test_list_exactly_at_the_line(election, cc):
    rule = parse_rules(load_election(election).rules)[cc]
    seats = rule.allocated_seats
    total = 10**6 * seats  # the line is a whole number for percent (<= 4 decimals) and quota thresholds
    line = _line(rule, total)
    assert line.denominator == 1
    line = int(line)
    inclusive = rule.threshold.inclusive

    at, totals = _table(rule, line, total)
    alloc = allocate_country(rule, at, totals=totals)
    assert _edge_result(alloc) == ("pass" if inclusive else "fail")

    below, totals = _table(rule, line - 1, total)
    alloc = allocate_country(rule, below, totals=totals)
    assert _edge_result(alloc) == "fail"
    assert alloc.seats["edge"] == 0

    above, totals = _table(rule, line + 1, total)
    alloc = allocate_country(rule, above, totals=totals)
    assert _edge_result(alloc) == "pass"
    assert alloc.complete


SPEC = ThresholdSpec(base="valid_votes", inclusive=True, percent=Fraction(5))
W = Where("XX")


@pytest.mark.parametrize("inclusive,votes,expected", [
    (True, 50, "pass"), (True, 49, "fail"), (False, 50, "fail"), (False, 51, "pass")])
def test_percent_line_inclusive_or_not(inclusive, votes, expected):
    spec = ThresholdSpec(base="valid_votes", inclusive=inclusive, percent=Fraction(5))
    out = apply_threshold(spec, {"a": votes}, totals=Totals(valid=1000), seats=10, where=W)
    assert (out.passed, out.failed) == ((["a"], []) if expected == "pass" else ([], ["a"]))


def test_fractional_percent_is_exact():
    spec = ThresholdSpec(base="valid_votes", inclusive=True, percent=Fraction("1.8"))
    # 1.8 % of 280935 = 5056.83: 5057 passes, 5056 fails (a float 0.018 * 280935 = 5056.83 too, but
    # 1.8 % of 1000 = 18 exactly is where floats go wrong: 0.018 * 1000 = 18.000000000000004)
    out = apply_threshold(spec, {"a": 5057, "b": 5056}, totals=Totals(valid=280935), seats=6, where=W)
    assert out.passed == ["a"] and out.failed == ["b"]
    out = apply_threshold(spec, {"a": 18}, totals=Totals(valid=1000), seats=6, where=W)
    assert out.passed == ["a"]


def test_quota_threshold_kiesdeler():
    spec = ThresholdSpec(base="valid_votes", inclusive=True, quotas=Fraction(1))
    out = apply_threshold(spec, {"a": 100, "b": 99}, totals=Totals(valid=2600), seats=26, where=W)
    assert out.passed == ["a"] and out.failed == ["b"]


def test_votes_cast_base_includes_invalid_ballots():
    spec = ThresholdSpec(base="votes_cast", inclusive=True, percent=Fraction(5))
    # LT 2019: the Centre Party has 5.13 % of the valid votes but 4.85 % of the ballots cast
    out = apply_threshold(spec, {"lcp": 64595}, totals=Totals(voters=1332020, valid=1259954), seats=11, where=W)
    assert out.failed == ["lcp"]
    # voters unknown: valid + invalid (+ blank) is the ballots cast
    out = apply_threshold(spec, {"lcp": 64595}, totals=Totals(valid=1259954, invalid=72066), seats=11, where=W)
    assert out.failed == ["lcp"]


def test_unknown_base_is_bounded_not_guessed():
    # valid votes unknown: bounded below by the list votes, above by the ballots cast
    out = apply_threshold(SPEC, {"a": 60, "b": 40, "c": 900}, totals=Totals(voters=1100), seats=10, where=W)
    # line between 5 % of 1000 = 50 and 5 % of 1100 = 55: a passes either way, b fails either way
    assert out.passed == ["a", "c"] and out.failed == ["b"] and not out.undecided
    out = apply_threshold(SPEC, {"a": 52, "c": 948}, totals=Totals(voters=1100), seats=10, where=W)
    assert out.undecided == ["a"]
    out = apply_threshold(SPEC, {"a": 52, "c": 948}, totals=Totals(), seats=10, where=W)
    assert out.undecided == ["a", "c"]  # no upper bound at all: nobody passes for sure


@pytest.mark.parametrize("second,admitted", [(10, False), (9, True)])
def test_lithuanian_sixty_percent_rule(second, admitted):
    spec = ThresholdSpec(base="votes_cast", inclusive=True, percent=Fraction(5), fill_percent=Fraction(60))
    # a has 50 %, b has `second` %: together 60 % (no more lists) or 59 % (c is admitted)
    votes = {"a": 500, "b": second * 10, "c": 40, "d": 30}
    out = apply_threshold(spec, votes, totals=Totals(voters=1000), seats=11, where=W)
    assert ("c" in out.passed) is admitted
    assert "d" not in out.passed
