"""Reporting units: the polling stations, communes or districts whose counts a delivery carries.

A country's counts arrive unit by unit; the validator must know every unit of the country to say
"unknown unit" or "the final wave misses units". The units are **data of the election
definition**: ``elections/<election>/units/<CC>.csv`` (``unit_id,unit_name,constituency,registered``),
read by the intake, the suites, the replay and the contractor pack alike (:func:`units_of`). A
definition without that file has no units (an error, never a guess). The files are generated
once from the definition's results files by ``enr write-units --election <id>``
(:mod:`enr.simulation`, where the replay's real totals live too) and committed.

From the units follow the intake's limits: at most one row per unit and list (:func:`row_cap`) and
the size of one delivery (:func:`byte_cap`).

Rehearsals and benchmarks may scale the synthetic units (``ENR_UNITS_SCALE``: a number, or
``municipal`` = the country's real number of municipalities, or ``municipal*F``): the replay
writes the scaled set once into ``$ENR_HOME/units/<election>/<scale>/`` (:func:`units_path`,
:func:`enr.simulation.units_at_scale`) and the intake of that ``ENR_HOME`` with the same
``ENR_UNITS_SCALE`` reads the same files; a scaled set nobody wrote is an error, as a missing
definition file is.

:class:`CountryProfile` carries the per-country facts the validator needs, from ``election.json``:
``votes_per_voter`` (LU 6: each voter has up to six votes, so list votes add up to up to six times
the valid ballots), ``blank_reported`` (blank ballots counted separately), ``stv_constituencies``
(where seats are declared by the count, not computed: IE, MT, UK Northern Ireland) and
``stv_seats`` (how many seats those constituencies elect; default all the country's seats; UK 3).

Layer: enr core (imports only enr core: the definition, the delivery format, the settings).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from enr.definition import DefinitionError, load_election
from enr.delivery import NATIONAL_UNIT, OTHER_LIST
from enr.settings import get_settings

ROW_FACTOR = 1.0
MAX_BYTES = 2 * 1024 ** 3
BYTES_PER_ROW = 512
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
    """``ENR_UNITS_SCALE``: a number (default 1) or ``municipal`` (see :data:`enr.simulation.MUNICIPAL_UNITS`)."""
    return normalize_scale(os.environ.get("ENR_UNITS_SCALE", "1"))


# -- the unit registry -----------------------------------------------------------------------------

def unit_file_spec(election: str, country: str) -> dict | None:
    """The definition's unit-level results file of ``country`` (``results_files.fine``), or None:
    a country with one keeps its real units at any scale."""
    return (load_election(election).results_files.get("fine") or {}).get(country)


def _scale_token(scale: "float | str") -> str:
    return str(scale).replace("*", "x") if isinstance(scale, str) else f"x{scale:g}"


def units_path(election: str, country: str, scale: "float | str | None" = None) -> Path:
    """Where the unit list of ``country`` is read: ``elections/<id>/units/<CC>.csv`` (the data of
    the definition) at the default scale; a scaled set (rehearsals and benchmarks only) lives in
    ``$ENR_HOME/units/<election>/<scale>/<CC>.csv``. Countries with real units keep them at any scale."""
    scale = units_scale() if scale is None else normalize_scale(scale)
    definition = load_election(election)
    if scale == 1.0 or unit_file_spec(election, country) is not None:
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


def units_of(election: str, country: str, scale: "float | str | None" = None) -> pd.DataFrame:
    """The reporting units of ``country``: ``unit_id, unit_name, constituency, registered``, read
    from the definition's ``units/<CC>.csv`` (see :func:`units_path`; a scaled set from the home, as the
    replay wrote it: :func:`enr.simulation.units_at_scale`). Without the file there are no units: an error."""
    definition = load_election(election)
    if country not in definition.countries:
        raise DefinitionError(f"{election}: unknown country {country!r}")
    scale = units_scale() if scale is None else normalize_scale(scale)
    path = units_path(election, country, scale)
    if not path.exists():
        if path.parent == definition.path / "units":
            raise DefinitionError(f"{path}: no unit list for {country} (generate the definition's unit lists with "
                                  f"`enr write-units --election {election}` and commit them)")
        raise DefinitionError(f"{path}: no unit list for {country} at scale {scale} (a scaled set is written by the "
                              f"replay of this ENR_HOME: `enr rehearse --scale {scale}`, or the replay with "
                              f"ENR_UNITS_SCALE={scale})")
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


__all__ = ["BYTES_PER_ROW", "CountryProfile", "MAX_BYTES", "NAMED_SCALES", "NATIONAL_UNIT", "OTHER_LIST", "ROW_FACTOR",
           "UNIT_COLUMNS", "UNIT_FILE_COLUMNS", "byte_cap", "constituencies_of", "constituencies_without_seats",
           "country_profile", "normalize_scale", "row_cap", "rule_constituencies", "seats_in_abeyance",
           "unit_file_spec", "units_of", "units_path", "units_scale"]
