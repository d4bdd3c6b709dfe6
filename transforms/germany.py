"""Germany: Sainte-Laguë/Schepers on the national totals, no threshold (Europawahlgesetz, EuWG § 2).

1. All 96 seats are allocated in one national allocation; a party's Land lists count as one list
   (CDU and CSU are two parties; the CSU stands in Bavaria only).
2. *Divisorverfahren mit Standardrundung*: every party gets its votes / D rounded to the nearest
   whole number, for a divisor D that gives out exactly the 96 seats.
3. That is the same allocation as highest averages with divisors 1, 3, 5, ... (a quotient
   votes / (2k + 1) > 1 / (2D) ⇔ votes / D > k + ½), so the divisor engine of
   :mod:`transforms.divisor` computes it.
4. A party exactly at a rounding half for the last seat is an exact tie: decided by lot (EuWG § 2),
   returned as a tie to be drawn, never broken here.

No threshold: the 5 % and then the 3 % thresholds were annulled by the Federal Constitutional Court
(2011, 2014); the 2 % voted in 2023 implements the EU Electoral Act amendment of 2018, not in force
for 2019 or 2024. Registry: ``sainte_lague_schepers``.
"""
from __future__ import annotations

from transforms.apportionment import Apportionment, MethodInput
from transforms.divisor import DivisorSeries, highest_averages

SCHEPERS = DivisorSeries("Sainte-Laguë/Schepers (divisor method with standard rounding)", 2, 1)


def method(inp: MethodInput) -> Apportionment:
    """Registry entry ``sainte_lague_schepers``: steps 2-4 of the module docstring."""
    return highest_averages(inp.votes, inp.seats, SCHEPERS, caps=inp.caps, where=inp.where,
                            tie_break=inp.rule.tie_break, lots=inp.lots, log=inp.log)
