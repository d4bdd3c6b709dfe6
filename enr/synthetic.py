"""Synthetic results: made-up counts for an election the project holds no results of (ep2024).

The project has the 2024 lists but no 2024 counts, and must not pretend to. A rehearsal, a demo
or a test of a 2024 night therefore needs counts that are *clearly made up*, drawn from a model
written down here and seeded, so that the same seed gives the same numbers every time:

* **Electorate** (per country): the 2019 registered voters (``data/ep2019/turnout.csv``; the
  project has no 2024 register); **turnout** = the 2019 turnout times ``exp(N(0, 0.05))``,
  capped at 95 %; **invalid** and **blank** ballots: the 2019 shares of the ballots cast (blank
  only where the country reports blank ballots, ``blank_reported``).
* **List shares** (:func:`starting_shares`): each 2024 list whose party stood in 2019 (same
  ``list_id``, else same ``party_abbrev``, case-insensitive, in the same country) starts from that
  party's 2019 share of the valid votes; a joint list (``party_abbrev`` such as ``PSD - PNL``) from
  the sum of its parties' 2019 shares; any other list from ``U(0.5 %, 3 %)``; the votes of lists
  the definition does not itemise (``_other``) start from the 2019 ``_other`` share. Every share is
  then multiplied by ``exp(N(0, 0.2))`` and all are normalised; the valid votes are split by the
  largest-remainder method (exact sums).
* **Constituencies** (BE colleges, IE STV constituencies, IT circoscrizioni:
  ``constituency_lists.csv``; plus ``constituencies_without_seats``, IT's sections abroad, and the
  constituencies of the country rules that have no list of their own (PL okręgi), where every list of
  the country stands): the valid votes are split over the constituencies in proportion to their
  2019 size (votes by constituency, else the registered voters of the 2019 units: PL; the mean
  size for a constituency new in 2024), then each constituency's votes
  over the lists standing there, by the same shares; a list's national votes are its sum.
* **Several votes per voter** (LU): the list votes are the valid ballots times the 2019 ratio of
  list votes to valid ballots.
* **STV seats** (IE, MT): a synthetic count cannot transfer preferences, so the declared seats are
  D'Hondt on the synthetic first preferences, per STV constituency (a stand-in, said in the
  files' notes).

:func:`write_synthetic` writes the three results files of the definition
(``results_national.csv``, ``turnout.csv``, ``results_constituency.csv``, same layout as
``data/ep2019``) and the definition declares them with ``results_files.synthetic: true``. The
replay then draws its units' counts from them as it does from real results; every night made
from them is test-flagged and marked **synthetic** in the bundle, the feeds and on every page
(:attr:`enr.definition.Election.synthetic`).

``enr write-synthetic --election ep2024 [--seed N]``.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import re
from pathlib import Path

import numpy as np

from enr.definition import DefinitionError, Election, load_election
from enr.simulation import apportion
from enr.units import units_of

log = logging.getLogger(__name__)

OTHER = "_other"
BASE = "ep2019"
TURNOUT_SIGMA = 0.05
SHARE_SIGMA = 0.2
NEW_LIST_SHARE = (0.005, 0.03)
MAX_TURNOUT = 0.95


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _dhondt(seats: int, votes: dict[str, int]) -> dict[str, int]:
    won = {k: 0 for k in votes}
    for _ in range(seats):
        best = max(votes, key=lambda k: (votes[k] / (won[k] + 1), votes[k], k))
        won[best] += 1
    return {k: v for k, v in won.items() if v}


class _Base:
    """The 2019 facts the model starts from."""

    def __init__(self, base: Election) -> None:
        files = base.results_files
        self.national = _rows(base.resolve(files["national"]))
        self.turnout = {r["country"]: r for r in _rows(base.resolve(files["turnout"]))}
        self.constituency = _rows(base.resolve(files["constituency"])) if "constituency" in files else []
        self.base = base

    def list_share(self, country: str, list_id: str, party: str) -> float | None:
        rows = [r for r in self.national if r["country"] == country and r["votes"].strip()]
        valid = self.valid(country)
        for row in rows:
            if row["list_id"] == list_id:
                return int(row["votes"]) / valid
        for row in rows:
            if party and row["party_abbrev"].strip().lower() == party.strip().lower():
                return int(row["votes"]) / valid
        return None

    def valid(self, country: str) -> int:
        t = self.turnout[country]
        if t["valid_votes"].strip():
            return int(t["valid_votes"])
        return sum(int(r["votes"]) for r in self.national if r["country"] == country and r["votes"].strip())

    def other_share(self, country: str) -> float:
        listed = sum(int(r["votes"]) for r in self.national if r["country"] == country and r["votes"].strip())
        votes_per_voter = int(_raw_country(self.base, country).get("votes_per_voter", 1))
        if votes_per_voter != 1:
            return 0.0
        return max(0.0, (self.valid(country) - listed) / self.valid(country))

    def list_ratio(self, country: str) -> float:
        listed = sum(int(r["votes"]) for r in self.national if r["country"] == country and r["votes"].strip())
        return listed / self.valid(country)

    def constituency_sizes(self, country: str) -> dict[str, int]:
        """Votes per constituency in the base election; else its units' registered voters (PL 2019)."""
        sizes: dict[str, int] = {}
        for row in self.constituency:
            if row["country"] == country and row["votes"].strip():
                sizes[row["constituency"]] = sizes.get(row["constituency"], 0) + int(row["votes"])
        if not sizes and country in self.base.countries:
            try:
                units = units_of(self.base.id, country, 1.0)
            except DefinitionError:  # no unit list in the base: the mean size applies
                return sizes
            known = units[units["registered"].notna() & units["constituency"].ne("")]
            sizes = {str(k): int(v) for k, v in known.groupby("constituency")["registered"].sum().items()}
        return sizes


