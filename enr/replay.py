"""Replay: the real 2019 results as a stream of signed deliveries, wave after wave.

A replayed night is what the results contractor would have sent on election night 2019, built from
the definition's real results (``data/ep2019``): for each country, several *waves* (by default
provisional at 40 % of the units, provisional at 85 %, final at 100 %; optionally an estimate wave
with one ``_national`` pseudo-unit first), each a complete delivery of the units counted so far.

* **Exact**: at 100 % the unit counts add up exactly to the country's national totals
  (:func:`enr.simulation.national_targets`: list votes from ``results_national.csv``, registered, voters,
  blank, invalid from ``turnout.csv``, with the derivations documented in docs/DELIVERY.md), and per
  constituency to ``results_constituency.csv`` (IT circoscrizioni with their own lists, BE colleges,
  UK regions, IE constituencies).
* **Real units** where the data has them (PL gminas with their 13 constituencies, HU polling
  stations plus the postal-vote rest, NL municipalities: :func:`enr.simulation.fine_counts`);
  synthetic units elsewhere, their counts drawn from a seeded log-normal and split with the
  largest-remainder method so that every sum is exact (:func:`country_counts`).
* **Deterministic**: the same ``seed`` gives the same bytes (and the same signatures' payloads).
* **Nested waves**: the units of a wave are the first x % of a seeded permutation of the units,
  so every wave contains the previous one and totals never decrease.
* STV countries carry ``declared_seats`` in their final waves (IE per constituency, the two
  seats held in abeyance until 2020 left out so that the 11 seated MEPs remain; MT; UK Northern
  Ireland).

``write_night(out_dir, ...)`` writes the files (signed with ``sender_home``'s key) and a
``night.json`` manifest, and returns a :class:`Night` (a list of the CSV paths in arrival order,
with ``.waves``). Optionally ``corrections=True`` adds a correction wave, and ``bad=n`` mixes ``n``
bad deliveries in (each burns a sequence number; the good delivery follows with the next one).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from enr.definition import DefinitionError, load_election
from enr.delivery import COLUMNS, NATIONAL_UNIT, OTHER_LIST, SCHEMA, DeliveryMeta, compute_totals, render_delivery
from enr.signatures import sign_bytes
from enr.simulation import _results, apportion, fine_counts, national_targets, units_at_scale
from enr.units import country_profile, normalize_scale, seats_in_abeyance, units_scale

DEFAULT_WAVES = ("provisional:40", "provisional:85", "final:100")
BAD_KINDS = ("tampered", "arithmetic", "negative_votes", "unknown_list")
GENERATOR = "enr.replay"


@dataclass(frozen=True)
class Wave:
    """One wave of the count: its status and the share of units reported (0 for an estimate)."""

    status: str
    percent: float
    label: str = ""

    @classmethod
    def parse(cls, spec: "str | Wave") -> "Wave":
        if isinstance(spec, Wave):
            return spec
        status, _, percent = str(spec).partition(":")
        status = status.strip()
        if status not in ("estimate", "provisional", "final", "official"):
            raise ValueError(f"wave {spec!r}: status must be estimate, provisional, final or official")
        value = float(percent) if percent else (0.0 if status == "estimate" else 100.0)
        if status in ("final", "official") and value != 100:
            raise ValueError(f"wave {spec!r}: a {status} wave covers 100 % of the units")
        if not 0 <= value <= 100:
            raise ValueError(f"wave {spec!r}: percent must be within 0..100")
        return cls(status=status, percent=value, label=str(spec))


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def delivery_name(election: str, country: str, sequence: int) -> str:
    return f"{election}-{country}-{sequence:04d}.csv"


# -- counts -----------------------------------------------------------------------------------------

def _synthetic_counts(election: str, country: str, seed: int, scale: float) -> pd.DataFrame:
    targets = national_targets(election, country)
    profile = country_profile(election, country)
    units = units_at_scale(election, country, scale)
    rng = _rng("counts", election, country, seed)
    names = sorted(targets.constituencies)
    lists_by = {c: {**targets.constituencies[c],
                    **({OTHER_LIST: targets.other_by_constituency[c]} if targets.other_by_constituency.get(c) else {})}
                for c in names}
    if profile.votes_per_voter == 1:
        valid_c = np.array([sum(lists_by[c].values()) for c in names])
    else:
        valid_c = apportion(targets.valid, [sum(lists_by[c].values()) for c in names])
    blank_c = apportion(targets.blank or 0, valid_c)
    invalid_c = apportion(targets.invalid, valid_c)
    extra_c = apportion(targets.registered - targets.voters, valid_c)
    frames = []
    for index, name in enumerate(names):
        members = units[units["constituency"] == name].reset_index(drop=True)
        n = len(members)
        if n == 0:
            raise DefinitionError(f"{country}: no unit in constituency {name!r}")
        weight = rng.lognormal(0.0, 0.5, n)
        noise = lambda sigma=0.25: weight * np.exp(rng.normal(0.0, sigma, n))  # noqa: E731
        list_ids = list(lists_by[name])
        if profile.votes_per_voter == 1:
            votes = np.column_stack([apportion(lists_by[name][l], noise()) for l in list_ids])
            valid_u = votes.sum(axis=1)
        else:
            valid_u = apportion(int(valid_c[index]), weight)
            votes = np.column_stack([apportion(lists_by[name][l], valid_u) for l in list_ids])
        blank_u = apportion(int(blank_c[index]), noise())
        invalid_u = apportion(int(invalid_c[index]), noise())
        voters_u = valid_u + blank_u + invalid_u
        registered_u = voters_u + apportion(int(extra_c[index]), noise(0.2))
        frame = pd.DataFrame({
            "unit_id": np.repeat(members["unit_id"].to_numpy(), len(list_ids)),
            "unit_name": np.repeat(members["unit_name"].to_numpy(), len(list_ids)),
            "constituency": name,
            "registered": np.repeat(registered_u, len(list_ids)),
            "voters": np.repeat(voters_u, len(list_ids)),
            "blank": pd.array(np.repeat(blank_u, len(list_ids)) if targets.blank is not None
                              else [None] * (n * len(list_ids)), dtype="Int64"),
            "invalid": np.repeat(invalid_u, len(list_ids)),
            "list_id": list_ids * n,
            "votes": votes.reshape(-1),
        })
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    order = {u: i for i, u in enumerate(units["unit_id"])}
    out = out.sort_values("unit_id", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return out[list(COLUMNS)]


@lru_cache(maxsize=64)
def _country_counts(election: str, country: str, seed: int, scale: float) -> pd.DataFrame:
    fine = fine_counts(election, country)
    if fine is not None:
        return fine[list(COLUMNS)].reset_index(drop=True)
    return _synthetic_counts(election, country, seed, scale)


def country_counts(election: str, country: str, *, seed: int = 0, scale: float | None = None) -> pd.DataFrame:
    """The unit-level final counts of ``country`` (rows with :data:`enr.delivery.COLUMNS`)."""
    return _country_counts(election, country, seed, units_scale() if scale is None else normalize_scale(scale)).copy()


def wave_rows(election: str, country: str, wave: Wave | str, *, seed: int = 0, scale: float | None = None) -> pd.DataFrame:
    """The rows of one wave: the first ``percent`` % of the units in a seeded order (nested waves)."""
    wave = Wave.parse(wave)
    counts = country_counts(election, country, seed=seed, scale=scale)
    if wave.status == "estimate":
        return estimate_rows(election, country, seed=seed, scale=scale)
    units = list(dict.fromkeys(counts["unit_id"]))
    order = _rng("order", election, country, seed).permutation(len(units))
    take = len(units) if wave.percent >= 100 else max(1, math.ceil(len(units) * wave.percent / 100))
    chosen = {units[i] for i in order[:take]}
    return counts[counts["unit_id"].isin(chosen)].reset_index(drop=True)


def estimate_rows(election: str, country: str, *, seed: int = 0, scale: float | None = None) -> pd.DataFrame:
    """A national estimate: one ``_national`` pseudo-unit, the final result perturbed a little."""
    counts = country_counts(election, country, seed=seed, scale=scale)
    profile = country_profile(election, country)
    rng = _rng("estimate", election, country, seed)
    units = counts.drop_duplicates("unit_id")
    registered, voters = int(units["registered"].sum()), int(units["voters"].sum())
    blank = int(units["blank"].fillna(0).sum())
    invalid = int(units["invalid"].sum())
    lists = counts.groupby("list_id", sort=False)["votes"].sum()
    voters_est = min(registered, round(voters * (1 + rng.normal(0, 0.01))))
    factor = voters_est / voters
    blank_est, invalid_est = round(blank * factor), round(invalid * factor)
    valid_est = voters_est - blank_est - invalid_est
    total_votes = valid_est if profile.votes_per_voter == 1 else round(int(lists.sum()) * factor)
    votes = apportion(total_votes, lists.to_numpy() * np.exp(rng.normal(0, 0.03, len(lists))))
    has_blank = units["blank"].notna().any()
    return pd.DataFrame({
        "unit_id": NATIONAL_UNIT, "unit_name": "national estimate", "constituency": "",
        "registered": registered, "voters": voters_est,
        "blank": pd.array([blank_est if has_blank else None] * len(lists), dtype="Int64"),
        "invalid": invalid_est, "list_id": list(lists.index), "votes": votes})[list(COLUMNS)]


def declared_seats(election: str, country: str) -> list[dict] | None:
    """The seats an STV count declared, per constituency and list (None for list-PR countries)."""
    profile = country_profile(election, country)
    if not profile.stv:
        return None
    definition = load_election(election)
    national_rows, _, constituency_rows = _results(election)
    national_seats: dict[str, int] = {}
    with definition.resolve(definition.results_files["national"]).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["country"] == country and row["seats"].strip():
                national_seats[row["list_id"]] = int(row["seats"])
    seats: dict[tuple[str, str], int] = {}
    for row in constituency_rows:
        if row["country"] == country and row["constituency"] in profile.stv_constituencies and row["seats"].strip():
            if int(row["seats"]):
                seats[(row["constituency"], row["list_id"])] = int(row["seats"])
    if "" in profile.stv_constituencies:
        seats.update({("", l): s for l, s in national_seats.items() if s})
    else:
        # the seats held in abeyance (election.json; IE 2019: 13 elected, 11 seated) are not declared
        for entry in seats_in_abeyance(election, country):
            key = (entry["constituency"], entry["list_id"])
            if seats.get(key, 0) < int(entry["seats"]):
                raise DefinitionError(f"{country} {key}: {entry['seats']} seat(s) in abeyance, "
                                      f"{seats.get(key, 0)} elected")
            seats[key] -= int(entry["seats"])
    by_list: dict[str, int] = {}
    for (_, list_id), value in seats.items():
        by_list[list_id] = by_list.get(list_id, 0) + value
    for list_id, value in by_list.items():
        if value > national_seats.get(list_id, 0):
            raise DefinitionError(f"{country} {list_id}: {value} seats declared by constituency, "
                                  f"{national_seats.get(list_id, 0)} seated nationally")
    return [{"constituency": c, "list_id": l, "seats": s} for (c, l), s in sorted(seats.items()) if s]


# -- deliveries -------------------------------------------------------------------------------------

def issued_at(election: str, wave_index: int, country: str) -> str:
    """A deterministic issue time: the embargo, plus 30 minutes per wave, plus a few seconds per country."""
    definition = load_election(election)
    offset = sorted(definition.countries).index(country) if country in definition.countries else 0
    return (definition.embargo + timedelta(minutes=30 * wave_index, seconds=7 * offset)).isoformat()


def make_delivery(election: str, country: str, wave: Wave | str, sequence: int, *, seed: int = 0,
                  scale: float | None = None, test: bool = True, issued: str | None = None,
                  corrects: int | None = None, reason: str | None = None, rows: pd.DataFrame | None = None,
                  with_totals: bool = True, wave_index: int = 0, units_total: int | None = None,
                  seats: list[dict] | None | str = "auto") -> bytes:
    """The bytes of one delivery of ``country`` (``rows`` defaults to the wave's rows)."""
    wave = Wave.parse(wave)
    if rows is None:
        rows = wave_rows(election, country, wave, seed=seed, scale=scale)
    if seats == "auto":
        seats = declared_seats(election, country) if wave.status in ("final", "official") else None
    meta = {"format": "enr-delivery/1", "election": election, "country": country, "sequence": sequence,
            "status": wave.status, "issued_at": issued or issued_at(election, wave_index, country),
            "units_total": units_total if units_total is not None else len(units_at_scale(election, country, scale)),
            "rows": len(rows), "corrects": corrects, "reason": reason, "test": test}
    if with_totals:
        meta["totals"] = None  # computed from the rows by render_delivery
    if seats:
        meta["declared_seats"] = seats
    meta["generator"] = GENERATOR
    return render_delivery(meta, rows)


def correction_rows(election: str, country: str, base: pd.DataFrame, *, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """``base`` with a recount in one unit: some votes move from one list to another."""
    rng = _rng("correction", election, country, seed)
    rows = base.copy()
    units = [u for u in dict.fromkeys(rows["unit_id"]) if u != NATIONAL_UNIT]
    for _ in range(50):
        unit = units[int(rng.integers(len(units)))]
        mask = (rows["unit_id"] == unit) & (rows["list_id"] != OTHER_LIST)
        candidates = rows.index[mask].tolist()
        if len(candidates) < 2:
            continue
        donor, taker = (candidates[i] for i in rng.choice(len(candidates), 2, replace=False))
        if rows.at[donor, "votes"] < 2:
            continue
        moved = int(max(1, rows.at[donor, "votes"] // 50))
        rows.at[donor, "votes"] -= moved
        rows.at[taker, "votes"] += moved
        reason = (f"recount in unit {unit}: {moved} vote(s) of {rows.at[donor, 'list_id']} belonged to "
                  f"{rows.at[taker, 'list_id']}")
        return rows, reason
    raise ValueError(f"{country}: no unit where a correction can be made")


def bad_delivery(kind: str, election: str, country: str, good_rows: pd.DataFrame, sequence: int,
                 wave: Wave, *, sender_home, seed: int = 0, wave_index: int = 0, test: bool = True,
                 scale: float | None = None) -> tuple[bytes, bytes | None]:
    """A bad delivery of ``kind`` (one of :data:`BAD_KINDS`) and its signature."""
    rows = good_rows.copy()
    if kind == "tampered":
        data = make_delivery(election, country, wave, sequence, rows=rows, seed=seed, test=test,
                             wave_index=wave_index, scale=scale)
        signature = sign_bytes(data, sender_home) if sender_home else None
        index = data.rfind(b",") + 1
        digit = data[index:index + 1]
        tampered = data[:index] + (b"9" if digit != b"9" else b"8") + data[index + 1:]
        return tampered, signature
    if kind == "arithmetic":  # blank + invalid > voters in the first unit: valid votes negative
        first = rows["unit_id"] == rows["unit_id"].iloc[0]
        rows.loc[first, "invalid"] = rows.loc[first, "voters"] + 1
    elif kind == "negative_votes":
        rows.loc[rows.index[-1], "votes"] = -1
    elif kind == "unknown_list":
        rows.loc[rows.index[0], "list_id"] = "no_such_list"
    else:
        raise ValueError(f"unknown bad delivery kind {kind!r} (known: {', '.join(BAD_KINDS)})")
    data = make_delivery(election, country, wave, sequence, rows=rows, seed=seed, test=test,
                         wave_index=wave_index, scale=scale)
    return data, (sign_bytes(data, sender_home) if sender_home else None)


def write_delivery(out_dir: Path | str, data: bytes, name: str, *, sender_home=None,
                   signature: bytes | None = None) -> Path:
    """Write ``name`` (and ``name.asc``: the given signature, or one made with ``sender_home``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_bytes(data)
    if signature is None and sender_home is not None:
        signature = sign_bytes(data, sender_home)
    if signature is not None:
        path.with_name(name + ".asc").write_bytes(signature)
    return path


@dataclass
class NightWave:
    label: str
    status: str
    percent: float
    files: list[Path] = field(default_factory=list)


class Night(list):
    """The CSV files of a night in arrival order; ``.waves`` groups them by wave."""

    def __init__(self, files=(), waves: list[NightWave] | None = None, manifest: Path | None = None) -> None:
        super().__init__(files)
        self.waves = waves or []
        self.manifest = manifest


def write_night(out_dir: Path | str, election: str = "ep2019", waves=DEFAULT_WAVES, sender_home=None,
                seed: int = 0, countries: list[str] | None = None, *, corrections: bool = False, bad: int = 0,
                test: bool = True, scale: float | None = None) -> Night:
    """Write a whole replayed night into ``out_dir`` (signed with ``sender_home`` when given)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    definition = load_election(election)
    countries = sorted(countries or definition.countries)
    parsed = [Wave.parse(w) for w in waves]
    rng = _rng("night", election, seed)
    slots = [(w, c) for w in range(len(parsed)) for c in countries]
    bad_slots = {slots[i]: BAD_KINDS[k % len(BAD_KINDS)]
                 for k, i in enumerate(rng.choice(len(slots), size=min(bad, len(slots)), replace=False))} if bad else {}
    sequence = {c: 0 for c in countries}
    night = Night()
    manifest = {"election": election, "seed": seed, "test": test, "generator": GENERATOR, "waves": []}
    last_rows: dict[str, pd.DataFrame] = {}
    for index, wave in enumerate(parsed):
        entry = NightWave(label=wave.label or f"{wave.status}:{wave.percent:g}", status=wave.status,
                          percent=wave.percent)
        for country in countries:
            rows = wave_rows(election, country, wave, seed=seed, scale=scale)
            if (index, country) in bad_slots:
                sequence[country] += 1
                data, signature = bad_delivery(bad_slots[(index, country)], election, country, rows, sequence[country],
                                               wave, sender_home=sender_home, seed=seed, wave_index=index, test=test,
                                               scale=scale)
                entry.files.append(write_delivery(out_dir, data, delivery_name(election, country, sequence[country]),
                                                  signature=signature))
            sequence[country] += 1
            data = make_delivery(election, country, wave, sequence[country], seed=seed, scale=scale, test=test,
                                 rows=rows, wave_index=index)
            entry.files.append(write_delivery(out_dir, data, delivery_name(election, country, sequence[country]),
                                              sender_home=sender_home))
            last_rows[country] = rows
        night.waves.append(entry)
        night.extend(entry.files)
    if corrections and parsed:
        last = parsed[-1]
        entry = NightWave(label="correction", status=last.status, percent=last.percent)
        chosen = [countries[i] for i in sorted(rng.choice(len(countries), size=min(3, len(countries)), replace=False))]
        for country in chosen:
            rows, reason = correction_rows(election, country, last_rows[country], seed=seed)
            corrected = sequence[country]
            sequence[country] += 1
            data = make_delivery(election, country, last, sequence[country], seed=seed, scale=scale, test=test,
                                 rows=rows, corrects=corrected, reason=reason, wave_index=len(parsed))
            entry.files.append(write_delivery(out_dir, data, delivery_name(election, country, sequence[country]),
                                              sender_home=sender_home))
        night.waves.append(entry)
        night.extend(entry.files)
    for entry in night.waves:
        manifest["waves"].append({"label": entry.label, "status": entry.status, "percent": entry.percent,
                                  "files": [p.name for p in entry.files]})
    night.manifest = out_dir / "night.json"
    night.manifest.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return night


def night_totals(election: str, country: str, *, seed: int = 0, scale: float | None = None) -> dict:
    """The totals of the final wave (for checks: equal to the national targets)."""
    return compute_totals(pa.Table.from_pandas(country_counts(election, country, seed=seed, scale=scale),
                                               schema=SCHEMA, preserve_index=False))


__all__ = ["DEFAULT_WAVES", "BAD_KINDS", "Night", "NightWave", "Wave", "bad_delivery", "correction_rows",
           "country_counts", "declared_seats", "delivery_name", "estimate_rows", "issued_at", "make_delivery",
           "night_totals", "wave_rows", "write_delivery", "write_night", "DeliveryMeta"]
