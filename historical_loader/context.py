"""The night in context: turnout since 1979 and the previous Parliament's groups, for the tally.

Three files of ``data/historical/`` (provenance in its SOURCES.md), named by the election
definition's ``previous`` block (``turnout``, ``eu_turnout``, ``groups``) and read, like
:mod:`historical_loader.previous`, when the tally runs, so that the bundle carries every figure
the site, the feeds and the NIST report show (nothing reads these CSVs at render time):

* ``ep_turnout_1979_2019.csv`` (``country,election_year,election_date,turnout_pct,source``): the
  turnout of each country-election, in percent with up to two decimals;
* ``ep_eu_turnout.csv`` (``election_year,turnout_pct``): the EU-wide turnout of each election as the
  European Parliament publishes it;
* ``ep_groups_<year>.csv`` (``group_<year>,name,seats,successor_<next>``): the seats of each political
  group at the constitutive session of the previous Parliament and the group of this Parliament that
  succeeded it (empty: none).

Percentages stay exact decimal text (``"42.61"``), never binary floats. Every violation raises
:class:`~historical_loader.errors.HistoryValidationError` naming the file, the line and the rule:
``parse`` (a missing column, a number that is not one), ``turnout_range`` (0-100),
``one_row_per_election``, ``turnout_coverage`` (a country-election of ``ep_seat_totals.csv``
without a turnout, or the reverse), ``group_seats_sum`` (the groups' seats are not the Parliament's
size that year), ``successor_unknown`` (a successor that is not a group of this election).
"""
from __future__ import annotations

import csv
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from historical_loader.election_days import EP_SIZE
from historical_loader.errors import Finding, HistoryValidationError

