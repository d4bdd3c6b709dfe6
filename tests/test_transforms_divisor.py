"""Divisor engine: exact equality with the seat-by-seat definition, caps, ties, tie-breaks, steps."""
from __future__ import annotations

import json
import random
from fractions import Fraction

import pytest

from transforms import dhondt, sainte_lague
from transforms.divisor import DHONDT, SAINTE_LAGUE, DivisorSeries, highest_averages, modified_sainte_lague
from transforms.errors import AllocationError
from transforms.tie import Where


def reference(votes: dict[str, int], seats: int, divisor) -> dict[str, int] | None:
    """The definition: the ``seats`` largest of all quotients; None if the boundary is an exact tie."""
    quotients = sorted(((Fraction(v) / divisor(k), i) for i, v in votes.items() if v for k in range(seats + 1)),
                       key=lambda e: e[0], reverse=True)
    got = dict.fromkeys(votes, 0)
    for _, i in quotients[:seats]:
        got[i] += 1
    if 0 < seats < len(quotients) and quotients[seats - 1][0] == quotients[seats][0]:
        return None
    return got


SERIES = [
    (DHONDT, lambda k: k + 1),
    (SAINTE_LAGUE, lambda k: 2 * k + 1),
    (modified_sainte_lague(Fraction(6, 5)), lambda k: Fraction(6, 5) if k == 0 else 2 * k + 1),
    (modified_sainte_lague(Fraction(7, 5)), lambda k: Fraction(7, 5) if k == 0 else 2 * k + 1),
]


@pytest.mark.parametrize("series,div", SERIES, ids=[s.name for s, _ in SERIES])
def test_equals_seat_by_seat_definition(series, div):
    rng = random.Random(7)
    for _ in range(400):
        n = rng.randint(1, 9)
        votes = {f"l{i}": rng.choice([rng.randint(0, 30), rng.randint(0, 10**6)]) for i in range(n)}
        seats = rng.randint(0, 30)
        if not any(votes.values()):
            continue
        ref = reference(votes, seats, div)
        got = highest_averages(votes, seats, series, log=False)
        if ref is None:
            assert got.ties, (votes, seats)
            continue
        assert not got.ties
        assert got.seats == ref, (votes, seats)


def test_dhondt_austria_2019_and_steps_are_json():
    votes = {"oevp": 1305956, "spoe": 903151, "fpoe": 650114, "gruene": 532193, "neos": 319024, "europa": 39239,
             "kpoe": 30087}
    r = dhondt.allocate(votes, 18, where=Where("AT"))
    assert r.seats == {"oevp": 7, "spoe": 5, "fpoe": 3, "gruene": 2, "neos": 1, "europa": 0, "kpoe": 0}
    json.dumps(r.steps)
    seats = [s for s in r.steps if s["kind"] == "seat"]
    assert [s["seat"] for s in seats] == list(range(1, 19))
    assert seats[0] == {"kind": "seat", "stage": "national", "constituency": "", "seat": 1, "list_id": "oevp",
                        "divisor": "1", "quotient": "1305956", "quotient_decimal": "1305956"}
    for s in r.steps:
        for v in s.values():
            assert type(v) in (int, str)


def test_swedish_first_divisor_is_exact():
    # 1.2 as a Fraction: 6 / 1.2 is exactly 5 = 15 / 3 (in floats 6 / 1.2 = 5.000000000000001)
    r = sainte_lague.allocate({"a": 6, "b": 15}, 2, first_divisor=Fraction(6, 5))
    assert r.seats == {"a": 0, "b": 1}
    assert r.ties and r.ties[0].lists == ("a", "b") and r.ties[0].criterion.startswith("equal quotients 5 ")
    r = sainte_lague.allocate({"a": 6, "b": 15}, 2, first_divisor=Fraction(6, 5), lots={r.ties[0].key: "a"})
    assert r.seats == {"a": 1, "b": 1}
    seat_steps = [s for s in r.steps if s["kind"] == "seat"]
    assert seat_steps[0] == {"kind": "seat", "stage": "national", "constituency": "", "seat": 1, "list_id": "b",
                             "divisor": "1.2", "quotient": "25/2", "quotient_decimal": "12.5"}


def test_cap_one_seat_for_independents():
    r = dhondt.allocate({"party": 1000, "ind": 900}, 3, caps={"ind": 1})
    assert r.seats == {"party": 2, "ind": 1}


def test_not_enough_lists_for_the_seats():
    with pytest.raises(AllocationError, match="only 1 of 2 seats"):
        dhondt.allocate({"ind": 10, "zero": 0}, 2, caps={"ind": 1}, where=Where("XX"))


@pytest.mark.parametrize("bad", [-1, 1.0, "3", True])
def test_votes_must_be_non_negative_ints(bad):
    with pytest.raises(AllocationError, match="non-negative int"):
        dhondt.allocate({"a": bad, "b": 3}, 2, where=Where("XX"))


def test_zero_votes_zero_seats():
    assert dhondt.allocate({"a": 0, "b": 0}, 0).seats == {"a": 0, "b": 0}
    with pytest.raises(AllocationError, match="no votes"):
        dhondt.allocate({"a": 0}, 1, where=Where("XX"))


def test_series_validation():
    with pytest.raises(ValueError):
        DivisorSeries("bad", 1, 1, 1, first=5)  # first divisor above d(1)


def test_large_input_is_exact_and_fast():
    rng = random.Random(3)
    votes = {f"l{i}": rng.randint(1, 10**7) for i in range(2000)}
    r = highest_averages(votes, 50_000, DHONDT, log=False)
    assert sum(r.seats.values()) == 50_000 or r.ties
    num, den, _, _ = r.info["boundary"]
    lam = Fraction(num, den)
    assert all(Fraction(v, r.seats[i] + 1) <= lam for i, v in votes.items())
    assert all(Fraction(v, r.seats[i]) >= lam for i, v in votes.items() if r.seats[i])
