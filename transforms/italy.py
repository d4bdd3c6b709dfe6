"""Italy: national largest remainders with the 4 % threshold and linguistic-minority lists, then
each list's seats to the 5 constituencies (Law 18/1979, art. 12, 21, 22).

National allocation (registry ``italy_national``):

1. A list of the French (Aosta Valley), German (Bolzano) or Slovene (Friuli-Venezia Giulia)
   linguistic minority may be *linked* to a national list (results table: ``minority = 1`` and the
   same ``alliance`` id as the national list; rule ``alliances = minority_link``). Its votes are
   added to the national list's for the threshold and the allocation; the group is one unit.
2. Lists (groups) with at least 4 % of the valid votes nationally take part (inclusive).
3. National quota = the votes of the participating lists / seats, fraction dropped; each gets
   ``floor(votes / quota)``; the seats left go to the largest remainders (equal remainders: the
   larger national total, then lot — ``tie_break = more_votes_then_lot``).
4. The minority list's candidate takes one of the group's seats if the group won one and the
   minority reaches ``minority_min_votes`` (50,000). The law's condition is on the candidate's
   individual (preference) votes; the results table only has the list's votes, which are used as the
   figure here — a list with fewer than 50,000 votes cannot have a candidate with 50,000 preferences,
   but a list above it might not either (noted as a doubt).
5. 2019 only: the allocation was made for 76 seats (DPR of 22 March 2019) and the 3 seats won with
   the smallest remainders used were held back until Brexit (rule ``deferred_seats = 3``,
   ``deferred_rule = smallest_remainder_used``), per the Court of Cassation. Should fewer seats have
   been won by remainder than are to be held back (not the case in 2019), the rest are taken from
   the lists with the smallest remainders — an assumption, the decision does not cover it.

Constituency distribution (registry distribution ``italy_list_quotient``): for each list, the list
electoral quotient = its votes in the constituencies / its seats, fraction dropped; each constituency
gets ``floor(constituency votes / quotient)`` of the list's seats and the rest go to the largest
remainders. The number of seats per constituency is therefore *not* fixed in advance. Votes that the
table attributes to no constituency of the rule (the sections in other EU countries) are left out of
the distribution and reported in the step log; the minority list's seat goes to its constituency.
"""
from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from transforms.apportionment import Apportionment, MethodInput
from transforms.exact import decimal_str, frac_str
from transforms.largest_remainder import largest_remainder, remainder_fractions
from transforms.tie import Lots, Where, pick_top


def linked_lists(ids: list[str], minority: frozenset[str], alliances: Mapping[str, str]) -> dict[str, str]:
    """minority list -> the national list it is linked to (same alliance id, not a minority list)."""
    links: dict[str, str] = {}
    for m in ids:
        if m not in minority or not alliances.get(m):
            continue
        partners = [i for i in ids if i != m and i not in minority and alliances.get(i) == alliances[m]]
        if len(partners) == 1:
            links[m] = partners[0]
        elif len(partners) > 1:
            raise ValueError(f"minority list {m!r} is linked to several lists: {', '.join(partners)}")
    return links


def group_votes(votes: Mapping[str, int], links: Mapping[str, str]) -> dict[str, int]:
    """Votes per unit: a national list with its linked minority lists; other lists alone."""
    units: dict[str, int] = {}
    for i, v in votes.items():
        unit = links.get(i, i)
        units[unit] = units.get(unit, 0) + v
    return units


