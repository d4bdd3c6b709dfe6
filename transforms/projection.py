"""The EU projection: the Parliament's likely composition before every country has counted.

On election night the European Parliament publishes, from a set time (2019: 20:15 CEST), a
*projection* of the new Parliament by political group. It is not a result: it adds up, country by
country, the best figure available at that moment, and says for each country which one it used:

1. ``count``: the country's counted result (a ``provisional``, ``final`` or ``official`` delivery),
   its seats as the seat engine allocated them;
2. ``estimate``: the country's national *estimate* (an exit poll, an ``estimate`` delivery), its
   seats allocated by the same engine from the estimated votes;
3. ``outgoing``: for a country with neither, its delegation in the *outgoing* Parliament (the
   previous result of that country), each party in the group of the list it stands as now and, for
   a party without a group, in ``OTH`` ("Others"). When the country's seats changed since (2024:
   FR 74 -> 81), the outgoing seats are scaled to the new number by the largest-remainder method
   (Hare quota, exact fractions; equal remainders go to the larger outgoing group, then to the group
   first in the given order), so the projection always adds up to the Parliament's size;
4. ``none``: nothing known (a new member state without a previous result): the country's seats are
   left out and counted as ``seats_unprojected``.

A list without a group counts under ``OTH`` whatever its basis. Pure arithmetic: no I/O, no
clock; the caller (``enr.tally``) gathers the inputs and stamps the result with its time.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
import re
import unicodedata

OTHERS = "OTH"

#: the bases of a country's figure, from the most to the least certain
BASES = ("count", "estimate", "outgoing", "none")
COUNTED_STATUSES = ("provisional", "final", "official")


class ProjectionError(ValueError):
    """The inputs of a projection contradict each other (names the country and the rule)."""


@dataclass(frozen=True)
class CountryBasis:
    """One country's figure in the projection: its basis and its seats by group."""

    basis: str
    groups: Mapping[str, int]
    status: str = ""  # the delivery status behind a count or an estimate

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ProjectionError(f"basis {self.basis!r} is not one of {', '.join(BASES)}")
        if any(int(n) < 0 for n in self.groups.values()):
            raise ProjectionError("a group cannot have negative seats")


@dataclass
class Projection:
    seats_total: int
    majority: int
    groups: dict[str, int]
    by_basis: dict[str, dict[str, int]]
    countries: dict[str, CountryBasis]
    seats_unprojected: int = 0
    order: list[str] = field(default_factory=list)

    @property
    def seats_projected(self) -> int:
        return sum(self.groups.values())

    def countries_by_basis(self) -> dict[str, list[str]]:
        return {b: sorted(cc for cc, c in self.countries.items() if c.basis == b) for b in BASES}

    def to_dict(self) -> dict:
        """The ``projection`` object of the bundle (docs/CONTRACTS.md), without its time."""
        return {
            "seats_total": self.seats_total,
            "majority": self.majority,
            "seats_projected": self.seats_projected,
            "seats_unprojected": self.seats_unprojected,
            "groups": [{"id": g, "seats": n, "by_basis": {b: self.by_basis[b][g] for b in BASES
                                                         if self.by_basis.get(b, {}).get(g)}}
                       for g, n in self.groups.items()],
            "countries": {cc: {"basis": c.basis, "status": c.status,
                               "groups": {g: int(n) for g, n in c.groups.items() if n}}
                          for cc, c in sorted(self.countries.items())},
            "countries_by_basis": self.countries_by_basis(),
        }


def scale_seats(seats: Mapping[str, int], target: int, order: Sequence[str] = ()) -> dict[str, int]:
    """``seats`` (by group) rescaled to add up to ``target`` by the largest-remainder method.

    Each group gets the whole part of ``seats[g] * target / total``; the seats left go to the
    largest remainders (equal remainders: larger original seats first, then ``order``, then id).
    Unchanged when the total already is ``target``; empty when ``seats`` is empty or zero.
    """
    total = sum(int(n) for n in seats.values())
    if target < 0:
        raise ProjectionError(f"cannot scale to {target} seats")
    if total == target:
        return {g: int(n) for g, n in seats.items()}
    if total == 0:
        return {}
    rank = {g: i for i, g in enumerate(order)}
    quotas = {g: Fraction(int(n) * target, total) for g, n in seats.items()}
    out = {g: int(q) for g, q in quotas.items()}  # int() of a non-negative Fraction is its floor
    left = target - sum(out.values())
    by_remainder = sorted(quotas, key=lambda g: (-(quotas[g] - out[g]), -int(seats[g]), rank.get(g, len(rank)), g))
    for g in by_remainder[:left]:
        out[g] += 1
    return out


