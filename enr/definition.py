"""Election definitions: the data that says what an election is.

An election definition lives in ``elections/<election_id>/`` and is data, not code:

* ``election.json``: id, name, polling days, embargo (ISO 8601 with offset), total seats,
  the 24 languages, the political groups, and per country the number of seats;
* ``countries/<CC>.toml``: each country's electoral law as data, one readable file per country
  (method, threshold, constituencies, the legal source ...; :mod:`transforms.country_file`). A
  definition without a ``countries/`` folder may hold the older tabular form instead, ``rules.csv``
  (one row per country and per constituency); both are validated by :mod:`transforms.rules`;
* ``lists.csv``: the lists on the ballot with their political group;
* ``units/<CC>.csv`` (optional): the reporting units of a country;
* ``outgoing_lists.csv`` (optional): which list now continues an outgoing party whose name changed
  (the EU projection puts a country without figures at its outgoing delegation, by group).

The night's timeline is data too: ``projection_from`` (the EU projection's time) and, per country,
``polls_close`` and ``estimates_allowed`` (see :meth:`Election.timeline` and :mod:`publish.timeline`).

Everything is read at run time through :func:`load_election`; nothing is read at import.
"""
from __future__ import annotations

import csv
import json
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from transforms.country_file import rule_rows
from transforms.errors import RuleError
from transforms.rules import RuleRow

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DefinitionError(ValueError):
    """An election definition file is missing or malformed (names the file and the row)."""


def elections_root() -> Path:
    return Path(os.environ.get("ENR_ELECTIONS_DIR", PROJECT_ROOT / "elections"))


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    color: str


@dataclass(frozen=True)
class ListEntry:
    country: str
    list_id: str
    list_name: str
    party_abbrev: str
    ep_group: str
    alliance: str = ""
    minority: bool = False
    independent: bool = False


@dataclass(frozen=True)
class Country:
    code: str
    seats: int
    #: when the country's last polling stations close (``countries.<CC>.polls_close``, with offset); None: not given
    polls_close: datetime | None = None
    #: a national estimate (exit poll) may be published there once its polls closed (``estimates_allowed``)
    estimates_allowed: bool = False


