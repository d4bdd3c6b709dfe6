"""The EU projection's arithmetic (transforms/projection.py): bases, Others, scaling, totals."""
from __future__ import annotations

import pytest

from transforms.projection import (CountryBasis, ProjectionError, outgoing_groups, project, scale_seats)


def test_each_country_on_its_best_basis_and_the_figures_add_up():
    seats = {"AT": 18, "DK": 13, "MT": 6, "LU": 6}
    bases = {
        "AT": CountryBasis("count", {"EPP": 7, "S&D": 5, "ID": 3, "Greens/EFA": 2, "RE": 1}, "provisional"),
        "DK": CountryBasis("estimate", {"RE": 6, "S&D": 3, "OTH": 4}, "estimate"),
        "MT": CountryBasis("outgoing", {"S&D": 3, "EPP": 3}),
    }
    p = project(seats, bases, groups=["EPP", "S&D", "RE", "Greens/EFA", "ID", "OTH"])
    assert p.groups == {"EPP": 10, "S&D": 11, "RE": 7, "Greens/EFA": 2, "ID": 3, "OTH": 4}
    assert p.by_basis["count"] == {"EPP": 7, "S&D": 5, "ID": 3, "Greens/EFA": 2, "RE": 1}
    assert p.by_basis["estimate"] == {"RE": 6, "S&D": 3, "OTH": 4}
    assert p.by_basis["outgoing"] == {"S&D": 3, "EPP": 3}
    assert p.seats_total == 43 and p.majority == 22
    assert p.seats_projected == 37 and p.seats_unprojected == 6  # LU: nothing known
    assert p.countries_by_basis() == {"count": ["AT"], "estimate": ["DK"], "outgoing": ["MT"], "none": ["LU"]}
    doc = p.to_dict()
    assert doc["groups"][0] == {"id": "EPP", "seats": 10, "by_basis": {"count": 7, "outgoing": 3}}
    assert doc["countries"]["DK"] == {"basis": "estimate", "status": "estimate",
                                      "groups": {"RE": 6, "S&D": 3, "OTH": 4}}
    assert doc["countries"]["LU"]["basis"] == "none"


def test_outgoing_delegation_scaled_to_the_new_seat_count_exactly():
    # FR 2019 -> 2024: 74 -> 81 seats; 23/74*81 = 25.17..., 21/74*81 = 22.98..., 30/74*81 = 32.83...
    scaled = scale_seats({"ID": 23, "RE": 21, "EPP": 30}, 81)
    assert scaled == {"ID": 25, "RE": 23, "EPP": 33} and sum(scaled.values()) == 81
    assert scale_seats({"A": 3, "B": 3}, 6) == {"A": 3, "B": 3}  # unchanged at the same size
    assert scale_seats({}, 5) == {}


def test_scaling_ties_go_to_the_larger_group_then_the_seating_order():
    # 3 and 1 of 4 into 2: quotas 1.5 and 0.5 -> both remainders 1/2: the larger group wins
    assert scale_seats({"A": 1, "B": 3}, 2) == {"A": 0, "B": 2}
    # 1 and 1 into 1: equal remainders and equal seats: the order given decides, not the id
    assert scale_seats({"A": 1, "B": 1}, 1, order=["B", "A"]) == {"A": 0, "B": 1}


def test_a_party_without_a_group_or_not_standing_counts_under_others():
    parties = [{"party_abbrev": "SPÖ", "seats": 5}, {"party_abbrev": "NEOS", "seats": 1},
               {"party_abbrev": "BZÖ", "seats": 0}, {"party_abbrev": "GONE", "seats": 2}]
    assert outgoing_groups(parties, {"SPÖ": "S&D", "NEOS": ""}) == {"S&D": 5, "OTH": 3}


def test_outgoing_seats_scaled_inside_the_projection():
    p = project({"FR": 81}, {"FR": CountryBasis("outgoing", {"ID": 23, "RE": 21, "EPP": 30})})
    assert p.groups == {"ID": 25, "RE": 23, "EPP": 33}
    assert p.seats_projected == 81 and p.seats_unprojected == 0


@pytest.mark.parametrize("bases, words", [
    ({"AT": CountryBasis("count", {"EPP": 19})}, "AT: count gives 19 seats, the country has 18"),
    ({"XX": CountryBasis("estimate", {"EPP": 1})}, "XX: not a member state"),
])
def test_contradicting_inputs_are_refused_naming_the_country(bases, words):
    with pytest.raises(ProjectionError, match=words):
        project({"AT": 18}, bases)


def test_an_unknown_basis_or_negative_seats_are_refused():
    with pytest.raises(ProjectionError, match="basis 'poll'"):
        CountryBasis("poll", {})
    with pytest.raises(ProjectionError, match="negative"):
        CountryBasis("count", {"EPP": -1})


@pytest.mark.parametrize("target", [0, 1, 6, 13, 21, 96])
def test_scaling_always_adds_up_and_never_moves_a_group_against_its_share(target):
    seats = {"EPP": 29, "S&D": 16, "Greens/EFA": 21, "RE": 7, "ID": 11, "OTH": 12}
    scaled = scale_seats(seats, target, order=list(seats))
    assert sum(scaled.values()) == target
    total = sum(seats.values())
    for g, n in seats.items():  # each group within one seat of its exact quota
        assert abs(scaled[g] - n * target / total) < 1
