"""The projection and the timeline in the tally (enr/tally.py): bases per country, withheld
estimates, the projection's time, the timeline carried in the bundle for publication."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

import pytest

from enr.definition import DefinitionError, load_election
from enr.replay import wave_rows
from enr.tally import CountryCounts, build_bundle
from historical_loader.previous import previous_results

CEST = timezone(timedelta(hours=2))
ELECTION = "ep2019"


@lru_cache(maxsize=None)
def _counts(country: str, wave: str) -> CountryCounts:
    return _counts_of(ELECTION, country, wave)


def _bundle(at: datetime, **waves: str) -> dict:
    definition = load_election(ELECTION)
    previous = previous_results(definition.resolve(definition.previous["source"]), 2019)
    counts = {cc: _counts(cc, wave) for cc, wave in waves.items()}
    return build_bundle(definition, counts, version="v0001", generated_at=at, previous=previous)


def test_each_country_on_its_best_basis_and_an_estimate_not_allowed_withheld():
    bundle = _bundle(datetime(2019, 5, 26, 20, 30, tzinfo=CEST), AT="estimate", DK="provisional:50", UK="estimate")
    projection = bundle["projection"]
    assert projection["type"] == "projection" and projection["as_of"] == "2019-05-26T20:30:00+02:00"
    countries = projection["countries"]
    assert countries["AT"]["basis"] == "estimate" and countries["DK"]["basis"] == "count"
    assert countries["AT"]["groups"] == {
        item["ep_group"]: sum(l["seats"] for l in next(c for c in bundle["countries"] if c["code"] == "AT")["lists"]
                              if l["ep_group"] == item["ep_group"])
        for item in next(c for c in bundle["countries"] if c["code"] == "AT")["lists"] if item["seats"]}
    # the UK forbids publishing an estimate: withheld, and the UK stands at its outgoing delegation
    assert bundle["withheld"] == [{"country": "UK", "sequence": 1, "status": "estimate", "rule": "estimates_allowed"}]
    assert next(c for c in bundle["countries"] if c["code"] == "UK")["status"] == "none"
    assert countries["UK"]["basis"] == "outgoing"
    # FR at its 2014 delegation, each party in the group of the list continuing it (outgoing_lists.csv)
    fr = countries["FR"]
    assert fr["basis"] == "outgoing"
    assert fr["groups"]["ID"] == 24 and fr["groups"]["EPP"] == 20 and fr["groups"]["S&D"] == 12
    assert sum(fr["groups"].values()) == 74
    assert projection["seats_projected"] + projection["seats_unprojected"] == 751
    assert sum(g["seats"] for g in projection["groups"]) == projection["seats_projected"]
    assert projection["seats_unprojected"] == 0  # every 2019 member state has a 2014 result
    assert projection["countries_by_basis"]["estimate"] == ["AT"]
    assert projection["countries_by_basis"]["count"] == ["DK"]


def test_the_timeline_travels_in_the_bundle():
    bundle = _bundle(datetime(2019, 5, 26, 20, 30, tzinfo=CEST), AT="estimate")
    timeline = bundle["election"]["timeline"]
    assert timeline["projection_from"] == "2019-05-26T20:15:00+02:00"
    assert timeline["embargo"] == "2019-05-26T23:00:00+02:00"
    assert timeline["countries"]["IT"] == {"polls_close": "2019-05-26T23:00:00+02:00", "estimates_allowed": True}
    assert timeline["countries"]["UK"]["estimates_allowed"] is False
    assert bundle["eu"]["as_of"] == "2019-05-26T20:30:00+02:00"


def test_no_projection_before_its_time():
    bundle = _bundle(datetime(2019, 5, 26, 20, 14, 59, tzinfo=CEST), AT="estimate")
    assert "projection" not in bundle
    assert next(c for c in bundle["countries"] if c["code"] == "AT")["status"] == "estimate"


def _refused_definition(tmp_path, monkeypatch, edit, words: str) -> None:
    """A copy of ep2019 changed by ``edit(folder)`` is refused by the loader with ``words``."""
    import shutil

    shutil.copytree(load_election(ELECTION).path, tmp_path / ELECTION)
    edit(tmp_path / ELECTION)
    monkeypatch.setenv("ENR_ELECTIONS_DIR", str(tmp_path))
    load_election.cache_clear()
    try:
        with pytest.raises(DefinitionError, match=words):
            load_election(ELECTION)
    finally:
        load_election.cache_clear()


def test_a_definition_time_without_offset_is_refused(tmp_path, monkeypatch):
    import json

    def edit(folder):
        meta = json.loads((folder / "election.json").read_text(encoding="utf-8"))
        meta["countries"]["AT"]["polls_close"] = "2019-05-26T17:00:00"
        (folder / "election.json").write_text(json.dumps(meta), encoding="utf-8")

    _refused_definition(tmp_path, monkeypatch, edit, r"countries\.AT\.polls_close: '2019-05-26T17:00:00' has no UTC")


@pytest.mark.parametrize("key, value, words", [
    ("IT", "2019-05-26T23:00:01+02:00", r"countries\.IT\.polls_close: 2019-05-26T23:00:01\+02:00 is after the embargo"),
    (None, "2019-05-26T23:15:00+02:00", r"projection_from: 2019-05-26T23:15:00\+02:00 is after the embargo"),
])
def test_a_timeline_past_the_embargo_is_refused(tmp_path, monkeypatch, key, value, words):
    import json

    def edit(folder):
        meta = json.loads((folder / "election.json").read_text(encoding="utf-8"))
        if key:
            meta["countries"][key]["polls_close"] = value
        else:
            meta["projection_from"] = value
        (folder / "election.json").write_text(json.dumps(meta), encoding="utf-8")

    _refused_definition(tmp_path, monkeypatch, edit, words)


def test_an_outgoing_list_row_naming_no_list_is_refused(tmp_path, monkeypatch):
    def edit(folder):
        with (folder / "outgoing_lists.csv").open("a", encoding="utf-8") as handle:
            handle.write("FR,XYZ,no_such_list,made up\n")

    _refused_definition(tmp_path, monkeypatch, edit,
                        r"outgoing_lists.csv row 15: list 'no_such_list' is not a list of 'FR'")


def test_ep2024_outgoing_delegations_scaled_to_the_2024_seats():
    definition = load_election("ep2024")
    previous = previous_results(definition.resolve(definition.previous["source"]), 2024)
    counts = {"AT": _counts_of("ep2024", "AT", "estimate")}
    bundle = build_bundle(definition, counts, version="v0001", generated_at=datetime(2024, 6, 9, 20, 30, tzinfo=CEST),
                          previous=previous)
    projection = bundle["projection"]
    assert projection["seats_projected"] == 720 and projection["seats_unprojected"] == 0
    fr = projection["countries"]["FR"]  # 74 seats in 2019, 81 in 2024
    assert fr["basis"] == "outgoing" and sum(fr["groups"].values()) == 81
    assert fr["groups"]["PfE"] >= 22  # the Rassemblement national's 2019 delegation, now in PfE
    assert "UK" not in projection["countries"]


def _counts_of(election: str, country: str, wave: str) -> CountryCounts:
    rows = wave_rows(election, country, wave)
    units = rows.drop_duplicates("unit_id")
    return CountryCounts(
        country=country, status=wave.split(":")[0], sequence=1, sha256=f"{country}-{wave}", as_of="2019-05-26T18:30:00+00:00",
        votes=rows[["constituency", "list_id", "votes"]],
        totals={"registered": int(units["registered"].sum()), "voters": int(units["voters"].sum()),
                "valid": None, "blank": None, "invalid": int(units["invalid"].sum())},
        units_reporting=int((units["unit_id"] != "_national").sum()), units_total=len(units))