@dataclass(frozen=True)
class Election:
    id: str
    name: str
    term: int
    election_date: str
    polling_days: tuple[str, ...]
    embargo: datetime
    timezone: str
    total_seats: int
    group_rule: str
    languages: tuple[str, ...]
    groups: tuple[Group, ...]
    countries: dict[str, Country]
    lists: tuple[ListEntry, ...]
    #: each country's law as rows of strings (:func:`read_rules`: the country files, or an older rules.csv)
    rules: tuple[dict[str, str], ...]
    previous: dict = field(default_factory=dict)
    results_files: dict = field(default_factory=dict)
    path: Path = PROJECT_ROOT
    #: when the last polling stations close (``polls_close``, ISO 8601 with offset); None: not given
    polls_close: datetime | None = None
    #: ``outgoing_lists.csv``: per country, outgoing party abbreviation -> the list that continues it now
    outgoing_lists: dict = field(default_factory=dict, compare=False, hash=False)
    #: from when the EU projection may be published (``projection_from``, with offset); None: from the embargo
    projection_from: datetime | None = None
    #: the per-country facts of ``election.json`` as written (blank_reported, stv_constituencies ...)
    country_facts: dict = field(default_factory=dict, compare=False, hash=False)

    def timeline(self) -> dict:
        """The night's timeline as the bundle carries it (``election.timeline``, docs/CONTRACTS.md):
        the embargo, the projection's time and each country's poll closing and estimate permission.
        Publication reads it from the signed bundle (:mod:`publish.timeline`)."""
        return {
            "embargo": self.embargo.isoformat(),
            "projection_from": (self.projection_from or self.embargo).isoformat(),
            "countries": {code: {"polls_close": c.polls_close.isoformat() if c.polls_close else None,
                                 "estimates_allowed": c.estimates_allowed}
                          for code, c in sorted(self.countries.items())},
        }

    def lists_of(self, country: str) -> list[ListEntry]:
        return [entry for entry in self.lists if entry.country == country]

    def group_ids(self) -> list[str]:
        return [g.id for g in self.groups]

    def rules_of(self, country: str) -> list[dict[str, str]]:
        return [r for r in self.rules if r.get("country") == country]

    @property
    def synthetic(self) -> bool:
        """The definition's results files are made up (``results_files.synthetic``: ep2024, see
        :mod:`enr.synthetic`); a test night drawn from them is marked synthetic wherever it is shown."""
        return bool(self.results_files.get("synthetic"))

    def resolve(self, relative: str) -> Path:
        """A path named in the definition: relative to the project root, or, written ``./...``, to the
        definition's own folder (a definition kept outside the repository, ``ENR_ELECTIONS_DIR``)."""
        if relative.startswith("./"):
            return self.path / relative[2:]
        return PROJECT_ROOT / relative


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_country_file(path: Path) -> list[RuleRow]:
    """The rows of one country file (``countries/DE.toml``), placed as ``countries/DE.toml`` in errors.
    Not TOML: :class:`DefinitionError` naming the file and the line; a key that is not one of a
    country file: :class:`transforms.errors.RuleError` naming the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(f"{path}: not valid TOML: {exc}") from exc
    return rule_rows(path.stem, data, f"{path.parent.name}/{path.name}")


def rule_files(folder: Path, countries: Iterable[str]) -> list[Path]:
    """The country files of a definition: those of ``countries`` (election.json's order) first,
    then any other, by name (``enr check-election`` reports a file for no country of the election)."""
    files = {p.stem: p for p in (folder / "countries").glob("*.toml")}
    order = [c for c in countries if c in files] + sorted(set(files) - set(countries))
    return [files[c] for c in order]


def read_rules(folder: Path, countries: Iterable[str]) -> tuple[RuleRow, ...]:
    """The law of every country as rows for :func:`transforms.rules.parse_rules`: from the country
    files when the definition has a ``countries/`` folder, else from the older ``rules.csv`` (a
    definition written before the country files; no rules at all when neither is there)."""
    countries = list(countries)
    if (folder / "countries").is_dir():
        rows: list[RuleRow] = []
        for path in rule_files(folder, countries):
            try:
                rows.extend(read_country_file(path))
            except RuleError as exc:
                raise DefinitionError(f"{folder}/{exc}") from exc
        return tuple(rows)
    return tuple(RuleRow(row, file="rules.csv", number=n) for n, row in enumerate(_read_csv(folder / "rules.csv"), 1))


def _moment(value, where: str) -> datetime | None:
    """An ISO 8601 time with its UTC offset (a time without one is ambiguous on a night spanning
    three time zones: :class:`DefinitionError`, naming the key); None when not given."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise DefinitionError(f"{where}: {value!r} is not an ISO 8601 time") from exc
    if moment.utcoffset() is None:
        raise DefinitionError(f"{where}: {value!r} has no UTC offset")
    return moment


def _country(meta_path: Path, code: str, facts: dict) -> Country:
    close = _moment(facts.get("polls_close"), f"{meta_path} countries.{code}.polls_close")
    allowed = facts.get("estimates_allowed", False)
    if not isinstance(allowed, bool):
        raise DefinitionError(f"{meta_path} countries.{code}.estimates_allowed: {allowed!r} is not true or false")
    return Country(code=code, seats=int(facts["seats"]), polls_close=close, estimates_allowed=allowed)


def _check_timeline(meta_path: Path, embargo: datetime, countries: dict[str, Country],
                    projection_from: datetime | None) -> None:
    """The timeline's order: no country's polls close after the embargo (counts would leave while
    people still vote), and the projection's time is not after it."""
    for code, country in countries.items():
        if country.polls_close is not None and country.polls_close > embargo:
            raise DefinitionError(f"{meta_path} countries.{code}.polls_close: {country.polls_close.isoformat()} is "
                                  f"after the embargo {embargo.isoformat()}")
    if projection_from is not None and projection_from > embargo:
        raise DefinitionError(f"{meta_path} projection_from: {projection_from.isoformat()} is after the embargo "
                              f"{embargo.isoformat()}")


def _flag(value: str | None) -> bool:
    return (value or "").strip() in {"1", "true", "True", "yes"}


@lru_cache(maxsize=8)
def load_election(election_id: str) -> Election:
    """Read ``elections/<election_id>/`` into an :class:`Election`."""
    folder = elections_root() / election_id
    meta_path = folder / "election.json"
    if not meta_path.exists():
        known = sorted(p.name for p in elections_root().iterdir() if (p / "election.json").exists())
        raise DefinitionError(f"{meta_path}: no such election definition (known: {', '.join(known)})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{meta_path}: not valid JSON: {exc}") from exc
    countries = {code: _country(meta_path, code, c) for code, c in meta["countries"].items()}
    if sum(c.seats for c in countries.values()) != int(meta["total_seats"]):
        raise DefinitionError(f"{meta_path}: country seats add up to "
                              f"{sum(c.seats for c in countries.values())}, not total_seats {meta['total_seats']}")
    group_ids = {g["id"] for g in meta["groups"]}
    lists = []
    for lineno, row in enumerate(_read_csv(folder / "lists.csv"), start=2):
        if row["country"] not in countries:
            raise DefinitionError(f"{folder / 'lists.csv'} row {lineno}: unknown country {row['country']!r}")
        group = row.get("ep_group") or ""  # empty: the list has no members in a group (yet)
        if group and group not in group_ids:
            raise DefinitionError(f"{folder / 'lists.csv'} row {lineno}: unknown group {group!r}")
        lists.append(ListEntry(country=row["country"], list_id=row["list_id"], list_name=row["list_name"],
                               party_abbrev=row.get("party_abbrev", ""), ep_group=group,
                               alliance=row.get("alliance", "") or "", minority=_flag(row.get("minority")),
                               independent=_flag(row.get("independent"))))
    _check_timeline(meta_path, datetime.fromisoformat(meta["embargo"]), countries,
                    _moment(meta.get("projection_from"), f"{meta_path} projection_from"))
    list_ids = {(entry.country, entry.list_id) for entry in lists}
    outgoing: dict[str, dict[str, str]] = {}
    for lineno, row in enumerate(_read_csv(folder / "outgoing_lists.csv"), start=2):
        if (row.get("country"), row.get("list_id")) not in list_ids:
            raise DefinitionError(f"{folder / 'outgoing_lists.csv'} row {lineno}: list {row.get('list_id')!r} is not "
                                  f"a list of {row.get('country')!r} in lists.csv")
        outgoing.setdefault(row["country"], {})[row["party_abbrev"]] = row["list_id"]
    return Election(
        id=meta["id"], name=meta["name"], term=int(meta.get("term", 0)),
        election_date=meta["election_date"], polling_days=tuple(meta.get("polling_days", ())),
        embargo=datetime.fromisoformat(meta["embargo"]), timezone=meta.get("timezone", "Europe/Brussels"),
        total_seats=int(meta["total_seats"]), group_rule=meta.get("group_rule", ""),
        languages=tuple(meta["languages"]),
        groups=tuple(Group(g["id"], g["name"], g.get("color", "#999999")) for g in meta["groups"]),
        countries=countries, lists=tuple(lists), rules=read_rules(folder, countries),
        previous=meta.get("previous", {}), results_files=meta.get("results_files", {}), path=folder,
        polls_close=datetime.fromisoformat(meta["polls_close"]) if meta.get("polls_close") else None,
        country_facts={code: dict(c) for code, c in meta["countries"].items()},
        outgoing_lists=outgoing,
        projection_from=_moment(meta.get("projection_from"), f"{meta_path} projection_from"),
    )
