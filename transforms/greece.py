"""Greece: the "reinforced" simple proportional (Law 4255/2014 art. 6 as amended).

1. Electoral quota = all valid votes (of every list, those below the threshold included; blank
   ballots are not valid) divided by the 21 seats, *without the fraction* (floor).
2. Only lists with at least 3 % of the valid votes take part (generic threshold, inclusive).
3. Each participating list gets ``floor(votes / quota)`` seats.
4. The seats left go one each to the participating lists in order of their remainders
   (votes − seats × quota), largest first; if seats are still left after every participating list
   got one, the same order is gone through again (``leftover="repeat"``).

Because the quota is on all valid votes while only the lists above 3 % share the seats, many seats
go by remainder (8 of 21 in 2019). The second-round order is inferred from the published results
of 2009, 2014 and 2019 (see elections/ep2019/countries/EL.toml, ``law.source``). Registry: ``greece_reinforced``.
"""
from __future__ import annotations

from transforms.apportionment import Apportionment, MethodInput
from transforms.largest_remainder import largest_remainder
from transforms.quota import quota


def method(inp: MethodInput) -> Apportionment:
    valid = inp.totals.valid
    if valid is None:
        return Apportionment(dict.fromkeys(inp.votes, 0),
                             gaps=[f"{inp.where.country}: the Greek quota is computed on all valid votes, "
                                   "which the totals do not give"])
    q = quota("hare", valid, inp.seats, "floor")
    return largest_remainder(inp.votes, inp.seats, q, caps=inp.caps, where=inp.where, tie_break=inp.rule.tie_break,
                             lots=inp.lots, leftover="repeat", log=inp.log,
                             quota_label=f"Greek quota = floor(all valid votes {valid} / {inp.seats}); "
                                         "remainders in order, repeated while seats are left")
