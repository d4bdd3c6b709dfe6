"""``enr check-election``: is an election definition ready for the night?

A definition (``elections/<id>/``, see :mod:`enr.definition` and docs/NEW_ELECTION.md) is data
written by people, weeks before the night. This check reads it file by file, **without stopping at
the first problem**, and reports one line per problem, naming the file, the row (1 = the header
of a CSV file, so data rows start at 2; rules.csv rows as :mod:`transforms.rules` counts them,
1 = first data row) or, in a country file, the key (``countries/DE.toml key seats: [seats_rules]
...``), and the rule broken:

=================== ================================================================================
rule                what must hold
=================== ================================================================================
``json``            ``election.json`` exists, is JSON and has every required key
``id``              its ``id`` is the folder's name
``seats_total``     the countries' seats add up to ``total_seats``
``country_file``    each ``countries/<CC>.toml`` is TOML, is named after a country code and holds
                    only the keys of a country file (:mod:`transforms.country_file`)
``seats_rules``     every country has its country file (older form: one country row in
                    ``rules.csv``) with the same seats, and no file or row names another country
``method``          each country's and constituency's method (and distribution, quota ...) is
                    registered (:data:`transforms.registry.METHODS`) and the parameters it needs are
                    there (:mod:`transforms.rules` says which); the rules parse as a whole
``legal_source``    every country and constituency names its legal source (``law.source``,
                    ``source`` in a constituency table or a rules.csv row)
``group``           ``groups`` have unique ids; each list of ``lists.csv`` names one of them in
                    ``ep_group`` or leaves it empty (explicitly ungrouped: counted under Others)
``list``            lists.csv rows have a known country, a list id, a name; ids unique per country
``constituency_list`` each row of ``constituency_lists.csv`` (or of the results file by
                    constituency) names a list of ``lists.csv`` and a constituency of its country file
``language``        each of the ``languages`` has a UI catalog (``publish/locale/<lang>/``)
``embargo``         the embargo has a UTC offset and is not before the last polls close
                    (``polls_close``; without it, not before the last polling day)
``units``           ``units/<CC>.csv`` exists for every country, has the documented header, unique
                    unit ids, and only constituencies the rules or the STV list name; every STV
                    constituency and every constituency that allocates its own seats (BE colleges)
                    has at least one unit
=================== ================================================================================
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from enr.definition import PROJECT_ROOT
from historical_loader.context import election_context
from historical_loader.errors import HistoryValidationError
from publish.i18n import LOCALE_DIR

REQUIRED_KEYS = ("id", "name", "election_date", "polling_days", "embargo", "total_seats", "languages", "groups",
                 "countries")
LIST_COLUMNS = ("country", "list_id", "list_name", "ep_group")
UNIT_HEADER = ("unit_id", "unit_name", "constituency")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a definition: where, which rule, what."""

    file: str
    row: int | None
    rule: str
    message: str
    #: the key of a country file (``threshold.percent``), where a row does not apply
    key: str | None = None

    def __str__(self) -> str:
        where = f"{self.file} row {self.row}" if self.row is not None else self.file
        if self.key:
            where = f"{self.file} key {self.key}"
        return f"{where}: [{self.rule}] {self.message}"


def _named(column: str, row) -> str:
    """How the author calls ``column`` of ``row``: the country file's key, or rules.csv's column."""
    return f"key {row.written_as.get(column, column)}" if row.written_as is not None else f"column {column!r}"


def _csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


