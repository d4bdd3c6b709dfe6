"""Luxembourg: Hagenbach-Bischoff (electoral law of 18 February 2003).

1. Electoral number = the total of the list votes divided by the number of seats plus one; the
   next whole number above the quotient (even when the division is exact) — quota
   ``hagenbach_bischoff`` with rounding ``floor_plus_one``.
2. Each list gets as many seats as the electoral number is contained in its votes.
3. The remaining seats go one at a time to the list with the largest ``votes / (seats won + 1)``.

The result is D'Hondt's (the first step never gives a list more than its D'Hondt seats), and it is
computed that way; the step log shows the electoral number and the first-step seats. Each voter has
as many votes as there are seats (panachage), so the list totals count candidate votes, not
ballots: the base is the sum of the list votes, not the number of valid ballots. Registry:
``hagenbach_bischoff``.
"""
from __future__ import annotations

from fractions import Fraction

from transforms.apportionment import Apportionment, MethodInput
from transforms.dhondt import allocate
from transforms.exact import frac_str
from transforms.largest_remainder import base_votes
from transforms.quota import describe, quota


def method(inp: MethodInput) -> Apportionment:
    result = allocate(inp.votes, inp.seats, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                      lots=inp.lots, log=inp.log)
    rule = inp.rule
    name = rule.quota or "hagenbach_bischoff"
    rounding = rule.quota_rounding if rule.quota else "floor_plus_one"
    if rule.quota_base:
        total, base_text = base_votes(inp)
    else:
        total, base_text = sum(inp.all_votes.values()), "votes of all lists"
    if inp.seats and total:
        number = Fraction(quota(name, total, inp.seats, rounding))
        first = {i: v * number.denominator // number.numerator for i, v in inp.votes.items()}
        if any(first[i] > result.seats[i] for i in first) and not result.ties:
            raise inp.where.error("first-step seats exceed the D'Hondt seats: inconsistent input")
        if inp.log:
            result.steps.insert(0, {"kind": "quota", "stage": inp.where.stage, "constituency": inp.where.constituency,
                                    "rule": f"electoral number on the {base_text}: {describe(name, rounding)}",
                                    "base_votes": total, "quota": frac_str(number), "seats": inp.seats,
                                    "first_step_seats": sum(first.values()),
                                    "remaining_seats": inp.seats - sum(first.values())})
    return result
