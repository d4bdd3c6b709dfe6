"""Constituencies that allocate their own seats: Belgium's electoral colleges, the UK's regions.

When a country's rule has ``allocation_level = constituency``, every constituency row is an
allocation of its own, with its own seats and method, on the votes cast there:

* Belgium: three electoral colleges — Dutch-speaking (12 seats in 2019, 13 in 2024),
  French-speaking (8) and German-speaking (1) — each by D'Hondt on its own lists; no legal threshold.
  A party standing in two colleges (e.g. PVDA/PTB) has a list in each.
* United Kingdom (2019): eleven Great Britain regions by D'Hondt on the regional totals (an
  independent candidate is a one-candidate list), and Northern Ireland by STV (3 seats, declared).

The country's seats per list are the sums over its constituencies. A constituency without counts
yet is a gap (partial night), not an error; votes for a constituency the rule does not know are an
error (they would elect nobody).
"""
from __future__ import annotations

from collections.abc import Mapping

from transforms.apportionment import Apportionment, Totals
from transforms.procedure import allocate_rule
from transforms.registry import METHODS
from transforms.rules import CountryRule
from transforms.stv import Declared, declared_constituency
from transforms.tie import Lots, Where


def allocate_constituencies(rule: CountryRule, constituency_votes: Mapping[str, Mapping[str, int]] | None, *,
                            declared: Declared | None = None, independents: frozenset[str] = frozenset(),
                            alliances: Mapping[str, str] | None = None, lots: Lots | None = None,
                            log: bool = True) -> Apportionment:
    """Allocate every constituency of ``rule``; ``info["by_constituency"]`` has the seats per constituency."""
    names = [c.constituency for c in rule.constituencies]
    constituency_votes = constituency_votes or {}
    unknown = [c for c in constituency_votes if c not in names]
    if unknown:
        raise Where(rule.country, unknown[0], "constituency", rule.method).error(
            f"votes for constituencies the rule does not have: {', '.join(unknown)} "
            f"(the rule has: {', '.join(names)})")
    out = Apportionment({}, info={"by_constituency": {}})
    by_c = out.info["by_constituency"]
    for c in rule.constituencies:
        where = Where(rule.country, c.constituency, "constituency", c.method)
        if METHODS[c.method].kind == "declared":
            part = declared_constituency(c.seats or 0, declared, where)
        elif c.constituency not in constituency_votes:
            out.gaps.append(f"{rule.country} / {c.constituency}: no counts for this constituency")
            continue
        else:
            cvotes = {i: int(v) for i, v in constituency_votes[c.constituency].items()}
            part = allocate_rule(c, cvotes, where=where, seats=c.seats, totals=Totals(),
                                 independents=frozenset(i for i in independents if i in cvotes),
                                 alliances=alliances, lots=lots, log=log)
        out.steps.append({"kind": "note", "stage": "constituency", "constituency": c.constituency,
                          "method": c.method, "seats": c.seats or 0})
        out.absorb(part)
        by_c[c.constituency] = {i: n for i, n in part.seats.items() if n}
        for i, n in part.seats.items():
            out.seats[i] = out.seats.get(i, 0) + n
    return out