class _Checker:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[Problem] = []
        self.college_countries: set[str] = set()  # allocation_level=constituency: each constituency counts apart
        self.unread: set[str] = set()  # country files that could not be read (reported as such)

    def problem(self, file: str, row: int | None, rule: str, message: str) -> None:
        self.problems.append(Problem(str(self.folder / file), row, rule, message))

    # -- election.json ---------------------------------------------------------------------------
    def meta(self) -> dict | None:
        path = self.folder / "election.json"
        if not path.exists():
            self.problem("election.json", None, "json", "missing")
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            self.problem("election.json", None, "json", f"not valid JSON: {exc}")
            return None
        missing = [k for k in REQUIRED_KEYS if k not in meta]
        if missing:
            self.problem("election.json", None, "json", f"missing key(s): {', '.join(missing)}")
            return None
        if meta["id"] != self.folder.name:
            self.problem("election.json", None, "id", f"id {meta['id']!r} is not the folder's name {self.folder.name!r}")
        try:
            seats = {cc: int(c["seats"]) for cc, c in meta["countries"].items()}
        except (KeyError, TypeError, ValueError):
            self.problem("election.json", None, "json", "every country needs an integer 'seats'")
            return None
        if sum(seats.values()) != int(meta["total_seats"]):
            self.problem("election.json", None, "seats_total", f"the countries' seats add up to {sum(seats.values())}, "
                                                              f"not total_seats {meta['total_seats']}")
        ids = [g.get("id") for g in meta["groups"]]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            self.problem("election.json", None, "group", f"group id {dup!r} appears twice")
        return meta

    def languages(self, meta: dict) -> None:
        for lang in meta["languages"]:
            if not (LOCALE_DIR / str(lang) / "LC_MESSAGES" / "messages.po").exists():
                self.problem("election.json", None, "language", f"language {lang!r} has no catalog "
                                                               f"(publish/locale/{lang}/LC_MESSAGES/messages.po)")

    def embargo(self, meta: dict) -> None:
        try:
            embargo = datetime.fromisoformat(meta["embargo"])
        except (TypeError, ValueError):
            self.problem("election.json", None, "embargo", f"embargo {meta['embargo']!r} is not an ISO 8601 time")
            return
        if embargo.utcoffset() is None:
            self.problem("election.json", None, "embargo", f"embargo {meta['embargo']!r} has no UTC offset")
            return
        if meta.get("polls_close"):
            try:
                close = datetime.fromisoformat(meta["polls_close"])
            except (TypeError, ValueError):
                self.problem("election.json", None, "embargo", f"polls_close {meta['polls_close']!r} is not an "
                                                               f"ISO 8601 time")
                return
            if close.utcoffset() is None:
                self.problem("election.json", None, "embargo", "polls_close has no UTC offset")
            elif embargo < close:
                self.problem("election.json", None, "embargo", f"embargo {embargo.isoformat()} is before the last "
                                                               f"polls close ({close.isoformat()})")
        days = [date.fromisoformat(d) for d in meta["polling_days"]] or [date.fromisoformat(meta["election_date"])]
        if embargo.date() < max(days):
            self.problem("election.json", None, "embargo", f"embargo {embargo.isoformat()} is before the last "
                                                           f"polling day {max(days).isoformat()}")

    # -- the law: countries/<CC>.toml, or the older rules.csv ---------------------------------------
    def law_file(self, cc: str) -> str:
        """Where the definition writes ``cc``'s law (for messages naming it)."""
        return f"countries/{cc}.toml" if (self.folder / "countries").is_dir() else "rules.csv"

    def law_problem(self, row, column: str, rule: str, message: str) -> None:
        """A problem placed where the author wrote ``column`` of ``row``: the country file's key, or
        rules.csv's row."""
        if row.written_as is not None:
            self.problems.append(Problem(str(self.folder / row.file), None, rule, message,
                                         key=row.written_as.get(column, column)))
        else:
            self.problem(row.file, row.number, rule, message)

    def law_rows(self, meta: dict) -> list:
        """The rows of the country files (every file read, each broken one reported) or of rules.csv."""
        from enr.definition import DefinitionError, read_country_file, read_rules, rule_files
        from transforms.errors import RuleError

        rows = []
        if (self.folder / "countries").is_dir():
            for path in rule_files(self.folder, meta["countries"]):
                rel = f"countries/{path.name}"
                self.unread.add(path.stem)  # until read: a broken file is reported once, not also as missing
                try:
                    rows.extend(read_country_file(path))
                    self.unread.discard(path.stem)
                except DefinitionError as exc:
                    self.problem(rel, None, "country_file", str(exc).removeprefix(f"{path}: "))
                except RuleError as exc:
                    self.problems.append(Problem(str(self.folder / rel), None, "country_file", exc.detail,
                                                 key=exc.key or None))
        elif (self.folder / "rules.csv").exists():
            rows = list(read_rules(self.folder, meta["countries"]))
        else:
            self.problem("countries", None, "seats_rules", "missing (one countries/<CC>.toml per country)")
        return rows

    def rules(self, meta: dict) -> dict[str, set[str]]:
        """Check the law of every country; return the constituencies named per country."""
        from transforms.errors import RuleError
        from transforms.registry import DISTRIBUTIONS, METHODS
        from transforms.rules import _parse_row, parse_rules

        constituencies: dict[str, set[str]] = {}
        rows = self.law_rows(meta)
        country_rows: dict[str, dict] = {}
        row_ok = True
        for row in rows:
            try:
                _parse_row(row.number, row, METHODS, DISTRIBUTIONS)
            except RuleError as exc:
                row_ok = False
                self.law_error(exc)
            if not (row.get("source") or "").strip():
                self.law_problem(row, "source", "legal_source", f"{row.get('country')} "
                                                                f"{row.get('constituency') or ''}".strip()
                                 + f": no legal source named ({_named('source', row)})")
            country = (row.get("country") or "").strip()
            if (row.get("constituency") or "").strip():
                constituencies.setdefault(country, set()).add(row["constituency"].strip())
            elif country in country_rows:
                self.law_problem(row, "country", "seats_rules", f"{country}: a second country row")
            else:
                country_rows[country] = row
                if (row.get("allocation_level") or "").strip() == "constituency":
                    self.college_countries.add(country)
        if row_ok:
            try:
                parse_rules(rows)
            except RuleError as exc:
                if rows and rows[0].written_as is not None:
                    self.law_error(exc)
                else:
                    self.problem("rules.csv", None, "method", str(exc))
        for cc, country in meta["countries"].items():
            if cc not in country_rows:
                if cc not in self.unread:
                    self.problem(self.law_file(cc), None, "seats_rules", f"{cc}: no "
                                 + ("country file" if self.law_file(cc) != "rules.csv" else "country row"))
                continue
            row = country_rows[cc]
            if (row.get("seats") or "").strip() != str(country["seats"]):
                self.law_problem(row, "seats", "seats_rules", f"{cc}: {row.get('seats')!r} seats, election.json "
                                                              f"says {country['seats']}")
        for cc, row in sorted(country_rows.items()):
            if cc not in meta["countries"]:
                self.law_problem(row, "country", "seats_rules", f"{cc}: not a country of election.json")
        for cc, country in meta["countries"].items():
            for name in country.get("stv_constituencies", ()):
                if name:
                    constituencies.setdefault(cc, set()).add(name)
        return constituencies

    def law_error(self, exc) -> None:
        """A :class:`transforms.errors.RuleError` as a ``method`` problem, placed by file and key or row."""
        if exc.key:
            self.problems.append(Problem(str(self.folder / exc.file), None, "method", exc.detail, key=exc.key))
        else:
            self.problem(exc.file or "rules.csv", exc.row, "method", exc.detail)

    # -- lists -------------------------------------------------------------------------------------
    def lists(self, meta: dict) -> set[tuple[str, str]]:
        path = self.folder / "lists.csv"
        known: set[tuple[str, str]] = set()
        if not path.exists():
            self.problem("lists.csv", None, "list", "missing")
            return known
        header, rows = _csv(path)
        missing = [c for c in LIST_COLUMNS if c not in header]
        if missing:
            self.problem("lists.csv", 1, "group" if "ep_group" in missing else "list",
                         f"missing column(s): {', '.join(missing)}")
            return known
        groups = {g.get("id") for g in meta["groups"]}
        for row_no, row in enumerate(rows, start=2):
            country, list_id = (row.get("country") or "").strip(), (row.get("list_id") or "").strip()
            if country not in meta["countries"]:
                self.problem("lists.csv", row_no, "list", f"unknown country {country!r}")
            if not list_id or not (row.get("list_name") or "").strip():
                self.problem("lists.csv", row_no, "list", "list_id and list_name are required")
            if (country, list_id) in known:
                self.problem("lists.csv", row_no, "list", f"{country} {list_id}: list id appears twice")
            known.add((country, list_id))
            group = row.get("ep_group")
            if group is None:
                self.problem("lists.csv", row_no, "group", f"{country} {list_id}: no ep_group cell (name a group, or "
                                                          f"leave the cell empty for an ungrouped list)")
            elif group.strip() and group.strip() not in groups:
                self.problem("lists.csv", row_no, "group", f"{country} {list_id}: group {group!r} is not one of "
                                                          f"election.json's groups ({', '.join(sorted(groups))})")
        return known

    def constituency_lists(self, meta: dict, lists: set[tuple[str, str]], named: dict[str, set[str]]) -> None:
        files = meta.get("results_files") or {}
        spec = files.get("constituency_lists") or files.get("constituency")
        if not spec:
            return
        path = self.folder / spec[2:] if spec.startswith("./") else PROJECT_ROOT / spec
        if not path.exists():
            self.problem("election.json", None, "constituency_list", f"results_files names {spec}, which is missing")
            return
        _, rows = _csv(path)
        for row_no, row in enumerate(rows, start=2):
            cc, list_id, name = row.get("country", ""), row.get("list_id", ""), row.get("constituency", "")
            if cc not in meta["countries"]:
                continue  # a country of the results file that the definition does not hold
            if (cc, list_id) not in lists:
                self.problems.append(Problem(str(path), row_no, "constituency_list",
                                             f"{cc} {list_id}: no such list in lists.csv"))
            if name not in named.get(cc, set()) and name not in meta["countries"][cc].get(
                    "constituencies_without_seats", ()):
                self.problems.append(Problem(str(path), row_no, "constituency_list",
                                             f"{cc}: constituency {name!r} is not in {self.law_file(cc)}"))

    # -- units -------------------------------------------------------------------------------------
    def units(self, meta: dict, named: dict[str, set[str]]) -> int:
        total = 0
        for cc, country in sorted(meta["countries"].items()):
            rel = f"units/{cc}.csv"
            path = self.folder / rel
            if not path.exists():
                self.problem(rel, None, "units", f"missing (enr write-units --election {self.folder.name})")
                continue
            header, rows = _csv(path)
            if tuple(header[:3]) != UNIT_HEADER or not set(header) <= {*UNIT_HEADER, "registered"}:
                self.problem(rel, 1, "units", f"header must be {','.join(UNIT_HEADER)}[,registered]")
                continue
            seen: set[str] = set()
            allowed = named.get(cc, set()) | set(country.get("constituencies_without_seats", ()))
            used: set[str] = set()
            for row_no, row in enumerate(rows, start=2):
                unit = row["unit_id"]
                if not unit or unit in seen:
                    self.problem(rel, row_no, "units", f"unit_id {unit!r} empty or repeated")
                seen.add(unit)
                if (row.get("registered") or "").strip() and not row["registered"].strip().isdigit():
                    self.problem(rel, row_no, "units", "registered must be empty or a whole number")
                name = row["constituency"]
                used.add(name)
                if name and allowed and name not in allowed and not _fine_constituency(meta, cc):
                    self.problem(rel, row_no, "units", f"constituency {name!r} is not named in {self.law_file(cc)}")
                elif name and not allowed and not _fine_constituency(meta, cc):
                    self.problem(rel, row_no, "units", f"constituency {name!r}: {cc} has no constituencies in "
                                                      f"{self.law_file(cc)}")
            needed = {n for n in country.get("stv_constituencies", ()) if n}
            if cc in self.college_countries:
                needed |= named.get(cc, set())
            for name in sorted(needed - used):
                self.problem(rel, None, "units", f"constituency {name!r} has no unit")
            if not rows:
                self.problem(rel, None, "units", "no unit")
            total += len(rows)
        return total


