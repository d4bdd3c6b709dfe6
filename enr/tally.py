"""From accepted counts to the bundle: every country's seats under its own law, then the EU.

:func:`build_bundle` is the tally step of the night. It takes the latest accepted result of
each country (from the results store), runs the seat engine (:mod:`transforms`) on it, and
returns the bundle that the renderer publishes (schema in docs/CONTRACTS.md). It does no I/O.

Test and real data never mix in one version: a bundle is test only when every country that
reported is test, and a store whose latest deliveries mix the two is refused
(:class:`MixedTestAndReal`, naming the countries) — one contractor's dry run on the day must not
turn other countries' real counts into a "test" version that the embargo would let through.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import pandas as pd

from enr.definition import Election
import transforms
from transforms.apportionment import Totals
from transforms.eu import aggregate
from transforms.projection import CountryBasis, outgoing_groups, party_groups, project
from transforms.national import allocate_country
from transforms.rules import parse_rules

STATUS_ORDER = ("none", "estimate", "provisional", "final", "official")
COUNTED = ("provisional", "final", "official")


class MixedTestAndReal(ValueError):
    """The latest accepted deliveries are test for some countries and real for others."""


@dataclass
class CountryCounts:
    """What the store holds for one country: its latest accepted delivery, aggregated."""

    country: str
    status: str
    sequence: int
    sha256: str
    as_of: str
    votes: pd.DataFrame  # constituency, list_id, votes (constituency "" when national)
    totals: dict  # registered, voters, valid, blank, invalid (int or None)
    units_reporting: int = 0
    units_total: int = 0
    declared_seats: pd.DataFrame | None = None  # constituency, list_id, seats (STV)
    corrections: list[dict] = field(default_factory=list)
    test: bool = False


def is_test_version(counts: dict[str, "CountryCounts"], election: str = "") -> bool:
    """True when every country's latest delivery is test, False when none is; a mix is refused."""
    test = sorted(code for code, c in counts.items() if c.test)
    real = sorted(code for code, c in counts.items() if not c.test)
    if test and real:
        raise MixedTestAndReal(f"{election}: test and real deliveries would mix in one version: test for "
                               f"{', '.join(test)}; real for {', '.join(real)}; nothing tallied until every country's "
                               f"latest delivery is of one kind (a real delivery for {', '.join(test)} ends it)")
    return bool(test)


def _national_votes(definition: Election, counts: CountryCounts) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    votes = counts.votes.copy()
    votes["constituency"] = votes["constituency"].fillna("").astype(str)
    national = votes.groupby("list_id", as_index=False, sort=False)["votes"].sum()
    meta = {e.list_id: e for e in definition.lists_of(counts.country)}
    national["alliance"] = [meta[l].alliance if l in meta else "" for l in national["list_id"]]
    national["minority"] = [int(meta[l].minority) if l in meta else 0 for l in national["list_id"]]
    national["independent"] = [int(meta[l].independent) if l in meta else 0 for l in national["list_id"]]
    by_constituency = votes[votes["constituency"] != ""]
    if by_constituency.empty:
        return national, None
    return national, by_constituency.groupby(["constituency", "list_id"], as_index=False, sort=False)["votes"].sum()


def _share(part: int | None, whole: int | None) -> str | None:
    if not part or not whole:
        return None
    return str(Fraction(part, whole).limit_denominator(10**9))


