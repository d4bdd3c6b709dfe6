"""The replay's simulation: the real results a replayed night adds up to, and the unit lists made from them.

A replayed night (:mod:`enr.replay`) reproduces the definition's real results unit by unit. This
module derives what it reproduces, from the definition's results files:

* :func:`national_targets`: the real national totals of a country (list votes from
  ``results_national.csv``; registered, voters, blank, invalid from ``turnout.csv``), made
  consistent with the derivations documented in docs/DELIVERY.md ("Replay");
* :func:`fine_counts`: the real unit-level counts where the data has them (2019 PL by gmina, HU by
  polling station, NL by municipality), plus one ``<CC>-REST`` unit when the national totals are
  larger than the file (HU: postal votes and missions abroad are not itemised by polling station);
* :func:`generate_units`: the unit list of a country, the generator of the definition's
  ``units/<CC>.csv`` (``enr write-units --election ep2019``, run once and committed):

  1. the real units of the unit-level results file named in ``election.json`` (``results_files.fine``);
  2. elsewhere synthetic units ``<CC>-00001`` ... : ``clamp(round(registered / 250 000), 20, 200)``
     of them, spread over the country's constituencies (IT circoscrizioni and the sections abroad,
     BE electoral colleges, UK regions, IE STV constituencies) in proportion to their valid votes,
     at least two per constituency;

* :func:`units_at_scale`: the scaled unit sets of rehearsals and benchmarks (``ENR_UNITS_SCALE``:
  a number, or ``municipal`` = the country's real number of municipalities, :data:`MUNICIPAL_UNITS`,
  or ``municipal*F``), generated once into ``$ENR_HOME/units/<election>/<scale>/`` and then read
  through the same path as the definition's (:func:`enr.units.units_path`).

What the intake needs of the units (the registry, its row and byte limits) is :mod:`enr.units`, in the
core; this module is an operation (the replay, the contractor pack and ``enr write-units`` use it).
"""
from __future__ import annotations

import csv
import gzip
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from enr.definition import DefinitionError, load_election
from enr.delivery import OTHER_LIST
from enr.units import (UNIT_FILE_COLUMNS, country_profile, normalize_scale, unit_file_spec, units_of, units_path,
                       units_scale)

UNITS_PER_REGISTERED = 250_000
MIN_UNITS, MAX_UNITS = 20, 200
MIN_UNITS_PER_CONSTITUENCY = 2
REST_UNIT = "{country}-REST"
# Where the votes of lists that the definition does not itemise were cast (see data/ep2019/SOURCES.md):
# BE: lists of the Dutch-speaking college; UK: the three South East independents.
RESIDUAL_CONSTITUENCY = {"BE": "Dutch-speaking electoral college", "UK": "South East"}

# The "municipal" scale: a realistic number of reporting units per country where the replay has
# no real unit-level file: municipalities (communes, Gemeinden, comuni, municipios, obce, ...) as
# counted around 2019, from the national statistical offices' lists (rounded; overseas and
# abroad units included where results are reported for them). PL, HU and NL use their real units.
MUNICIPAL_UNITS = {
    "AT": 2096, "BE": 581, "BG": 265, "CY": 380, "CZ": 6258, "DE": 11014, "DK": 98, "EE": 79, "EL": 332,
    "ES": 8131, "FI": 311, "FR": 35000, "HR": 556, "IE": 31, "IT": 7915, "LT": 60, "LU": 102, "LV": 119,
    "MT": 68, "PT": 3092, "RO": 3181, "SE": 290, "SI": 212, "SK": 2927, "UK": 382,
}

# -- the real results files ----------------------------------------------------------------------

def _csv_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=4)
def _results(election: str) -> tuple[dict, dict, list]:
    definition = load_election(election)
    files = definition.results_files
    national: dict[str, dict[str, str]] = {}
    for row in _csv_rows(definition.resolve(files["national"])) if "national" in files else []:
        national.setdefault(row["country"], {})[row["list_id"]] = row["votes"]
    turnout = {row["country"]: row for row in (_csv_rows(definition.resolve(files["turnout"]))
                                                 if "turnout" in files else [])}
    constituency = _csv_rows(definition.resolve(files["constituency"])) if "constituency" in files else []
    return national, turnout, constituency


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value else None


