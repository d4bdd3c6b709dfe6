"""The law as typed data: both elections' country files parse and agree with election.json; bad rows (the
older rules.csv form, the same validation path as a country file) fail by name."""
from __future__ import annotations

from fractions import Fraction

import pytest

from enr.definition import load_election
from transforms.errors import RuleError
from transforms.registry import DISTRIBUTIONS, METHODS
from transforms.rules import COLUMNS, parse_rules

@pytest.mark.parametrize("election", ["ep2019", "ep2024"])
def test_rules_cover_the_election(election):
    e = load_election(election)
    rules = parse_rules(e.rules)
    assert set(rules) == set(e.countries)
    for cc, country in e.countries.items():
        assert rules[cc].seats == country.seats, cc
        assert rules[cc].special_notes and rules[cc].source, cc
    assert all(list(r) == list(COLUMNS) for r in e.rules)  # every row has every column, as rules.csv has


def test_2019_details():
    rules = parse_rules(load_election("ep2019").rules)
    assert rules["SE"].first_divisor == Fraction(6, 5)
    assert rules["IT"].allocated_seats == 76 and rules["SK"].allocated_seats == 14
    assert [c.seats for c in rules["BE"].constituencies] == [12, 8, 1]
    assert sum(c.seats for c in rules["UK"].constituencies) == 73
    assert rules["UK"].constituency_rule("Northern Ireland").method == "stv"
    assert len(rules["PL"].constituencies) == 13 and len(rules["IT"].constituencies) == 5
    assert rules["LT"].threshold.fill_percent == 60
    assert rules["NL"].threshold.quotas == 1
    assert rules["HR"].threshold.base == "votes_cast"


def test_2024_details():
    rules = parse_rules(load_election("ep2024").rules)
    assert [c.seats for c in rules["BE"].constituencies] == [13, 8, 1]
    assert [(c.constituency, c.seats) for c in rules["IE"].constituencies] == [
        ("Dublin", 4), ("Midlands-North-West", 5), ("South", 5)]
    assert len(rules["PL"].constituencies) == 13 and rules["PL"].seats == 53
    assert rules["DE"].threshold is None
    assert rules["EL"].threshold.percent == 3 and rules["IT"].threshold.percent == 4
    assert rules["CZ"].threshold.percent == 5 and rules["SE"].threshold.percent == 4
    assert all(r.deferred_seats == 0 for r in rules.values())


def test_registry_is_a_whitelist():
    assert "dhondt" in METHODS and "stv" in METHODS
    with pytest.raises(TypeError):
        METHODS["evil"] = None  # type: ignore[index]
    assert set(DISTRIBUTIONS) == {"hare_niemeyer_by_list", "italy_list_quotient"}


def row(**kw) -> dict:
    base = dict.fromkeys(COLUMNS, "")
    base.update(country="XX", seats="10", method="dhondt", allocation_level="national")
    if kw.get("constituency"):
        base.update(method="", allocation_level="constituency", seats="")
    base.update(kw)
    return base


@pytest.mark.parametrize("rows,message", [
    ([row(constituency="A", allocation_level="national")], r"a constituency row has allocation_level 'constituency'"),
    ([row(method="os.system")], r"row 1 \(XX\), column 'method': 'os.system' is not a registered method"),
    ([row(threshold_percent="5")], r"column 'threshold_base'"),
    ([row(threshold_percent="5", threshold_base="valid_votes")], r"column 'threshold_inclusive'"),
    ([row(threshold_percent="five", threshold_base="valid_votes", threshold_inclusive="1")],
     r"'five' is not a decimal number"),
    ([row(threshold_percent="120", threshold_base="valid_votes", threshold_inclusive="1")], r"out of range"),
    ([row(seats="ten")], r"column 'seats': 'ten' is not a whole number"),
    ([row(seats="")], r"needs its number of seats"),
    ([row(), row()], r"row 2 \(XX\), column 'country': a second country row"),
    ([row(country="YY", constituency="North", seats="3")], r"constituency row for 'YY', which has no country row"),
    ([row(allocation_level="constituency"), row(constituency="A", seats="4"), row(constituency="B", seats="5")],
     r"column 'seats': 10, but the constituency rows seat 9"),
    ([row(method="sainte_lague_modified")], r"column 'first_divisor': method 'sainte_lague_modified' needs it"),
    ([row(deferred_seats="1")], r"deferred_seats needs a deferred_rule"),
    ([row(deferred_seats="1", deferred_rule="smallest_remainder")], r"does not support 'smallest_remainder'"),
    ([row(tie_break="coin")], r"column 'tie_break': 'coin' is not one of"),
    ([row(constituency="A", seats="3")], r"constituency row for 'XX', which has no country row"),
    ([row(), row(constituency="A")], r"need a distribution"),
    ([row(distribution="hare_niemeyer_by_list"), row(constituency="A", seats="4")], r"leave empty"),
    ([{k: v for k, v in row().items() if k != "threshold_base"}], r"column 'threshold_base': missing column"),
])
def test_bad_rows_fail_naming_row_and_column(rows, message):
    with pytest.raises(RuleError, match=message):
        parse_rules(rows)