def tally_country(definition: Election, rules: dict, counts: CountryCounts, lots: dict | None = None):
    """One country's entry of the bundle, and its allocation."""
    rule = rules[counts.country]
    national, constituency = _national_votes(definition, counts)
    allocation = allocate_country(rule, national, constituency_votes=constituency,
                                  declared_seats=counts.declared_seats, totals=counts.totals, lots=lots or {})
    meta = {e.list_id: e for e in definition.lists_of(counts.country)}
    lists = []
    for row in national.sort_values("votes", ascending=False, kind="stable").itertuples():
        entry = meta.get(row.list_id)
        seats = int(allocation.seats.get(row.list_id, 0))
        lists.append({
            "list_id": row.list_id,
            "list_name": entry.list_name if entry else row.list_id,
            "party_abbrev": entry.party_abbrev if entry else "",
            "ep_group": (entry.ep_group if entry else "") or ("OTH" if seats else ""),
            "votes": int(row.votes),
            "seats": seats,
            "seats_by_constituency": {c: int(s[row.list_id]) for c, s in allocation.seats_by_constituency.items()
                                      if s.get(row.list_id)},
        })
    rule_row = next((r for r in definition.rules_of(counts.country) if not r.get("constituency")), {})
    return {
        "code": counts.country,
        "seats_total": definition.countries[counts.country].seats,
        "status": counts.status,
        "sequence": counts.sequence,
        "as_of": counts.as_of,
        "delivery_sha256": counts.sha256,
        **{k: counts.totals.get(k) for k in ("registered", "voters", "valid", "blank", "invalid")},
        "turnout": _share(counts.totals.get("voters"), counts.totals.get("registered")),
        "units_reporting": counts.units_reporting,
        "units_total": counts.units_total,
        "rule": {"method": rule_row.get("method", ""), "threshold_percent": rule_row.get("threshold_percent", ""),
                 "threshold_base": rule_row.get("threshold_base", ""),
                 "constituencies": rule_row.get("constituencies", ""),
                 "text": rule_row.get("special_notes", ""), "source": rule_row.get("source", "")},
        "lists": lists,
        "steps": allocation.steps,
        "ties": [t.to_dict() if hasattr(t, "to_dict") else dict(t) for t in allocation.ties],
        "complete": bool(getattr(allocation, "complete", True)),
        "corrections": counts.corrections,
        "test": counts.test,
        "gaps": list(allocation.gaps),
    }, allocation


