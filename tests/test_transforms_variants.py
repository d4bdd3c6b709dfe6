"""National variants at their quota boundaries, and the compositions (alliances, constituencies, STV,
partial nights)."""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pandas as pd
import pytest

from enr.definition import load_election
from transforms.errors import AllocationError
from transforms.largest_remainder import largest_remainder, remainder_fractions
from transforms.national import allocate_country
from transforms.quota import quota
from transforms.rules import parse_rules
from transforms.tie import Where

RULES19 = parse_rules(load_election("ep2019").rules)
RULES24 = parse_rules(load_election("ep2024").rules)


def table(rows, **extra) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["list_id", "votes"])
    for column, values in extra.items():
        df[column] = values
    return df


def totals(valid, voters=None):
    return {"registered": 2 * valid, "voters": voters or valid, "valid": valid, "blank": 0, "invalid": 0}


# --- quotas and their rounding -------------------------------------------------------------------

@pytest.mark.parametrize("name,rounding,votes,seats,expected", [
    ("hare", "exact", 1000, 3, Fraction(1000, 3)),
    ("hare", "floor", 1000, 3, 333),
    ("droop", "floor_plus_one", 1000, 3, 251),
    ("droop", "floor_plus_one", 1000, 4, 201),   # exact division: still +1
    ("hagenbach_bischoff", "round_half_up", 1001, 1, 501),  # 500.5 -> 501
    ("hagenbach_bischoff", "round_half_up", 1003, 2, 334),  # 334.33 -> 334
    ("hagenbach_bischoff", "ceil", 1000, 3, 250),
    ("imperiali", "exact", 1000, 3, 200),
])
def test_quota_roundings(name, rounding, votes, seats, expected):
    assert quota(name, votes, seats, rounding) == expected


@pytest.mark.parametrize("votes,whole,remainder", [(300, 3, 0), (299, 2, 99)])
def test_list_exactly_at_a_whole_quota(votes, whole, remainder):
    r = largest_remainder({"a": votes, "b": 1000 - votes}, 10, 100)
    assert r.info["quota_seats"]["a"] == whole and remainder_fractions(r.info)["a"] == remainder


def test_greek_quota_drops_the_fraction_and_repeats():
    # 21 seats; valid 2100 + 20 (floor drops 20/21): quota 100; only a and b reach 3 %
    r = allocate_country(RULES19["EL"], table([("a", 1010), ("b", 550), ("c", 60), ("d", 500)]),
                         totals=totals(2120))
    # c: 60 < 3 % of 2120 = 63.6 -> out; d 500 passes. whole: a10 b5 d5 = 20; 1 left -> largest remainder b 50
    assert r.seats == {"a": 10, "b": 6, "c": 0, "d": 5}
    r = allocate_country(RULES19["EL"], table([("a", 700), ("b", 110), ("c", 1310)]), totals=totals(2120))
    # quota 100 on all valid votes, c at 61.8 % -> 13 whole; a 7; b 1 = 21 exactly
    assert sum(r.seats.values()) == 21
    r = allocate_country(RULES19["EL"], table([("a", 150), ("b", 140), ("c", 1830)]), totals=totals(2120 * 2))
    # quota 201 (floor(4240/21)): whole a0 b0 c9; 12 seats left for 3 lists: 4 rounds by remainder order
    assert r.seats == {"c": 13, "a": 4, "b": 4} and r.complete
    rounds = [s["round"] for s in r.steps if s["kind"] == "seat"]
    assert rounds == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_cyprus_leftover_seats_are_a_gap_not_a_guess():
    r = allocate_country(RULES19["CY"], table([("a", 500), ("b", 400), ("c", 15)]), totals=totals(1000))
    # quota 166; whole a3 b2; one eligible list each: a, b (c at 1.5 % is below 1.8 %) -> 6 seats
    assert r.seats == {"a": 3, "b": 3, "c": 0} and r.complete
    # quota 166: a has 3 whole quotas and the only eligible remainder (b 1 % < 1.8 %): 4 seats, 2 left
    r = allocate_country(RULES19["CY"], table([("a", 600), ("b", 10)]), totals=totals(1000))
    assert r.seats == {"a": 4, "b": 0}
    assert not r.complete and "2 seat(s) left after every eligible list" in r.gaps[0]


