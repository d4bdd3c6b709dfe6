"""The Netherlands: full seats by the *kiesdeler*, remaining seats by largest averages (Kieswet).

* Kiesdeler (electoral quota) = valid votes for lists / seats (exact).
* Only lists with at least one kiesdeler take part in the remaining seats — and since a list below
  it has no full seat either, no seat at all (rule: ``threshold_quotas = 1``, ``threshold_base =
  valid_votes``, inclusive: a list exactly at the kiesdeler qualifies).
* Each list gets ``floor(votes / kiesdeler)`` full seats; the remaining seats go one at a time to the
  largest average ``votes / (seats + 1)`` (bodies of 19 seats or more).

Full seats plus largest averages is D'Hondt restricted to the qualifying lists (the full seats never
exceed a list's D'Hondt seats), which is how it is computed; the step log shows the kiesdeler and
the full seats. List alliances (*lijstencombinaties*) were abolished in 2017. Registry:
``netherlands_dhondt``.
"""
from __future__ import annotations

from fractions import Fraction

from transforms.apportionment import Apportionment, MethodInput
from transforms.dhondt import allocate
from transforms.exact import decimal_str, frac_str


def method(inp: MethodInput) -> Apportionment:
    result = allocate(inp.votes, inp.seats, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                      lots=inp.lots, log=inp.log)
    valid = inp.totals.valid if inp.totals.valid is not None else sum(inp.all_votes.values())
    if inp.seats and valid:
        kiesdeler = Fraction(valid, inp.seats)
        full = {i: v * inp.seats // valid for i, v in inp.votes.items()}
        if any(full[i] > result.seats[i] for i in full) and not result.ties:
            raise inp.where.error("full seats exceed the D'Hondt seats: inconsistent input")
        if inp.log:
            result.steps.insert(0, {"kind": "quota", "stage": inp.where.stage, "constituency": inp.where.constituency,
                                    "rule": "kiesdeler = valid votes / seats", "quota": frac_str(kiesdeler),
                                    "quota_decimal": decimal_str(kiesdeler), "seats": inp.seats,
                                    "full_seats": sum(full.values()),
                                    "remaining_seats": inp.seats - sum(full.values())})
    return result