def _key(text: str) -> str:
    """A party name or abbreviation reduced for matching: no accents, case, spaces or punctuation,
    German ``ue``/``oe``/``ae`` as the bare vowel (``GRÜNE`` = ``Gruene``, ``ÖVP`` = ``OVP``)."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    bare = re.sub(r"[^0-9A-Z]", "", bare.upper())
    return bare.replace("UE", "U").replace("OE", "O").replace("AE", "A")


def party_groups(parties: Sequence[Mapping], lists: Sequence[Mapping],
                 continuations: Mapping[str, str] | None = None) -> dict[str, str]:
    """Which group each outgoing party sits in now: the group of the list that continues it.

    ``parties``: the previous result's parties (``party_abbrev``, ``party_name``; ParlGov writes
    renamed parties ``OLD|NEW``); ``lists``: the country's lists now (``list_id``, ``party_abbrev``,
    ``list_name``, ``ep_group``); ``continuations``: party abbreviation -> ``list_id``, written in
    the election definition where the names do not match (``outgoing_lists.csv``: FN -> rn). Else a
    party matches a list whose abbreviation or name equals one of its own, accents, case and
    punctuation aside. Unmatched parties are left out (they count under ``OTH``)."""
    by_id = {str(entry["list_id"]): entry for entry in lists}
    keys: dict[str, Mapping] = {}
    for entry in lists:
        for name in (entry.get("party_abbrev") or "", entry.get("list_name") or ""):
            if _key(str(name)):
                keys.setdefault(_key(str(name)), entry)
    out: dict[str, str] = {}
    for party in parties:
        abbrev = str(party.get("party_abbrev") or "")
        entry = by_id.get((continuations or {}).get(abbrev, ""))
        if entry is None:
            names = abbrev.split("|") + str(party.get("party_name") or "").split("|")
            entry = next((keys[_key(n)] for n in names if _key(n) in keys), None)
        if entry is not None:
            out[abbrev] = str(entry.get("ep_group") or "")
    return out


def outgoing_groups(parties: Sequence[Mapping], party_groups: Mapping[str, str]) -> dict[str, int]:
    """A country's outgoing delegation by group: each party's seats under the group of the list it
    stands as now (``party_groups``: party abbreviation -> group id, empty: no group); a party
    without a group, or not standing, counts under ``OTH``."""
    out: dict[str, int] = {}
    for party in parties:
        seats = int(party.get("seats") or 0)
        if seats <= 0:
            continue
        group = party_groups.get(str(party.get("party_abbrev") or "")) or OTHERS
        out[group] = out.get(group, 0) + seats
    return out


def project(country_seats: Mapping[str, int], bases: Mapping[str, CountryBasis], *,
            groups: Sequence[str] = ()) -> Projection:
    """The projection of the Parliament from each country's basis (see the module docstring).

    ``country_seats``: the seats of each member state (the election definition); ``bases``: what
    is known per country (a country absent from it counts as ``none``); ``groups``: display order
    (others follow). An ``outgoing`` basis is scaled to the country's seats; a ``count`` or an
    ``estimate`` must not exceed them (:class:`ProjectionError`, naming the country).
    """
    unknown = sorted(set(bases) - set(country_seats))
    if unknown:
        raise ProjectionError(f"{', '.join(unknown)}: not a member state of this election")
    order = list(groups)
    totals: dict[str, int] = {g: 0 for g in order}
    by_basis: dict[str, dict[str, int]] = {b: {} for b in BASES}
    countries: dict[str, CountryBasis] = {}
    unprojected = 0
    for cc in sorted(country_seats):
        seats = int(country_seats[cc])
        basis = bases.get(cc) or CountryBasis("none", {})
        figure = {g: int(n) for g, n in basis.groups.items() if int(n)}
        if basis.basis == "outgoing":
            figure = scale_seats(figure, seats, order)
        elif sum(figure.values()) > seats:
            raise ProjectionError(f"{cc}: {basis.basis} gives {sum(figure.values())} seats, the country has {seats}")
        if basis.basis == "none" or not figure:
            basis, figure = CountryBasis("none", {}), {}
        countries[cc] = CountryBasis(basis.basis, figure, basis.status)
        unprojected += seats - sum(figure.values())
        for g, n in figure.items():
            totals[g] = totals.get(g, 0) + n
            by_basis[basis.basis][g] = by_basis[basis.basis].get(g, 0) + n
    total = sum(int(n) for n in country_seats.values())
    return Projection(seats_total=total, majority=total // 2 + 1, groups=totals, by_basis=by_basis,
                      countries=countries, seats_unprojected=unprojected, order=order)
