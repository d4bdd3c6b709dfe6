"""Sainte-Laguë (Webster; highest averages with divisors 1, 3, 5, 7, ...), and its variants.

* ``sainte_lague``: quotients votes / 1, 3, 5, ...; the seats go to the largest. Neutral between
  large and small lists. Used by LV (5 % of the votes cast).
* ``sainte_lague_schepers``: Germany's *Divisorverfahren mit Standardrundung* (Sainte-Laguë/Schepers,
  EuWG § 2): every party gets votes / D rounded to the nearest whole number (halves decided by lot)
  for a divisor D that gives out all 96 seats. This is the same allocation as the highest-averages
  form with divisors 1, 3, 5, ... (a quotient votes/(2k+1) > 1/(2D) ⇔ votes/D > k + ½), so the same
  engine computes it; an exact tie at the last seat (a party exactly at a rounding half) is a lot.
  No threshold since the Federal Constitutional Court's rulings of 2011 and 2014.
* ``sainte_lague_modified``: the first divisor is raised (Sweden: 1.2, 3, 5, 7, ...; rule column
  ``first_divisor``), which makes the first seat dearer for small parties.
"""
from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from transforms.apportionment import Apportionment, MethodInput
from transforms.divisor import SAINTE_LAGUE, DivisorSeries, highest_averages, modified_sainte_lague
from transforms.tie import Lots, Where

SCHEPERS = DivisorSeries("Sainte-Laguë/Schepers (divisor method with standard rounding)", 2, 1)


def allocate(votes: Mapping[str, int], seats: int, *, first_divisor: Fraction | None = None,
             caps: Mapping[str, int] | None = None, where: Where | None = None, tie_break: str = "lot",
             lots: Lots | None = None, log: bool = True) -> Apportionment:
    """Sainte-Laguë seats; ``first_divisor`` (e.g. ``Fraction(6, 5)``) gives the modified method."""
    series = SAINTE_LAGUE if first_divisor is None or first_divisor == 1 else modified_sainte_lague(first_divisor)
    return highest_averages(votes, seats, series, caps=caps, where=where, tie_break=tie_break, lots=lots,
                            log=log)


def method(inp: MethodInput) -> Apportionment:
    """Registry entry ``sainte_lague``."""
    return allocate(inp.votes, inp.seats, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                    lots=inp.lots, log=inp.log)


def schepers_method(inp: MethodInput) -> Apportionment:
    """Registry entry ``sainte_lague_schepers`` (Germany)."""
    return highest_averages(inp.votes, inp.seats, SCHEPERS, caps=inp.caps, where=inp.where,
                            tie_break=inp.rule.tie_break, lots=inp.lots, log=inp.log)


def modified_method(inp: MethodInput) -> Apportionment:
    """Registry entry ``sainte_lague_modified`` (rule column ``first_divisor``, Sweden 1.2)."""
    return allocate(inp.votes, inp.seats, first_divisor=inp.rule.first_divisor, caps=inp.caps,
                    where=inp.where, tie_break=inp.rule.tie_break, lots=inp.lots, log=inp.log)
