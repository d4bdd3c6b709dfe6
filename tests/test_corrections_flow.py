"""A correction delivery flows to the site and the feeds as what changed, with before and after."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def home(enr_home):
    return enr_home


def test_correction_shown_with_before_and_after(home):
    from enr import demo, operator, pipeline, replay

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    night = replay.write_night(home / "outbox", waves=("final:100",), countries=["AT", "SI"],
                               sender_home=keys["sender_home"], corrections=True, test=False)
    assert [w.label for w in night.waves] == ["final:100", "correction"]
    demo.drop_into_inbox(night.waves[0].files)
    for country in ("AT", "SI"):
        assert not pipeline.ingest_country("ep2019", country)["quarantined"]
    first = pipeline.tally("ep2019")
    pipeline.stage("ep2019", first)

    demo.drop_into_inbox(night.waves[1].files)
    for country in ("AT", "SI"):
        summary = pipeline.ingest_country("ep2019", country)
        assert not summary["quarantined"], summary
    second = pipeline.tally("ep2019")
    staged = pipeline.stage("ep2019", second)

    corrections = operator.status("ep2019")["corrections"]
    assert corrections, "the correction delivery left no correction events"
    changed = [c for c in corrections if c["before"] != c["after"]]
    assert changed
    bucket = home / "bucket" / staged["staging_path"]
    bundle = json.loads((bucket / "data" / "bundle.json").read_text())
    in_bundle = [c for country in bundle["countries"] for c in country["corrections"]]
    assert in_bundle and all({"before", "after", "reason", "corrects"} <= set(c) for c in in_bundle)

    example = changed[0]
    page = (bucket / "en" / "corrections.html").read_text()
    assert example["reason"] in page
    for value in (example["before"], example["after"]):
        assert f"{value:,}" in page or str(value) in page
    country_feed = json.loads((bucket / "data" / "countries" / f"{example['country'].lower()}.json").read_text())
    assert any(c.get("after") == example["after"] and c.get("before") == example["before"]
               for c in country_feed["corrections"]), "the country JSON feed does not list the correction"
    changes = json.loads((bucket / "changes.json").read_text())
    assert changes["changes"], changes
    assert any(c.get("after") == example["after"] and c.get("before") == example["before"]
               for c in changes["corrections"]), "changes.json does not list the correction"