def _comparison(checker: _Checker, meta: dict) -> None:
    """The comparison files the ``previous`` block names (historical_loader.context's rules)."""
    def resolve(relative: str) -> Path:
        return checker.folder / relative[2:] if relative.startswith("./") else PROJECT_ROOT / relative

    previous = meta.get("previous") or {}
    for key in ("turnout", "seat_totals", "eu_turnout", "groups"):
        if previous.get(key) and not resolve(previous[key]).is_file():
            checker.problem("election.json", None, "previous", f"previous.{key}: no file {previous[key]}")
            return
    try:
        election_context(previous, resolve, election_year=int(str(meta["election_date"])[:4]),
                         groups=[g.get("id") for g in meta["groups"]])
    except HistoryValidationError as exc:
        files = {resolve(v).name: resolve(v) for k, v in previous.items()
                 if k in ("turnout", "seat_totals", "eu_turnout", "groups") and v}
        for finding in exc.violations:
            checker.problems.append(Problem(str(files.get(finding.file, finding.file)),
                                            finding.lines[0] if finding.lines else None, f"previous.{finding.rule}",
                                            f"{finding.election}: {finding.message}"))


def _fine_constituency(meta: dict, cc: str) -> bool:
    """Real unit lists (results_files.fine) may carry their own constituency labels (PL 2019)."""
    return cc in ((meta.get("results_files") or {}).get("fine") or {})


def check_election(folder: Path | str) -> tuple[list[Problem], dict]:
    """Every problem of the definition in ``folder``, and a few figures of it."""
    checker = _Checker(Path(folder))
    meta = checker.meta()
    figures: dict = {}
    if meta is None:
        return checker.problems, figures
    checker.languages(meta)
    checker.embargo(meta)
    named = checker.rules(meta)
    lists = checker.lists(meta)
    checker.constituency_lists(meta, lists, named)
    units = checker.units(meta, named)
    _comparison(checker, meta)
    figures = {"countries": len(meta["countries"]), "seats": meta["total_seats"], "lists": len(lists),
               "units": units, "languages": len(meta["languages"])}
    return checker.problems, figures
