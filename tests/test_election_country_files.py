"""The country files ``elections/<id>/countries/<CC>.toml``: every one parses, names a registered method
and a legal source; the older ``rules.csv`` form becomes the same rules through the same checks; a bad
file is refused naming the file, the key and the rule (``enr check-election``, load_election, parse_rules)."""
from __future__ import annotations

import csv
import json
import re
import shutil
import tomllib
from fractions import Fraction
from pathlib import Path

import pytest

from enr.check_election import check_election
from enr.definition import DefinitionError, read_country_file, read_rules
from transforms.country_file import CONSTITUENCY_KEYS, KEYS, rule_rows
from transforms.errors import RuleError
from transforms.registry import DISTRIBUTIONS, METHODS
from transforms.rules import COLUMNS, parse_rules

ROOT = Path(__file__).resolve().parent.parent
ELECTIONS = {"ep2019": 28, "ep2024": 27}


def _files(election: str) -> list[Path]:
    return sorted((ROOT / "elections" / election / "countries").glob("*.toml"))


@pytest.mark.parametrize("election,count", sorted(ELECTIONS.items()))
def test_every_country_file_parses_names_a_registered_method_and_a_legal_source(election, count):
    countries = json.loads((ROOT / "elections" / election / "election.json").read_text(encoding="utf-8"))["countries"]
    files = _files(election)
    assert [p.stem for p in files] == sorted(countries) and len(files) == count
    assert not (ROOT / "elections" / election / "rules.csv").exists()  # the country files are the source
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert data["method"] in METHODS, path.name
        assert data["seats"] == countries[path.stem]["seats"], path.name
        assert data["law"]["source"].strip() and data["law"]["notes"].strip(), path.name
        assert data.get("distribution", "hare_niemeyer_by_list") in DISTRIBUTIONS, path.name
        for table in data.get("constituency", []):
            assert table.get("method", data["method"]) in METHODS, (path.name, table["name"])
            assert table["source"].strip(), (path.name, table["name"])


def test_the_2019_law_files_name_the_methods_of_the_seat_engine():
    method = {p.stem: tomllib.loads(p.read_text(encoding="utf-8"))["method"] for p in _files("ep2019")}
    assert sorted(cc for cc, m in method.items() if m == "dhondt") == [
        "AT", "BE", "CZ", "DK", "EE", "ES", "FI", "FR", "HR", "HU", "PL", "PT", "SI", "UK"]
    assert method["DE"] == "sainte_lague_schepers" and METHODS["sainte_lague_schepers"].fn.__module__ == \
        "transforms.germany"
    assert DISTRIBUTIONS["hare_niemeyer_by_list"].__module__ == "transforms.poland"


def _as_rules_csv(folder: Path, rows) -> None:
    with (folder / "rules.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(dict(r) for r in rows)


@pytest.mark.parametrize("election", sorted(ELECTIONS))
def test_the_older_rules_csv_form_gives_the_same_rules(election, tmp_path):
    """A definition written before the country files (rules.csv, no countries/) reads into the same
    rows, the same typed rules, and checks clean."""
    source = ROOT / "elections" / election
    folder = tmp_path / election
    shutil.copytree(source, folder)
    countries = list(json.loads((source / "election.json").read_text(encoding="utf-8"))["countries"])
    rows = read_rules(source, countries)
    shutil.rmtree(folder / "countries")
    _as_rules_csv(folder, rows)
    old = read_rules(folder, countries)
    assert [dict(r) for r in old] == [dict(r) for r in rows]
    assert parse_rules(old) == parse_rules(rows)
    problems, _ = check_election(folder)
    assert [str(p) for p in problems] == []


@pytest.fixture
def copy(tmp_path) -> Path:
    folder = tmp_path / "ep2024"
    shutil.copytree(ROOT / "elections" / "ep2024", folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _lines(folder: Path) -> list[str]:
    return [str(p) for p in check_election(folder)[0]]


def test_bad_key_is_refused_with_file_key_and_rule(copy):
    _edit(copy / "countries" / "DE.toml", 'method = "sainte_lague_schepers"',
          'method = "sainte_lague_schepers"\nthreshold_percent = 5')
    lines = _lines(copy)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{copy}/countries/DE.toml key threshold_percent: [country_file] (DE): not a key of "
                               "a country file (known: ")
    assert "threshold.percent" in lines[0]


def test_unregistered_method_is_refused_with_file_key_and_rule(copy):
    _edit(copy / "countries" / "DE.toml", 'method = "sainte_lague_schepers"', 'method = "dhondt_plus"')
    _edit(copy / "countries" / "SE.toml", "first_divisor = 1.2\n", "")
    lines = _lines(copy)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{copy}/countries/DE.toml key method: [method] (DE): 'dhondt_plus' is not a "
                               "registered method (known: ")
    assert lines[1] == f"{copy}/countries/SE.toml key first_divisor: [method] (SE): method 'sainte_lague_modified' " \
                       "needs it"


