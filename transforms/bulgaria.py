"""Bulgaria: quota as threshold, independents first, then Hare-Niemeyer (Electoral Code, Annex 3).

1. Quota Q = the valid votes cast for all lists and independent candidates divided by 17, no
   rounding. This base excludes the "I do not support anyone" ballots, which are valid but not votes
   for anybody — so the base is ``list_votes`` (the votes of every list and independent in the
   results table), *not* the valid votes of the turnout table.
2. An independent candidate with at least Q votes is elected (one seat each).
3. Lists with at least Q votes take part (a list exactly at Q qualifies) — rule
   ``threshold_quotas = 1``, ``threshold_base = list_votes``, inclusive; the same test elects the
   independents.
4. M = 17 − independents elected is shared among the qualifying lists by Hare-Niemeyer on their
   votes; equal remainders for the last seat: lot by the Central Election Commission.

Registry: ``bulgaria_quota``.
"""
from __future__ import annotations

from transforms.apportionment import Apportionment, MethodInput
from transforms.hare_niemeyer import allocate as hare_niemeyer


def method(inp: MethodInput) -> Apportionment:
    elected = [i for i in inp.votes if i in inp.independents]
    lists = {i: v for i, v in inp.votes.items() if i not in inp.independents}
    left = inp.seats - len(elected)
    if left < 0:
        raise inp.where.error(f"{len(elected)} independents reach the quota for {inp.seats} seats")
    steps = [{"kind": "seat", "stage": inp.where.stage, "constituency": inp.where.constituency,
              "list_id": i, "by": "independent candidate with at least one quota"} for i in elected]
    if left and lists:
        part = hare_niemeyer(lists, left, where=inp.where, tie_break=inp.rule.tie_break, lots=inp.lots, log=inp.log)
    else:
        part = Apportionment(dict.fromkeys(lists, 0))
        if left:
            part.gaps.append(f"{inp.where.country}: {left} seat(s) but no list reaches the quota")
    seats = {i: (1 if i in elected else part.seats.get(i, 0)) for i in inp.votes}
    return Apportionment(seats, part.ties, steps + part.steps, part.gaps, part.info)
