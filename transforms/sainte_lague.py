"""Sainte-Laguë (Webster; highest averages with divisors 1, 3, 5, 7, ...), and its variants.

* ``sainte_lague``: quotients votes / 1, 3, 5, ...; the seats go to the largest. Neutral between
  large and small lists. Used by LV (5 % of the votes cast).
* Germany's *Divisorverfahren mit Standardrundung* (Sainte-Laguë/Schepers, ``sainte_lague_schepers``)
  gives the same seats, written as rounding; it lives with the rest of Germany's law in
  :mod:`transforms.germany`.
* ``sainte_lague_modified``: the first divisor is raised (Sweden: 1.2, 3, 5, 7, ...; rule column
  ``first_divisor``), which makes the first seat dearer for small parties.
"""
from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from transforms.apportionment import Apportionment, MethodInput
from transforms.divisor import SAINTE_LAGUE, highest_averages, modified_sainte_lague
from transforms.tie import Lots, Where


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



def modified_method(inp: MethodInput) -> Apportionment:
    """Registry entry ``sainte_lague_modified`` (rule column ``first_divisor``, Sweden 1.2)."""
    return allocate(inp.votes, inp.seats, first_divisor=inp.rule.first_divisor, caps=inp.caps,
                    where=inp.where, tie_break=inp.rule.tie_break, lots=inp.lots, log=inp.log)
