"""Electoral alliances (Denmark's *valgforbund*, Finland's *vaaliliitto*): seats to the alliance
first, then inside it.

Lists that declared an alliance (results table column ``alliance``: an id shared by the allied
lists; rule ``alliances = dhondt``) count as one contestant with the sum of their votes:

1. the country's method (D'Hondt) allocates the seats among the alliances and the lists outside any
   alliance;
2. each alliance's seats are shared among its member lists by D'Hondt on their own votes.

In Denmark 2019 this moved a seat from Venstre to Radikale Venstre. In Finland the seats inside an
alliance follow the candidates' personal votes, not the parties' totals; with party totals only,
step 2 (D'Hondt on the member lists' totals) is an approximation of that, said in the step log.
The Netherlands abolished list alliances in 2017. Ties at either level are surfaced separately
(stage ``alliances`` / ``within alliance <id>``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from transforms.apportionment import Apportionment, MethodInput
from transforms.dhondt import allocate as dhondt

PREFIX = "alliance:"


def with_alliances(inp: MethodInput, method: Callable[[MethodInput], Apportionment]) -> Apportionment:
    members: dict[str, list[str]] = {}
    units: dict[str, int] = {}
    for i, v in inp.votes.items():
        a = inp.alliances.get(i, "")
        if a:
            members.setdefault(a, []).append(i)
    for i, v in inp.votes.items():
        a = inp.alliances.get(i, "")
        if a and len(members[a]) > 1:
            units[PREFIX + a] = units.get(PREFIX + a, 0) + v
        else:
            units[i] = v
    steps = [{"kind": "alliance", "stage": "alliances", "constituency": inp.where.constituency, "alliance": a,
              "lists": ",".join(m), "votes": sum(inp.votes[i] for i in m)}
             for a, m in members.items() if len(m) > 1]
    if not steps:
        return method(inp)
    top = method(replace(inp, votes=units, where=inp.where.at("alliances"),
                         independents=frozenset(i for i in inp.independents if i in units)))
    seats = {i: 0 for i in inp.votes}
    result = Apportionment(seats, list(top.ties), steps + top.steps, list(top.gaps), {"alliance_seats": {}})
    for unit, n in top.seats.items():
        if not unit.startswith(PREFIX):
            seats[unit] = n
            continue
        a = unit[len(PREFIX):]
        result.info["alliance_seats"][a] = n
        inner = dhondt({i: inp.votes[i] for i in members[a]}, n, caps=inp.caps,
                       where=inp.where.at(f"within alliance {a}"), tie_break=inp.rule.tie_break, lots=inp.lots,
                       log=inp.log)
        result.steps.append({"kind": "alliance", "stage": f"within alliance {a}",
                             "constituency": inp.where.constituency, "alliance": a, "seats": n,
                             "rule": "D'Hondt on the member lists' votes"})
        result.steps.extend(inner.steps)
        result.ties.extend(inner.ties)
        for i, s in inner.seats.items():
            seats[i] = s
    return result
