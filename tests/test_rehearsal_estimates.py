"""A rehearsal of the night's timeline through the pipeline (ingest, tally, stage, publish) on a
clock we set, never by sleeping: real, signed deliveries into a real election's public area.

20:30 CEST: national estimates of AT and DK (polls closed at 17:00 and 20:00) -> the EU projection
is published (from 20:15), AT and DK on their estimates, the other countries on their outgoing
delegations. 22:00: Italy's estimate arrives while its polls are open until 23:00 -> publication
refused, the public version unchanged. 23:05: the counts of the three countries -> published
after the embargo, the projection now resting on their counts.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

CEST = timezone(timedelta(hours=2))
ELECTION = "ep2019"


class Clock:
    """The one clock of the pipeline and the store for this test."""

    def __init__(self) -> None:
        self.now = datetime(2019, 5, 26, 20, 30, tzinfo=CEST)

    def __call__(self) -> datetime:
        return self.now.astimezone(timezone.utc)


@pytest.fixture
def night(enr_home, monkeypatch):
    from enr import demo, operator, pipeline, replay
    import enr.store.engine

    clock = Clock()
    monkeypatch.setattr(pipeline, "_now", clock)
    monkeypatch.setattr(enr.store.engine, "utcnow", clock)  # the store's clock
    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    operator.mark_public_areas("election")
    deliveries = replay.write_night(enr_home / "outbox", waves=("estimate", "final:100"), countries=["AT", "DK", "IT"],
                                    sender_home=keys["sender_home"], test=False)
    return clock, deliveries


def _files(deliveries, wave: int, countries: set[str]) -> list:
    return [f for f in deliveries.waves[wave].files if any(f"-{cc}-" in f.name for cc in countries)]


def _version(countries: set[str]) -> dict:
    from enr import pipeline

    for country in sorted(countries):
        summary = pipeline.ingest_country(ELECTION, country)
        assert not summary["quarantined"], summary
    return pipeline.stage(ELECTION, pipeline.tally(ELECTION))


def _publish(staged: dict) -> dict:
    from enr import pipeline

    approval = {"chosen_options": ["Approve"], "responded_by": {"id": "reviewer", "name": "reviewer"},
                "responded_at": "2019-05-26T18:00:00+00:00"}
    return pipeline.publish(ELECTION, staged["version"], staged["manifest_sha256"], approval)


def _public_bundle(home, version: str) -> dict:
    return json.loads((home / "bucket" / "public" / ELECTION / version / "data" / "bundle.json").read_text())


def test_estimates_then_projection_then_counts_on_the_timeline(night, enr_home):
    from enr import demo, pipeline
    from publish import release

    clock, deliveries = night
    # 20:30 CEST: estimates of AT and DK; the projection may leave from 20:15
    demo.drop_into_inbox(_files(deliveries, 0, {"AT", "DK"}))
    first = _version({"AT", "DK"})
    published = _publish(first)
    assert published["published_at"] == "2019-05-26T18:30:00+00:00"
    bundle = _public_bundle(enr_home, first["version"])
    assert {c["code"]: c["status"] for c in bundle["countries"] if c["status"] != "none"} == \
        {"AT": "estimate", "DK": "estimate"}
    projection = bundle["projection"]
    assert projection["as_of"] == "2019-05-26T18:30:00+00:00"
    assert projection["countries_by_basis"]["estimate"] == ["AT", "DK"]
    assert "FR" in projection["countries_by_basis"]["outgoing"]
    assert projection["seats_projected"] == 751
    page = (enr_home / "bucket" / "public" / ELECTION / first["version"] / "en" / "index.html").read_text()
    assert "Projection" in page

    # 22:00: Italy's estimate while its polls are open until 23:00: refused, nothing public changes
    clock.now = datetime(2019, 5, 26, 22, 0, tzinfo=CEST)
    demo.drop_into_inbox(_files(deliveries, 0, {"IT"}))
    second = _version({"IT"})
    request = pipeline.describe_version(ELECTION, second["version"])  # what the reviewer is told
    assert "Timeline: this version may be published from 2019-05-26T21:00:00+00:00" in request["body"]
    with pytest.raises(pipeline.PublicationRefused, match="national estimate of IT .* polls are open until"):
        _publish(second)
    current = release.current(pipeline.export_bucket(), ELECTION)
    assert current["version"] == first["version"]
    assert not (enr_home / "bucket" / "public" / ELECTION / second["version"]).exists()
    assert pipeline.open_store().version_status(ELECTION, second["version"]) == "refused"

    # 23:05, after the embargo: the counts replace the estimates
    clock.now = datetime(2019, 5, 26, 23, 5, tzinfo=CEST)
    demo.drop_into_inbox(_files(deliveries, 1, {"AT", "DK", "IT"}))
    third = _version({"AT", "DK", "IT"})
    _publish(third)
    assert release.current(pipeline.export_bucket(), ELECTION)["version"] == third["version"]
    bundle = _public_bundle(enr_home, third["version"])
    assert {c["code"]: c["status"] for c in bundle["countries"] if c["status"] != "none"} == \
        {"AT": "final", "DK": "final", "IT": "final"}
    assert bundle["projection"]["countries_by_basis"]["count"] == ["AT", "DK", "IT"]
    assert bundle["projection"]["countries_by_basis"]["estimate"] == []
    eu_counted = {g["id"]: g["by_status"].get("final", 0) for g in bundle["eu"]["groups"]}
    assert sum(eu_counted.values()) == 18 + 13 + 73