def test_missing_legal_source_is_refused_with_file_key_and_rule(copy):
    path = copy / "countries" / "PL.toml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'(name = "3 Olsztyn"\n(?:.+\n)*?)source = .*\n', r"\1", text, count=1)
    text = re.sub(r'^source = """\\\n(?:.+\\\n)*.+"""\n', "", text, count=1, flags=re.M)  # law.source
    path.write_text(text, encoding="utf-8")
    assert _lines(copy) == [
        f"{copy}/countries/PL.toml key law.source: [legal_source] PL: no legal source named (key law.source)",
        f"{copy}/countries/PL.toml key constituency[3 Olsztyn].source: [legal_source] PL 3 Olsztyn: no legal "
        f"source named (key constituency[3 Olsztyn].source)"]


def test_seats_that_disagree_with_election_json(copy):
    _edit(copy / "countries" / "AT.toml", "seats = 20", "seats = 19")
    lines = _lines(copy)
    assert lines == [f"{copy}/countries/AT.toml key seats: [seats_rules] AT: '19' seats, election.json says 20"]


def test_a_file_that_is_not_toml_or_not_a_country(copy):
    _edit(copy / "countries" / "MT.toml", "seats = 6", "seats = = 6")
    shutil.copy(copy / "countries" / "LU.toml", copy / "countries" / "XK.toml")
    shutil.copy(copy / "countries" / "LU.toml", copy / "countries" / "lux.toml")
    lines = _lines(copy)
    assert any(line.startswith(f"{copy}/countries/MT.toml: [country_file] not valid TOML: ") for line in lines), lines
    assert not any("MT: no country file" in line for line in lines), lines  # reported once, as not TOML
    assert f"{copy}/countries/XK.toml key country: [seats_rules] XK: not a country of election.json" in lines
    assert any(line.startswith(f"{copy}/countries/lux.toml: [country_file] a country file is named after the "
                               "country's code") for line in lines), lines


def test_a_constituency_table_is_checked_by_the_same_rules(copy):
    _edit(copy / "countries" / "BE.toml", "seats = 13", "seats = 12")
    lines = _lines(copy)
    assert lines == [f"{copy}/countries/BE.toml key seats: [method] (BE): 22, but the constituency rows seat 21"]


@pytest.mark.parametrize("text,message", [
    ('seats = true\nmethod = "dhondt"\n', r"countries/XX.toml key seats \(XX\): True is not a number"),
    ('seats = 10.5\nmethod = "dhondt"\n', r"key seats \(XX\): 10.5 is not a whole number"),
    ('seats = 10\nmethod = "dhondt"\n[threshold]\npercent = 150\nbase = "valid_votes"\ninclusive = true\n',
     r"countries/XX.toml key threshold.percent \(XX\): 150 is out of range"),
    ('seats = 10\nmethod = "dhondt"\n[threshold]\npercent = 5\nbase = "valid_votes"\n',
     r"key threshold.inclusive \(XX\): must say whether a list exactly at the line qualifies"),
    ('seats = 10\nmethod = "dhondt"\n[threshold]\npercent = 5\nbase = "valid_votes"\ninclusive = 1\n',
     r"key threshold.inclusive \(XX\): 1 is not true or false"),
    ('seats = 10\nmethod = "dhondt"\n[law]\nnotes = ["a"]\n', r"key law.notes \(XX\): \['a'\] is not text"),
    ('seats = 10\nmethod = "stv"\n[[constituency]]\nname = "North"\nseats = "four"\n',
     r"key constituency\[North\].seats \(XX / North\): 'four' is not a whole number"),
    ('seats = 10\nmethod = "stv"\n[[constituency]]\nseats = 4\n', r"key constituency\[1\].name"),
    ('seats = 10\nmethod = "stv"\n[[constituency]]\nname = "North"\nthreshold = 5\n',
     r"key constituency\[North\].threshold \(XX\): not a key of a country file constituency"),
    ('seats = 10\nmethod = "os.system"\n', r"key method \(XX\): 'os.system' is not a registered method"),
])
def test_bad_country_files_fail_naming_file_and_key(text, message):
    with pytest.raises(RuleError, match=message) as caught:
        parse_rules(rule_rows("XX", tomllib.loads(text), "countries/XX.toml"))
    assert caught.value.file == "countries/XX.toml" and caught.value.key


