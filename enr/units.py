"""Reporting units: the polling stations, communes or districts whose counts a delivery carries.

A country's counts arrive unit by unit; the validator must know every unit of the country to say
"unknown unit" or "the final wave misses units". The units are **data of the election
definition**: ``elections/<election>/units/<CC>.csv`` (``unit_id,unit_name,constituency,registered``),
read by the intake, the suites, the replay and the contractor pack alike (:func:`units_of`). A
definition without that file has no units (an error, never a guess).

The 2019 files were generated once from the definition's results files by
``enr write-units --election ep2019`` (:func:`generate_units`) and committed:

1. the real units of the unit-level results file named in ``election.json``
   (``results_files.fine``: 2019 PL by gmina, HU by polling station, NL by municipality), plus one
   ``<CC>-REST`` unit when the national totals are larger than the file (HU: postal votes and
   missions abroad are not itemised by polling station);
2. elsewhere synthetic units ``<CC>-00001`` ... : ``clamp(round(registered / 250 000), 20, 200)``
   of them, spread over the country's constituencies (IT circoscrizioni and the sections abroad,
   BE electoral colleges, UK regions, IE STV constituencies) in proportion to their valid votes,
   at least two per constituency.

Rehearsals and benchmarks may scale the synthetic units (``ENR_UNITS_SCALE``: a number, or
``municipal`` = the country's real number of municipalities, :data:`MUNICIPAL_UNITS`, or
``municipal*F``): the scaled set is generated once into ``$ENR_HOME/units/<election>/<scale>/``
and then read through the same path (:func:`units_path`); the intake of that ``ENR_HOME`` with the
same ``ENR_UNITS_SCALE`` reads the same files.

:class:`CountryProfile` carries the per-country facts the validator needs, from ``election.json``:
``votes_per_voter`` (LU 6: each voter has up to six votes, so list votes add up to up to six times
the valid ballots), ``blank_reported`` (blank ballots counted separately), ``stv_constituencies``
(where seats are declared by the count, not computed: IE, MT, UK Northern Ireland) and
``stv_seats`` (how many seats those constituencies elect; default all the country's seats; UK 3).

:func:`national_targets` gives the real national totals a replayed night must add up to, with the
derivations documented in docs/DELIVERY.md ("Replay").
"""
from __future__ import annotations

import csv
import gzip
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from enr.definition import DefinitionError, load_election
from enr.delivery import NATIONAL_UNIT, OTHER_LIST

UNITS_PER_REGISTERED = 250_000
MIN_UNITS, MAX_UNITS = 20, 200
MIN_UNITS_PER_CONSTITUENCY = 2
ROW_FACTOR = 1.0
MAX_BYTES = 2 * 1024 ** 3
BYTES_PER_ROW = 512
REST_UNIT = "{country}-REST"
# Where the votes of lists that the definition does not itemise were cast (see data/ep2019/SOURCES.md):
# BE: lists of the Dutch-speaking college; UK: the three South East independents.
RESIDUAL_CONSTITUENCY = {"BE": "Dutch-speaking electoral college", "UK": "South East"}
UNIT_COLUMNS = ["unit_id", "unit_name", "constituency"]
UNIT_FILE_COLUMNS = [*UNIT_COLUMNS, "registered"]


@dataclass(frozen=True)
class CountryProfile:
    """What the validator needs to know about a country, from the election definition."""

    election: str
    country: str
    seats: int
    list_ids: tuple[str, ...]
    votes_per_voter: int = 1
    blank_reported: bool = False
    stv_constituencies: tuple[str, ...] = ()
    stv_seats: int = 0

    @property
    def stv(self) -> bool:
        return bool(self.stv_constituencies)


def _definition_json(election: str) -> dict:
    path = load_election(election).path / "election.json"
    return _read_json(str(path), path.stat().st_mtime)