@pytest.mark.parametrize("ind_votes,elected", [(100, True), (99, False)])
def test_bulgarian_independent_exactly_at_the_quota(ind_votes, elected):
    # Q = list votes / 17 = 1700 / 17 = 100
    t = table([("a", 1000), ("b", 600 - (ind_votes - 100)), ("ind", ind_votes)], independent=[0, 0, 1])
    r = allocate_country(RULES19["BG"], t, totals=totals(1700))
    assert r.seats["ind"] == (1 if elected else 0)
    assert sum(r.seats.values()) == 17


@pytest.mark.parametrize("ind_votes,qualifies", [(32, True), (31, False)])
def test_romanian_independent_needs_the_coefficient(ind_votes, qualifies):
    # coefficient = valid / 32 = 1024 / 32 = 32 (inclusive); at most one seat
    t = table([("a", 600), ("b", 392 - (ind_votes - 32)), ("ind", ind_votes)], independent=[0, 0, 1])
    r = allocate_country(RULES19["RO"], t, totals=totals(1024))
    step = [s for s in r.steps if s["kind"] == "threshold" and s["list_id"] == "ind"][0]
    assert step["result"] == ("pass" if qualifies else "fail")
    assert r.seats["ind"] == (1 if qualifies else 0)


def test_romanian_independent_holds_one_seat_at_most():
    t = table([("a", 600), ("ind", 400)], independent=[0, 1])
    r = allocate_country(RULES19["RO"], t, totals=totals(1000))
    assert r.seats == {"a": 31, "ind": 1}


@pytest.mark.parametrize("total,ren", [(16 * 41 + 8, 42), (16 * 41 + 7, 41), (16 * 41 + 9, 42)])
def test_slovak_ren_rounds_half_up(total, ren):
    # 2024: REN = qualifying votes / (15 + 1); 41.5 -> 42 (half up), 41.4375 -> 41
    r = allocate_country(RULES24["SK"], table([("a", total)]), totals=totals(total))
    q = [s for s in r.steps if s["kind"] == "quota"][0]
    assert int(q["quota"]) == ren


def test_slovak_excess_seats_taken_back_from_smallest_remainder():
    # quota 33 for 2 seats: a 66 -> 2 (remainder 0), b 34 -> 1 (remainder 1): 3 > 2, a gives one back
    r = largest_remainder({"a": 66, "b": 34}, 2, 33, where=Where("SK"))
    assert r.seats == {"a": 1, "b": 1}
    assert any(s.get("seat_taken_back") for s in r.steps)


def test_slovak_220a_equal_remainders_fewer_votes_defers():
    # 14-seat allocation, REN = round(1500 / 15) = 100: a 710 (7, r 10), b 510 (5, r 10), c 280 (2, r 80):
    # equal smallest remainders -> the list with fewer votes (b) does not take up its seat
    r = allocate_country(RULES19["SK"], table([("a", 710), ("b", 510), ("c", 280)]), totals=totals(1500))
    assert r.seats == {"a": 7, "b": 4, "c": 2} and r.deferred == {"b": 1} and r.complete


def test_slovak_220a_equal_remainders_and_votes_is_a_lot():
    # a 790 (7, r 90), b 355 (3, r 55), c 355 (3, r 55); the 14th seat to a (remainder 90)
    rows = [("a", 790), ("b", 355), ("c", 355)]
    r = allocate_country(RULES19["SK"], table(rows), totals=totals(1500))
    (tie,) = r.ties
    assert tie.stage == "deferred seat (§ 220a)" and tie.lists == ("b", "c") and not r.complete
    assert r.seats == {"a": 8, "b": 2, "c": 2}
    # the recorded lot names the list that keeps its seat
    r = allocate_country(RULES19["SK"], table(rows), totals=totals(1500), lots={tie.key: "b"})
    assert r.complete and r.seats == {"a": 8, "b": 3, "c": 2} and r.deferred == {"c": 1}


