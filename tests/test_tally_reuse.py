"""The tally carries each country's results over from the previous version when nothing it depends on changed.

A country's entry and allocation are a function of its accepted delivery (and corrections and lots)
and of the election definition (:func:`enr.tally.country_key`). After a delivery for one country,
only that country is allocated again; after a change of the definition, every country is; the EU
aggregate is always computed again, and the bundle is the one a tally from scratch gives.
"""
from __future__ import annotations

import json

import pytest

COUNTRIES = ["AT", "DK", "SI"]
CHANGED = "DK"


@pytest.fixture
def night(enr_home, monkeypatch):
    """Three countries' provisional wave ingested and tallied (v0001); the allocations counted after."""
    from enr import demo, pipeline, replay, tally

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    waves = replay.write_night(enr_home / "outbox", waves=("provisional:50", "final:100"), countries=COUNTRIES,
                               sender_home=keys["sender_home"]).waves
    demo.drop_into_inbox(waves[0].files)
    for country in COUNTRIES:
        assert not pipeline.ingest_country("ep2019", country)["quarantined"]
    assert pipeline.tally("ep2019")["version"] == "v0001"
    allocated: list[str] = []
    original = tally.tally_country

    def counting(definition, rules, counts, lots=None):
        allocated.append(counts.country)
        return original(definition, rules, counts, lots)

    monkeypatch.setattr(tally, "tally_country", counting)
    return {"waves": waves, "allocated": allocated}


def _bundle(version: str) -> dict:
    from enr import pipeline

    return json.loads(pipeline.export_bucket().read(f"tally/ep2019/{version}/bundle.json"))


def _results(bundle: dict) -> dict:
    """What the tally computed (not when): countries without their "since", the EU aggregate, the projection."""
    countries = [{k: v for k, v in c.items() if not k.startswith("since_")} for c in bundle["countries"]]
    eu = {k: v for k, v in bundle["eu"].items() if k != "as_of"}
    return {"countries": countries, "eu": eu, "projection": {k: v for k, v in (bundle.get("projection") or {}).items()
                                                               if k != "as_of"}}


