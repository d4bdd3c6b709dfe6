"""``enr seats``: compute every country's seats from results tables, and check them against the
table's own ``seats`` column.

    enr seats --election ep2019 --results RESULTS.csv --turnout TURNOUT.csv \\
              [--constituency-results CONSTITUENCY.csv] --out SEATS.csv

The tables have the layout of ``data/<election>/``:

* results: ``country,list_id,votes`` and optionally ``seats`` (as declared/published), ``alliance``
  (id shared by allied lists), ``minority`` (1 = linguistic-minority list, Italy), ``independent``
  (1 = independent candidate); other columns are ignored;
* turnout: ``country,registered_voters,voters,valid_votes,blank_votes,invalid_votes`` (empty = unknown);
* constituency results: ``country,constituency,list_id,votes`` and optionally ``seats``.

The rules come from the election definition (``elections/<election>/countries/<CC>.toml``, or ``rules.csv`` in older definitions). STV countries
(and STV constituencies such as Northern Ireland) take the seats the tables declare. The output is
``country,list_id,seats`` (the seats certain so far for an incomplete country). Exit status: 0 when
every country in the results table is complete and agrees with the table's seats where given;
1 when some country is incomplete (missing counts, a tie awaiting a lot), disagrees, or is not in the
election; 2 when the input cannot be read.

This module is the only part of the seat engine that touches files; :mod:`transforms` stays pure.
"""
from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from enr.definition import DefinitionError, load_election
from transforms.errors import AllocationError, RuleError
from transforms.national import CountryAllocation, allocate_country
from transforms.rules import parse_rules

log = logging.getLogger(__name__)

TURNOUT_COLUMNS = {"registered_voters": "registered", "voters": "voters", "valid_votes": "valid",
                   "blank_votes": "blank", "invalid_votes": "invalid"}


class InputError(ValueError):
    """A results table that cannot be read (names the file and the problem)."""


def _read(path: str | Path, required: tuple[str, ...]) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot be read as UTF-8 CSV: {exc}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(df.columns)})")
    for column in df.columns:
        df[column] = df[column].str.strip()
    return df


def _whole(value: str, path: Path | str, line: int, column: str) -> int | None:
    if value == "":
        return None
    if not value.isdigit():
        raise InputError(f"{path} line {line}: column {column!r} = {value!r} is not a whole number")
    return int(value)


def _check_numbers(df: pd.DataFrame, path: Path | str, columns: tuple[str, ...]) -> None:
    for column in columns:
        if column not in df.columns:
            continue
        for n, value in enumerate(df[column], start=2):
            _whole(value, path, n, column)


