"""A results contractor's writer of ``enr-delivery/1``, built from the contractor pack alone.

Standard library only: no module of the project is imported (tests/test_contract_pack.py checks
this and runs the script in a subprocess, isolated). What it knows of the contract comes from the
pack (``DELIVERY.md``, ``election.json``, ``countries/<CC>/units.csv|lists.csv|constituencies.csv``);
the numbers are the count, here the real 2019 final results of ``data/ep2019`` (national list
votes, turnout, constituency results with the seats elected).

    python contract_writer.py --pack PACK --numbers data/ep2019 --out OUTBOX --gnupghome SENDER_HOME

One ``final`` delivery per country (sequence 1, ``test: true``), signed with ``gpg --detach-sign``
by the first secret key of ``--gnupghome``. The contractor's own choices where the numbers are
incomplete: valid votes unknown or below the list votes -> the sum of the list votes; votes of lists
the numbers do not itemise -> ``_other``, spread over the constituencies in proportion to their
valid votes; invalid := voters - valid - blank; a constituency's registered, blank and invalid are
the national ones split in proportion to its valid votes; within a constituency, every count is
split over its units in proportion to the units' registered voters where the pack gives them
(equally otherwise), by largest remainder, so that every sum is exact.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

OTHER = "_other"
HEADER = ["unit_id", "unit_name", "constituency", "registered", "voters", "blank", "invalid", "list_id", "votes"]
ISSUED_AT = "2019-05-27T03:00:00+02:00"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text else None


def split(total: int, weights: list[int]) -> list[int]:
    """``total`` in proportion to ``weights`` (largest remainder, exact integers; ties: the earlier)."""
    whole = sum(weights)
    if total == 0 or not weights:
        return [0] * len(weights)
    if whole == 0:
        weights, whole = [1] * len(weights), len(weights)
    shares = [total * w // whole for w in weights]
    rest = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[:rest]:
        shares[i] += 1
    return shares


def spread(unit_totals: list[int], list_totals: dict[str, int]) -> list[dict[str, int]]:
    """A table units x lists whose rows add up to ``unit_totals`` and columns to ``list_totals``
    (the sums must agree): each unit takes its total from what is left of each list."""
    assert sum(unit_totals) == sum(list_totals.values()), (sum(unit_totals), sum(list_totals.values()))
    left = dict(list_totals)
    names = list(left)
    out = []
    for total in unit_totals:
        shares = split(total, [left[n] for n in names])
        row = dict(zip(names, shares))
        for name in names:
            left[name] -= row[name]
        out.append(row)
    assert all(v == 0 for v in left.values())
    return out


class Country:
    """One country's count (from the numbers) and contract facts (from the pack)."""

    def __init__(self, code: str, pack: Path, numbers: Path, facts: dict) -> None:
        self.code = code
        self.facts = facts
        folder = pack / "countries" / code
        self.units = read_csv(folder / "units.csv")
        self.lists = [r["list_id"] for r in read_csv(folder / "lists.csv")]
        self.constituencies = [r["constituency"] for r in read_csv(folder / "constituencies.csv")]
        turnout = next(r for r in read_csv(numbers / "turnout.csv") if r["country"] == code)
        national = [r for r in read_csv(numbers / "results_national.csv") if r["country"] == code]
        by_constituency = [r for r in read_csv(numbers / "results_constituency.csv") if r["country"] == code]
        self.national = {r["list_id"]: number(r["votes"]) for r in national if number(r["votes"]) is not None}
        self.national_seats = {r["list_id"]: number(r["seats"]) or 0 for r in national}
        unknown = set(self.national) - set(self.lists)
        if unknown:
            raise SystemExit(f"{code}: lists {sorted(unknown)} are not in the pack")
        self.registered = number(turnout["registered_voters"])
        self.voters = number(turnout["voters"])
        self.valid_reported = number(turnout["valid_votes"])
        self.blank = (number(turnout["blank_votes"]) or 0) if facts["blank_reported"] else None
        votes = {}
        seats = {}
        for row in by_constituency:
            if number(row["votes"]) is not None:
                votes.setdefault(row["constituency"], {})[row["list_id"]] = number(row["votes"])
            if number(row["seats"]):
                seats[(row["constituency"], row["list_id"])] = number(row["seats"])
        self.constituency_seats = seats
        missing = set(votes) - set(self.constituencies)
        if missing:
            raise SystemExit(f"{code}: constituencies {sorted(missing)} of the numbers are not in the pack")
        self.groups = votes or {None: dict(self.national)}  # None: every unit, whatever its constituency

    def plan(self) -> tuple[int, int, dict]:
        """valid, invalid, and per group the list votes (``_other`` included)."""
        list_sum = sum(sum(g.values()) for g in self.groups.values())
        groups = {name: dict(lists) for name, lists in self.groups.items()}
        turnout_valid = self.valid_reported
        if self.facts["votes_per_voter"] == 1:
            valid = max(turnout_valid or 0, list_sum)
            other = valid - list_sum
            if other:
                names = list(groups)
                for name, share in zip(names, split(other, [sum(groups[n].values()) for n in names])):
                    if share:
                        groups[name][OTHER] = share
        else:
            valid = turnout_valid
        invalid = self.voters - valid - (self.blank or 0)
        return valid, invalid, groups

    def rows(self) -> list[list]:
        valid, invalid, groups = self.plan()
        names = list(groups)
        group_valid = [sum(groups[n].values()) for n in names] if self.facts["votes_per_voter"] == 1 else \
            split(valid, [sum(groups[n].values()) for n in names])
        blank_g = split(self.blank or 0, group_valid)
        invalid_g = split(invalid, group_valid)
        abstain_g = split(self.registered - self.voters, group_valid)
        out = []
        for gi, name in enumerate(names):
            units = [u for u in self.units if name is None or u["constituency"] == name]
            if not units:
                raise SystemExit(f"{self.code}: no unit in constituency {name!r}")
            known = [number(u["registered"]) for u in units]
            weights = known if all(k is not None for k in known) else [1] * len(units)
            valid_u = split(group_valid[gi], weights)
            blank_u = split(blank_g[gi], weights)
            invalid_u = split(invalid_g[gi], weights)
            abstain_u = split(abstain_g[gi], weights)
            list_votes = groups[name]
            if self.facts["votes_per_voter"] == 1:
                table = spread(valid_u, list_votes)
            else:  # several votes per voter: each unit's list votes in proportion to its valid ballots
                table = spread(split(sum(list_votes.values()), valid_u), list_votes)
            for i, unit in enumerate(units):
                voters = valid_u[i] + blank_u[i] + invalid_u[i]
                registered = voters + abstain_u[i]
                for list_id, votes in table[i].items():
                    out.append([unit["unit_id"], unit["unit_name"], unit["constituency"], registered, voters,
                                "" if self.blank is None else blank_u[i], invalid_u[i], list_id, votes])
        return out

    def declared_seats(self) -> list[dict] | None:
        stv = self.facts["stv_constituencies"]
        if not stv:
            return None
        if stv == [""]:
            seats = {("", l): s for l, s in self.national_seats.items() if s}
        else:
            seats = {k: v for k, v in self.constituency_seats.items() if k[0] in stv}
        for entry in self.facts["seats_in_abeyance"]:
            seats[(entry["constituency"], entry["list_id"])] -= entry["seats"]
        return [{"constituency": c, "list_id": l, "seats": s} for (c, l), s in sorted(seats.items()) if s]


