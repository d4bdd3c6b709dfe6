"""Reading the ParlGov extracts in ``data/historical/`` (see its SOURCES.md) strictly, without pandas.

Three files:

* ``ep_1979_2019.csv``: one row per country x EP election x party (elected results);
* ``ep_pre_election_delegations.csv``: the delegations a new member's national parliament sent
  before its first direct election (seats, no votes). They are *not* elections and are kept
  apart from the results everywhere (own type here, own table in the store);
* ``ep_seat_totals.csv``: one row per country x election with the seat total and the result of
  the converter's own seat-sum check (``check`` = ``ok`` or ``MISMATCH``).

Parsing is strict: a missing column, a non-integer count, a malformed date or share fails with
:class:`~historical_loader.errors.HistoryValidationError` naming the file, line and rule
``parse``. Empty ``vote_share``, ``seats`` and ``votes`` are kept as ``None`` (ParlGov has no
number there; see the known gaps in SOURCES.md), never as 0. Vote shares stay exact: the
source text and a :class:`~decimal.Decimal`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from enr.definition import PROJECT_ROOT
from historical_loader.errors import Finding, HistoryValidationError

RESULT_COLUMNS: tuple[str, ...] = ("country", "election_year", "election_date", "party_abbrev", "party_name",
                                   "party_name_english", "vote_share", "seats", "seats_total", "votes",
                                   "source_party_id")
TOTAL_COLUMNS: tuple[str, ...] = ("election_year", "country", "seats_total", "election_date", "seats_sum",
                                  "seats_diff", "check", "parties", "parties_without_seat_value")
RESULTS_FILE = "ep_1979_2019.csv"
DELEGATIONS_FILE = "ep_pre_election_delegations.csv"
TOTALS_FILE = "ep_seat_totals.csv"
SOURCE = "ParlGov 2024 release (Döring & Manow, doi:10.7910/DVN/2VZ5ZC)"

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SHARE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_INT = re.compile(r"^-?[0-9]+$")


def data_dir() -> Path:
    """``$ENR_HISTORICAL_DIR`` or ``<project>/data/historical`` (read at call time)."""
    return Path(os.environ.get("ENR_HISTORICAL_DIR", PROJECT_ROOT / "data" / "historical"))


@dataclass(frozen=True)
class PartyRow:
    """One party line of an election or a delegation (``line`` = line in the file, header = 1)."""

    line: int
    country: str
    election_year: int
    election_date: date
    party_abbrev: str
    party_name: str
    party_name_english: str
    vote_share: Decimal | None
    vote_share_text: str | None
    seats: int | None
    seats_total: int
    votes: int | None
    source_party_id: int

    def content(self) -> tuple:
        """What the store keeps of the row (no line number): used to compare and to digest."""
        return (self.party_abbrev, self.party_name, self.party_name_english, self.vote_share_text, self.votes,
                self.seats, self.source_party_id)


@dataclass(frozen=True)
class Election:
    """One country's EP election (or one pre-election delegation when ``delegation`` is True)."""

    year: int
    country: str
    election_date: date
    seats_total: int
    rows: tuple[PartyRow, ...]
    file: str
    delegation: bool = False

    @property
    def label(self) -> str:
        if self.delegation:
            return f"delegation {self.election_date.isoformat()} {self.country}"
        return f"EP {self.year} {self.country}"

    @property
    def lines(self) -> tuple[int, ...]:
        return tuple(r.line for r in self.rows)

    def content(self) -> list[tuple]:
        return sorted(r.content() for r in self.rows)

    def digest(self) -> str:
        """SHA-256 of the election's canonical content (date, seat total, sorted party rows)."""
        payload = [self.year, self.country, self.election_date.isoformat(), self.seats_total, self.content()]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class SeatTotal:
    line: int
    election_year: int
    country: str
    seats_total: int
    election_date: date
    seats_sum: int
    seats_diff: int
    check: str
    parties: int
    parties_without_seat_value: int


@dataclass(frozen=True)
class HistoricalData:
    """Everything read from ``data/historical/``: elections, delegations, seat totals by (year, CC)."""

    elections: tuple[Election, ...]
    delegations: tuple[Election, ...]
    totals: dict[tuple[int, str], SeatTotal]
    folder: Path

    def years(self) -> list[int]:
        return sorted({e.year for e in self.elections} | {d.year for d in self.delegations})


