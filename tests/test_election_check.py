"""`enr check-election`: both definitions are clean; each kind of break in a copy is reported once,
naming the file, the row and the rule (and nothing else is reported)."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from enr.check_election import check_election
from enr.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("election,countries,seats", [("ep2019", 28, 751), ("ep2024", 27, 720)])
def test_both_definitions_are_clean(election, countries, seats, capsys):
    problems, figures = check_election(ROOT / "elections" / election)
    assert [str(p) for p in problems] == []
    assert figures["countries"] == countries and figures["seats"] == seats and figures["languages"] == 24
    assert main(["check-election", str(ROOT / "elections" / election)]) == 0
    assert f"{countries} countries, {seats} seats" in capsys.readouterr().out


def test_cli_by_election_id_and_bad_arguments(capsys, monkeypatch):
    monkeypatch.setenv("ENR_ELECTIONS_DIR", str(ROOT / "elections"))
    assert main(["check-election", "--election", "ep2024"]) == 0
    assert main(["check-election", "/no/such/folder"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "enr check-election: /no/such/folder: no such election definition folder"
    assert main(["check-election", "elections/ep2024", "--election", "ep2024"]) == 2


@pytest.fixture
def copy(tmp_path) -> Path:
    folder = tmp_path / "ep2024"
    shutil.copytree(ROOT / "elections" / "ep2024", folder)
    return folder


def _edit_json(folder: Path, change) -> None:
    path = folder / "election.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    change(meta)
    path.write_text(json.dumps(meta), encoding="utf-8")


def _edit_csv(path: Path, change) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    rows = change(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _row_index(rows, **match) -> int:
    return next(i for i, r in enumerate(rows) if all(r[k] == v for k, v in match.items()))


def _set(path: Path, match: dict, **values):
    def change(rows):
        rows[_row_index(rows, **match)].update(values)
        return rows
    _edit_csv(path, change)


def _lines(folder: Path) -> list[str]:
    problems, _ = check_election(folder)
    return [str(p) for p in problems]


def test_seats_that_do_not_add_up(copy):
    _edit_json(copy, lambda m: m["countries"]["AT"].update(seats=21))
    lines = _lines(copy)
    assert f"{copy}/election.json: [seats_total] the countries' seats add up to 721, not total_seats 720" in lines
    # the law still says 20 for AT: reported too, on the key of AT's country file
    assert f"{copy}/countries/AT.toml key seats: [seats_rules] AT: '20' seats, election.json says 21" in lines
    assert len(lines) == 2


# An unregistered method, a missing parameter, a rule without its legal source: the country files'
# own tests (tests/test_election_country_files.py), which break a copy of ep2024 in the same way.


def test_list_with_unknown_group_and_duplicate(copy):
    lists = copy / "lists.csv"

    def change(rows):
        rows[_row_index(rows, country="AT", list_id="fpoe")]["ep_group"] = "ID"  # the 2019 group, gone in 2024
        rows.append(dict(rows[_row_index(rows, country="MT", list_id="pl")]))
        return rows
    _edit_csv(lists, change)
    lines = _lines(copy)
    assert lines[0].startswith(f"{copy}/lists.csv row 2: [group] AT fpoe: group 'ID' is not one of election.json's "
                               f"groups (")
    assert lines[1] == f"{copy}/lists.csv row 333: [list] MT pl: list id appears twice"
    assert len(lines) == 2


def test_constituency_list_naming_a_missing_list_or_constituency(copy):
    path = copy / "constituency_lists.csv"

    def change(rows):
        rows[0]["list_id"] = "no_such_list"
        rows[1]["constituency"] = "VI : ITALIA ESTERA"
        return rows
    _edit_csv(path, change)
    assert _lines(copy) == [
        f"{path} row 2: [constituency_list] IT no_such_list: no such list in lists.csv",
        f"{path} row 3: [constituency_list] IT: constituency 'VI : ITALIA ESTERA' is not in countries/IT.toml"]


def test_language_without_catalog_and_early_embargo(copy):
    def change(meta):
        meta["languages"] = [*meta["languages"], "tlh"]
        meta["embargo"] = "2024-06-09T20:00:00+02:00"
    _edit_json(copy, change)
    assert _lines(copy) == [
        f"{copy}/election.json: [language] language 'tlh' has no catalog (publish/locale/tlh/LC_MESSAGES/messages.po)",
        f"{copy}/election.json: [embargo] embargo 2024-06-09T20:00:00+02:00 is before the last polls close "
        f"(2024-06-09T23:00:00+02:00)"]


def test_embargo_without_offset(copy):
    _edit_json(copy, lambda m: m.update(embargo="2024-06-09T23:00:00"))
    assert _lines(copy) == [f"{copy}/election.json: [embargo] embargo '2024-06-09T23:00:00' has no UTC offset"]


def test_units_missing_or_inconsistent(copy):
    (copy / "units" / "LU.csv").unlink()
    ie = copy / "units" / "IE.csv"
    _edit_csv(ie, lambda rows: [r for r in rows if r["constituency"] != "South"] +
              [{**rows[0], "unit_id": "IE-99999", "constituency": "Connacht"}])
    _edit_csv(copy / "units" / "MT.csv", lambda rows: rows + [rows[0]])
    lines = _lines(copy)
    assert f"{copy}/units/LU.csv: [units] missing (enr write-units --election ep2024)" in lines
    assert f"{copy}/units/IE.csv: [units] constituency 'South' has no unit" in lines
    assert any(line.startswith(f"{copy}/units/IE.csv row ") and
               line.endswith("[units] constituency 'Connacht' is not named in countries/IE.toml") for line in lines), lines
    assert any(line.startswith(f"{copy}/units/MT.csv row ") and "repeated" in line for line in lines), lines
    assert len(lines) == 4


def test_broken_copy_fails_the_cli_with_one_line_per_problem(copy, capsys):
    _edit_json(copy, lambda m: m["countries"].pop("MT"))
    assert main(["check-election", str(copy)]) == 1
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert f"{copy}/election.json: [seats_total] the countries' seats add up to 714, not total_seats 720" in lines
    assert any("[seats_rules] MT: not a country of election.json" in line for line in lines)
    assert any("[list] unknown country 'MT'" in line for line in lines)
    assert f"{len(lines)} problem(s)" in out.err
