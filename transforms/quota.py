"""Electoral quotas (votes needed for one seat) and the rounding each law prescribes.

* Hare: V / S — the share of one seat (Hare-Niemeyer uses it unrounded; Italy drops the fraction;
  Greece and Cyprus take it on *all* valid votes and drop the fraction).
* Droop: V / (S + 1), classically as floor(V / (S + 1)) + 1 (rounding ``floor_plus_one``; Irish and
  Maltese STV).
* Hagenbach-Bischoff: V / (S + 1) (Slovakia's *republikové volebné číslo* rounds it to the nearest
  whole number; Luxembourg's electoral number takes the next whole number above it).
* Imperiali: V / (S + 2) (not used for the EP; listed for completeness).

Roundings: ``exact`` (no rounding, a Fraction), ``floor`` ("the fraction is dropped"), ``ceil``,
``round_half_up`` ("rounded to the nearest whole number"), ``floor_plus_one`` ("the next whole
number above", even when the division is exact).
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction


# quota name -> (numerator, denominator) of the unrounded quota, as integers
QUOTAS: dict[str, Callable[[int, int], tuple[int, int]]] = {
    "hare": lambda votes, seats: (votes, seats),
    "droop": lambda votes, seats: (votes, seats + 1),
    "hagenbach_bischoff": lambda votes, seats: (votes, seats + 1),
    "imperiali": lambda votes, seats: (votes, seats + 2),
}

# rounding name -> the quota from (numerator, denominator): an int when rounded, a Fraction when exact
ROUNDINGS: dict[str, Callable[[int, int], Fraction | int]] = {
    "exact": lambda num, den: Fraction(num, den),
    "floor": lambda num, den: num // den,
    "ceil": lambda num, den: -(-num // den),
    "round_half_up": lambda num, den: (2 * num + den) // (2 * den),
    "floor_plus_one": lambda num, den: num // den + 1,
}

QUOTA_TEXT = {
    "hare": "votes / seats",
    "droop": "votes / (seats + 1)",
    "hagenbach_bischoff": "votes / (seats + 1)",
    "imperiali": "votes / (seats + 2)",
}


def quota(name: str, votes: int, seats: int, rounding: str = "exact") -> Fraction | int:
    """The quota ``name`` on ``votes`` for ``seats``, rounded as ``rounding`` (an int once rounded). Exact."""
    if name not in QUOTAS:
        raise ValueError(f"unknown quota {name!r} (known: {', '.join(QUOTAS)})")
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown quota rounding {rounding!r} (known: {', '.join(ROUNDINGS)})")
    if seats <= 0:
        raise ValueError("a quota needs at least one seat")
    num, den = QUOTAS[name](votes, seats)
    value = ROUNDINGS[rounding](num, den)
    if value <= 0:
        raise ValueError(f"quota {name} on {votes} votes for {seats} seats is {value}, not positive")
    return value


def describe(name: str, rounding: str) -> str:
    return f"{name} quota = {QUOTA_TEXT[name]}, rounding: {rounding}"