def method(inp: MethodInput) -> Apportionment:
    rule = inp.rule
    ids = list(inp.all_votes)
    try:
        links = linked_lists(ids, inp.minority, inp.alliances) if rule.alliances == "minority_link" else {}
    except ValueError as exc:
        raise inp.where.error(str(exc)) from None
    links = {m: n for m, n in links.items() if m in inp.votes and n in inp.votes}
    units = group_votes(inp.votes, links)
    total_seats = inp.seats + rule.deferred_seats
    base = sum(units.values())
    if base == 0:
        raise inp.where.error("no list passed the threshold")
    q = Fraction(max(base // total_seats, 1))
    steps: list[dict] = []
    for m, n in links.items():
        steps.append({"kind": "alliance", "stage": inp.where.stage, "constituency": inp.where.constituency,
                      "minority_list": m, "linked_list": n, "minority_votes": inp.votes[m],
                      "group_votes": units[n], "why": "linguistic-minority list linked to a national list: "
                                                     "its votes count with that list"})
    result = largest_remainder(units, total_seats, q, where=inp.where, tie_break=rule.tie_break, lots=inp.lots,
                               log=inp.log, quota_label=f"national quota = floor({base} / {total_seats})")
    result.steps[:0] = steps
    if rule.deferred_seats and rule.deferred_rule == "smallest_remainder_used":
        remainders = remainder_fractions(result.info)
        held: list[str] = []
        left = rule.deferred_seats
        # first the seats won by remainder, smallest remainder first; should there be fewer of them than
        # seats to hold back (not the case in 2019), then one seat at a time from the list with the
        # smallest remainder, whose remainder then grows by one quota
        rounds = [(list(result.info["remainder_seats"]), "seats won by remainder", left)]
        while left > 0 and rounds:
            pool, label, take = rounds.pop(0)
            pool = [i for i in pool if result.seats[i] > 0]
            take = min(take, len(pool))
            if take <= 0:
                pool = [i for i in units if result.seats[i] > 0]
                label, take = "whole-quota seats", 1
                if not pool:
                    break
            keep, tie, tie_steps = pick_top(inp.where.at("held-back seats"), pool, {i: remainders[i] for i in pool},
                                            len(pool) - take, votes=units, tie_break=rule.tie_break,
                                            lots=inp.lots, first_seat=total_seats - left + 1,
                                            criterion=f"equal remainders (seat held back, {label})")
            result.steps.extend(tie_steps)
            if tie:
                result.ties.append(tie)
            for i in pool:
                if i not in keep:
                    held.append(i)
                    result.seats[i] -= 1
                    result.steps.append({"kind": "seat", "stage": "held-back seats",
                                         "constituency": inp.where.constituency, "list_id": i, "deferred": 1,
                                         "remainder": frac_str(remainders[i]),
                                         "remainder_decimal": decimal_str(remainders[i]),
                                         "why": f"{label}: smallest remainder; held back until the UK's withdrawal"})
                    if label == "whole-quota seats":
                        remainders[i] += q
            left -= take
            if tie and not tie.resolved:
                break
            if left > 0:
                rounds.append(([], "whole-quota seats", 0))
        result.info["deferred"] = held
    seats = {i: 0 for i in inp.all_votes}
    for unit, n in result.seats.items():
        seats[unit] = n
    minimum = rule.minority_min_votes or 0
    for m, n in links.items():
        if seats[n] >= 1 and inp.votes[m] >= minimum:
            seats[n] -= 1
            seats[m] = 1
            why = f"the group won {seats[n] + 1} seat(s) and the minority list has {inp.votes[m]} >= {minimum} votes"
        else:
            why = (f"no seat for the minority list: group seats {seats[n]}, votes {inp.votes[m]} "
                   f"(needs {minimum})")
        result.steps.append({"kind": "alliance", "stage": "minority seat", "constituency": inp.where.constituency,
                             "minority_list": m, "linked_list": n, "minority_seats": seats[m], "why": why})
    result.seats = seats
    return result


def distribute(list_seats: Mapping[str, int], constituency_votes: Mapping[str, Mapping[str, int]], *,
               constituencies: list[str], where: Where, tie_break: str, lots: Lots | None, log: bool = True
               ) -> Apportionment:
    """Each list's seats to the constituencies by its list electoral quotient and largest remainders.

    Returns an Apportionment whose ``info["by_constituency"]`` is {constituency: {list: seats}}.
    """
    out = Apportionment({}, info={"by_constituency": {c: {} for c in constituencies}})
    by_c = out.info["by_constituency"]
    for lst, n in list_seats.items():
        if n <= 0:
            continue
        cvotes = {c: int(constituency_votes.get(c, {}).get(lst, 0)) for c in constituencies}
        total = sum(cvotes.values())
        here = where.at(f"distribution {lst}")
        if total == 0:
            out.gaps.append(f"{where.country}: list {lst} has {n} seat(s) but no votes in the constituencies")
            continue
        quotient = Fraction(max(total // n, 1))
        part = largest_remainder(cvotes, n, quotient, where=here, tie_break=tie_break, lots=lots, log=log,
                                 quota_label=f"list electoral quotient of {lst} = floor({total} / {n})")
        out.absorb(part)
        for c, s in part.seats.items():
            if s:
                by_c[c][lst] = s
    return out
