"""The fast paths (no caps, no step log) give exactly the general paths' results.

``highest_averages`` and ``largest_remainder`` answer the common call from a fast path and leave every
decision (ties, leftover seats, seats taken back, bad input) to the general path. On many random
inputs, with many exact ties, the public functions must return what the general path alone returns:
the same seats in the same order, ties, steps, gaps, ``info``, or the same error.
"""
from __future__ import annotations

import random
from fractions import Fraction
from types import MappingProxyType

import pytest

from transforms import divisor, largest_remainder as lr
from transforms.divisor import DHONDT, SAINTE_LAGUE, DivisorSeries, highest_averages, modified_sainte_lague
from transforms.errors import AllocationError
from transforms.quota import quota

SERIES = [DHONDT, SAINTE_LAGUE, modified_sainte_lague(Fraction(6, 5)), modified_sainte_lague(Fraction(7, 5)),
          modified_sainte_lague(Fraction(1, 2)),  # d(0) below the offset: always the general path
          DivisorSeries("Danish", 3, 1), DivisorSeries("Imperiali", 1, 2), DivisorSeries("odd", 4, 3, 2, 5)]


def outcome(fn, *args, **kwargs):
    try:
        r = fn(*args, **kwargs)
    except (AllocationError, ValueError, TypeError) as e:
        return ("error", type(e).__name__, str(e))
    return (r.seats, list(r.seats), [t.to_dict() for t in r.ties], r.steps, r.gaps, r.info)


def random_votes(rng: random.Random) -> dict:
    n = rng.choice([1, 2, 3, 5, 8, 12, 17, 25, 60, 120])
    kind = rng.random()
    if kind < 0.3:  # small counts: many equal quotients
        votes = {f"l{i}": rng.randint(0, 12) for i in range(n)}
    elif kind < 0.5:  # multiples of one number: exact ties at the boundary
        base = rng.randint(1, 50)
        votes = {f"l{i}": base * rng.choice([0, 1, 2, 3, 4, 6]) for i in range(n)}
    elif kind < 0.8:  # a few large lists and many small ones, as in real elections
        votes = {f"l{i}": int(rng.paretovariate(1.1) * 1000) for i in range(n)}
    else:
        votes = {f"l{i}": rng.randint(0, 10**7) for i in range(n)}
    if rng.random() < 0.03:
        votes[rng.choice(list(votes))] = rng.choice([-1, 1.0, True, "3", Fraction(1, 2), 2**70])
    return votes


def random_seats(rng: random.Random) -> object:
    if rng.random() < 0.02:
        return rng.choice([-1, True, 2.0])
    return rng.choice([0, 1, 2, 3, 5, 8, 13, 21, 40, 96, 300, rng.randint(0, 2000)])


@pytest.mark.parametrize("seed", range(4))
def test_divisor_fast_path_equals_general_path(seed):
    rng = random.Random(seed)
    answered = tied = 0
    for _ in range(2500):
        votes, seats, series = random_votes(rng), random_seats(rng), rng.choice(SERIES)
        if rng.random() < 0.05:
            votes = MappingProxyType(votes)  # any Mapping, not only a dict
        tie_break = rng.choice(["lot", "more_votes_then_lot", "fewer_votes_then_lot"])
        fast = outcome(highest_averages, votes, seats, series, tie_break=tie_break, log=False)
        general = outcome(divisor._general, votes, seats, series, None, None, tie_break, None, False)
        assert fast == general, (dict(votes), seats, series)
        answered += divisor._plain(votes, seats, series) is not None
        tied += bool(general[0] != "error" and general[2])
    assert answered > 1200 and tied > 200  # both paths were exercised


@pytest.mark.parametrize("seed", range(4))
def test_largest_remainder_fast_path_equals_general_path(seed):
    rng = random.Random(100 + seed)
    answered = tied = 0
    for _ in range(2500):
        votes, seats = random_votes(rng), random_seats(rng)
        s = seats if type(seats) is int and seats > 0 else 1
        # the quota on the lists' votes, or sometimes on more (all valid votes: seats may be left over)
        base = max(sum(x for x in votes.values() if type(x) is int), 0) + rng.choice([0, 0, rng.randint(0, 999)])
        base = max(base, s + 1)
        q = rng.choice([(base, s), quota("hare", base, s, "exact"), quota("hare", base, s, "floor"),
                        quota("hagenbach_bischoff", base, s, "round_half_up"),
                        quota("droop", base, s, "floor_plus_one")])
        tie_break = rng.choice(["lot", "more_votes_then_lot", "fewer_votes_then_lot"])
        leftover = rng.choice(["error", "repeat", "gap"])
        if rng.random() < 0.05:
            votes = MappingProxyType(votes)
        fast = outcome(lr.largest_remainder, votes, seats, q, tie_break=tie_break, leftover=leftover, log=False)
        general = outcome(lr._general, votes, seats, q, None, None, tie_break, None, leftover, None, "", False)
        assert fast == general, (dict(votes), seats, q, tie_break, leftover)
        answered += lr._plain(votes, seats, q, leftover) is not None
        tied += bool(general[0] != "error" and general[2])
    assert answered > 1000 and tied > 100


@pytest.mark.parametrize("votes,seats,expected,boundary", [
    # the estimate gives no seat; the one seat goes to the list with the most votes, the next best is b
    ({"a": 1000, "b": 910, "c": 800, "d": 660}, 1, {"a": 1, "b": 0, "c": 0, "d": 0}, (1000, 1, 910, 1)),
    # two seats short, both to lists the estimate left without one
    ({"a": 900, "b": 1200, "c": 800, "d": 800, "e": 700, "f": 700, "g": 1800}, 4,
     {"a": 1, "b": 1, "c": 0, "d": 0, "e": 0, "f": 0, "g": 2}, (900, 1, 800, 1)),
    # one and two seats too many, taken back from the smallest quotients held
    ({"a": 76000, "b": 2000, "c": 81000, "d": 100, "e": 34000}, 4, {"a": 2, "b": 0, "c": 2, "d": 0, "e": 0},
     (76000, 2, 34000, 1)),
    ({"a": 1800, "b": 51000, "c": 500, "d": 95000, "e": 21000, "f": 100, "g": 2000}, 8,
     {"a": 0, "b": 2, "c": 0, "d": 5, "e": 1, "f": 0, "g": 0}, (95000, 5, 51000, 3)),
])
def test_divisor_fast_path_answers_after_adjusting_the_estimate(votes, seats, expected, boundary):
    fast = divisor._plain(votes, seats, DHONDT)
    assert fast is not None and fast.seats == expected and fast.info["boundary"] == boundary
    general = divisor._general(votes, seats, DHONDT, None, None, "lot", None, False)
    assert (general.seats, general.info, general.ties) == (fast.seats, fast.info, [])
