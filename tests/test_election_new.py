"""docs/NEW_ELECTION.md, followed step by step: a made-up election `xx2029` (three countries, two
methods) written from scratch in a temporary folder, checked, and its whole night run through
Airflow (ingest, tally, stage, approval through the REST endpoint, publish)."""
from __future__ import annotations

import csv
import json

import pytest

from pathlib import Path

from enr.cli import main
from test_night_e2e import _states, airflow_db, dags, night_home, respond_in_background  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

SOURCE = "Made-up law for the test of docs/NEW_ELECTION.md (no real legal source: test data)"
COUNTRY_FILE = """# {cc}: made up
seats = {seats}
allocation_level = "national"
method = "{method}"
{extra}{threshold}
[law]
constituencies = "single national constituency"
source = "%s"
""" % SOURCE
THRESHOLD_4 = """
[threshold]
percent = 4
base = "valid_votes"
inclusive = true
"""
LISTS = {
    "AT": [("alpha", "Alpha Partei", "ÖVP", "A"), ("beta", "Beta Liste", "SPÖ", "B"), ("gamma", "Gamma", "", "")],
    "DK": [("a", "Alfa", "V", "A"), ("b", "Beta", "A", "B"), ("c", "Gamma", "", "")],
    "SE": [("m", "Mittenpartiet", "M", "A"), ("s", "Sydpartiet", "S", "B"), ("n", "Nya", "", "")],
}


def write_definition(root, election="xx2029"):
    """The files of docs/NEW_ELECTION.md section 1, written by hand."""
    folder = root / election
    folder.mkdir(parents=True)
    meta = {
        "id": election, "name": "Made-up election 2029", "term": 11,
        "polling_days": ["2029-06-07", "2029-06-10"], "election_date": "2029-06-10",
        "polls_close": "2029-06-10T23:00:00+02:00", "embargo": "2029-06-10T23:00:00+02:00",
        "timezone": "Europe/Brussels", "total_seats": 56, "group_rule": "made up",
        "languages": ["en", "de", "da", "sv"],
        "groups": [{"id": "A", "name": "Group A", "color": "#3366cc"},
                   {"id": "B", "name": "Group B", "color": "#cc3333"},
                   {"id": "OTH", "name": "Others", "color": "#cccccc"}],
        "countries": {"AT": {"seats": 20}, "DK": {"seats": 15}, "SE": {"seats": 21}},
        "results_files": {"synthetic": True, "synthetic_seed": 29, "synthetic_base": "ep2019",
                          "national": "./results/national.csv", "turnout": "./results/turnout.csv",
                          "constituency": "./results/constituency.csv"},
    }
    (folder / "election.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    countries = folder / "countries"
    countries.mkdir()
    (countries / "AT.toml").write_text(COUNTRY_FILE.format(cc="AT", seats=20, method="dhondt", extra="",
                                                           threshold=THRESHOLD_4), encoding="utf-8")
    (countries / "DK.toml").write_text(COUNTRY_FILE.format(cc="DK", seats=15, method="dhondt", extra="",
                                                           threshold=""), encoding="utf-8")
    (countries / "SE.toml").write_text(COUNTRY_FILE.format(cc="SE", seats=21, method="sainte_lague_modified",
                                                           extra="first_divisor = 1.2\n", threshold=THRESHOLD_4),
                                       encoding="utf-8")
    with (folder / "lists.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["country", "list_id", "list_name", "party_abbrev", "ep_group", "alliance", "minority",
                         "independent"])
        for country, lists in LISTS.items():
            for list_id, name, party, group in lists:
                writer.writerow([country, list_id, name, party, group, "", "", ""])
    return folder


def test_a_new_election_from_scratch_runs_its_night(dags, night_home, tmp_path, monkeypatch):  # noqa: F811
    from enr import demo, operator, pipeline, replay

    home, keys = night_home
    monkeypatch.setenv("ENR_ELECTIONS_DIR", str(tmp_path / "elections"))
    folder = write_definition(tmp_path / "elections")
    # the synthetic model starts from 2019: that definition sits beside the new one
    (tmp_path / "elections" / "ep2019").symlink_to(ROOT / "elections" / "ep2019")

    # before the results and units exist, the check says what is missing
    assert main(["check-election", str(folder)]) == 1
    assert main(["write-synthetic", "--election", "xx2029"]) == 0
    assert main(["write-units", "--election", "xx2029"]) == 0
    assert sorted(p.name for p in (folder / "units").iterdir()) == ["AT.csv", "DK.csv", "SE.csv"]
    assert main(["check-election", "--election", "xx2029"]) == 0

    night = replay.write_night(home / "outbox", election="xx2029", waves=("provisional:50", "final:100"),
                               sender_home=keys["sender_home"], seed=0)
    assert [p.name for p in night.waves[1].files] == ["xx2029-AT-0002.csv", "xx2029-DK-0002.csv",
                                                      "xx2029-SE-0002.csv"]
    demo.drop_into_inbox(list(night))
    monkeypatch.setenv("AIRFLOW_VAR_ENR_ELECTION", "xx2029")  # section 3: the one setting
    run = dags["election_night_ingest"].test()
    states = _states(run)
    assert sorted(states["ingest"]) == ["success"] * 3 and states["stage"] == ["success"], states
    version = operator.status("xx2029")["latest_version"]

    thread, answer = respond_in_background("election_night_publish", "publish", ["Approve"])
    run = dags["election_night_publish"].test(run_conf={"version": version})
    thread.join(5)
    assert answer["status"] == 200, answer
    assert _states(run)["publish"] == ["success"]

    status = operator.status("xx2029")
    assert status["current"]["version"] == version
    assert status["current"]["seats_allocated"] == 56 == status["current"]["seats_total"]
    report = operator.verify_current("xx2029")
    assert report["ok"], report["text"]
    bundle = json.loads(pipeline.export_bucket().read(pipeline.open_store().version("xx2029", version)["bundle_path"]))
    methods = {c["code"]: c["rule"].get("method") for c in bundle["countries"]}
    assert methods == {"AT": "dhondt", "DK": "dhondt", "SE": "sainte_lague_modified"}
    assert bundle["synthetic"] is True
    public = pipeline.export_bucket().local_path(f"public/xx2029/{version}")
    assert sorted(p.name for p in public.iterdir() if p.is_dir() and len(p.name) == 2) == ["da", "de", "en", "sv"]
