"""The replay tool: real 2019 totals, exact at 100 %, deterministic, nested waves, STV seats, units."""
from __future__ import annotations

import json

import pyarrow as pa
import pytest

from enr.definition import load_election
from enr.delivery import OTHER_LIST, SCHEMA, compute_totals, parse_delivery
from enr.replay import (Night, Wave, country_counts, declared_seats, estimate_rows, make_delivery, wave_rows,
                        write_night)
from enr.simulation import fine_counts, national_targets
from enr.units import constituencies_of, country_profile, row_cap, units_of

ELECTION = "ep2019"
COUNTRIES = sorted(load_election(ELECTION).countries)


@pytest.mark.parametrize("country", COUNTRIES)
def test_final_wave_adds_up_exactly_to_the_national_totals(country):
    targets = national_targets(ELECTION, country)
    counts = country_counts(ELECTION, country)
    totals = compute_totals(pa.Table.from_pandas(counts, schema=SCHEMA, preserve_index=False))
    assert totals["registered"] == targets.registered
    assert totals["voters"] == targets.voters
    assert totals["invalid"] == targets.invalid
    assert totals["blank"] == targets.blank
    expected = dict(targets.lists)
    if targets.other:
        expected[OTHER_LIST] = targets.other
    assert totals["votes"] == expected
    # per constituency where the data has them
    if len(targets.constituencies) > 1:
        by = counts.groupby(["constituency", "list_id"])["votes"].sum()
        for constituency, lists in targets.constituencies.items():
            for list_id, votes in lists.items():
                assert by[(constituency, list_id)] == votes, (constituency, list_id)
    # every unit is consistent: valid = voters - blank - invalid = sum of list votes (LU: up to 6x)
    units = counts.groupby("unit_id").agg(voters=("voters", "first"), blank=("blank", "first"),
                                          invalid=("invalid", "first"), registered=("registered", "first"),
                                          votes=("votes", "sum"))
    valid = units["voters"] - units["blank"].fillna(0) - units["invalid"]
    k = country_profile(ELECTION, country).votes_per_voter
    assert ((units["votes"] >= valid) & (units["votes"] <= k * valid)).all()
    assert (units["voters"] <= units["registered"]).all()
    assert set(units.index) == set(units_of(ELECTION, country)["unit_id"])
    assert len(counts) <= row_cap(ELECTION, country)


def test_real_units_where_the_data_has_them():
    pl = units_of(ELECTION, "PL")
    assert len(pl) == 2496 and pl["unit_id"].str.fullmatch(r"\d{6}").all()
    assert len(constituencies_of(ELECTION, "PL")) == 13
    assert pl.loc[pl["unit_id"] == "149901", "constituency"].item() == "4 Warszawa I"  # abroad
    assert pl.loc[pl["unit_id"] == "229801", "constituency"].item() == "1 Gdańsk"  # ships (PL.toml name)
    assert len(units_of(ELECTION, "NL")) == 358
    hu = fine_counts(ELECTION, "HU")
    assert hu["unit_id"].nunique() == 10_278  # 10 277 polling stations + the postal-vote rest
    rest = hu[hu["unit_id"] == "HU-REST"]
    assert rest["voters"].iloc[0] == 3_488_341 - 3_413_021
    assert set(hu["list_id"]) == set(country_profile(ELECTION, "HU").list_ids)
    assert units_of(ELECTION, "FR")["unit_id"].iloc[0] == "FR-00001"


def test_constituencies_respected():
    assert len(constituencies_of(ELECTION, "IT")) == 6
    assert constituencies_of(ELECTION, "BE") == ["Dutch-speaking electoral college", "French-speaking electoral college",
                                                 "German-speaking electoral college"]
    assert len(constituencies_of(ELECTION, "UK")) == 12
    assert constituencies_of(ELECTION, "IE") == ["Dublin", "Midlands-North-West", "South"]
    be = country_counts(ELECTION, "BE")
    assert be.loc[be["list_id"] == OTHER_LIST, "constituency"].unique().tolist() == ["Dutch-speaking electoral college"]
    it = country_counts(ELECTION, "IT")
    assert it.groupby("constituency")["list_id"].nunique().min() < it["list_id"].nunique()  # lists per circoscrizione


def test_declared_stv_seats():
    ie = declared_seats(ELECTION, "IE")
    assert sum(s["seats"] for s in ie) == 11
    assert {s["constituency"] for s in ie} == {"Dublin", "Midlands-North-West", "South"}
    mt = declared_seats(ELECTION, "MT")
    assert sum(s["seats"] for s in mt) == 6 and {s["constituency"] for s in mt} == {""}
    uk = declared_seats(ELECTION, "UK")
    assert sum(s["seats"] for s in uk) == 3 and {s["constituency"] for s in uk} == {"Northern Ireland"}
    assert declared_seats(ELECTION, "FR") is None


def test_deterministic_and_nested():
    a = make_delivery(ELECTION, "AT", "provisional:40", 1, seed=3)
    assert a == make_delivery(ELECTION, "AT", "provisional:40", 1, seed=3)
    assert a != make_delivery(ELECTION, "AT", "provisional:40", 1, seed=4)
    w1 = set(wave_rows(ELECTION, "DE", "provisional:40")["unit_id"])
    w2 = set(wave_rows(ELECTION, "DE", "provisional:85")["unit_id"])
    assert w1 < w2 and len(w1) == 80 and len(w2) == 170
    assert set(wave_rows(ELECTION, "DE", "final:100")["unit_id"]) == set(units_of(ELECTION, "DE")["unit_id"])


def test_estimate_is_one_pseudo_unit():
    rows = estimate_rows(ELECTION, "FR")
    assert rows["unit_id"].unique().tolist() == ["_national"]
    unit = rows.iloc[0]
    assert unit["voters"] - unit["blank"] - unit["invalid"] == rows["votes"].sum()
    delivery = parse_delivery(make_delivery(ELECTION, "FR", "estimate", 1))
    assert delivery.meta.status == "estimate"


def test_wave_specs():
    assert Wave.parse("provisional:40") == Wave("provisional", 40.0, "provisional:40")
    assert Wave.parse("final").percent == 100
    with pytest.raises(ValueError):
        Wave.parse("final:50")
    with pytest.raises(ValueError):
        Wave.parse("counted:10")


def test_write_night(tmp_path, gpg_keys):
    night = write_night(tmp_path / "night", countries=["MT", "LU", "CY"], sender_home=gpg_keys.sender, bad=2,
                        corrections=True, waves=("provisional:50", "final:100"))
    assert isinstance(night, Night) and isinstance(night, list)
    assert [w.label for w in night.waves] == ["provisional:50", "final:100", "correction"]
    names = [p.name for p in night]
    assert len(names) == len(set(names)) == 3 * 2 + 2 + 3
    for path in night:
        assert path.with_name(path.name + ".asc").exists()
    manifest = json.loads(night.manifest.read_text())
    assert [w["label"] for w in manifest["waves"]] == ["provisional:50", "final:100", "correction"]
    corrections = [parse_delivery(p.read_bytes()).meta for p in night.waves[-1].files]
    assert all(m.corrects == m.sequence - 1 and m.reason for m in corrections)


from bad_deliveries.fixtures import gpg_keys  # noqa: E402,F401 (fixture)
