"""Attacks through the pipeline: one contractor's dry run on the day, and a tampered tally.

A test delivery for one country while the others' are real must not produce a version at all
(the old bypass: the whole version became "test" and escaped the embargo). The refusal names the
countries, shows in ``enr status``, and the next good delivery still flows into the store. (The
intake keeps a country's deliveries of one kind, ``test_flag_mismatch``: a real MT delivery after a
test one is refused there, so the version stays refused until the operator acts.)
"""
from __future__ import annotations

import json

import pytest

from attack_support import ELECTION, drop_delivery, public_state

pytestmark = pytest.mark.attack


@pytest.fixture
def night(enr_home):
    from enr import demo, operator, pipeline

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    operator.mark_public_areas("election")
    return enr_home, keys


def test_one_countrys_test_delivery_among_real_ones(night):
    from enr import operator, pipeline

    home, keys = night
    drop_delivery(home, keys["sender_home"], "AT", 1, test=False)
    drop_delivery(home, keys["sender_home"], "MT", 1, test=True)  # a contractor's dry run, on the day
    for country in ("AT", "MT"):
        assert pipeline.ingest_country(ELECTION, country)["accepted"]  # the store keeps both
    bucket = pipeline.export_bucket()
    before = public_state(bucket)
    with pytest.raises(pipeline.TallyRefused, match="test for MT; real for AT"):
        pipeline.tally(ELECTION)
    with pytest.raises(pipeline.TallyRefused):  # every later run refuses too, recorded once
        pipeline.tally(ELECTION)
    status = operator.status(ELECTION)
    assert status["versions"] == [] and "test for MT; real for AT" in status["tally_refused"]
    assert "TALLY REFUSED" in operator.format_status(status)
    assert len(pipeline.open_store().audit(ELECTION, event_name="tally_refused")) == 1
    assert public_state(bucket) == before and not bucket.list("staging")

    # the next good delivery still flows into the store; the tally keeps refusing while MT's latest is test
    drop_delivery(home, keys["sender_home"], "AT", 2, test=False, wave="final:100")
    assert pipeline.ingest_country(ELECTION, "AT")["accepted"]
    with pytest.raises(pipeline.TallyRefused, match="test for MT; real for AT"):
        pipeline.tally(ELECTION)
    assert len(pipeline.open_store().audit(ELECTION, event_name="tally_refused")) == 2  # one per refused state
    assert operator.status(ELECTION)["versions"] == [] and public_state(bucket) == before


def test_a_tally_bundle_edited_to_mark_one_country_test(night):
    from enr import pipeline

    home, keys = night
    for country in ("AT", "MT"):
        drop_delivery(home, keys["sender_home"], country, 1, test=False)
        assert pipeline.ingest_country(ELECTION, country)["accepted"]
    tallied = pipeline.tally(ELECTION)
    bucket = pipeline.export_bucket()
    bundle = json.loads(bucket.read(tallied["bundle_path"]))
    next(c for c in bundle["countries"] if c["code"] == "MT")["test"] = True
    bucket.write(tallied["bundle_path"], json.dumps(bundle).encode())
    before = public_state(bucket)
    with pytest.raises(pipeline.TallyRefused, match="test data for MT, real data for AT"):
        pipeline.stage(ELECTION, tallied)
    assert pipeline.open_store().version_status(ELECTION, tallied["version"]) == "refused"
    assert public_state(bucket) == before and not bucket.list(f"staging/{ELECTION}/{tallied['version']}")


def test_the_publishers_clock_behind_the_stores_last_event(night, monkeypatch):
    """The worker's clock set back (e.g. to before the embargo): the store's own events say otherwise."""
    from datetime import datetime, timezone

    from enr import pipeline

    home, keys = night
    for country in ("AT", "MT"):
        drop_delivery(home, keys["sender_home"], country, 1, test=False)
        assert pipeline.ingest_country(ELECTION, country)["accepted"]
    staged = pipeline.stage(ELECTION, pipeline.tally(ELECTION))
    bucket = pipeline.export_bucket()
    before = public_state(bucket)
    monkeypatch.setattr(pipeline, "_now", lambda: datetime(2019, 5, 26, 21, 30, tzinfo=timezone.utc))
    with pytest.raises(pipeline.PublicationRefused, match="the clock moved back"):
        pipeline.publish(ELECTION, staged["version"], staged["manifest_sha256"],
                         {"chosen_options": ["Approve"], "responded_by": {"id": "reviewer"}})
    assert pipeline.open_store().version_status(ELECTION, staged["version"]) == "refused"
    assert public_state(bucket) == before == {}
