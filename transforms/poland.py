"""Poland: national D'Hondt among the committees above 5 %, then Hare-Niemeyer to the 13
constituencies (Electoral Code art. 337-339).

1. Only committees whose lists got at least 5 % of the valid votes nationwide take part; coalition
   committees need the same 5 % (not the Sejm's 8 %). Threshold, inclusive.
2. The seats are allocated to the committees by D'Hondt on their national totals (method ``dhondt``).
3. Each committee's seats are shared among its constituency lists (distribution
   ``hare_niemeyer_by_list``): constituency list votes × committee seats / committee votes, whole
   parts first, then the largest fractional parts (equal fractions: lot).

So the number of seats per constituency is not fixed in advance and follows turnout and support.
This module is the one place the Polish procedure is written down; the country file
(``countries/PL.toml``) declares it as ``method = "dhondt"`` (step 2, :mod:`transforms.dhondt`) with
``distribution = "hare_niemeyer_by_list"`` (step 3, :func:`distribute`) and the 5 % threshold
(step 1, :mod:`transforms.threshold`), and names the 13 constituencies.
"""
from __future__ import annotations

from collections.abc import Mapping

from transforms.apportionment import Apportionment
from transforms.hare_niemeyer import allocate as hare_niemeyer
from transforms.tie import Lots, Where


def distribute(list_seats: Mapping[str, int], constituency_votes: Mapping[str, Mapping[str, int]], *,
               constituencies: list[str], where: Where, tie_break: str, lots: Lots | None, log: bool = True
               ) -> Apportionment:
    """Each committee's seats to its constituency lists by Hare-Niemeyer on its constituency votes."""
    out = Apportionment({}, info={"by_constituency": {c: {} for c in constituencies}})
    by_c = out.info["by_constituency"]
    for lst, n in list_seats.items():
        if n <= 0:
            continue
        cvotes = {c: int(constituency_votes.get(c, {}).get(lst, 0)) for c in constituencies}
        if sum(cvotes.values()) == 0:
            out.gaps.append(f"{where.country}: committee {lst} has {n} seat(s) but no constituency votes")
            continue
        part = hare_niemeyer(cvotes, n, where=where.at(f"distribution {lst}"), tie_break=tie_break, lots=lots,
                             log=log)
        out.absorb(part)
        for c, s in part.seats.items():
            if s:
                by_c[c][lst] = s
    return out