def definition_digest(definition: Election) -> str:
    """SHA-256 of what a country's seats depend on besides its counts: the election definition (every
    field, as loaded) and the code of the seat engine and of this module."""
    digest = hashlib.sha256(repr(definition).encode("utf-8"))
    for path in sorted(Path(transforms.__file__).parent.glob("*.py")) + [Path(__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def country_key(definition: str, counts: CountryCounts, lots: dict | None) -> str:
    """What a country's tally is a function of: the definition's digest (:func:`definition_digest`),
    its accepted delivery (sequence, SHA-256, status, time, totals, units, test flag), the votes and
    declared seats the store gives for it, its corrections and its lots."""
    frames = [hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()
                             + json.dumps(list(map(str, frame.columns))).encode()).hexdigest()
              if frame is not None else None for frame in (counts.votes, counts.declared_seats)]
    facts = [definition, counts.country, counts.status, counts.sequence, counts.sha256, counts.as_of, counts.totals,
             counts.units_reporting, counts.units_total, counts.corrections, counts.test, lots or {}, frames]
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class _Tie:
    """An unresolved tie carried over from the previous version, as the EU aggregation reads it."""

    def __init__(self, data: dict):
        self._data = data

    def to_dict(self) -> dict:
        return dict(self._data)


@dataclass(frozen=True)
class CarriedAllocation:
    """What :func:`transforms.eu.aggregate` reads of a country's allocation, kept from the version that
    computed it: seats per list (in the allocation's order), seats total, turnout, unresolved ties."""

    seats: dict
    seats_total: int
    totals: Totals
    unresolved_ties: list
    complete: bool

    @classmethod
    def record(cls, allocation) -> dict:
        return {"seats": [[k, int(v)] for k, v in allocation.seats.items()], "seats_total": allocation.seats_total,
                "totals": allocation.totals.to_dict(), "ties": [t.to_dict() for t in allocation.unresolved_ties],
                "complete": bool(allocation.complete)}

    @classmethod
    def from_record(cls, data: dict) -> "CarriedAllocation":
        return cls(seats=dict((k, v) for k, v in data["seats"]), seats_total=data["seats_total"],
                   totals=Totals.from_mapping(data["totals"]), unresolved_ties=[_Tie(t) for t in data["ties"]],
                   complete=data["complete"])


def _agrees(entry: dict, allocation: dict | None) -> bool:
    """A carried allocation says what its entry says: the same seats per list, turnout figures,
    unresolved ties and completeness (only the order of its lists is its own)."""
    try:
        seats = {list_id: n for list_id, n in allocation["seats"] if n}
        return (seats == {e["list_id"]: e["seats"] for e in entry["lists"] if e["seats"]}
                and all(allocation["totals"].get(k) == entry.get(k) for k in ("registered", "voters"))
                and allocation["ties"] == [t for t in entry["ties"] if not t.get("resolved")]
                and allocation["complete"] == entry["complete"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


@dataclass
class CountryCache:
    """Per-country tally results carried from one version to the next (issue 16).

    A country's entry and allocation are a function of its :func:`country_key`; a country whose key
    is the previous version's keeps that version's results (``previous``) instead of being allocated
    again. :func:`build_bundle` fills ``current`` (this version's results, for the next one) and
    ``carried`` (the countries whose results were kept). The EU aggregate is always computed again."""

    definition: str
    previous: dict = field(default_factory=dict)
    current: dict = field(default_factory=dict)
    carried: list = field(default_factory=list)

    def load(self, data: bytes | None, bundle: dict) -> None:
        """Take the previous version's records (:meth:`dump`), each only if its entry is the one in that
        version's ``bundle`` (the caller checks the bundle against the store's digest of it); nothing
        if the records are absent or unreadable."""
        try:
            records = dict(json.loads(data)["countries"]) if data else {}
        except (ValueError, KeyError, TypeError):
            records = {}
        published = {c.get("code"): {k: v for k, v in c.items() if k != "previous" and k not in SINCE_FIELDS}
                     for c in bundle.get("countries", [])}
        self.previous = {code: r for code, r in records.items()
                         if isinstance(r, dict) and r.get("entry") is not None and r.get("entry") == published.get(code)
                         and _agrees(r["entry"], r.get("allocation"))}

    def dump(self) -> bytes:
        return json.dumps({"definition": self.definition, "countries": self.current}).encode()


def _same_inputs(entry: dict, definition: Election, counts: CountryCounts, lots: dict | None) -> bool:
    """Whether a previous entry (checked to be the published one) is of the same inputs as ``counts``,
    by what the entry itself says: the same accepted delivery (sequence, SHA-256, status, time),
    totals, corrections and test flag, the same seats, and no lot drawn for the country. The record's
    ``key`` sits in a file of the bucket that the store does not seal: it alone never carries a
    country over (a key rewritten to match a new delivery would keep the old results)."""
    def plain(value: object) -> object:
        return json.loads(json.dumps(value, default=str))

    facts = {"sequence": counts.sequence, "delivery_sha256": counts.sha256, "status": counts.status,
             "as_of": counts.as_of, "units_reporting": counts.units_reporting, "units_total": counts.units_total,
             "corrections": counts.corrections, "test": counts.test,
             "seats_total": definition.countries[counts.country].seats,
             **{k: counts.totals.get(k) for k in ("registered", "voters", "valid", "blank", "invalid")}}
    return not lots and all(plain(entry.get(k)) == plain(v) for k, v in facts.items())


def _empty_country(definition: Election, code: str) -> dict:
    return {
        "code": code, "seats_total": definition.countries[code].seats, "status": "none", "sequence": 0,
        "as_of": None, "delivery_sha256": None, "registered": None, "voters": None, "valid": None,
        "blank": None, "invalid": None, "turnout": None, "units_reporting": 0, "units_total": 0,
        "rule": {}, "lists": [], "steps": [], "ties": [], "complete": False, "corrections": [], "test": False,
    }


def build_bundle(definition: Election, counts: dict[str, CountryCounts], *, version: str, generated_at: datetime,
                 lots: dict | None = None, previous: dict | None = None, previous_bundle: dict | None = None,
                 context: dict | None = None, cache: CountryCache | None = None) -> dict:
    """The whole tally: every country (reported or not), the EU aggregate, what changed.

    ``context`` (:func:`historical_loader.context.election_context`): turnout since 1979 and the
    previous Parliament's groups, merged into each country's ``previous`` and ``eu.previous``.
    ``cache`` (:class:`CountryCache`): the previous version's per-country results; a country whose
    key did not change keeps them (the same entry a new allocation gives), the others are allocated.

    Raises :class:`MixedTestAndReal` when some countries' data is test and others' real."""
    test = is_test_version(counts, definition.id)
    counts, withheld = withhold_estimates(definition, counts)
    rules = parse_rules(list(definition.rules))
    gone = sorted(set(previous or {}) - set(definition.countries))  # e.g. the UK in 2024: not compared
    previous = {c: p for c, p in (previous or {}).items() if c in definition.countries} if previous else previous
    countries = []
    allocations = {}
    for code in sorted(definition.countries):
        if code in counts and cache is not None:
            key = country_key(cache.definition, counts[code], (lots or {}).get(code))
            kept = cache.previous.get(code)
            if kept is not None and kept.get("key") == key and _same_inputs(kept["entry"], definition, counts[code],
                                                                              (lots or {}).get(code)):
                record = kept
                cache.carried.append(code)
            else:
                entry, allocation = tally_country(definition, rules, counts[code], (lots or {}).get(code))
                record = {"key": key, "entry": json.loads(json.dumps(entry)),
                          "allocation": CarriedAllocation.record(allocation)}
            cache.current[code] = record
            entry = dict(record["entry"])  # "previous" and "since" (top-level keys only) go into this copy
            allocations[code] = CarriedAllocation.from_record(record["allocation"])
        elif code in counts:
            entry, allocations[code] = tally_country(definition, rules, counts[code], (lots or {}).get(code))
        else:
            entry = _empty_country(definition, code)
        if previous and code in previous:
            entry["previous"] = previous[code]
        if context and code in context.get("countries", {}):  # turnout of the previous election, since 1979
            entry.setdefault("previous", {"year": context["countries"][code]["turnout_year"]})
            entry["previous"] = {**entry["previous"], **context["countries"][code]}
        countries.append(entry)
    list_groups = {(e.country, e.list_id): e.ep_group or "OTH" for e in definition.lists}  # OTH: seats, no group
    eu = aggregate(allocations, list_groups, country_seats={c: v.seats for c, v in definition.countries.items()},
                   groups=definition.group_ids(), status={c: counts[c].status for c in counts}).to_dict()
    majority = eu["majority"]
    bundle = {
        "schema": "enr-bundle/1",
        "version": version,
        "generated_at": generated_at.isoformat(),
        "test": test,
        # made-up counts: a test night of a definition whose results files are synthetic (enr.synthetic)
        "synthetic": bool(definition.synthetic and test),
        "election": {
            "id": definition.id, "name": definition.name, "election_date": definition.election_date,
            "embargo": definition.embargo.isoformat(), "total_seats": definition.total_seats,
            "majority": majority, "languages": list(definition.languages),
            "groups": [{"id": g.id, "name": g.name, "color": g.color} for g in definition.groups],
            "group_rule": definition.group_rule,
        },
        "countries": countries,
        "eu": {
            **eu,
            "previous": {"seats_total": sum(p["seats_total"] for p in (previous or {}).values()),
                         "year": max((p["year"] for p in (previous or {}).values()), default=None),
                         "seats_by_country": {c: p["seats_total"] for c, p in (previous or {}).items()},
                         "countries_gone": gone, **((context or {}).get("eu") or {})},
        },
        "deliveries": [{"country": c.country, "sequence": c.sequence, "sha256": c.sha256, "status": c.status}
                       for c in sorted(counts.values(), key=lambda c: c.country)],
        "unresolved_ties": sum(1 for c in countries for t in c["ties"] if not t.get("resolved")),
    }
    bundle["election"]["timeline"] = definition.timeline()
    bundle["eu"]["as_of"] = generated_at.isoformat()  # the EU figures' time; their types: by_status
    bundle["withheld"] = withheld
    projection = eu_projection(definition, countries, previous, generated_at)
    if projection is not None:
        bundle["projection"] = projection
    _mark_since(bundle, previous_bundle)
    bundle["changes"] = diff_bundles(previous_bundle, bundle)
    return bundle


def withhold_estimates(definition: Election, counts: dict[str, CountryCounts]) -> tuple[dict, list[dict]]:
    """Leave out the national estimates the definition does not allow to publish
    (``estimates_allowed`` false or not given): such a country is tallied as not reported until its
    first count, and the bundle lists it under ``withheld`` (publication refuses an estimate there
    anyway: :mod:`publish.timeline`)."""
    kept, withheld = {}, []
    for code, c in counts.items():
        country = definition.countries.get(code)
        if c.status == "estimate" and not (country and country.estimates_allowed):
            withheld.append({"country": code, "sequence": c.sequence, "status": c.status,
                             "rule": "estimates_allowed"})
        else:
            kept[code] = c
    return kept, sorted(withheld, key=lambda w: w["country"])


def eu_projection(definition: Election, countries: list[dict], previous: dict | None,
                  generated_at: datetime) -> dict | None:
    """The bundle's ``projection`` (:mod:`transforms.projection`): each country's count, else its
    estimate, else its outgoing delegation; None before the definition's ``projection_from`` (the
    embargo when not given), before any country reported, and once every country has counted."""
    start = definition.projection_from or definition.embargo
    moment = generated_at if generated_at.tzinfo else generated_at.replace(tzinfo=timezone.utc)
    if moment < start or all(c["status"] == "none" for c in countries):
        return None
    bases: dict[str, CountryBasis] = {}
    for entry in countries:
        code = entry["code"]
        if entry["status"] != "none":
            groups: dict[str, int] = {}
            for item in entry["lists"]:
                if item["seats"]:
                    group = item["ep_group"] or "OTH"
                    groups[group] = groups.get(group, 0) + item["seats"]
            counted = entry["status"] in COUNTED or bool(entry.get("units_reporting"))
            bases[code] = CountryBasis("count" if counted else "estimate", groups, entry["status"])
        elif previous and code in previous:
            parties = previous[code]["parties"]
            lists = [{"list_id": e.list_id, "party_abbrev": e.party_abbrev, "list_name": e.list_name,
                      "ep_group": e.ep_group} for e in definition.lists_of(code)]
            mapping = party_groups(parties, lists, definition.outgoing_lists.get(code))
            bases[code] = CountryBasis("outgoing", outgoing_groups(parties, mapping))
    if len(bases) == len(definition.countries) and all(b.basis == "count" for b in bases.values()):
        return None
    result = project({c: v.seats for c, v in definition.countries.items()}, bases, groups=definition.group_ids())
    return {"type": "projection", "as_of": moment.isoformat(), "from": start.isoformat(),
            "outgoing_year": (definition.previous or {}).get("year"), **result.to_dict()}


SINCE_FIELDS = ("since_version", "since_generated_at")


def _mark_since(bundle: dict, previous_bundle: dict | None) -> None:
    """Each country's ``since_version``: the version in which its entry last changed (its pages show it).

    An entry equal to the previous version's (all fields but these two) keeps the previous
    ``since_version`` and ``since_generated_at``; a new or changed one gets this version's.
    """
    old = {c["code"]: c for c in (previous_bundle or {}).get("countries", [])}
    for country in bundle["countries"]:
        prev = old.get(country["code"])
        same = prev is not None and {k: v for k, v in prev.items() if k not in SINCE_FIELDS} == \
            json.loads(json.dumps({k: v for k, v in country.items() if k not in SINCE_FIELDS}, default=str))
        if same:
            country["since_version"] = prev.get("since_version") or previous_bundle["version"]
            country["since_generated_at"] = prev.get("since_generated_at") or previous_bundle["generated_at"]
        else:
            country["since_version"] = bundle["version"]
            country["since_generated_at"] = bundle["generated_at"]


def diff_bundles(before: dict | None, after: dict) -> list[dict]:
    """What changed from one version to the next, country by country (for feeds and the site)."""
    if before is None:
        return [{"country": c["code"], "what": "first results", "status": c["status"]}
                for c in after["countries"] if c["status"] != "none"]
    old = {c["code"]: c for c in before["countries"]}
    changes = []
    for country in after["countries"]:
        prev = old.get(country["code"])
        if prev is None or prev.get("delivery_sha256") == country.get("delivery_sha256"):
            continue
        if prev["status"] != country["status"]:
            changes.append({"country": country["code"], "what": "status", "before": prev["status"],
                            "after": country["status"]})
        prev_lists = {l["list_id"]: l for l in prev["lists"]}
        for entry in country["lists"]:
            before_entry = prev_lists.get(entry["list_id"], {"votes": 0, "seats": 0})
            for key in ("seats", "votes"):
                if before_entry.get(key) != entry[key]:
                    changes.append({"country": country["code"], "list_id": entry["list_id"], "what": key,
                                    "before": before_entry.get(key), "after": entry[key]})
    return changes
