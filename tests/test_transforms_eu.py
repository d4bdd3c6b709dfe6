"""EU aggregation: groups, country × group, OTH for unaffiliated lists, turnout, partial nights."""
from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction

import pandas as pd

from enr.definition import load_election
from transforms.eu import aggregate
from transforms.national import allocate_country
from transforms.rules import parse_rules

RULES = parse_rules(load_election("ep2019").rules)


def _alloc(cc, rows, totals=None):
    return allocate_country(RULES[cc], pd.DataFrame(rows, columns=["list_id", "votes"]), totals=totals)


def test_partial_night_with_unaffiliated_list_and_turnout():
    at = _alloc("AT", [("oevp", 600), ("new", 400)], {"registered": 2000, "voters": 1000, "valid": 1000})
    lu = _alloc("LU", [("dp", 300), ("csv", 300)], {"registered": 500, "voters": 450, "valid": 440})
    groups = {("AT", "oevp"): "EPP", ("LU", "dp"): "RE", ("LU", "csv"): "EPP"}
    eu = aggregate({"AT": at, "LU": lu}, groups, country_seats={"AT": 18, "LU": 6, "MT": 6},
                   groups=["EPP", "RE", "OTH"], turnout={"MT": {"registered": 100, "voters": 50}},
                   status={"AT": "estimate"})
    assert eu.groups == {"EPP": 11 + 3, "RE": 3, "OTH": 7}
    assert eu.by_country == {"AT": {"EPP": 11, "OTH": 7}, "LU": {"RE": 3, "EPP": 3}}
    assert eu.unaffiliated == [("AT", "new")]
    assert eu.seats_total == 30 and eu.majority == 16 and eu.seats_allocated == 24
    assert eu.countries_missing == ["MT"] and eu.countries_complete == ["AT", "LU"]
    assert eu.turnout == Fraction(1000 + 450 + 50, 2000 + 500 + 100)
    assert eu.turnout_countries == ["AT", "LU", "MT"]
    d = eu.to_dict()
    json.dumps(d)
    epp = [g for g in d["groups"] if g["id"] == "EPP"][0]
    assert epp["by_status"] == {"estimate": 11, "final": 3}
    assert d["turnout"] == "15/26" and d["turnout_decimal"] == "0.576923"


def test_incomplete_country_counts_certain_seats_and_its_ties():
    rule = replace(RULES["AT"], seats=5)
    tied = allocate_country(rule, pd.DataFrame([("a", 500), ("b", 500)], columns=["list_id", "votes"]),
                            totals={"registered": 10, "voters": None, "valid": 1000})
    eu = aggregate({"AT": tied}, {("AT", "a"): "EPP", ("AT", "b"): "S&D"})
    assert eu.countries_incomplete == ["AT"] and eu.seats_allocated == 4 and eu.seats_total == 5
    assert len(eu.ties) == 1 and eu.ties[0]["lists"] == ["a", "b"]
    assert eu.turnout is None and eu.turnout_countries == []