def _raw_country(definition: Election, country: str) -> dict:
    return definition.country_facts.get(country, {})


def _constituency_lists(definition: Election) -> dict[str, dict[str, list[str]]]:
    spec = (definition.results_files or {}).get("constituency_lists")
    if not spec:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for row in _rows(definition.resolve(spec)):
        out.setdefault(row["country"], {}).setdefault(row["constituency"], []).append(row["list_id"])
    return out


JOINT = re.compile(r"\s+[-–+/]\s+|\s*\+\s*")


def starting_shares(definition: Election, base: "_Base", country: str,
                    rng: np.random.Generator) -> dict[str, tuple[float, str]]:
    """Each list's share before the noise, and where it comes from: ``2019`` (the same list id or
    party), ``joint`` (a joint list, ``party_abbrev`` like ``PSD - PNL`` or ``GL - PvdA``: the sum of its
    parties' 2019 shares), ``new`` (``U(0.5 %, 3 %)``); ``_other``: the 2019 share of lists not itemised."""
    out: dict[str, tuple[float, str]] = {}
    for entry in definition.lists_of(country):
        share = base.list_share(country, entry.list_id, entry.party_abbrev)
        if share:
            out[entry.list_id] = (share, "2019")
            continue
        parts = [p for p in JOINT.split(entry.party_abbrev or "") if p.strip()]
        joint = [base.list_share(country, "", p) for p in parts] if len(parts) > 1 else []
        if any(joint):
            out[entry.list_id] = (sum(s for s in joint if s), "joint")
        else:
            out[entry.list_id] = (float(rng.uniform(*NEW_LIST_SHARE)), "new")
    other = base.other_share(country)
    if other > 0:
        out[OTHER] = (other, "2019")
    return out