@dataclass(frozen=True)
class Targets:
    """The real national totals of a country (what the last wave of a replay adds up to)."""

    country: str
    registered: int
    voters: int
    blank: int | None
    invalid: int
    valid: int
    lists: dict[str, int]
    other: int
    constituencies: dict[str, dict[str, int]]
    other_by_constituency: dict[str, int]
    notes: tuple[str, ...] = field(default=())


def apportion(total: int, weights) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` (largest remainder; exact sum)."""
    weights = np.asarray(weights, dtype="float64")
    out = np.zeros(len(weights), dtype="int64")
    if total <= 0 or len(weights) == 0:
        return out
    if weights.sum() <= 0:
        weights = np.ones(len(weights))
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype("int64")
    rest = int(total - out.sum())
    if rest:
        order = np.argsort(-(raw - out), kind="stable")
        out[order[:rest]] += 1
    return out


@lru_cache(maxsize=64)
def national_targets(election: str, country: str) -> Targets:
    """National totals from the definition's results files, made consistent (see docs/DELIVERY.md)."""
    national, turnout, constituency_rows = _results(election)
    if country not in national or country not in turnout:
        raise DefinitionError(f"{election}: no national results for {country}")
    profile = country_profile(election, country)
    notes: list[str] = []
    fine = _fine_raw(election, country)
    lists: dict[str, int] = {}
    for list_id, votes in national[country].items():
        value = _int(votes)
        if value is None and fine is not None and list_id in set(fine["list_id"]):
            value = int(fine.loc[fine["list_id"] == list_id, "votes"].sum())
            notes.append(f"{list_id}: national votes unknown; the unit-level file's {value} is used")
        if value is None:
            notes.append(f"{list_id}: votes unknown; no rows (its votes are in {OTHER_LIST} where known)")
            continue
        lists[list_id] = value
    t = turnout[country]
    registered, voters = _int(t["registered_voters"]), _int(t["voters"])
    blank = _int(t["blank_votes"]) if profile.blank_reported else None
    valid = _int(t["valid_votes"])
    list_sum = sum(lists.values())
    if profile.votes_per_voter == 1:
        if valid is None:
            valid = list_sum
            notes.append("valid votes unknown: valid := sum of list votes")
        elif list_sum > valid:
            notes.append(f"list votes exceed valid votes by {list_sum - valid}: valid := sum of list votes")
            valid = list_sum
        other = valid - list_sum
        if other:
            notes.append(f"{other} valid votes of lists not itemised: list {OTHER_LIST}")
    else:
        other = 0
    invalid = voters - valid - (blank or 0)
    if _int(t["invalid_votes"]) not in (None, invalid):
        notes.append(f"invalid := voters - valid - blank = {invalid} (turnout file: {t['invalid_votes']})")
    by_constituency: dict[str, dict[str, int]] = {}
    for row in constituency_rows:
        if row["country"] == country and _int(row["votes"]) is not None:
            by_constituency.setdefault(row["constituency"], {})[row["list_id"]] = int(row["votes"])
    if not by_constituency:
        by_constituency = {"": dict(lists)}
    other_by: dict[str, int] = {c: 0 for c in by_constituency}
    if other:
        home = RESIDUAL_CONSTITUENCY.get(country)
        if home in other_by:
            other_by[home] = other
        else:
            names = sorted(by_constituency)
            for name, share in zip(names, apportion(other, [sum(by_constituency[n].values()) for n in names])):
                other_by[name] = int(share)
    return Targets(country=country, registered=registered, voters=voters, blank=blank, invalid=invalid,
                   valid=valid, lists=lists, other=other, constituencies=by_constituency,
                   other_by_constituency=other_by, notes=tuple(notes))


# -- unit-level files ------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _fine_raw(election: str, country: str) -> pd.DataFrame | None:
    """The unit-level file with the definition's list ids and constituencies (no residual unit)."""
    spec = unit_file_spec(election, country)
    if spec is None:
        return None
    definition = load_election(election)
    path = definition.resolve(spec["file"])
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        df = pd.read_csv(handle, dtype={"unit_id": str, "unit_name": str, "parent_id": str, "list_id": str,
                                        "list_name": str}, keep_default_na=False)
    if spec.get("list_match") == "list_ids":
        mapping = spec["list_ids"]
    else:
        by_name = {e.list_name: e.list_id for e in definition.lists_of(country)}
        mapping = {fid: by_name.get(name) for fid, name in zip(df["list_id"], df["list_name"])}
    unmatched = sorted({fid for fid in df["list_id"] if not mapping.get(fid)})
    if unmatched:
        raise DefinitionError(f"{path}: list(s) {unmatched} match no list of {country} in the definition")
    df["list_id"] = df["list_id"].map(mapping)
    df["constituency"] = ""
    if spec.get("constituencies"):
        prefixes = {row["prefix"]: row["constituency"] for row in _csv_rows(definition.resolve(spec["constituencies"]))}
        lengths = sorted({len(p) for p in prefixes}, reverse=True)

        def lookup(unit_id: str) -> str:
            for length in lengths:
                if unit_id[:length] in prefixes:
                    return prefixes[unit_id[:length]]
            raise DefinitionError(f"{path}: unit {unit_id} matches no constituency prefix")

        df["constituency"] = df["unit_id"].map(lookup)
    for column in ("registered", "voters", "invalid", "votes"):
        df[column] = df[column].astype("int64")
    df["blank"] = pd.to_numeric(df["blank"].replace("", None)).astype("Int64")
    return df[["unit_id", "unit_name", "constituency", "registered", "voters", "blank", "invalid", "list_id",
               "votes"]]


@lru_cache(maxsize=8)
def _fine_counts(election: str, country: str) -> pd.DataFrame | None:
    df = _fine_raw(election, country)
    if df is None:
        return None
    targets = national_targets(election, country)
    units = df.drop_duplicates("unit_id")
    rest = {
        "registered": targets.registered - int(units["registered"].sum()),
        "voters": targets.voters - int(units["voters"].sum()),
        "invalid": targets.invalid - int(units["invalid"].sum()),
        "blank": (targets.blank or 0) - int(units["blank"].fillna(0).sum()),
    }
    list_rest = {l: v - int(df.loc[df["list_id"] == l, "votes"].sum()) for l, v in targets.lists.items()}
    list_rest[OTHER_LIST] = targets.other
    if any(rest.values()) or any(list_rest.values()):
        negative = {k: v for k, v in {**rest, **list_rest}.items() if v < 0}
        if negative:
            raise DefinitionError(f"{country}: the unit-level file exceeds the national totals: {negative}")
        rest_id = REST_UNIT.format(country=country)
        rows = pd.DataFrame({
            "unit_id": rest_id, "unit_name": "not itemised by unit (postal votes, missions abroad)",
            "constituency": "", "registered": rest["registered"], "voters": rest["voters"],
            "blank": pd.array([rest["blank"] if targets.blank is not None else None] * len(list_rest), dtype="Int64"),
            "invalid": rest["invalid"], "list_id": list(list_rest), "votes": list(list_rest.values())})
        rows = rows[(rows["votes"] > 0) | (rows["list_id"] != OTHER_LIST)]
        df = pd.concat([df, rows], ignore_index=True)
    return df


def fine_counts(election: str, country: str) -> pd.DataFrame | None:
    """Real unit-level final counts of ``country`` (definition list ids), or None."""
    df = _fine_counts(election, country)
    return None if df is None else df.copy()


# -- the unit registry -----------------------------------------------------------------------------

def synthetic_unit_count(election: str, country: str, scale: "float | str | None" = None) -> int:
    scale = units_scale() if scale is None else normalize_scale(scale)
    _, turnout, _ = _results(election)
    registered = _int(turnout.get(country, {}).get("registered_voters")) or 0
    base = min(MAX_UNITS, max(MIN_UNITS, round(registered / UNITS_PER_REGISTERED)))
    if isinstance(scale, str):  # "municipal" or "municipal*F" (F times the municipalities, e.g. by district)
        _, _, factor = scale.partition("*")
        return max(1, round(MUNICIPAL_UNITS.get(country, base) * (float(factor) if factor else 1.0)))
    return max(1, round(base * scale))


def generate_units(election: str, country: str, scale: "float | str | None" = 1.0) -> pd.DataFrame:
    """Derive the unit list of ``country`` from the definition's results files (the generator of
    ``units/<CC>.csv``; nothing reads units from here at run time, see :func:`units_of`).

    * a country with a unit-level file (``results_files.fine``): its real units, with their
      registered voters, plus ``<CC>-REST`` when the national totals exceed the file;
    * otherwise ``n = clamp(round(registered / 250 000), 20, 200)`` synthetic units (``round``:
      to the nearest integer, a half to the even one) times ``scale`` (``municipal``: the
      country's municipalities, :data:`MUNICIPAL_UNITS`), spread over the country's constituencies
      (those of ``results_constituency.csv``, sorted by code point): at least 2 each, the other
      ``n - 2k`` in proportion to the constituency's valid votes (list votes plus ``_other``) by
      largest remainder (:func:`apportion`; equal remainders: the earlier constituency), numbered
      ``<CC>-00001`` ... in that order, named ``<CC> unit 00001``, registered unknown (empty).
    """
    definition = load_election(election)
    if country not in definition.countries:
        raise DefinitionError(f"{election}: unknown country {country!r}")
    fine = _fine_counts(election, country)
    if fine is not None:
        units = fine.drop_duplicates("unit_id")
        return pd.DataFrame({"unit_id": units["unit_id"].to_numpy(), "unit_name": units["unit_name"].to_numpy(),
                             "constituency": units["constituency"].to_numpy(),
                             "registered": pd.array(units["registered"].to_numpy(), dtype="Int64")})
    n = synthetic_unit_count(election, country, normalize_scale(scale))
    try:
        targets = national_targets(election, country)
        sizes = {c: sum(v.values()) + targets.other_by_constituency.get(c, 0)
                 for c, v in targets.constituencies.items()}
    except (DefinitionError, KeyError):
        sizes = {"": 1}
    names = sorted(sizes)
    n = max(n, MIN_UNITS_PER_CONSTITUENCY * len(names)) if len(names) > 1 else n
    if len(names) > 1:
        counts = apportion(n - MIN_UNITS_PER_CONSTITUENCY * len(names), [sizes[c] for c in names]) \
            + MIN_UNITS_PER_CONSTITUENCY
    else:
        counts = np.array([n])
    width = max(5, len(str(int(counts.sum()))))
    ids, constituencies = [], []
    for name, count in zip(names, counts):
        for _ in range(int(count)):
            ids.append(f"{country}-{len(ids) + 1:0{width}d}")
            constituencies.append(name)
    return pd.DataFrame({"unit_id": ids, "unit_name": [f"{country} unit {i[3:]}" for i in ids],
                         "constituency": constituencies, "registered": pd.array([None] * len(ids), dtype="Int64")})


def _write_units_csv(path: Path, units: pd.DataFrame) -> None:
    """Write a unit list atomically (several processes may materialise the same scaled set)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        units[UNIT_FILE_COLUMNS].to_csv(out, index=False, lineterminator="\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def units_at_scale(election: str, country: str, scale: "float | str | None" = None) -> pd.DataFrame:
    """The reporting units of ``country`` at ``scale`` (default ``ENR_UNITS_SCALE``), as the replay and
    the contractor pack use them: a scaled set missing from the home is generated
    (:func:`generate_units`) and written once, then read like any unit list (:func:`enr.units.units_of`)."""
    definition = load_election(election)
    if country not in definition.countries:
        raise DefinitionError(f"{election}: unknown country {country!r}")
    scale = units_scale() if scale is None else normalize_scale(scale)
    path = units_path(election, country, scale)
    if not path.exists() and path.parent != definition.path / "units":
        _write_units_csv(path, generate_units(election, country, scale))
    return units_of(election, country, scale)


def write_units(election: str, countries: list[str] | None = None, *, scale: "float | str | None" = 1.0,
                out_dir: Path | None = None) -> list[Path]:
    """Generate the unit lists (:func:`generate_units`) and write them as ``<out_dir>/<CC>.csv``
    (default: the definition's ``units/``). ``enr write-units --election ep2019``."""
    definition = load_election(election)
    out_dir = Path(out_dir or definition.path / "units")
    written = []
    for country in countries or sorted(definition.countries):
        path = out_dir / f"{country}.csv"
        _write_units_csv(path, generate_units(election, country, scale))
        written.append(path)
    return written


__all__ = ["MUNICIPAL_UNITS", "Targets", "apportion", "fine_counts", "generate_units", "national_targets",
           "synthetic_unit_count", "units_at_scale", "write_units"]