@lru_cache(maxsize=8)
def _read_json(path: str, _mtime: float) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def country_profile(election: str, country: str) -> CountryProfile:
    definition = load_election(election)
    if country not in definition.countries:
        raise DefinitionError(f"{election}: unknown country {country!r}")
    raw = _definition_json(election)["countries"][country]
    return CountryProfile(
        election=election, country=country, seats=definition.countries[country].seats,
        list_ids=tuple(e.list_id for e in definition.lists_of(country)),
        votes_per_voter=int(raw.get("votes_per_voter", 1)), blank_reported=bool(raw.get("blank_reported", False)),
        stv_constituencies=tuple(raw.get("stv_constituencies", ())),
        stv_seats=int(raw.get("stv_seats", definition.countries[country].seats if raw.get("stv_constituencies") else 0)))


def seats_in_abeyance(election: str, country: str) -> list[dict]:
    """Seats elected but taken only later (``election.json`` ``seats_in_abeyance``: IE 2019, the last
    elected in Dublin and in South, seated from 1 February 2020): ``[{constituency, list_id, seats}]``.
    An STV delivery declares the seats taken at the start of the term, i.e. without these."""
    raw = _definition_json(election)["countries"].get(country, {})
    return [dict(e) for e in raw.get("seats_in_abeyance", ())]


def rule_constituencies(election: str, country: str) -> list[str]:
    """The constituencies named in the country's rules (``countries/<CC>.toml``) for ``country`` (empty: one national constituency)."""
    return [r["constituency"] for r in load_election(election).rules_of(country) if r.get("constituency")]


def constituencies_without_seats(election: str, country: str) -> list[str]:
    """Constituencies that deliveries name but that receive no seats of their own (``election.json``
    ``constituencies_without_seats``: IT 2019, the sections abroad): their votes count nationally."""
    raw = _definition_json(election)["countries"].get(country, {})
    return list(raw.get("constituencies_without_seats", ()))


# The "municipal" scale: a realistic number of reporting units per country where the replay has
# no real unit-level file: municipalities (communes, Gemeinden, comuni, municipios, obce, ...) as
# counted around 2019, from the national statistical offices' lists (rounded; overseas and
# abroad units included where results are reported for them). PL, HU and NL use their real units.
MUNICIPAL_UNITS = {
    "AT": 2096, "BE": 581, "BG": 265, "CY": 380, "CZ": 6258, "DE": 11014, "DK": 98, "EE": 79, "EL": 332,
    "ES": 8131, "FI": 311, "FR": 35000, "HR": 556, "IE": 31, "IT": 7915, "LT": 60, "LU": 102, "LV": 119,
    "MT": 68, "PT": 3092, "RO": 3181, "SE": 290, "SI": 212, "SK": 2927, "UK": 382,
}
NAMED_SCALES = ("municipal",)


def normalize_scale(value: "float | int | str | None") -> "float | str":
    """A unit scale: a positive number (multiplies the default unit counts), a named scale (``municipal``),
    or a named scale times a factor (``municipal*1.25``)."""
    if value is None or value == "":
        return 1.0
    if isinstance(value, str):
        name = value.strip().lower().replace(" ", "")
        base, _, factor = name.partition("*")
        if base in NAMED_SCALES:
            if factor and not float(factor) > 0:
                raise ValueError(f"unit scale {value!r}: the factor must be positive")
            return base if not factor or float(factor) == 1 else f"{base}*{float(factor):g}"
        value = float(name)
    value = float(value)
    if not value > 0:
        raise ValueError(f"unit scale {value!r}: a positive number or one of {', '.join(NAMED_SCALES)}")
    return value


def units_scale() -> "float | str":
    """``ENR_UNITS_SCALE``: a number (default 1) or ``municipal`` (see :data:`MUNICIPAL_UNITS`)."""
    return normalize_scale(os.environ.get("ENR_UNITS_SCALE", "1"))


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

def _fine_spec(election: str, country: str) -> dict | None:
    return (load_election(election).results_files.get("fine") or {}).get(country)


@lru_cache(maxsize=8)
def _fine_raw(election: str, country: str) -> pd.DataFrame | None:
    """The unit-level file with the definition's list ids and constituencies (no residual unit)."""
    spec = _fine_spec(election, country)
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


def _scale_token(scale: "float | str") -> str:
    return str(scale).replace("*", "x") if isinstance(scale, str) else f"x{scale:g}"


