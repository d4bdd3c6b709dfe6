"""Feeds: fixed column order, JSON/CSV/XML agree, NIST v2 validates against its schema, Atom, changes."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from jsonschema import Draft4Validator

from tests.support.publish_fixtures import ROOT, build_bundle, rendered_site
from publish import feeds, nist
from publish.columns import COUNTRY_COLUMNS, EU_COLUMNS, TURNOUT_COLUMNS

SCHEMA = ROOT / "data" / "schemas" / "NIST_V2_election_results_reporting.json"


@pytest.fixture(scope="module")
def site() -> Path:
    return rendered_site()


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def test_country_feeds_share_one_column_order(site: Path) -> None:
    for code in ("fr", "de", "at", "hu"):
        rows = list(csv.reader(io.StringIO((site / "data" / "countries" / f"{code}.csv").read_text("utf-8"))))
        assert tuple(rows[0]) == COUNTRY_COLUMNS
        document = json.loads((site / "data" / "countries" / f"{code}.json").read_text("utf-8"))
        assert tuple(document["columns"]) == COUNTRY_COLUMNS
        assert all(tuple(row) == COUNTRY_COLUMNS for row in document["rows"])
        xml = ET.parse(site / "data" / "countries" / f"{code}.xml").getroot()
        assert [c.text for c in xml.find("columns")] == list(COUNTRY_COLUMNS)
        for row in xml.findall("row"):
            tags = [child.tag for child in row]
            assert tags == [c for c in COUNTRY_COLUMNS if c in tags]  # order kept, absent = unknown
        assert len(rows) - 1 == len(document["rows"]) == len(xml.findall("row"))
    eu = list(csv.reader(io.StringIO((site / "data" / "eu.csv").read_text("utf-8"))))
    assert tuple(eu[0]) == EU_COLUMNS
    turnout = list(csv.reader(io.StringIO((site / "data" / "turnout.csv").read_text("utf-8"))))
    assert tuple(turnout[0]) == TURNOUT_COLUMNS and len(turnout) == 29


def test_feed_values(site: Path) -> None:
    fr = json.loads((site / "data" / "countries" / "fr.json").read_text("utf-8"))
    rn = next(r for r in fr["rows"] if r["list_id"] == "rn")
    assert rn["votes"] == 5286939 and rn["seats"] == 22 and rn["vote_share"] == "23.34" and rn["test"] is False
    assert fr["country"]["status"] == "final" and fr["country"]["as_of_utc"] == "2019-05-26T21:11:00Z"
    hu = list(csv.DictReader(io.StringIO((site / "data" / "countries" / "hu.csv").read_text("utf-8"))))
    assert next(r for r in hu if r["list_id"] == "munkaspart")["votes"] == ""  # unknown stays empty
    at = json.loads((site / "data" / "countries" / "at.json").read_text("utf-8"))
    assert any(r["list_name"] == "<script>alert(1)</script>" for r in at["rows"])  # data, not markup
    eu = json.loads((site / "data" / "eu.json").read_text("utf-8"))
    assert eu["rows"][0]["group"] == "EPP" and eu["majority"] == 376 and eu["all_final"] is False
    changes = json.loads((site / "changes.json").read_text("utf-8"))
    assert changes["version"] == "v0003" and changes["changes"][0]["what"] == "status provisional -> final"
    assert changes["corrections"][0]["before"] == 5286829


def test_nist_report_validates_against_the_v2_schema(site: Path, validator: Draft4Validator) -> None:
    report = json.loads((site / "data" / "nist-v2.json").read_text("utf-8"))
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5])
    assert report["IsTest"] is False and report["Status"] == "correction"
    election = report["Election"][0]
    assert len(election["Contest"]) == 29  # 28 countries + EU seats by group
    fr = next(c for c in election["Contest"] if c["@id"] == "contest-fr")
    counts = {vc["Type"] for sel in fr["ContestSelection"] for vc in sel["VoteCounts"]}
    assert counts == {"total", "seats"}
    groups = [p for p in report["Party"] if p["@type"] == "ElectionResults.Coalition"]
    epp = next(g for g in groups if g["@id"] == "group-epp")
    assert len(epp["Name"]["Text"]) == 24 and epp["Color"] == "3399ff" and epp["PartyIds"]
    greek = next(u for u in report["GpUnit"] if u["@id"] == "gpu-el")
    assert {"Language": "el", "Content": "Ελλάδα", "@type": "ElectionResults.LanguageString"} in greek["Name"]["Text"]


def test_nist_rehearsal_and_status_variants(validator: Draft4Validator) -> None:
    rehearsal = nist.election_report(build_bundle(test=True), languages=["en", "ga"])
    assert not list(validator.iter_errors(rehearsal))
    assert rehearsal["IsTest"] is True and rehearsal["TestType"] == "rehearsal"
    official = build_bundle(statuses={c: "official" for c in ("DE", "FR", "IT", "UK", "IE", "MT")})
    for country in official["countries"]:
        country["status"] = "official"
        country["corrections"] = []
    report = nist.election_report(official, languages=["en"])
    assert report["Status"] == "certified" and not list(validator.iter_errors(report))


def test_atom_feed_of_publications() -> None:
    data = feeds.atom_feed({"id": "ep2019", "name": "EP 2019"}, [
        {"version": "v0001", "published_at": "2019-05-26T21:00:00+00:00", "manifest_sha256": "a" * 64, "test": False},
        {"version": "v0002", "published_at": "2019-05-26T21:30:00+00:00", "manifest_sha256": "b" * 64,
         "changes": [{"country": "FR", "what": "status provisional -> final"}]},
    ])
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.fromstring(data)
    entries = root.findall("a:entry", ns)
    assert [e.find("a:title", ns).text for e in entries] == ["v0002 (publish)", "v0001 (publish)"]
    assert root.find("a:updated", ns).text == "2019-05-26T21:30:00Z"
    assert "FR: status provisional -> final" in entries[0].find("a:summary", ns).text
    assert entries[0].find("a:link", ns).get("href") == "v0002/index.html"
