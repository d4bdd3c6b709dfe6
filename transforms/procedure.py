"""The procedure of one allocation: threshold, then alliances, then the method.

:func:`allocate_rule` runs one rule (a country's national allocation, or one constituency's) on
the votes of its lists:

1. **Threshold** (:mod:`transforms.threshold`) on the lists — on the group of a national list and its
   linked minority lists when the rule links them (Italy) — and, with their own test when the rule
   has one (Romania), on independent candidates.
2. **Undecided lists**: when the base of the threshold is not known exactly (partial night, a base
   the table does not carry), the lists whose fate depends on it are tried both ways (up to
   :data:`MAX_UNDECIDED` of them). If the seats are the same in every case they are published with a
   note; otherwise the allocation reports a gap and gives each list only the seats it has in every
   case.
3. **Method**, found by name in :data:`transforms.registry.METHODS`, wrapped by
   :func:`transforms.alliance.with_alliances` when the rule has electoral alliances.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import product

from transforms.alliance import with_alliances
from transforms.apportionment import Apportionment, MethodInput, Totals
from transforms.italy import group_votes, linked_lists
from transforms.registry import METHODS
from transforms.rules import CountryRule
from transforms.threshold import apply_threshold
from transforms.tie import Lots, Where

MAX_UNDECIDED = 4


def _label(where: Where) -> str:
    return f"{where.country}{' / ' + where.constituency if where.constituency else ''}"


def _threshold(rule: CountryRule, votes: dict[str, int], *, where: Where, totals: Totals, seats: int,
               independents: frozenset[str], links: Mapping[str, str], log: bool
               ) -> tuple[list[str], list[str], list[str], list[dict], list[str]]:
    """(passed, failed, undecided, steps, gaps) over the lists of ``votes``."""
    list_votes_total = sum(votes.values())
    units = group_votes(votes, links)
    members: dict[str, list[str]] = {}
    for i in votes:
        members.setdefault(links.get(i, i), []).append(i)
    passed: list[str] = []
    failed: list[str] = []
    undecided: list[str] = []
    steps: list[dict] = []
    gaps: list[str] = []
    tests = [
        ([u for u in units if u not in independents], rule.threshold, "threshold"),
        ([u for u in units if u in independents], rule.independent_threshold or rule.threshold,
         "independent candidates' threshold"),
    ]
    for group, spec, label in tests:
        if not group:
            continue
        if spec is None:
            passed.extend(group)
            continue
        out = apply_threshold(spec, {u: units[u] for u in group}, totals=totals, seats=seats, where=where,
                              list_votes_total=list_votes_total, log=log, label=label)
        passed += out.passed
        failed += out.failed
        undecided += out.undecided
        steps += out.steps
        gaps += out.gaps

    def expand(us: list[str]) -> list[str]:
        return [i for u in us for i in members[u]]

    return expand(passed), expand(failed), expand(undecided), steps, gaps


def _run_method(rule: CountryRule, inp: MethodInput) -> Apportionment:
    spec = METHODS[rule.method]
    if rule.alliances == "dhondt":
        return with_alliances(inp, spec.fn)
    return spec.fn(inp)


def allocate_rule(rule: CountryRule, votes: Mapping[str, int], *, where: Where, seats: int | None = None,
                  totals: Totals | None = None, independents: frozenset[str] = frozenset(),
                  minority: frozenset[str] = frozenset(), alliances: Mapping[str, str] | None = None,
                  lots: Lots | None = None, log: bool = True) -> Apportionment:
    """Threshold, alliances and method of ``rule`` on ``votes``; seats for every list of ``votes``."""
    totals = totals or Totals()
    alliances = alliances or {}
    seats = rule.seats if seats is None else seats
    votes = dict(votes)
    if seats is None:
        raise where.error("no number of seats")
    links: dict[str, str] = {}
    if rule.alliances == "minority_link":
        try:
            links = linked_lists(list(votes), minority, alliances)
        except ValueError as exc:
            raise where.error(str(exc)) from None
    allocated = seats + rule.deferred_seats
    passed, failed, undecided, t_steps, t_gaps = _threshold(
        rule, votes, where=where, totals=totals, seats=allocated, independents=independents, links=links, log=log)

    def run(participants: list[str], log_it: bool) -> Apportionment:
        part = {i: votes[i] for i in votes if i in set(participants)}
        if not part or not any(part.values()):
            out = Apportionment(dict.fromkeys(votes, 0))
            if seats:
                out.gaps.append(f"{_label(where)}: no list with votes passed the threshold")
            return out
        inp = MethodInput(rule=rule, where=where, seats=seats, votes=part, all_votes=votes, totals=totals,
                          independents=independents, minority=minority, alliances=alliances, lots=lots,
                          log=log_it)
        out = _run_method(rule, inp)
        out.seats = {i: out.seats.get(i, 0) for i in votes} | {i: n for i, n in out.seats.items() if i not in votes}
        return out

    if not undecided:
        result = run(passed, log)
        result.steps[:0] = t_steps
        result.gaps[:0] = t_gaps
        return result
    if len(undecided) > MAX_UNDECIDED:
        result = Apportionment({i: 0 for i in votes}, steps=t_steps,
                               gaps=t_gaps + [f"{_label(where)}: threshold undecided for {len(undecided)} lists "
                                              f"({', '.join(undecided)}); the base is not known exactly"])
        return result
    cases = []
    for choice in product((True, False), repeat=len(undecided)):
        extra = [i for i, keep in zip(undecided, choice) if keep]
        cases.append((extra, run(passed + extra, False)))
    first = cases[0][1]
    same = all(c.seats == first.seats and not c.ties and not c.gaps for _, c in cases)
    if same:
        result = run(passed + undecided, log)
        result.steps[:0] = t_steps
        result.steps.append({"kind": "note", "stage": where.stage, "constituency": where.constituency,
                             "note": f"threshold undecided for {', '.join(undecided)} (base not known exactly); "
                                     f"the seats are the same in all {len(cases)} cases"})
        result.gaps[:0] = [g for g in t_gaps if "unknown" not in g]
        return result
    floor_seats = {i: min(c.seats.get(i, 0) for _, c in cases) for i in votes}
    outcomes = "; ".join(
        f"if {', '.join(extra) or 'none of them'} take(s) part: "
        + ", ".join(f"{i} {n}" for i, n in c.seats.items() if n) for extra, c in cases)
    note = {"kind": "note", "stage": where.stage, "constituency": where.constituency,
            "note": "seats depend on the undecided threshold: " + outcomes}
    gap = (f"{_label(where)}: whether {', '.join(undecided)} pass(es) the threshold is not settled by the "
           "totals given, and the seats depend on it")
    result = Apportionment(floor_seats, steps=t_steps + [note], gaps=t_gaps + [gap])
    return result