def units_path(election: str, country: str, scale: "float | str | None" = None) -> Path:
    """Where the unit list of ``country`` is read: ``elections/<id>/units/<CC>.csv`` (the data of
    the definition) at the default scale; a scaled set (rehearsals and benchmarks only) lives in
    ``$ENR_HOME/units/<election>/<scale>/<CC>.csv``. Countries with real units keep them at any scale."""
    from enr.settings import get_settings

    scale = units_scale() if scale is None else normalize_scale(scale)
    definition = load_election(election)
    if scale == 1.0 or _fine_spec(election, country) is not None:
        return definition.path / "units" / f"{country}.csv"
    return get_settings().home / "units" / election / _scale_token(scale) / f"{country}.csv"


@lru_cache(maxsize=128)
def _read_units(path: str, _mtime: float) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(df.columns[:3]) != UNIT_COLUMNS or not set(df.columns) <= set(UNIT_FILE_COLUMNS):
        raise DefinitionError(f"{path}: header must be {','.join(UNIT_FILE_COLUMNS)} (registered optional)")
    bad = df["unit_id"].eq("") | df["unit_id"].eq(NATIONAL_UNIT)
    if bad.any():
        raise DefinitionError(f"{path} row {int(bad.idxmax()) + 2}: unit_id empty or reserved ({NATIONAL_UNIT})")
    if df["unit_id"].duplicated().any():
        raise DefinitionError(f"{path}: duplicated unit_id {df.loc[df['unit_id'].duplicated(), 'unit_id'].iloc[0]}")
    registered = df["registered"] if "registered" in df.columns else pd.Series([""] * len(df))
    if not registered.str.fullmatch(r"[0-9]*").all():
        raise DefinitionError(f"{path}: registered must be empty or a non-negative integer")
    out = df[UNIT_COLUMNS].reset_index(drop=True)
    out["registered"] = pd.array([int(v) if v else None for v in registered], dtype="Int64")
    return out


def _write_units_csv(path: Path, units: pd.DataFrame) -> None:
    """Write a unit list atomically (several processes may materialise the same scaled set)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        units[UNIT_FILE_COLUMNS].to_csv(out, index=False, lineterminator="\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def units_of(election: str, country: str, scale: "float | str | None" = None) -> pd.DataFrame:
    """The reporting units of ``country``: ``unit_id, unit_name, constituency, registered``, read
    from the definition's ``units/<CC>.csv`` (see :func:`units_path`; a scaled set is written on
    first use by :func:`generate_units`). A definition without the file has no units: an error."""
    definition = load_election(election)
    if country not in definition.countries:
        raise DefinitionError(f"{election}: unknown country {country!r}")
    scale = units_scale() if scale is None else normalize_scale(scale)
    path = units_path(election, country, scale)
    if not path.exists():
        if path.parent == definition.path / "units":
            raise DefinitionError(f"{path}: no unit list for {country} (generate the definition's unit lists with "
                                  f"`enr write-units --election {election}` and commit them)")
        _write_units_csv(path, generate_units(election, country, scale))
    return _read_units(str(path), path.stat().st_mtime).copy()


def constituencies_of(election: str, country: str) -> list[str]:
    return sorted(set(units_of(election, country)["constituency"]))


def row_cap(election: str, country: str) -> int:
    """At most one row per unit x list (lists of the definition plus ``_other``) x ROW_FACTOR."""
    units = len(units_of(election, country)) + 1  # + the estimate's pseudo-unit
    lists = len(country_profile(election, country).list_ids) + 1
    return math.ceil(units * lists * ROW_FACTOR)


def byte_cap(election: str, country: str) -> int:
    """The size limit of one delivery of ``country``: min(2 GiB, row cap x 512 bytes + 1 MiB)."""
    return min(MAX_BYTES, row_cap(election, country) * BYTES_PER_ROW + 1024 ** 2)


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


__all__ = ["CountryProfile", "Targets", "apportion", "byte_cap", "constituencies_of", "country_profile",
           "fine_counts", "generate_units", "national_targets", "normalize_scale", "MUNICIPAL_UNITS", "row_cap",
           "synthetic_unit_count", "units_of", "units_path", "units_scale", "write_units", "NATIONAL_UNIT",
           "OTHER_LIST"]