def test_load_election_refuses_a_bad_country_file(tmp_path, monkeypatch):
    from enr.definition import load_election

    shutil.copytree(ROOT / "elections" / "ep2024", tmp_path / "zz2024")
    (tmp_path / "zz2024" / "election.json").write_text(
        (tmp_path / "zz2024" / "election.json").read_text(encoding="utf-8").replace('"id": "ep2024"', '"id": "zz2024"'),
        encoding="utf-8")
    _edit(tmp_path / "zz2024" / "countries" / "FR.toml", "[threshold]", "[thresholds]")
    monkeypatch.setenv("ENR_ELECTIONS_DIR", str(tmp_path))
    load_election.cache_clear()
    try:
        with pytest.raises(DefinitionError, match=r"zz2024/countries/FR.toml key thresholds.percent \(FR\): not a key"):
            load_election("zz2024")
        _edit(tmp_path / "zz2024" / "countries" / "FR.toml", "[thresholds]", "[threshold")
        with pytest.raises(DefinitionError, match=r"FR.toml: not valid TOML"):
            read_country_file(tmp_path / "zz2024" / "countries" / "FR.toml")
    finally:
        load_election.cache_clear()


def test_the_keys_cover_every_column_once():
    assert sorted(KEYS) == sorted(set(COLUMNS) - {"country", "constituency"})
    assert len(set(KEYS.values())) == len(KEYS) and len(set(CONSTITUENCY_KEYS.values())) == len(CONSTITUENCY_KEYS)
    assert set(CONSTITUENCY_KEYS) <= set(COLUMNS)


def test_the_examples_of_docs_new_election_are_valid_country_files():
    doc = (ROOT / "docs" / "NEW_ELECTION.md").read_text(encoding="utf-8")
    examples = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    assert len(examples) == 2
    rules = {}
    for text in examples:
        code = re.match(r"# .* \(([A-Z]{2})\)", text).group(1)
        rules.update(parse_rules(rule_rows(code, tomllib.loads(text), f"countries/{code}.toml")))
    assert rules["SE"].first_divisor == Fraction(6, 5) and rules["SE"].threshold.inclusive
    assert [(c.constituency, c.seats) for c in rules["IE"].constituencies] == [
        ("Dublin", 4), ("Midlands-North-West", 5), ("South", 5)]


def test_an_older_definition_converts_to_country_files(tmp_path):
    """scripts/country_files_from_rules_csv.py: a rules.csv definition becomes country files that read
    into the same rows (the script refuses to write a file that would not)."""
    import subprocess
    import sys

    source = ROOT / "elections" / "ep2019"
    countries = list(json.loads((source / "election.json").read_text(encoding="utf-8"))["countries"])
    rows = read_rules(source, countries)
    folder = tmp_path / "ep2019"
    folder.mkdir()
    _as_rules_csv(folder, rows)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "country_files_from_rules_csv.py"), str(folder)],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"28 country files in {folder / 'countries'}"
    (folder / "rules.csv").unlink()
    assert [dict(r) for r in read_rules(folder, countries)] == [dict(r) for r in rows]
    de = (folder / "countries" / "DE.toml").read_text(encoding="utf-8")
    assert 'method = "sainte_lague_schepers"  # transforms/germany.py' in de
    assert max(len(line) for line in de.splitlines()) <= 100


def test_the_older_rules_csv_form_is_refused_by_row_and_column(copy):
    """The same checks on a rules.csv definition name the row and the column, as before the country files."""
    countries = list(json.loads((copy / "election.json").read_text(encoding="utf-8"))["countries"])
    rows = [dict(r) for r in read_rules(copy, countries)]
    shutil.rmtree(copy / "countries")
    de = next(n for n, r in enumerate(rows, 1) if r["country"] == "DE")
    olsztyn = next(n for n, r in enumerate(rows, 1) if r["constituency"] == "3 Olsztyn")
    rows[de - 1]["method"] = "dhondt_plus"
    rows[olsztyn - 1]["source"] = ""
    rows[0]["seats"] = "19"
    _as_rules_csv(copy, rows)
    lines = _lines(copy)
    assert len(lines) == 3, lines
    assert any(line.startswith(f"{copy}/rules.csv row {de}: [method] (DE), column 'method': 'dhondt_plus' is not a "
                               "registered method") for line in lines), lines
    assert f"{copy}/rules.csv row {olsztyn}: [legal_source] PL 3 Olsztyn: no legal source named (column 'source')" \
        in lines
    assert f"{copy}/rules.csv row 1: [seats_rules] AT: '19' seats, election.json says 20" in lines