def test_a_delivery_for_one_country_allocates_that_country_only(night, monkeypatch):
    from enr import demo, pipeline, tally

    demo.drop_into_inbox([p for p in night["waves"][1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    assert pipeline.tally("ep2019")["version"] == "v0002"
    assert night["allocated"] == [CHANGED]
    carried = _bundle("v0002")
    dk = next(c for c in carried["countries"] if c["code"] == CHANGED)
    assert dk["status"] == "final" and dk["since_version"] == "v0002"
    assert [c["since_version"] for c in carried["countries"] if c["code"] in COUNTRIES and c["code"] != CHANGED] \
        == ["v0001", "v0001"]

    # the same store tallied from scratch (no previous results to carry): the same results
    monkeypatch.setattr(tally.CountryCache, "load", lambda self, data, bundle: None)
    night["allocated"].clear()
    assert pipeline.tally("ep2019", force=True)["version"] == "v0003"
    assert sorted(night["allocated"]) == COUNTRIES
    assert _results(_bundle("v0003")) == _results(carried)
    assert carried["eu"]["seats_allocated"] == sum(c["seats_total"] for c in carried["countries"]
                                                   if c["code"] in COUNTRIES)


def test_nothing_changed_allocates_nothing_and_gives_the_same_results(night):
    from enr import pipeline

    assert pipeline.tally("ep2019", force=True)["version"] == "v0002"
    assert night["allocated"] == []
    assert _results(_bundle("v0002")) == _results(_bundle("v0001"))


def test_a_changed_definition_allocates_every_country_again(night, monkeypatch):
    from enr import pipeline, tally

    monkeypatch.setattr(tally, "definition_digest", lambda definition: "another definition")
    assert pipeline.tally("ep2019", force=True)["version"] == "v0002"
    assert sorted(night["allocated"]) == COUNTRIES
    assert _results(_bundle("v0002")) == _results(_bundle("v0001"))


def test_the_definition_digest_sees_a_lists_group(night):
    """A list moved to another group changes the digest that every country's key takes."""
    import dataclasses

    from enr import tally
    from enr.definition import load_election

    definition = load_election("ep2019")
    base = tally.definition_digest(definition)
    assert tally.definition_digest(load_election("ep2019")) == base
    first = definition.lists[0]
    moved = dataclasses.replace(definition, lists=(dataclasses.replace(first, ep_group="NI"), *definition.lists[1:]))
    assert first.ep_group != "NI" and tally.definition_digest(moved) != base


def test_an_unreadable_cache_allocates_every_country(night):
    from enr import demo, pipeline

    pipeline.export_bucket().write("tally/ep2019/v0001/countries.json", b"{not json")
    demo.drop_into_inbox([p for p in night["waves"][1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    assert pipeline.tally("ep2019")["version"] == "v0002"
    assert sorted(night["allocated"]) == COUNTRIES


def test_a_record_that_is_not_the_published_entry_is_not_carried(night):
    """The records beside a bundle are carried only as far as they are that bundle's entries (and the
    bundle the one the store recorded): records that give AT other seats are allocated again."""
    from enr import demo, pipeline

    key = "tally/ep2019/v0001/countries.json"
    records = json.loads(pipeline.export_bucket().read(key))
    at = records["countries"]["AT"]["entry"]
    at["lists"][0]["seats"] += 1
    pipeline.export_bucket().write(key, json.dumps(records).encode())
    demo.drop_into_inbox([p for p in night["waves"][1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    assert pipeline.tally("ep2019")["version"] == "v0002"
    assert sorted(night["allocated"]) == ["AT", CHANGED]
    assert _results(_bundle("v0002"))["countries"][0] == _results(_bundle("v0001"))["countries"][0]


def test_a_forged_key_does_not_carry_a_country_whose_delivery_changed(night):
    """An attacker who can write the bucket rewrites the changed country's record key to the new
    delivery's: its published entry still names the old delivery, so it is allocated again and the
    new version shows the new delivery."""
    from enr import demo, pipeline, tally

    demo.drop_into_inbox([p for p in night["waves"][1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    definition = pipeline.load_election("ep2019")
    counts = pipeline._counts(pipeline.open_store(), "ep2019")
    forged = tally.country_key(tally.definition_digest(definition), counts[CHANGED],
                               pipeline.open_store().lots("ep2019").get(CHANGED))
    key = "tally/ep2019/v0001/countries.json"
    records = json.loads(pipeline.export_bucket().read(key))
    records["countries"][CHANGED]["key"] = forged
    pipeline.export_bucket().write(key, json.dumps(records).encode())
    assert pipeline.tally("ep2019")["version"] == "v0002"
    assert night["allocated"] == [CHANGED]
    dk = next(c for c in _bundle("v0002")["countries"] if c["code"] == CHANGED)
    assert dk["status"] == "final" and dk["sequence"] == counts[CHANGED].sequence


def test_an_allocation_that_is_not_its_entry_is_not_carried(night):
    """The EU aggregate reads the carried allocation: one that gives AT's first list a seat more than
    its entry says is allocated again (the EU seats stay those of the counts)."""
    from enr import demo, pipeline

    key = "tally/ep2019/v0001/countries.json"
    records = json.loads(pipeline.export_bucket().read(key))
    records["countries"]["AT"]["allocation"]["seats"][0][1] += 1
    pipeline.export_bucket().write(key, json.dumps(records).encode())
    demo.drop_into_inbox([p for p in night["waves"][1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    assert pipeline.tally("ep2019")["version"] == "v0002"
    assert sorted(night["allocated"]) == ["AT", CHANGED]
    at_seats = [[g["id"], g["by_country"].get("AT")] for g in _bundle("v0002")["eu"]["groups"]]
    assert at_seats == [[g["id"], g["by_country"].get("AT")] for g in _bundle("v0001")["eu"]["groups"]]
    at_entry = next(c for c in _bundle("v0002")["countries"] if c["code"] == "AT")
    assert sum(n or 0 for _, n in at_seats) == sum(e["seats"] for e in at_entry["lists"]) > 0


def test_a_bundle_that_is_not_the_recorded_one_carries_nothing(night):
    from enr import demo, pipeline

    key = "tally/ep2019/v0001/bundle.json"
    pipeline.export_bucket().write(key, pipeline.export_bucket().read(key) + b"\n")
    demo.drop_into_inbox([p for p in night["waves"][1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    assert pipeline.tally("ep2019")["version"] == "v0002"
    assert sorted(night["allocated"]) == COUNTRIES
