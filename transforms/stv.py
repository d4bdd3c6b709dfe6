"""Single transferable vote: seats as declared, never recomputed.

Ireland, Malta and (2019) Northern Ireland elect by STV with the Droop quota
floor(valid poll / (seats + 1)) + 1 and transfers of surpluses and eliminated candidates' ballots.
The count needs the ballots' preference orders, which a results delivery does not carry; the
seats come from the delivery's declaration (``declared_seats``: constituency, list_id, seats; the
national declaration has an empty constituency) and the votes are first preferences.

A declaration that does not add up to the seats of the rule is reported as a gap (e.g. Ireland
2019: 13 elected, of whom 2 — the last elected in Dublin and in South — took their seats only after
Brexit; rule rows carry ``deferred_seats``; the national declaration of the 11 seated settles it).
Registry: ``stv`` (kind ``declared``).
"""
from __future__ import annotations

from collections.abc import Mapping

from transforms.apportionment import Apportionment
from transforms.tie import Where

Declared = Mapping[str, Mapping[str, int]]


def _sum(d: Mapping[str, int]) -> int:
    return sum(d.values())


def declared_constituency(seats: int, declared: Declared | None, where: Where) -> Apportionment:
    """Seats of one STV constituency (e.g. Northern Ireland) from the declaration."""
    decl = dict((declared or {}).get(where.constituency, {}))
    out = Apportionment(decl)
    if not decl:
        out.gaps.append(f"{where.country} / {where.constituency}: STV — the seats are declared, not computed, "
                        "and the input declares none")
    elif _sum(decl) != seats:
        out.gaps.append(f"{where.country} / {where.constituency}: declared seats add up to {_sum(decl)}, "
                        f"the rule has {seats}")
    out.steps.append({"kind": "seat", "stage": "declared (STV)", "constituency": where.constituency,
                      "rule": "single transferable vote: seats as declared, votes are first preferences",
                      "declared": ",".join(f"{k}={v}" for k, v in decl.items() if v)})
    return out


def declared_country(seats: int, constituencies: Mapping[str, tuple[int | None, int]], declared: Declared | None,
                     where: Where) -> Apportionment:
    """Seats of an STV country from the national declaration, else from the constituency ones.

    ``constituencies``: name -> (seats elected there or None, of which deferred).
    """
    declared = declared or {}
    national = dict(declared.get("", {}))
    by_c = {c: {i: n for i, n in d.items() if n} for c, d in declared.items() if c}
    unknown = [c for c in by_c if c not in constituencies]
    if unknown:
        raise where.error(f"declared seats for unknown constituencies: {', '.join(unknown)}")
    out = Apportionment({}, info={"by_constituency": by_c})
    out.steps.append({"kind": "note", "stage": "declared (STV)", "constituency": "",
                      "rule": "single transferable vote: seats as declared, votes are first preferences"})
    for c, d in by_c.items():
        elected, deferred = constituencies[c]
        if elected is not None and _sum(d) != elected:
            out.gaps.append(f"{where.country} / {c}: declared seats add up to {_sum(d)}, the rule has {elected}")
        out.steps.append({"kind": "seat", "stage": "declared (STV)", "constituency": c,
                          "declared": ",".join(f"{k}={v}" for k, v in d.items() if v),
                          "deferred_seats": deferred})
    if national and _sum(national) == seats:
        out.seats = national
        out.steps.append({"kind": "seat", "stage": "declared (STV)", "constituency": "",
                          "declared": ",".join(f"{k}={v}" for k, v in national.items() if v)})
        return out
    if national:
        out.gaps.append(f"{where.country}: the national declaration adds up to {_sum(national)}, the rule has {seats}")
    if by_c:
        summed: dict[str, int] = {}
        for d in by_c.values():
            for k, v in d.items():
                summed[k] = summed.get(k, 0) + v
        deferred = sum(d for _, d in constituencies.values())
        if _sum(summed) == seats:
            out.seats = summed
            return out
        if _sum(summed) == seats + deferred and deferred:
            out.gaps.append(f"{where.country}: {_sum(summed)} elected in the constituencies, {deferred} of whom "
                            "take their seats later; which ones is not in the declaration (give the national "
                            "declaration)")
        else:
            out.gaps.append(f"{where.country}: the constituency declarations add up to {_sum(summed)}, "
                            f"the rule has {seats}")
        out.seats = {}
        return out
    if not national:
        out.gaps.append(f"{where.country}: STV — the seats are declared, not computed, and the input declares none")
    out.seats = {}
    return out
