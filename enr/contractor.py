"""The contractor pack: everything a results contractor needs to write ``enr-delivery/1`` files.

The contractor (Kantar in 2019) is another company with its own software; the contract must be
complete on paper. :func:`write_pack` writes, for one election definition, what that software
needs and nothing else (no results, no project code)::

    README.md                          what is here, how to name, sign and check a delivery
    DELIVERY.md                        the format and every rule of the intake (docs/DELIVERY.md)
    metadata.schema.json               JSON Schema (2020-12) of the metadata line's object
    election.json                      per country: seats, units_total, row and byte caps, blank
                                       ballots counted or not, votes per voter, STV constituencies
                                       and seats to declare, seats held in abeyance, constituencies
                                       without seats of their own
    countries/<CC>/units.csv           unit_id,unit_name,constituency,registered (the unit list)
    countries/<CC>/lists.csv           list_id,list_name,party_abbrev
    countries/<CC>/constituencies.csv  constituency,units,seats,allocation
    examples/<kind>/<file>.csv         a small accepted delivery per kind of country: plain,
                                       constituencies, stv, votes_per_voter (unsigned, test=true)
    publisher.json, publisher-key.asc  the publisher's signing key: fingerprint and public key (to
                                       verify what is published; deliveries are signed with the
                                       contractor's own key, whose fingerprint the publisher lists)

``allocation`` of a constituency: ``list_pr`` (seats computed from the votes, by the rule of the
country file ``countries/<CC>.toml``, or ``rules.csv`` in an older definition), ``stv_declared`` (seats declared in ``declared_seats``), ``no_seats`` (its votes
count nationally but it receives no seats: IT 2019, the sections abroad). ``seats`` is empty where
the law does not fix a constituency's seats in advance.
"""
from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

from enr.definition import PROJECT_ROOT, load_election
from enr.delivery import META_SCHEMA
from enr.replay import delivery_name, make_delivery
from enr.settings import get_settings
from enr.signatures import export_public_key, gnupg_home
from enr.simulation import units_at_scale
from enr.units import byte_cap, constituencies_without_seats, country_profile, row_cap, seats_in_abeyance

log = logging.getLogger(__name__)

EXAMPLE_KINDS = ("plain", "constituencies", "stv", "votes_per_voter")
EXAMPLE_WAVES = {"plain": "provisional:10", "constituencies": "provisional:15", "stv": "final:100",
                 "votes_per_voter": "provisional:10"}


class ContractorPackError(RuntimeError):
    """The pack cannot be written (no publisher key, an output folder that is not empty, ...)."""


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def country_facts(election: str) -> dict[str, dict]:
    """What the contractor must know of each country (the pack's ``election.json`` ``countries``)."""
    definition = load_election(election)
    facts = {}
    for country in sorted(definition.countries):
        profile = country_profile(election, country)
        units = units_at_scale(election, country)
        facts[country] = {
            "seats": profile.seats, "units_total": len(units),
            "constituencies": sorted(set(units["constituency"])),
            "blank_reported": profile.blank_reported, "votes_per_voter": profile.votes_per_voter,
            "stv_constituencies": list(profile.stv_constituencies), "stv_seats": profile.stv_seats,
            "seats_in_abeyance": seats_in_abeyance(election, country),
            "constituencies_without_seats": constituencies_without_seats(election, country),
            "row_cap": row_cap(election, country), "byte_cap": byte_cap(election, country)}
    return facts


def _constituency_rows(election: str, country: str, facts: dict) -> list[list]:
    definition = load_election(election)
    units = units_at_scale(election, country)
    counts = units.groupby("constituency").size().to_dict()
    seats = {r["constituency"]: r.get("seats", "") for r in definition.rules_of(country)}
    rows = []
    ordered = [c for c in seats if c in facts["constituencies"]]  # as the law names them, then the others
    for name in ordered + [c for c in facts["constituencies"] if c not in ordered]:
        if name in facts["stv_constituencies"]:
            allocation = "stv_declared"
        elif name in facts["constituencies_without_seats"]:
            allocation = "no_seats"
        else:
            allocation = "list_pr"
        fixed = seats.get(name, "") if name else str(facts["seats"])
        rows.append([name, counts.get(name, 0), fixed or "", allocation])
    return rows


def example_countries(facts: dict[str, dict]) -> dict[str, str]:
    """One country per kind of example, the first (by code) of each kind in the definition."""
    def kind(f: dict) -> str:
        if f["stv_constituencies"] and set(f["stv_constituencies"]) >= set(f["constituencies"]):
            return "stv"
        if f["votes_per_voter"] > 1:
            return "votes_per_voter"
        if len(f["constituencies"]) > 1:
            return "constituencies"
        return "plain"

    chosen: dict[str, str] = {}
    for country, f in sorted(facts.items()):
        chosen.setdefault(kind(f), country)
    return {k: chosen[k] for k in EXAMPLE_KINDS if k in chosen}


def publisher_key(signing_home: Path) -> tuple[str, str]:
    """The publisher's signing key (the deployment keeps exactly one): fingerprint and armoured public key."""
    if not Path(signing_home).is_dir():
        raise ContractorPackError(f"{signing_home}: no publisher keyring (ENR_SIGNING_HOME)")
    with gnupg_home(signing_home) as gpg:
        secret = gpg.list_keys(secret=True)
    if not secret:
        raise ContractorPackError(f"{signing_home}: no publisher signing key (ENR_SIGNING_HOME)")
    fingerprint = secret[0]["fingerprint"].upper()
    return fingerprint, export_public_key(signing_home, fingerprint)


