"""One member state's seats: the entry point the pipeline calls.

:func:`allocate_country` takes the country's typed rule (:mod:`transforms.rules`) and its counts as
pandas DataFrames, and returns a :class:`CountryAllocation` — seats per list, seats per
constituency, the step log, the ties awaiting a lot, and the data gaps. Three shapes of law:

* national allocation (most countries): threshold, alliances, method on the national totals
  (:mod:`transforms.procedure`), then, for two-tier countries, the distribution of each list's seats
  to the constituencies (Italy, Poland) when constituency counts are given;
* constituency allocation (Belgium, the UK in 2019): :mod:`transforms.constituency`;
* STV (Ireland, Malta; Northern Ireland as a UK constituency): the declared seats (:mod:`transforms.stv`).

``complete`` is true only when every seat of the country is allocated, no tie awaits a lot (in the
national allocation or in the distribution to constituencies) and no count the law needs for the
national seats is missing; the pipeline must not publish seats of an incomplete allocation as final.
Seats of an incomplete allocation are the seats certain so far. Missing constituency counts for a
two-tier country (Italy, Poland) leave the national seats complete and are reported in
``constituency_gaps``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral

import pandas as pd

from transforms.apportionment import Totals
from transforms.constituency import allocate_constituencies
from transforms.errors import AllocationError
from transforms.procedure import allocate_rule
from transforms.registry import DISTRIBUTIONS, METHODS
from transforms.rules import CountryRule
from transforms.stv import declared_country
from transforms.tie import Lots, Tie, Where


@dataclass
class CountryAllocation:
    country: str
    seats_total: int
    method: str
    seats: dict[str, int]
    seats_by_constituency: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: list[dict] = field(default_factory=list)
    ties: list[Tie] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    constituency_gaps: list[str] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)
    totals: Totals = field(default_factory=Totals)
    rule: CountryRule | None = field(default=None, repr=False)

    @property
    def seats_allocated(self) -> int:
        return sum(self.seats.values())

    @property
    def unresolved_ties(self) -> list[Tie]:
        return [t for t in self.ties if not t.resolved]

    @property
    def complete(self) -> bool:
        return not self.gaps and not self.unresolved_ties and self.seats_allocated == self.seats_total

    def to_dict(self) -> dict:
        return {
            "country": self.country,
            "seats_total": self.seats_total,
            "seats_allocated": self.seats_allocated,
            "complete": self.complete,
            "method": self.method,
            "rule": self.rule.summary() if self.rule else {},
            "seats": dict(self.seats),
            "seats_by_constituency": {c: dict(s) for c, s in self.seats_by_constituency.items()},
            "deferred": dict(self.deferred),
            "steps": list(self.steps),
            "ties": [t.to_dict() for t in self.ties],
            "gaps": list(self.gaps),
            "constituency_gaps": list(self.constituency_gaps),
            "totals": self.totals.to_dict(),
        }


def _int(value: object, what: str, where: Where) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise where.error(f"{what}: {value!r} is not a vote count")
    if isinstance(value, Integral):
        number = int(value)
    elif isinstance(value, float):
        if math.isnan(value):
            return None
        if not value.is_integer():
            raise where.error(f"{what}: {value!r} is not a whole number")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not text.isdigit():
            raise where.error(f"{what}: {value!r} is not a whole number")
        number = int(text)
    elif value is pd.NA or value is pd.NaT:
        return None
    else:
        raise where.error(f"{what}: {value!r} is not a whole number")
    if number < 0:
        raise where.error(f"{what}: {number} is negative")
    return number


def _flag(value: object) -> bool:
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return str(value).strip().lower() in {"1", "1.0", "true", "yes"}


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _need(df: pd.DataFrame, columns: tuple[str, ...], what: str, where: Where) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise where.error(f"{what} lacks column(s) {', '.join(missing)}")


def read_votes(votes: pd.DataFrame, where: Where
               ) -> tuple[dict[str, int], frozenset[str], frozenset[str], dict[str, str]]:
    """(votes per list in table order, independents, minority lists, alliance per list)."""
    _need(votes, ("list_id", "votes"), "votes", where)
    out: dict[str, int] = {}
    independents, minority, alliances = set(), set(), {}
    has = {c: c in votes.columns for c in ("alliance", "minority", "independent")}
    for n, row in enumerate(votes.to_dict("records"), start=1):
        lst = _text(row["list_id"])
        if not lst:
            raise where.error(f"votes row {n}: empty list_id")
        if lst in out:
            raise where.error(f"votes row {n}: list {lst!r} appears twice")
        v = _int(row["votes"], f"votes row {n} (list {lst})", where)
        if v is None:
            raise where.error(f"votes row {n}: list {lst!r} has no vote count")
        out[lst] = v
        if has["independent"] and _flag(row["independent"]):
            independents.add(lst)
        if has["minority"] and _flag(row["minority"]):
            minority.add(lst)
        if has["alliance"] and _text(row["alliance"]):
            alliances[lst] = _text(row["alliance"])
    return out, frozenset(independents), frozenset(minority), alliances


def read_constituency_votes(df: pd.DataFrame | None, where: Where) -> dict[str, dict[str, int]] | None:
    if df is None:
        return None
    _need(df, ("constituency", "list_id", "votes"), "constituency_votes", where)
    out: dict[str, dict[str, int]] = {}
    for n, row in enumerate(df.to_dict("records"), start=1):
        c, lst = _text(row["constituency"]), _text(row["list_id"])
        v = _int(row["votes"], f"constituency_votes row {n} ({c} / {lst})", where)
        if v is None:
            raise where.error(f"constituency_votes row {n}: {c} / {lst} has no vote count")
        if lst in out.setdefault(c, {}):
            raise where.error(f"constituency_votes row {n}: {c} / {lst} appears twice")
        out[c][lst] = v
    return out


def read_declared(df: pd.DataFrame | None, where: Where) -> dict[str, dict[str, int]] | None:
    if df is None:
        return None
    _need(df, ("list_id", "seats"), "declared_seats", where)
    out: dict[str, dict[str, int]] = {}
    for n, row in enumerate(df.to_dict("records"), start=1):
        c = _text(row.get("constituency", ""))
        lst = _text(row["list_id"])
        s = _int(row["seats"], f"declared_seats row {n} ({c} / {lst})", where)
        if s is None:
            continue
        out.setdefault(c, {})
        out[c][lst] = out[c].get(lst, 0) + s
    return out


def allocate_country(rule: CountryRule, votes: pd.DataFrame, *, constituency_votes: pd.DataFrame | None = None,
                     declared_seats: pd.DataFrame | None = None, totals: Mapping | None = None,
                     lots: Lots | None = None, log: bool = True) -> CountryAllocation:
    """Seats of one country under ``rule`` (see the module docstring)."""
    where = Where(rule.country, "", "national", rule.method)
    try:
        tot = Totals.from_mapping(totals)
    except ValueError as exc:
        raise where.error(str(exc)) from None
    counts, independents, minority, alliances = read_votes(votes, where)
    cvotes = read_constituency_votes(constituency_votes, where)
    declared = read_declared(declared_seats, where)
    spec = METHODS[rule.method] if rule.method else None
    result = CountryAllocation(country=rule.country, seats_total=rule.seats or 0, method=rule.method,
                               seats=dict.fromkeys(counts, 0), totals=tot, rule=rule)
    if alliances and rule.alliances == "none":
        result.steps.append({"kind": "note", "stage": "national", "constituency": "",
                             "note": f"the table gives alliances ({', '.join(sorted(set(alliances.values())))}) but "
                                     f"{rule.country}'s law has none: ignored"})
    if tot.valid is not None and sum(counts.values()) != tot.valid and rule.quota_base != "list_votes":
        diff = tot.valid - sum(counts.values())
        result.steps.append({"kind": "note", "stage": "national", "constituency": "",
                             "note": f"list votes add up to {sum(counts.values())}, valid votes are {tot.valid} "
                                     f"(difference {diff}: votes not itemised by list in the table)"})
    if spec is not None and spec.kind == "declared" and rule.allocation_level == "national":
        part = declared_country(rule.seats or 0, {c.constituency: (c.seats, c.deferred_seats)
                                                  for c in rule.constituencies}, declared, where)
        result.seats.update(part.seats)
        result.seats_by_constituency = part.info.get("by_constituency", {})
    elif rule.allocation_level == "constituency":
        if cvotes is None:
            cvotes = {}
            result.steps.append({"kind": "note", "stage": "constituency", "constituency": "",
                                 "note": f"{rule.country} allocates per constituency; no constituency counts given"})
        part = allocate_constituencies(rule, cvotes, declared=declared, independents=independents,
                                       alliances=alliances, lots=lots, log=log)
        result.seats.update(part.seats)
        result.seats_by_constituency = part.info["by_constituency"]
        national_sum: dict[str, int] = {}
        for c in cvotes.values():
            for i, v in c.items():
                national_sum[i] = national_sum.get(i, 0) + v
        off = [i for i in counts if i in national_sum and national_sum[i] != counts[i]]
        if off:
            result.steps.append({"kind": "note", "stage": "constituency", "constituency": "",
                                 "note": "constituency votes do not add up to the national votes for "
                                         + ", ".join(f"{i} ({national_sum[i]} vs {counts[i]})" for i in off)})
    else:
        part = allocate_rule(rule, counts, where=where, totals=tot, independents=independents, minority=minority,
                             alliances=alliances, lots=lots, log=log)
        result.seats.update(part.seats)
        if "deferred" in part.info:
            for i in part.info["deferred"]:
                result.deferred[i] = result.deferred.get(i, 0) + 1
        if rule.distribution:
            names = [c.constituency for c in rule.constituencies]
            if cvotes is None:
                result.constituency_gaps.append(f"{rule.country}: no constituency counts; seats per constituency "
                                                 "not distributed")
            else:
                outside = {c: sum(v.values()) for c, v in cvotes.items() if c not in names}
                if outside:
                    part.steps.append({"kind": "note", "stage": "distribution", "constituency": "",
                                       "note": "votes outside the rule's constituencies left out of the "
                                               "distribution: "
                                               + ", ".join(f"{c} ({n})" for c, n in outside.items())})
                if part.ties and any(not t.resolved for t in part.ties):
                    result.constituency_gaps.append(f"{rule.country}: national tie unresolved; not distributed")
                else:
                    dist = DISTRIBUTIONS[rule.distribution](
                        {i: n for i, n in result.seats.items() if n},
                        {c: v for c, v in cvotes.items() if c in names}, constituencies=names,
                        where=where.at("distribution"), tie_break=rule.tie_break, lots=lots, log=log)
                    result.seats_by_constituency = dist.info["by_constituency"]
                    part.steps.extend(dist.steps)
                    result.ties.extend(dist.ties)
                    result.constituency_gaps.extend(dist.gaps)
    result.steps.extend(part.steps)
    result.ties[:0] = part.ties
    result.gaps.extend(part.gaps)
    if not result.gaps and not result.unresolved_ties and result.seats_allocated != result.seats_total:
        raise AllocationError(f"allocated {result.seats_allocated} seats, the rule has {result.seats_total}",
                              country=rule.country, rule=rule.method)
    return result
