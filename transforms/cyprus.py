"""Cyprus: whole quotas, then one remainder seat each (Law 10(I)/2004 art. 23 with art. 32 of the
House of Representatives election law).

1. First distribution: electoral quota = all valid votes (blank ballots are not valid) divided by 6,
   fraction dropped; every list (party, coalition, independent candidate) gets as many seats as
   whole quotas in its votes; an independent candidate can hold one seat only.
2. Second distribution of the seats left: among the lists and independents with at least 1.8 % of
   the valid votes (whether or not they won a seat in the first distribution), one seat each in
   order of their unused remainders (votes − seats × quota), largest first.

The 1.8 % test is the rule's threshold (inclusive); a list below it cannot hold a whole quota (1/6
of the valid votes) either, so applying it before the first distribution changes nothing. What
happens when seats are still left after every eligible list got one is not stated in the text
seen: those seats are reported as a gap, not guessed. Registry: ``cyprus_quota``.
"""
from __future__ import annotations

from transforms.apportionment import Apportionment, MethodInput
from transforms.largest_remainder import largest_remainder
from transforms.quota import quota


def method(inp: MethodInput) -> Apportionment:
    valid = inp.totals.valid
    if valid is None:
        return Apportionment(dict.fromkeys(inp.votes, 0),
                             gaps=[f"{inp.where.country}: the Cypriot quota is computed on all valid votes, "
                                   "which the totals do not give"])
    q = quota("hare", valid, inp.seats, "floor")
    return largest_remainder(inp.votes, inp.seats, q, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                             lots=inp.lots, leftover="gap", log=inp.log,
                             quota_label=f"Cypriot quota = floor(valid votes {valid} / {inp.seats}); second "
                                         "distribution: one seat each by remainder among lists >= the threshold")