def generate(election: str, seed: int = 0) -> dict[str, list[dict]]:
    """The synthetic results files of ``election`` as rows (see the module docstring)."""
    definition = load_election(election)
    base = _Base(load_election(definition.results_files.get("synthetic_base", BASE)))
    by_constituency = _constituency_lists(definition)
    national, turnout, constituency = [], [], []
    for country in sorted(definition.countries):
        raw = _raw_country(definition, country)
        rng = _rng("synthetic", election, country, seed)
        t = base.turnout[country]
        registered = int(t["registered_voters"])
        voters_2019 = int(t["voters"])
        rate = min(MAX_TURNOUT, voters_2019 / registered * float(np.exp(rng.normal(0, TURNOUT_SIGMA))))
        voters = round(registered * rate)
        invalid_2019 = int(t["invalid_votes"] or voters_2019 - base.valid(country) - int(t["blank_votes"] or 0))
        invalid = round(voters * invalid_2019 / voters_2019)
        blank = round(voters * int(t["blank_votes"]) / voters_2019) if raw.get("blank_reported") and \
            t["blank_votes"].strip() else (0 if raw.get("blank_reported") else None)
        valid = voters - invalid - (blank or 0)
        entries = definition.lists_of(country)
        weights = {list_id: share for list_id, (share, _) in starting_shares(definition, base, country, rng).items()}
        ids = list(weights)
        noisy = np.array([weights[i] for i in ids]) * np.exp(rng.normal(0, SHARE_SIGMA, len(ids)))
        share = dict(zip(ids, noisy / noisy.sum()))
        votes_per_voter = int(raw.get("votes_per_voter", 1))
        list_total = valid if votes_per_voter == 1 else round(valid * base.list_ratio(country))
        votes: dict[str, int] = {}
        groups = by_constituency.get(country)
        named = sorted({r["constituency"] for r in definition.rules_of(country) if r.get("constituency")})
        if not groups and named:  # constituencies of the law but no list per constituency (PL): all lists everywhere
            groups = {name: [e.list_id for e in entries] for name in named}
        if groups:  # a constituency without seats of its own (IT: the sections abroad): every list stands there
            groups = {**groups, **{name: [e.list_id for e in entries]
                                   for name in raw.get("constituencies_without_seats", ())}}
        seats_by: dict[tuple[str, str], int] = {}
        if groups:
            sizes = base.constituency_sizes(country)
            names = sorted(groups)
            size = [sizes.get(n, 0) or (sum(sizes.values()) / max(1, len(sizes)) if sizes else 1) for n in names]
            for name, amount in zip(names, apportion(list_total, size)):
                members = groups[name] + ([OTHER] if OTHER in share else [])
                split = apportion(int(amount), [share[m] for m in members])
                row_votes = dict(zip(members, (int(v) for v in split)))
                for list_id in groups[name]:
                    constituency.append({"country": country, "constituency": name, "list_id": list_id,
                                         "votes": row_votes[list_id], "seats": ""})
                    votes[list_id] = votes.get(list_id, 0) + row_votes[list_id]
                votes[OTHER] = votes.get(OTHER, 0) + row_votes.get(OTHER, 0)
                stv_seats = _stv_seats(definition, country, name)
                if stv_seats:
                    for list_id, won in _dhondt(stv_seats, {l: row_votes[l] for l in groups[name]}).items():
                        seats_by[(name, list_id)] = won
        else:
            split = apportion(list_total, [share[i] for i in ids])
            votes = dict(zip(ids, (int(v) for v in split)))
            if raw.get("stv_constituencies") == [""]:
                for list_id, won in _dhondt(definition.countries[country].seats,
                                            {l: v for l, v in votes.items() if l != OTHER}).items():
                    seats_by[("", list_id)] = won
        for row in constituency:
            if row["country"] == country and (row["constituency"], row["list_id"]) in seats_by:
                row["seats"] = seats_by[(row["constituency"], row["list_id"])]
        national_seats: dict[str, int] = {}
        for (_, list_id), won in seats_by.items():
            national_seats[list_id] = national_seats.get(list_id, 0) + won
        for entry in entries:
            national.append({"country": country, "list_id": entry.list_id, "list_name": entry.list_name,
                             "party_abbrev": entry.party_abbrev, "votes": votes.get(entry.list_id, 0),
                             "seats": national_seats.get(entry.list_id, "" if not seats_by else 0),
                             "ep_group": entry.ep_group, "alliance": entry.alliance,
                             "minority": "1" if entry.minority else "", "independent": "1" if entry.independent else ""})
        turnout.append({"country": country, "registered_voters": registered, "voters": voters, "valid_votes": valid,
                        "blank_votes": "" if blank is None else blank, "invalid_votes": invalid})
    return {"national": national, "turnout": turnout, "constituency": constituency}


def _stv_seats(definition: Election, country: str, constituency: str) -> int:
    if constituency not in _raw_country(definition, country).get("stv_constituencies", ()):
        return 0
    for rule in definition.rules_of(country):
        if rule.get("constituency") == constituency and (rule.get("seats") or "").strip():
            return int(rule["seats"])
    return 0


FILE_COLUMNS = {
    "national": ["country", "list_id", "list_name", "party_abbrev", "votes", "seats", "ep_group", "alliance",
                 "minority", "independent"],
    "turnout": ["country", "registered_voters", "voters", "valid_votes", "blank_votes", "invalid_votes"],
    "constituency": ["country", "constituency", "list_id", "votes", "seats"],
}


def write_synthetic(election: str, seed: int = 0) -> list[Path]:
    """Write the synthetic results files where the definition's ``results_files`` name them."""
    definition = load_election(election)
    if not definition.synthetic:
        raise ValueError(f"{election}: results_files.synthetic is not true; refusing to overwrite real results")
    tables = generate(election, seed)
    written = []
    for key, rows in tables.items():
        path = definition.resolve(definition.results_files[key])
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=FILE_COLUMNS[key], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written