class _Reader:
    def __init__(self, path: Path, columns: tuple[str, ...]):
        self.path = path
        self.name = path.name
        self.columns = columns
        self.problems: list[Finding] = []

    def rows(self) -> list[tuple[int, dict[str, str]]]:
        if not self.path.exists():
            raise HistoryValidationError([Finding(str(self.path), "parse", "file not found", self.name)])
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = tuple(reader.fieldnames or ())
            missing = [c for c in self.columns if c not in header]
            extra = [c for c in header if c not in self.columns]
            if missing or extra:
                raise HistoryValidationError([Finding(
                    self.name, "parse", f"header has missing columns {missing} / unexpected columns {extra}; "
                    f"expected {list(self.columns)}", self.name, (1,))])
            out = []
            for line, row in enumerate(reader, start=2):
                if None in row or any(v is None for v in row.values()):
                    self.fail(line, row, "wrong number of fields")
                    continue
                out.append((line, {k: v.strip() for k, v in row.items()}))
            return out

    def fail(self, line: int, row: dict, message: str) -> None:
        label = f"{row.get('election_year') or '?'} {row.get('country') or '?'}"
        self.problems.append(Finding(f"EP {label}", "parse", message, self.name, (line,)))

    def integer(self, line: int, row: dict, column: str, *, required: bool) -> int | None:
        text = row.get(column, "")
        if text == "":
            if required:
                self.fail(line, row, f"{column} is empty")
            return None
        if not _INT.match(text):
            self.fail(line, row, f"{column} {text!r} is not an integer")
            return None
        return int(text)

    def day(self, line: int, row: dict, column: str) -> date | None:
        try:
            return date.fromisoformat(row.get(column, ""))
        except ValueError:
            self.fail(line, row, f"{column} {row.get(column)!r} is not a date YYYY-MM-DD")
            return None

    def check(self) -> None:
        if self.problems:
            raise HistoryValidationError(self.problems)


def _party_rows(path: Path) -> list[PartyRow]:
    reader = _Reader(path, RESULT_COLUMNS)
    out: list[PartyRow] = []
    for line, row in reader.rows():
        ok = True
        if not _COUNTRY.match(row["country"]):
            reader.fail(line, row, f"country {row['country']!r} is not a two-letter code")
            ok = False
        year = reader.integer(line, row, "election_year", required=True)
        when = reader.day(line, row, "election_date")
        seats = reader.integer(line, row, "seats", required=False)
        seats_total = reader.integer(line, row, "seats_total", required=True)
        votes = reader.integer(line, row, "votes", required=False)
        party_id = reader.integer(line, row, "source_party_id", required=True)
        share_text = row["vote_share"] or None
        share = None
        if share_text is not None:
            if not _SHARE.match(share_text):
                reader.fail(line, row, f"vote_share {share_text!r} is not a decimal number")
                ok = False
            else:
                try:
                    share = Decimal(share_text)
                except InvalidOperation:  # pragma: no cover - the pattern rules this out
                    reader.fail(line, row, f"vote_share {share_text!r} is not a decimal number")
                    ok = False
        for column in ("party_abbrev", "party_name"):
            if not row[column]:
                reader.fail(line, row, f"{column} is empty")
                ok = False
        if not ok or None in (year, when, seats_total, party_id):
            continue
        out.append(PartyRow(line=line, country=row["country"], election_year=year, election_date=when,
                            party_abbrev=row["party_abbrev"], party_name=row["party_name"],
                            party_name_english=row["party_name_english"], vote_share=share,
                            vote_share_text=share_text, seats=seats, seats_total=seats_total, votes=votes,
                            source_party_id=party_id))
    reader.check()
    return out


def _group(rows: list[PartyRow], file: str, *, delegation: bool) -> tuple[Election, ...]:
    """Group rows by (year, country) [results] or (date, country) [delegations].

    Date and seat total of the group come from its first row; :mod:`validation` checks that
    every row agrees (rule ``one_date_per_election``).
    """
    groups: dict[tuple, list[PartyRow]] = {}
    for row in rows:
        key = (row.election_date if delegation else row.election_year, row.country)
        groups.setdefault(key, []).append(row)
    out = []
    for key, members in groups.items():
        first = members[0]
        out.append(Election(year=first.election_year, country=first.country, election_date=first.election_date,
                            seats_total=first.seats_total, rows=tuple(members), file=file, delegation=delegation))
    out.sort(key=lambda e: (e.election_date, e.country))
    return tuple(out)


def read_totals(path: Path) -> dict[tuple[int, str], SeatTotal]:
    reader = _Reader(path, TOTAL_COLUMNS)
    out: dict[tuple[int, str], SeatTotal] = {}
    for line, row in reader.rows():
        values = {c: reader.integer(line, row, c, required=True)
                  for c in ("election_year", "seats_total", "seats_sum", "seats_diff", "parties",
                            "parties_without_seat_value")}
        when = reader.day(line, row, "election_date")
        check = row["check"]
        if check not in ("ok", "MISMATCH"):
            reader.fail(line, row, f"check {check!r} is neither 'ok' nor 'MISMATCH'")
            continue
        if None in values.values() or when is None:
            continue
        key = (values["election_year"], row["country"])
        if key in out:
            reader.fail(line, row, f"second row for {key[0]} {key[1]} (first on line {out[key].line})")
            continue
        out[key] = SeatTotal(line=line, country=row["country"], election_date=when, check=check, **values)
    reader.check()
    return out


def read_historical(folder: Path | None = None) -> HistoricalData:
    """Read the three files of ``folder`` (default :func:`data_dir`). Parsing only: the rules are
    checked by :func:`historical_loader.validation.validate`."""
    folder = Path(folder) if folder is not None else data_dir()
    elections = _group(_party_rows(folder / RESULTS_FILE), RESULTS_FILE, delegation=False)
    delegations = _group(_party_rows(folder / DELEGATIONS_FILE), DELEGATIONS_FILE, delegation=True)
    totals = read_totals(folder / TOTALS_FILE)
    return HistoricalData(elections=elections, delegations=delegations, totals=totals, folder=folder)
