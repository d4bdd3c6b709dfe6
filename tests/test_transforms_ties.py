"""Ties surface as values, the law's tie-breaks apply, and recorded lots resolve them on a re-run."""
from __future__ import annotations

import json

import pytest

from transforms import dhondt, hare_niemeyer, sainte_lague
from transforms.errors import AllocationError
from transforms.largest_remainder import largest_remainder
from transforms.tie import Where

AT = Where("AT", "", "national", "dhondt")


def test_divisor_tie_for_last_seat_is_returned_not_broken():
    r = dhondt.allocate({"a": 600, "b": 300, "c": 100}, 2, where=AT)  # quotients 600, 300(a), 300(b)
    assert r.seats == {"a": 1, "b": 0, "c": 0}
    (tie,) = r.ties
    assert tie.lists == ("a", "b") and tie.seats == 1 and tie.first_seat == 2 and not tie.resolved
    assert tie.key == "AT||national|a+b"
    d = tie.to_dict()
    json.dumps(d)
    assert d["resolved"] is False and d["winner"] is None and d["seat"] == 2


@pytest.mark.parametrize("winner", ["a", "b"])
def test_recorded_lot_resolves_deterministically(winner):
    r = dhondt.allocate({"a": 600, "b": 300, "c": 100}, 2, where=AT, lots={"AT||national|a+b": winner})
    assert r.seats[winner] == (2 if winner == "a" else 1)
    assert sum(r.seats.values()) == 2
    assert r.ties[0].resolved and r.ties[0].winners == (winner,)
    again = dhondt.allocate({"a": 600, "b": 300, "c": 100}, 2, where=AT, lots={"AT||national|a+b": winner})
    assert again.seats == r.seats


def test_bad_lot_is_an_error():
    with pytest.raises(AllocationError, match="must name 1 distinct"):
        dhondt.allocate({"a": 600, "b": 300, "c": 100}, 2, where=AT, lots={"AT||national|a+b": "c"})


def test_multi_seat_tie():
    r = sainte_lague.allocate({"a": 100, "b": 100, "c": 100}, 2, where=AT)
    (tie,) = r.ties
    assert tie.seats == 2 and tie.lists == ("a", "b", "c") and sum(r.seats.values()) == 0
    r = sainte_lague.allocate({"a": 100, "b": 100, "c": 100}, 2, where=AT, lots={tie.key: ["c", "a"]})
    assert r.seats == {"a": 1, "b": 0, "c": 1}


def test_more_votes_tie_break_before_lot():
    # equal quotients 300: a (600/2) and b (300/1); the law (ES, FR) gives it to more votes: a
    r = dhondt.allocate({"a": 600, "b": 300}, 2, where=AT, tie_break="more_votes_then_lot")
    assert r.seats == {"a": 2, "b": 0} and not r.ties
    assert any(s["kind"] == "tie" and "more votes" in s["broken_by"] for s in r.steps)


def test_fewer_votes_tie_break_portugal():
    r = dhondt.allocate({"a": 600, "b": 300}, 2, where=AT, tie_break="fewer_votes_then_lot")
    assert r.seats == {"a": 1, "b": 1} and not r.ties


def test_equal_votes_fall_through_to_lot():
    r = dhondt.allocate({"a": 500, "b": 500}, 1, where=AT, tie_break="more_votes_then_lot")
    assert r.ties and not r.ties[0].resolved and sum(r.seats.values()) == 0


def test_largest_remainder_tie():
    # exact shares a 1.5, b .75, c .75: whole a 1; remainders .5, .75, .75 -> b and c get the 2 seats, no tie
    r = hare_niemeyer.allocate({"a": 50, "b": 25, "c": 25}, 3, where=AT)
    assert r.seats == {"a": 1, "b": 1, "c": 1} and not r.ties
    r = hare_niemeyer.allocate({"a": 50, "b": 25, "c": 25}, 2, where=AT)  # 1, .5, .5 -> tie b/c for 1 seat
    assert r.seats["a"] == 1 and r.ties[0].lists == ("b", "c") and r.ties[0].seats == 1


def test_take_back_tie_is_about_the_seat_kept():
    # quota 10 with 2 seats: whole parts 2 + 1 = 3 > 2; both remainders 0 -> which list keeps is a lot
    r = largest_remainder({"a": 20, "b": 10}, 2, 10, where=AT)
    (tie,) = r.ties
    assert tie.lists == ("a", "b") and tie.seats == 1 and r.seats == {"a": 1, "b": 0}
    r = largest_remainder({"a": 20, "b": 10}, 2, 10, where=AT, lots={tie.key: "b"})
    assert r.seats == {"a": 1, "b": 1}
    r = largest_remainder({"a": 10, "b": 10, "c": 10}, 2, 10, where=AT)
    (tie,) = r.ties
    assert tie.seats == 2 and tie.lists == ("a", "b", "c") and sum(r.seats.values()) == 0