def write_pack(election: str, out_dir: Path | str, *, signing_home: Path | str | None = None) -> dict:
    """Write the contractor pack of ``election`` into ``out_dir`` (new or empty); returns its index."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ContractorPackError(f"{out}: the output folder is not empty")
    fingerprint, public_key = publisher_key(Path(signing_home or get_settings().signing_home))
    definition = load_election(election)
    facts = country_facts(election)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "docs" / "DELIVERY.md", out / "DELIVERY.md")
    (out / "metadata.schema.json").write_text(json.dumps(
        {**META_SCHEMA, "$id": "enr-delivery/1/metadata", "title": "enr-delivery/1 metadata line (after '#ENR ')"},
        indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "election.json").write_text(json.dumps(
        {"id": definition.id, "name": definition.name, "embargo": definition.embargo.isoformat(),
         "format": "enr-delivery/1", "countries": facts}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "publisher.json").write_text(json.dumps(
        {"election": election, "publisher_fingerprint": fingerprint, "public_key": "publisher-key.asc"},
        indent=1) + "\n", encoding="utf-8")
    (out / "publisher-key.asc").write_text(public_key, encoding="utf-8")
    for country in sorted(definition.countries):
        folder = out / "countries" / country
        folder.mkdir(parents=True, exist_ok=True)
        units = units_at_scale(election, country)
        units.to_csv(folder / "units.csv", index=False, lineterminator="\n",
                     columns=["unit_id", "unit_name", "constituency", "registered"])
        _write_csv(folder / "lists.csv", ["list_id", "list_name", "party_abbrev"],
                   [[e.list_id, e.list_name, e.party_abbrev] for e in definition.lists_of(country)])
        _write_csv(folder / "constituencies.csv", ["constituency", "units", "seats", "allocation"],
                   _constituency_rows(election, country, facts[country]))
    examples = {}
    for kind, country in example_countries(facts).items():
        name = delivery_name(election, country, 1)
        data = make_delivery(election, country, EXAMPLE_WAVES[kind], 1, test=True)
        path = out / "examples" / kind / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        examples[kind] = f"examples/{kind}/{name}"
    (out / "README.md").write_text(_readme(definition.id, definition.name, fingerprint, examples, facts),
                                   encoding="utf-8")
    log.info("contractor pack %s -> %s (%d countries, examples %s, publisher %s)", election, out, len(facts),
             ", ".join(examples), fingerprint)
    return {"election": election, "out": str(out), "countries": sorted(facts), "examples": examples,
            "publisher_fingerprint": fingerprint}


def _readme(election: str, name: str, fingerprint: str, examples: dict[str, str], facts: dict) -> str:
    lines = [
        f"# Contractor pack: {name} (`{election}`)", "",
        "What a results contractor needs to write deliveries in the format `enr-delivery/1`; the",
        "format and every rule the publisher's intake applies are in `DELIVERY.md`.", "",
        "| file | what |", "|---|---|",
        "| `DELIVERY.md` | the format, the checks and their rule ids, the decisions on every ambiguity |",
        "| `metadata.schema.json` | JSON Schema of the object after `#ENR ` on line 1 |",
        "| `election.json` | per country: seats, `units_total`, `row_cap`, `byte_cap`, `blank_reported`, "
        "`votes_per_voter`, `stv_constituencies` and `stv_seats` (what `declared_seats` adds up to), "
        "`seats_in_abeyance` (elected, not declared), `constituencies_without_seats` |",
        "| `countries/<CC>/units.csv` | the reporting units: `unit_id`, `unit_name`, `constituency`, `registered` "
        "(where known) |",
        "| `countries/<CC>/lists.csv` | the lists: `list_id` to use in deliveries, ballot name |",
        "| `countries/<CC>/constituencies.csv` | the constituencies exactly as deliveries name them, their units, "
        "fixed seats (empty: not fixed in advance), `allocation` (`list_pr`, `stv_declared`, `no_seats`) |",
        "| `examples/` | one small delivery per kind of country (unsigned, `test: true`): "
        + ", ".join(f"`{k}` ({Path(v).name})" for k, v in examples.items()) + " |",
        "| `publisher.json`, `publisher-key.asc` | the publisher's signing key (verifies the published results) |",
        "", f"Publisher key fingerprint: `{fingerprint}` (compare all 40 characters with the one the publisher "
        "gave you on another channel).", "",
        "## Sending a delivery", "",
        "1. Write `<election>-<CC>-<seq:04d>.csv` (UTF-8, LF) as `DELIVERY.md` says, one file per country and wave.",
        "2. Sign it with your key: `gpg --armor --detach-sign --output <file>.csv.asc <file>.csv`; the publisher lists",
        "   your key's fingerprint as a trusted sender (`senders.json`).",
        "3. Check it before sending: `enr check-delivery <file>.csv [more files of the night]` with",
        "   `ENR_TRUSTED_KEYS` (or `--trusted-keys`) a GnuPG home holding your public key and a `senders.json`",
        "   listing it; exit 0 = the intake would accept it, otherwise it prints the file, line and rule.",
        "4. Upload the `.csv` first, the `.asc` last, into the export bucket's `inbox/`.", "",
        f"Countries: {len(facts)} ({', '.join(sorted(facts))}).", ""]
    return "\n".join(lines)


__all__ = ["ContractorPackError", "EXAMPLE_KINDS", "country_facts", "example_countries", "publisher_key",
           "write_pack"]