def render(election: str, country: Country) -> bytes:
    rows = country.rows()
    units_seen: dict[str, list] = {}
    votes: dict[str, int] = {}
    for row in rows:
        units_seen.setdefault(row[0], row)
        votes[row[7]] = votes.get(row[7], 0) + row[8]
    totals = {"registered": sum(r[3] for r in units_seen.values()), "voters": sum(r[4] for r in units_seen.values()),
              "blank": None if country.blank is None else sum(r[5] for r in units_seen.values()),
              "invalid": sum(r[6] for r in units_seen.values()), "votes": votes}
    meta = {"format": "enr-delivery/1", "election": election, "country": country.code, "sequence": 1,
            "status": "final", "issued_at": ISSUED_AT, "units_total": len(country.units), "rows": len(rows),
            "corrects": None, "reason": None, "test": True, "totals": totals}
    seats = country.declared_seats()
    if seats is not None:
        meta["declared_seats"] = seats
    meta["generator"] = "contract_writer.py (tests)"
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return ("#ENR " + json.dumps(meta, ensure_ascii=False, separators=(",", ":")) + "\n"
            + body.getvalue()).encode("utf-8")


def sign(path: Path, gnupghome: Path) -> None:
    env = {**os.environ, "GNUPGHOME": str(gnupghome)}
    subprocess.run(["gpg", "--batch", "--yes", "--armor", "--detach-sign", "--output", f"{path}.asc", str(path)],
                   env=env, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", type=Path, required=True)
    parser.add_argument("--numbers", type=Path, required=True, help="the count: turnout.csv, results_*.csv")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gnupghome", type=Path, help="sign with this GnuPG home's secret key")
    parser.add_argument("--countries", help="comma-separated (default: every country of the pack)")
    args = parser.parse_args(argv)
    election = json.loads((args.pack / "election.json").read_text(encoding="utf-8"))
    codes = args.countries.split(",") if args.countries else sorted(election["countries"])
    args.out.mkdir(parents=True, exist_ok=True)
    for code in codes:
        country = Country(code, args.pack, args.numbers, election["countries"][code])
        path = args.out / f"{election['id']}-{code}-0001.csv"
        path.write_bytes(render(election["id"], country))
        if args.gnupghome:
            sign(path, args.gnupghome)
        print(path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
