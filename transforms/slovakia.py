"""Slovakia: the republic electoral number (Act 180/2014), and the 2019 Brexit rule (§ 220a).

1. Parties and coalitions alike need at least 5 % of the valid votes (threshold, inclusive).
2. Republic electoral number REN = votes of the qualifying lists / (seats + 1), rounded to the
   nearest whole number (published: 2009 50,643.1 -> 50,643; 2014 31,394.4 -> 31,394; a half is
   rounded up here — the law's text on halves was not seen).
3. Each list gets ``floor(votes / REN)`` seats; the seats left go to the largest remainders
   (equal remainders: more votes, then lot); if the whole parts exceed the seats, seats are taken
   back from the smallest remainders (equal remainders: the list with fewer votes).
4. 2019 only, § 220a (Act 37/2019): the allocation was made for 14 seats; "the elected candidate of
   the party or coalition with the smallest remainder of the division" did not take the seat until
   Brexit; equal remainders: the one with fewer votes; equal votes: lot. Rule columns
   ``deferred_seats = 1``, ``deferred_rule = smallest_remainder``.

Registry: ``slovakia_ren``.
"""
from __future__ import annotations

from fractions import Fraction

from transforms.apportionment import Apportionment, MethodInput
from transforms.exact import decimal_str, frac_str, round_half_up
from transforms.largest_remainder import largest_remainder, remainder_fractions
from transforms.tie import pick_top


def method(inp: MethodInput) -> Apportionment:
    rule = inp.rule
    total_seats = inp.seats + rule.deferred_seats
    base = sum(inp.votes.values())
    if base == 0:
        raise inp.where.error("no list passed the threshold")
    exact_ren = Fraction(base, total_seats + 1)
    ren = round_half_up(exact_ren)
    result = largest_remainder(inp.votes, total_seats, ren, caps=inp.caps, where=inp.where,
                               tie_break=rule.tie_break, lots=inp.lots, log=inp.log,
                               quota_label=f"republic electoral number = round({base} / ({total_seats} + 1) = "
                                           f"{decimal_str(exact_ren)}) = {ren}")
    if rule.deferred_seats and rule.deferred_rule == "smallest_remainder":
        remainders = remainder_fractions(result.info)
        key = result.info["remainder_keys"]
        lost: list[str] = []
        for n in range(rule.deferred_seats):
            holders = [i for i in inp.votes if result.seats[i] > 0 and i not in lost]
            keep, tie, tie_steps = pick_top(
                inp.where.at("deferred seat (§ 220a)"), holders, key, len(holders) - 1, votes=inp.votes,
                tie_break="more_votes_then_lot", lots=inp.lots, first_seat=total_seats - n,
                criterion="equal remainders (seat not taken up until Brexit)")
            result.steps.extend(tie_steps)
            if tie:
                result.ties.append(tie)
            for i in holders:
                if i not in keep:
                    result.seats[i] -= 1
                    lost.append(i)
                    result.steps.append({"kind": "seat", "stage": "deferred seat (§ 220a)",
                                         "constituency": inp.where.constituency, "list_id": i,
                                         "deferred": 1, "remainder": frac_str(remainders[i]),
                                         "why": "smallest remainder of the division: seat taken up only "
                                                "after the UK's withdrawal"})
        result.info["deferred"] = lost
    return result