@pytest.mark.parametrize("svp_votes,svp_seat", [(50000, 1), (49999, 0)])
def test_italian_minority_list_at_50000(svp_votes, svp_seat):
    rule = RULES24["IT"]
    t = table([("big", 5_000_000), ("fi", 1_000_000 - svp_votes), ("svp", svp_votes), ("small", 100_000)],
              alliance=["", "link", "link", ""], minority=[0, 0, 1, 0])
    r = allocate_country(rule, t, totals=totals(6_100_000))
    assert r.seats["svp"] == svp_seat
    # quota floor(6e6 / 76) = 78947: big 63 + r .33, group 12 + r .67 -> the 76th seat to the group
    assert r.seats["fi"] + r.seats["svp"] == 13 and r.seats["big"] == 63
    assert r.seats["small"] == 0  # 1.6 % < 4 %


def test_italian_minority_list_counts_for_the_threshold_of_its_group():
    rule = RULES24["IT"]
    # fi alone 3.9 %, with the linked minority list 4.1 %: the group takes part
    t = table([("big", 9_590_000), ("fi", 390_000), ("svp", 20_000)], alliance=["", "x", "x"], minority=[0, 0, 1])
    r = allocate_country(rule, t, totals=totals(10_000_000))
    assert r.seats["fi"] >= 1 and r.seats["svp"] == 0  # svp < 50,000: the group's seats stay with fi


def test_luxembourg_electoral_number_and_dhondt():
    r = allocate_country(RULES19["LU"], table([("a", 700), ("b", 700)]), totals=totals(233))
    # electoral number floor(1400 / 7) + 1 = 201 even though the division is exact
    q = [s for s in r.steps if s["kind"] == "quota"][0]
    assert q["quota"] == "201" and q["first_step_seats"] == 6
    assert r.seats == {"a": 3, "b": 3} and r.complete


def test_danish_alliances_two_levels_and_within_tie():
    t = table([("a", 300), ("b", 300), ("c", 500)], alliance=["x", "x", ""])
    r = allocate_country(replace(RULES19["DK"], seats=3), t, totals=totals(1100))
    # alliance x 600 vs c 500: x 2, c 1; inside x: a 300 vs b 300 -> 1 each
    assert r.seats == {"a": 1, "b": 1, "c": 1}
    r = allocate_country(replace(RULES19["DK"], seats=2), t, totals=totals(1100))
    # x 600, c 500 -> x 1 (600), c 1 (500); inside x one seat, a and b equal: a lot, stage 'within alliance x'
    (tie,) = r.ties
    assert tie.stage == "within alliance x" and tie.lists == ("a", "b") and r.seats["c"] == 1


def test_alliances_ignored_where_the_law_has_none():
    t = table([("a", 300), ("b", 300)], alliance=["x", "x"])
    r = allocate_country(replace(RULES19["AT"], seats=3), t, totals=totals(600))
    assert any("law has none: ignored" in s.get("note", "") for s in r.steps)


def test_belgium_partial_night_and_unknown_college():
    cv = pd.DataFrame([("Dutch-speaking electoral college", "a", 1000),
                       ("Dutch-speaking electoral college", "b", 500)], columns=["constituency", "list_id", "votes"])
    r = allocate_country(RULES19["BE"], table([("a", 1000), ("b", 500)]), constituency_votes=cv)
    assert r.seats == {"a": 8, "b": 4} and not r.complete
    assert [g.split(": ")[1] for g in r.gaps] == ["no counts for this constituency"] * 2
    bad = cv.assign(constituency="Flemish college")
    with pytest.raises(AllocationError, match="BE / Flemish college.*not have"):
        allocate_country(RULES19["BE"], table([("a", 1000), ("b", 500)]), constituency_votes=bad)


