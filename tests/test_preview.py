"""The pre-publication review (enr.preview, no Airflow): staged bytes, digest, diff, deliveries, quarantine.

A small night of three countries is ingested, tallied, staged and published as v0001; the next
wave (one country final, one bad delivery) is staged as v0002 and reviewed against v0001.
"""
from __future__ import annotations

import hashlib
import json
from html import escape
from datetime import timedelta

import pytest

COUNTRIES = ["AT", "DK", "SI"]
ELECTION = "ep2019"


@pytest.fixture
def two_versions(enr_home):
    from enr import demo, pipeline, replay
    from enr.home import init_home

    init_home(ELECTION, "rehearsal", demo_keys=True, airflow=False)
    keys = demo.ensure_demo_keys()
    night = replay.write_night(enr_home / "outbox", waves=("provisional:50", "final:100"), countries=COUNTRIES,
                               sender_home=keys["sender_home"])
    demo.drop_into_inbox(night.waves[0].files)
    for country in COUNTRIES:
        assert not pipeline.ingest_country(ELECTION, country)["quarantined"]
    first = pipeline.stage(ELECTION, pipeline.tally(ELECTION))
    approval = {"chosen_options": ["Approve"], "responded_by": {"id": "reviewer", "name": "reviewer"},
                "responded_at": "2026-12-06T20:00:00+00:00"}
    pipeline.publish(ELECTION, first["version"], first["manifest_sha256"], approval)
    # the next wave: DK final, and a DK delivery that is refused (a signature by nobody trusted)
    dk = next(p for p in night.waves[1].files if f"-DK-" in p.name)
    forged = enr_home / "outbox" / "forged" / dk.name.replace("-0002", "-0003")
    forged.parent.mkdir()
    forged.write_bytes(dk.read_bytes().replace(b'"sequence":2', b'"sequence":3'))
    (forged.parent / (forged.name + ".asc")).write_bytes(dk.with_name(dk.name + ".asc").read_bytes())
    demo.drop_into_inbox([dk])
    assert pipeline.ingest_country(ELECTION, "DK")["accepted"]
    demo.drop_into_inbox([forged])
    assert pipeline.ingest_country(ELECTION, "DK")["quarantined"]
    second = pipeline.stage(ELECTION, pipeline.tally(ELECTION))
    return enr_home, first, second


def test_the_review_shows_the_staged_digest_the_changes_and_the_deliveries(two_versions):
    from enr import preview

    home, first, second = two_versions
    facts = preview.review(ELECTION, second["version"])
    manifest = (home / "bucket" / second["staging_path"] / "manifest.json").read_bytes()
    assert facts["manifest_sha256"] == hashlib.sha256(manifest).hexdigest() == second["manifest_sha256"]
    assert facts["digest_ok"] and facts["test"] and facts["embargo"].passed
    assert facts["diff"]["against"] == first["version"]
    # only DK changed: its lists' votes grew from 50 % to 100 % of the units
    changed = {(r["country"], r["list_id"]) for r in facts["diff"]["votes"]}
    assert changed and {c for c, _ in changed} == {"DK"}
    assert all(r["after"] > r["before"] for r in facts["diff"]["votes"])
    assert facts["diff"]["new_countries"] == []
    assert [(d["country"], d["sequence"]) for d in facts["deliveries"] if d["country"] == "DK"] == [("DK", 2)]
    assert [(q["country"], q["rule"]) for q in facts["quarantined"]] == [("DK", "signature_bad")]
    # v0001 reviewed now: against itself (it is public), nothing changed and nothing quarantined before it
    first_facts = preview.review(ELECTION, first["version"])
    assert first_facts["diff"]["votes"] == [] and first_facts["quarantined"] == []
    html = preview.render_review(facts)
    assert second["manifest_sha256"] in html and "TEST data" in html and "DK" in html
    # the night's timeline (publish/timeline.py): a test version is not bound by it, and the page says so
    assert facts["timeline"].startswith("Timeline: a test version is not bound")
    assert f'<p id="timeline">{escape(facts["timeline"])}</p>' in html


def test_the_embargo_is_counted_down_before_it_passes(two_versions):
    from enr import preview
    from enr.definition import load_election

    _, _, second = two_versions
    embargo = load_election(ELECTION).embargo
    facts = preview.review(ELECTION, second["version"], now=embargo - timedelta(hours=2, minutes=5))
    assert not facts["embargo"].passed
    assert "2 h 05 min left" in facts["embargo"].text()
    assert preview.review(ELECTION, second["version"], now=embargo)["embargo"].passed


def test_staged_bytes_are_served_only_as_the_manifest_says(two_versions):
    from enr import preview

    home, _, second = two_versions
    folder = home / "bucket" / second["staging_path"]
    data, kind = preview.staged_file(ELECTION, second["version"], "fr/index.html")
    assert data == (folder / "fr" / "index.html").read_bytes() and kind.startswith("text/html")
    assert preview.staged_file(ELECTION, second["version"], "en/")[0] == (folder / "en" / "index.html").read_bytes()
    with pytest.raises(preview.NotFound):
        preview.staged_file(ELECTION, second["version"], "../../public/ep2019/current.json")
    with pytest.raises(preview.NotFound):
        preview.staged_file(ELECTION, "v9999", "fr/index.html")
    page = folder / "de" / "index.html"
    page.write_bytes(page.read_bytes() + b"<!-- changed after staging -->")
    with pytest.raises(preview.TamperedStaging, match="do not approve"):
        preview.staged_file(ELECTION, second["version"], "de/index.html")


def test_a_recorded_digest_that_differs_from_the_staged_manifest_is_flagged(two_versions):
    from enr import preview

    home, _, second = two_versions
    manifest_path = home / "bucket" / second["staging_path"] / "manifest.json"
    manifest = json.loads(manifest_path.read_bytes())
    manifest["files"] = manifest["files"][:-1]
    manifest_path.write_bytes(json.dumps(manifest).encode())
    facts = preview.review(ELECTION, second["version"])
    assert not facts["digest_ok"]
    assert "do not approve" in preview.render_review(facts)


def test_the_approval_body_states_the_facts_and_links_the_site(two_versions):
    from enr import pipeline

    _, _, second = two_versions
    described = pipeline.describe_version(ELECTION, second["version"], preview_base="http://127.0.0.1:8080/")
    url = f"http://127.0.0.1:8080/enr-preview/{ELECTION}/{second['version']}/"
    assert described["preview_url"] == url and f"]({url})" in described["body"]
    assert "TEST data" in described["body"] and "embargo passed" in described["body"]
    assert described["body"].count("Timeline: ") == 1
    assert second["manifest_sha256"] in described["body"]
    assert "quarantined since the previous version: 1" in described["body"]
