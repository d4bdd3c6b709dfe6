"""The Parliament as a whole: national seats -> political groups, seats by country × group, turnout.

:func:`aggregate` adds up the countries' allocations. A list's group comes from the election
definition (``elections/<id>/lists.csv``, ``ep_group``), passed as ``list_groups[(country, list_id)]``;
a list that wins seats but has no group (a new party, an independent) counts under ``OTH``
("others, not yet affiliated").

It works on a partial night: countries without an allocation are listed as missing, incomplete
ones (a tie awaiting a lot, missing counts) contribute the seats certain so far and are listed as
incomplete, and each country can carry its result status (estimate, provisional, final, ...) so every
group figure says how many of its seats rest on which status. Turnout is
Σ voters / Σ registered over the countries where both are known, as an exact Fraction; the countries
it covers are listed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from transforms.exact import decimal_str, frac_str
from transforms.national import CountryAllocation

OTHERS = "OTH"


@dataclass
class EUResult:
    seats_total: int
    majority: int
    groups: dict[str, int]
    by_country: dict[str, dict[str, int]]
    by_status: dict[str, dict[str, int]]
    countries_reporting: list[str]
    countries_complete: list[str]
    countries_incomplete: list[str]
    countries_missing: list[str]
    unaffiliated: list[tuple[str, str]]
    registered: int
    voters: int
    turnout_countries: list[str]
    ties: list[dict] = field(default_factory=list)

    @property
    def seats_allocated(self) -> int:
        return sum(self.groups.values())

    @property
    def turnout(self) -> Fraction | None:
        return Fraction(self.voters, self.registered) if self.registered else None

    def to_dict(self) -> dict:
        """The ``eu`` object of the bundle (plus coverage details)."""
        return {
            "seats_total": self.seats_total,
            "seats_allocated": self.seats_allocated,
            "majority": self.majority,
            "countries_reporting": len(self.countries_reporting),
            "countries_complete": list(self.countries_complete),
            "countries_incomplete": list(self.countries_incomplete),
            "countries_missing": list(self.countries_missing),
            "registered": self.registered,
            "voters": self.voters,
            "turnout": frac_str(self.turnout) if self.turnout is not None else None,
            "turnout_decimal": decimal_str(self.turnout, 6) if self.turnout is not None else None,
            "turnout_countries": list(self.turnout_countries),
            "groups": [{"id": g, "seats": n,
                        "by_country": {cc: s[g] for cc, s in self.by_country.items() if s.get(g)},
                        "by_status": {st: s[g] for st, s in self.by_status.items() if s.get(g)}}
                       for g, n in self.groups.items()],
            "unaffiliated": [{"country": cc, "list_id": i} for cc, i in self.unaffiliated],
            "ties": list(self.ties),
        }


def aggregate(allocations: Mapping[str, CountryAllocation], list_groups: Mapping[tuple[str, str], str], *,
              country_seats: Mapping[str, int] | None = None, groups: Sequence[str] | None = None,
              turnout: Mapping[str, Mapping[str, int | None]] | None = None,
              status: Mapping[str, str] | None = None) -> EUResult:
    """EU totals from national allocations.

    ``country_seats``: seats per member state (from the election definition) — the denominator of
    ``seats_total`` and the list of countries expected; defaults to the allocations' own totals.
    ``groups``: the group ids in display order (others appear after them). ``turnout``: per country
    ``{"registered": ..., "voters": ...}`` (e.g. for countries whose turnout is in before any seat);
    defaults to each allocation's totals. ``status``: per country result status, default ``"final"``
    for complete allocations and ``"provisional"`` otherwise.
    """
    expected = dict(country_seats) if country_seats is not None else \
        {cc: a.seats_total for cc, a in allocations.items()}
    seats_total = sum(expected.values())
    order = list(groups or [])
    totals: dict[str, int] = {g: 0 for g in order}
    by_country: dict[str, dict[str, int]] = {}
    by_status: dict[str, dict[str, int]] = {}
    unaffiliated: list[tuple[str, str]] = []
    complete, incomplete, ties = [], [], []
    for cc in sorted(allocations):
        a = allocations[cc]
        (complete if a.complete else incomplete).append(cc)
        st = (status or {}).get(cc) or ("final" if a.complete else "provisional")
        ties.extend(t.to_dict() for t in a.unresolved_ties)
        row = by_country.setdefault(cc, {})
        for list_id, n in a.seats.items():
            if not n:
                continue
            group = list_groups.get((cc, list_id)) or OTHERS
            if group == OTHERS and (cc, list_id) not in list_groups:
                unaffiliated.append((cc, list_id))
            totals[group] = totals.get(group, 0) + n
            row[group] = row.get(group, 0) + n
            by_status.setdefault(st, {})
            by_status[st][group] = by_status[st].get(group, 0) + n
    registered = voters = 0
    covered = []
    for cc in sorted(set(expected) | set(allocations) | set(turnout or {})):
        figures = (turnout or {}).get(cc)
        if figures is None and cc in allocations:
            figures = allocations[cc].totals.to_dict()
        if not figures:
            continue
        r, v = figures.get("registered"), figures.get("voters")
        if r is None or v is None:
            continue
        registered += int(r)
        voters += int(v)
        covered.append(cc)
    return EUResult(
        seats_total=seats_total, majority=seats_total // 2 + 1, groups=totals, by_country=by_country,
        by_status=by_status, countries_reporting=sorted(allocations), countries_complete=complete,
        countries_incomplete=incomplete, countries_missing=sorted(set(expected) - set(allocations)),
        unaffiliated=unaffiliated, registered=registered, voters=voters, turnout_countries=covered, ties=ties)
