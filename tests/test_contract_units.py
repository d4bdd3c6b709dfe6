"""Reporting units and constituencies are data of the election definition (issue 21).

* the committed ``elections/ep2019/units/<CC>.csv`` are exactly what the documented command
  (``enr write-units --election ep2019``) generates;
* one naming of constituencies: the country files, the unit lists and the constituency results agree, and a
  constituency of the units without seats of its own is declared in election.json;
* the seats held in abeyance are data, and the declared seats of the replay follow from them;
* a scaled unit set (rehearsal, benchmark) is written once into ``$ENR_HOME`` by the replay's simulation and
  read from there; the intake's registry never invents one.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from enr.definition import DefinitionError, load_election
from enr.simulation import units_at_scale, write_units
from enr.units import (_read_units, constituencies_without_seats, country_profile, rule_constituencies,
                       seats_in_abeyance, units_of, units_path)

ROOT = Path(__file__).resolve().parent.parent
ELECTION = "ep2019"
COUNTRIES = sorted(load_election(ELECTION).countries)


def test_the_committed_unit_lists_are_what_the_documented_command_writes(tmp_path):
    done = subprocess.run([sys.executable, "-m", "enr.cli", "write-units", "--election", ELECTION, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    committed = load_election(ELECTION).path / "units"
    for country in COUNTRIES:
        assert (tmp_path / f"{country}.csv").read_bytes() == (committed / f"{country}.csv").read_bytes(), country


@pytest.mark.parametrize("country", COUNTRIES)
def test_one_naming_of_constituencies(country):
    units = units_of(ELECTION, country, 1)
    names = set(units["constituency"])
    rules = set(rule_constituencies(ELECTION, country))
    without = set(constituencies_without_seats(ELECTION, country))
    results = {r["constituency"] for r in csv.DictReader((ROOT / "data/ep2019/results_constituency.csv").open(
        encoding="utf-8")) if r["country"] == country}
    if rules:
        assert names == rules | without and not rules & without
    else:
        assert names == {""} and not without
    assert results <= names
    assert set(country_profile(ELECTION, country).stv_constituencies) <= names


def test_the_decided_cases_of_the_issue():
    assert len(units_of(ELECTION, "AT", 1)) == 26 and len(units_of(ELECTION, "ES", 1)) == 149  # round, not floor
    be = units_of(ELECTION, "BE", 1).set_index("unit_id")["constituency"]
    assert be["BE-00019"] == "French-speaking electoral college" and be["BE-00031"] == "German-speaking electoral college"
    pl = set(units_of(ELECTION, "PL", 1)["constituency"])
    assert "1 Gdańsk" in pl and "01 Gdańsk" not in pl
    assert constituencies_without_seats(ELECTION, "IT") == ["ESTERO (sezioni negli altri Stati UE)"]
    hu = units_of(ELECTION, "HU", 1)
    assert hu["unit_id"].iloc[-1] == "HU-REST" and hu["registered"].notna().all()
    assert units_of(ELECTION, "FR", 1)["registered"].isna().all()  # synthetic: not known


def test_the_seats_in_abeyance_are_data_and_the_declaration_follows():
    from enr.replay import declared_seats

    abeyance = seats_in_abeyance(ELECTION, "IE")
    assert {(e["constituency"], e["list_id"]) for e in abeyance} == {("Dublin", "ff"), ("South", "fg")}
    declared = declared_seats(ELECTION, "IE")
    assert sum(e["seats"] for e in declared) == country_profile(ELECTION, "IE").stv_seats == 11
    by_constituency = {}
    for entry in declared:
        by_constituency[entry["constituency"]] = by_constituency.get(entry["constituency"], 0) + entry["seats"]
    assert by_constituency == {"Dublin": 3, "Midlands-North-West": 4, "South": 4}
    assert ("Dublin", "ff") not in {(e["constituency"], e["list_id"]) for e in declared}


def test_a_definition_without_unit_lists_has_no_units(tmp_path, monkeypatch):
    import shutil

    shutil.copytree(ROOT / "elections" / "ep2024", tmp_path / "nounits", ignore=shutil.ignore_patterns("units"))
    monkeypatch.setenv("ENR_ELECTIONS_DIR", str(tmp_path))
    with pytest.raises(DefinitionError, match="enr write-units --election nounits"):
        units_of("nounits", "MT", 1)


@pytest.mark.parametrize("content, message", [
    ("unit_id,unit_name,constituency\nA,a,\nA,b,\n", "duplicated unit_id A"),
    ("unit_id,unit_name,constituency\n_national,a,\n", "reserved"),
    ("unit_id,name,constituency\nA,a,\n", "header"),
    ("unit_id,unit_name,constituency,registered\nA,a,,1.5\n", "registered"),
])
def test_a_malformed_unit_list_is_refused(tmp_path, content, message):
    path = tmp_path / "XX.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DefinitionError, match=message):
        _read_units(str(path), 0.0)


def test_a_scaled_unit_set_is_written_once_into_the_home_and_read_from_there(tmp_path, monkeypatch):
    monkeypatch.setenv("ENR_HOME", str(tmp_path))
    monkeypatch.setenv("ENR_UNITS_SCALE", "2")
    path = units_path(ELECTION, "AT")
    assert path == tmp_path / "units" / ELECTION / "x2" / "AT.csv" and not path.exists()
    with pytest.raises(DefinitionError, match=r"AT.csv: no unit list for AT at scale 2.0 .*written by the replay"):
        units_of(ELECTION, "AT")  # the intake's registry reads, it never invents a unit set
    assert not path.exists()
    units = units_at_scale(ELECTION, "AT")
    assert path.exists() and len(units) == 52
    assert units_of(ELECTION, "AT").equals(units)  # what the intake then reads
    assert units_path(ELECTION, "PL") == load_election(ELECTION).path / "units" / "PL.csv"  # real units stay
    path.write_text("unit_id,unit_name,constituency,registered\nAT-1,one,,\n", encoding="utf-8")
    assert list(units_of(ELECTION, "AT")["unit_id"]) == ["AT-1"]  # read from the file, not regenerated
    assert len(units_of(ELECTION, "AT", 1)) == 26


def test_write_units_writes_every_country(tmp_path):
    written = write_units(ELECTION, ["AT", "IE"], out_dir=tmp_path)
    assert [p.name for p in written] == ["AT.csv", "IE.csv"]
    assert (tmp_path / "IE.csv").read_text(encoding="utf-8").splitlines()[0] == \
        "unit_id,unit_name,constituency,registered"