def run(election: str, results_csv_path: str | Path, turnout_csv_path: str | Path,
        constituency_csv_path: str | Path | None, out_path: str | Path, *, out: TextIO | None = None) -> int:
    """Compute the seats of every country in the results table; write ``country,list_id,seats``."""
    out = out or sys.stdout
    try:
        definition = load_election(election)
        rules = parse_rules(definition.rules)
        results = _read(results_csv_path, ("country", "list_id", "votes"))
        turnout = _read(turnout_csv_path, ("country",))
        constituency = (_read(constituency_csv_path, ("country", "constituency", "list_id", "votes"))
                        if constituency_csv_path else None)
        _check_numbers(results, results_csv_path, ("votes", "seats"))
        _check_numbers(turnout, turnout_csv_path, tuple(TURNOUT_COLUMNS))
        if constituency is not None:
            _check_numbers(constituency, constituency_csv_path, ("votes", "seats"))
    except (InputError, DefinitionError, RuleError) as exc:  # one line on stderr, exit 2 (as every enr command)
        print(f"enr seats: {exc}", file=sys.stderr if out is sys.stdout else out)
        return 2
    if not rules:
        print(f"enr seats: election {election} has no country rules (countries/<CC>.toml or rules.csv)", file=sys.stderr if out is sys.stdout else out)
        return 2
    status = 0
    rows: list[tuple[str, str, int]] = []
    countries = list(dict.fromkeys(results["country"]))
    print(f"{election}: {len(countries)} countries in {results_csv_path}", file=out)
    for cc in countries:
        if cc not in rules:
            print(f"{cc}: not a country of {election}; skipped", file=out)
            status = 1
            continue
        rule = rules[cc]
        table = results[results["country"] == cc]
        empty = table[table["votes"] == ""]
        if len(empty):
            print(f"{cc}: warning: no vote count for {', '.join(empty['list_id'])}; left out", file=out)
        table = table[table["votes"] != ""]
        votes = table.drop(columns=["country"]).copy()
        votes["votes"] = votes["votes"].astype(int)
        trow = turnout[turnout["country"] == cc]
        totals = None
        if len(trow):
            first = trow.iloc[0]
            totals = {name: (int(first[col]) if col in trow.columns and first[col] != "" else None)
                      for col, name in TURNOUT_COLUMNS.items()}
        cvotes = None
        declared_frames = []
        if "seats" in table.columns:
            national = table[table["seats"] != ""][["list_id", "seats"]].copy()
            national.insert(0, "constituency", "")
            declared_frames.append(national)
        if constituency is not None:
            crows = constituency[constituency["country"] == cc]
            if len(crows):
                cempty = crows[crows["votes"] == ""]
                if len(cempty):
                    print(f"{cc}: warning: no vote count for "
                          + ", ".join(f"{c}/{i}" for c, i in zip(cempty["constituency"], cempty["list_id"]))
                          + "; left out", file=out)
                good = crows[crows["votes"] != ""]
                cvotes = good[["constituency", "list_id", "votes"]].copy()
                cvotes["votes"] = cvotes["votes"].astype(int)
                if "seats" in crows.columns:
                    declared_frames.append(crows[crows["seats"] != ""][["constituency", "list_id", "seats"]])
        declared = pd.concat(declared_frames, ignore_index=True) if declared_frames else None
        try:
            allocation = allocate_country(rule, votes, constituency_votes=cvotes, declared_seats=declared,
                                          totals=totals, log=False)
        except AllocationError as exc:
            print(f"{cc}: error: {exc}", file=out)
            status = 1
            continue
        status = max(status, _report(cc, allocation, table, out))
        for list_id, seats in allocation.seats.items():
            rows.append((cc, list_id, seats))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["country", "list_id", "seats"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out_path}; exit status {status}", file=out)
    log.info("enr seats election=%s countries=%d rows=%d out=%s status=%d", election, len(countries), len(rows),
             out_path, status)
    return status


def _report(cc: str, allocation: CountryAllocation, table: pd.DataFrame, out: TextIO) -> int:
    won = ", ".join(f"{i} {n}" for i, n in sorted(allocation.seats.items(), key=lambda kv: -kv[1]) if n)
    head = f"{cc}: {allocation.seats_allocated}/{allocation.seats_total} seats ({allocation.method}): {won}"
    status = 0
    if allocation.deferred:
        head += " [not seated: " + ", ".join(f"{i} {n}" for i, n in allocation.deferred.items()) + "]"
    print(head, file=out)
    for tie in allocation.ties:
        print(f"{cc}:   TIE {'resolved' if tie.resolved else 'awaiting a lot'}: {tie.seats} seat(s) between "
              f"{', '.join(tie.lists)} ({tie.criterion}); key {tie.key!r}", file=out)
    for gap in allocation.gaps:
        print(f"{cc}:   INCOMPLETE: {gap}", file=out)
    for gap in allocation.constituency_gaps:
        print(f"{cc}:   constituencies: {gap}", file=out)
    if not allocation.complete:
        status = 1
    if allocation.method == "stv" and ("seats" not in table.columns or (table["seats"] == "").all()):
        print(f"{cc}:   STV: seats are declared, not computed; the results table has no seats column", file=out)
    if "seats" in table.columns and (table["seats"] != "").any():
        given = {i: int(s) for i, s in zip(table["list_id"], table["seats"]) if s != ""}
        differ = {i: (allocation.seats.get(i, 0), s) for i, s in given.items() if allocation.seats.get(i, 0) != s}
        extra = {i: n for i, n in allocation.seats.items() if n and i not in given}
        if not differ and not extra:
            print(f"{cc}:   agrees with the table's seats column", file=out)
        else:
            status = 1
            print(f"{cc}:   DISAGREES with the table's seats column: "
                  + ", ".join(f"{i} computed {a} table {b}" for i, (a, b) in differ.items())
                  + "".join(f", {i} computed {n} (not in table)" for i, n in extra.items()), file=out)
    return status