def test_poland_distribution_by_hare_niemeyer():
    names = [c.constituency for c in RULES24["PL"].constituencies]
    rows = [(c, "a", 1000 + 10 * k) for k, c in enumerate(names)] + [(c, "b", 400 + k) for k, c in enumerate(names)]
    cv = pd.DataFrame(rows, columns=["constituency", "list_id", "votes"])
    nat = cv.groupby("list_id", as_index=False).votes.sum()
    r = allocate_country(RULES24["PL"], nat, constituency_votes=cv, totals=totals(int(nat.votes.sum())))
    assert r.complete
    for lst in ("a", "b"):
        assert sum(s.get(lst, 0) for s in r.seats_by_constituency.values()) == r.seats[lst]
    # the same 400 votes in every constituency and 14 seats: a tie between all 13 for the 14th
    flat = cv.assign(votes=[v if lst == "a" else 400 for lst, v in zip(cv.list_id, cv.votes)])
    nat = flat.groupby("list_id", as_index=False).votes.sum()
    r = allocate_country(RULES24["PL"], nat, constituency_votes=flat, totals=totals(int(nat.votes.sum())))
    (tie,) = r.ties
    assert tie.stage == "distribution b" and len(tie.lists) == 13 and tie.seats == 1 and not r.complete


def test_undecided_threshold_changes_seats_is_a_gap():
    # valid votes unknown, voters 1100: 'b' with 52 is between 5 % of 1000 and of 1100 -> undecided
    rule = replace(RULES19["FR"], seats=20)
    r = allocate_country(rule, table([("a", 948), ("b", 52)]), totals={"voters": 1100})
    assert not r.complete and "not settled by the totals given" in r.gaps[0]
    assert r.seats == {"a": 19, "b": 0}  # the seats certain: a has 19 or 20


def test_stv_constituency_mismatch_is_a_gap():
    cv = pd.DataFrame([("Northern Ireland", "sf", 10)], columns=["constituency", "list_id", "votes"])
    decl = pd.DataFrame([("Northern Ireland", "sf", 2)], columns=["constituency", "list_id", "seats"])
    r = allocate_country(RULES19["UK"], table([("sf", 10)]), constituency_votes=cv, declared_seats=decl)
    assert any("declared seats add up to 2, the rule has 3" in g for g in r.gaps)


@pytest.mark.parametrize("bad,message", [
    (table([("a", 10), ("a", 5)]), "appears twice"),
    (table([("a", -1)]), "negative"),
    (table([("a", 1.5)]), "not a whole number"),
    (table([("a", None)]), "no vote count"),
    (pd.DataFrame({"list": ["a"]}), "lacks column"),
])
def test_bad_vote_tables(bad, message):
    with pytest.raises(AllocationError, match=message):
        allocate_country(RULES19["AT"], bad, totals=totals(10))


def test_greece_2024_rule_gives_the_official_2024_seats_and_2019_rule_would_not():
    """Law 5083/2024 replaced the 2014-2019 formula; on the published 2024 percentages (x100 as votes)
    the 2024 rule gives the official seats, the 2019 rule would give ND 6, Elliniki Lysi 3."""
    rows = [("nd", 2831), ("syriza", 1492), ("pasok", 1279), ("el", 930), ("kke", 925), ("niki", 437),
            ("plefsi", 340), ("foni", 304), ("nea_aristera", 245)]
    official = {"nd": 7, "syriza": 4, "pasok": 3, "el": 2, "kke": 2, "niki": 1, "plefsi": 1, "foni": 1,
                "nea_aristera": 0}
    assert allocate_country(RULES24["EL"], table(rows), totals=totals(10000)).seats == official
    old = allocate_country(RULES19["EL"], table(rows), totals=totals(10000)).seats
    assert (old["nd"], old["el"]) == (6, 3)