_PCT = re.compile(r"^\d{1,3}(\.\d{1,2})?$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The rows of ``path`` with their line numbers (header = line 1); a missing column is a violation."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise HistoryValidationError([Finding(Path(path).name, "parse", f"missing column(s) {', '.join(missing)}",
                                                      Path(path).name, (1,))])
            return [(number, {k: (v or "").strip() for k, v in row.items() if k is not None})
                    for number, row in enumerate(reader, start=2)]
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryValidationError([Finding(Path(path).name, "parse", f"cannot be read: {exc}", Path(path).name)])


def _percent(value: str, where: str, file: str, line: int, problems: list[Finding]) -> str | None:
    if not _PCT.match(value):
        problems.append(Finding(where, "parse", f"turnout_pct {value!r} is not a percentage with up to 2 decimals",
                                file, (line,)))
        return None
    if not Decimal(0) < Decimal(value) <= Decimal(100):
        problems.append(Finding(where, "turnout_range", f"turnout {value} % is not in (0, 100]", file, (line,)))
        return None
    return str(Decimal(value))


def country_turnout(path: Path, seat_totals: Path | None = None) -> dict[str, list[dict]]:
    """``{CC: [{"year", "election_date", "turnout_pct"}]}``, oldest first, from ``ep_turnout_1979_2019.csv``.

    With ``seat_totals`` (``ep_seat_totals.csv``) every country-election there must have exactly one
    turnout and no other (rule ``turnout_coverage``)."""
    name = Path(path).name
    problems: list[Finding] = []
    out: dict[str, list[dict]] = {}
    seen: dict[tuple[str, int], int] = {}
    for line, row in _rows(path, ("country", "election_year", "election_date", "turnout_pct")):
        code, year = row["country"], row["election_year"]
        where = f"EP {year} {code}"
        if not _COUNTRY.match(code) or not _YEAR.match(year) or not row["election_date"].startswith(year):
            problems.append(Finding(where, "parse", "country must be two capital letters and election_date "
                                    "must fall in election_year", name, (line,)))
            continue
        key = (code, int(year))
        if key in seen:
            problems.append(Finding(where, "one_row_per_election", f"also on line {seen[key]}", name, (line,)))
            continue
        seen[key] = line
        pct = _percent(row["turnout_pct"], where, name, line, problems)
        if pct is not None:
            out.setdefault(code, []).append({"year": int(year), "election_date": row["election_date"],
                                             "turnout_pct": pct})
    if seat_totals is not None:
        expected = {(r["country"], int(r["election_year"])) for _, r in _rows(seat_totals, ("country", "election_year"))}
        for code, year in sorted(expected - set(seen)):
            problems.append(Finding(f"EP {year} {code}", "turnout_coverage",
                                    f"no turnout for an election of {Path(seat_totals).name}", name))
        for code, year in sorted(set(seen) - expected):
            problems.append(Finding(f"EP {year} {code}", "turnout_coverage",
                                    f"not an election of {Path(seat_totals).name}", name, (seen[(code, year)],)))
    if problems:
        raise HistoryValidationError(problems)
    return {code: sorted(rows, key=lambda r: r["year"]) for code, rows in sorted(out.items())}


def eu_turnout(path: Path) -> list[dict]:
    """``[{"year", "turnout_pct"}]``, oldest first, from ``ep_eu_turnout.csv`` (regular elections only)."""
    name = Path(path).name
    problems: list[Finding] = []
    out: dict[int, dict] = {}
    for line, row in _rows(path, ("election_year", "turnout_pct")):
        year = row["election_year"]
        where = f"EP {year} EU"
        if not _YEAR.match(year) or int(year) not in EP_SIZE:
            problems.append(Finding(where, "parse", f"election_year {year!r} is not a regular EP election year",
                                    name, (line,)))
            continue
        if int(year) in out:
            problems.append(Finding(where, "one_row_per_election", "the year appears twice", name, (line,)))
            continue
        pct = _percent(row["turnout_pct"], where, name, line, problems)
        if pct is not None:
            out[int(year)] = {"year": int(year), "turnout_pct": pct}
    if problems:
        raise HistoryValidationError(problems)
    return [out[year] for year in sorted(out)]


def previous_groups(path: Path, groups: list[str], *, year: int) -> list[dict]:
    """The previous Parliament's groups mapped onto this election's group ids.

    ``groups``: this election's group ids; ``year``: the previous election (its Parliament's size,
    :data:`~historical_loader.election_days.EP_SIZE`, must be the groups' total). One entry per
    group of this Parliament that had a predecessor, ``{"id", "previous_ids", "names", "seats"}``
    (predecessors merged into one successor add up), then one per group that has no successor,
    ``{"id": <its old id>, "previous_ids": [it], "successor": None, ...}``, in file order.
    """
    name = Path(path).name
    old_col, new_col = f"group_{year}", None
    rows = _rows(path, (old_col, "name", "seats"))
    problems: list[Finding] = []
    header = list(rows[0][1]) if rows else []
    new_col = next((c for c in header if c.startswith("successor_")), None)
    if new_col is None:
        raise HistoryValidationError([Finding(name, "parse", "missing column successor_<year>", name, (1,))])
    known = set(groups)
    merged: dict[str, dict] = {}
    gone: list[dict] = []
    seen: dict[str, int] = {}
    total = 0
    for line, row in rows:
        old, successor = row[old_col], row[new_col]
        where = f"EP {year} group {old}"
        if not old or not row["seats"].isdigit():
            problems.append(Finding(where, "parse", "a group id and a whole number of seats are required", name, (line,)))
            continue
        if old in seen:
            problems.append(Finding(where, "one_row_per_election", f"also on line {seen[old]}", name, (line,)))
            continue
        seen[old] = line
        seats = int(row["seats"])
        total += seats
        if successor and successor not in known:
            problems.append(Finding(where, "successor_unknown", f"successor {successor!r} is not a group of this "
                                    f"election ({', '.join(groups)})", name, (line,)))
            continue
        if successor:
            entry = merged.setdefault(successor, {"id": successor, "previous_ids": [], "names": [], "seats": 0})
            entry["previous_ids"].append(old)
            entry["names"].append(row["name"])
            entry["seats"] += seats
        else:
            gone.append({"id": old, "previous_ids": [old], "names": [row["name"]], "seats": seats,
                         "successor": None})
    if year in EP_SIZE and total != EP_SIZE[year] and not problems:
        problems.append(Finding(f"EP {year}", "group_seats_sum", f"the groups hold {total} seats, the Parliament "
                                f"{EP_SIZE[year]}", name, tuple(seen.values())))
    if problems:
        raise HistoryValidationError(problems)
    clash = sorted(g["id"] for g in gone if g["id"] in known)
    if clash:  # an old id without successor that a new group reuses would be mistaken for its predecessor
        raise HistoryValidationError([Finding(f"EP {year} group {gid}", "successor_unknown", "no successor, "
                                              "but this election has a group of the same id", name,
                                              (seen[gid],)) for gid in clash])
    return list(merged.values()) + gone


def _to_decimal_text(pct: str) -> str:
    try:
        return str(Decimal(pct) / 100)
    except InvalidOperation as exc:  # pragma: no cover - validated before
        raise ValueError(pct) from exc


def election_context(previous: dict, resolve, *, election_year: int, groups: list[str]) -> dict:
    """What the tally adds to the bundle from the definition's ``previous`` block (paths through ``resolve``).

    ``{"countries": {CC: {"turnout", "turnout_pct", "turnout_history"}}, "eu": {"turnout_history",
    "groups", "groups_label", "groups_date", "groups_year"}}``; only the parts whose files the block
    names. ``turnout`` is the previous election's turnout as a decimal fraction text (``"0.4243"``);
    histories hold the elections before ``election_year``.
    """
    out: dict = {"countries": {}, "eu": {}}
    if previous.get("turnout"):
        totals = previous.get("seat_totals")
        by_country = country_turnout(resolve(previous["turnout"]), resolve(totals) if totals else None)
        for code, rows in by_country.items():
            history = [r for r in rows if r["year"] < election_year]
            if not history:
                continue
            last = history[-1]
            out["countries"][code] = {"turnout": _to_decimal_text(last["turnout_pct"]),
                                      "turnout_pct": last["turnout_pct"], "turnout_year": last["year"],
                                      "turnout_history": history}
    if previous.get("eu_turnout"):
        out["eu"]["turnout_history"] = [r for r in eu_turnout(resolve(previous["eu_turnout"]))
                                        if r["year"] < election_year]
    if previous.get("groups"):
        year = int(previous.get("year") or 0)
        out["eu"].update({"groups": previous_groups(resolve(previous["groups"]), groups, year=year),
                          "groups_year": year, "groups_label": previous.get("groups_label", ""),
                          "groups_date": previous.get("groups_date", "")})
    return out
