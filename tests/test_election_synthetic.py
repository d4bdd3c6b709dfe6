"""The 2024 synthetic counts: a seeded model (enr/synthetic.py), reproducible, consistent, never real."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from enr import synthetic
from enr.cli import main
from enr.definition import load_election

ROOT = Path(__file__).resolve().parent.parent


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _as_text(rows: list[dict]) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in row.items()} for row in rows]


def test_committed_files_are_the_model_with_the_definitions_seed():
    definition = load_election("ep2024")
    assert definition.synthetic and definition.results_files["synthetic_seed"] == 2024
    tables = synthetic.generate("ep2024", seed=2024)
    for key in ("national", "turnout", "constituency"):
        assert _read(definition.resolve(definition.results_files[key])) == _as_text(tables[key]), key


def test_seeded_same_seed_same_numbers_other_seed_other_numbers():
    a, b = synthetic.generate("ep2024", seed=7), synthetic.generate("ep2024", seed=7)
    c = synthetic.generate("ep2024", seed=8)
    assert a == b
    assert [r["votes"] for r in a["national"]] != [r["votes"] for r in c["national"]]


def test_every_list_every_country_and_the_sums():
    definition = load_election("ep2024")
    tables = synthetic.generate("ep2024", seed=2024)
    assert {r["country"] for r in tables["turnout"]} == set(definition.countries)
    assert len(tables["national"]) == len(definition.lists) == 331
    for t in tables["turnout"]:
        assert t["voters"] == t["valid_votes"] + (t["blank_votes"] or 0) + t["invalid_votes"]
        assert t["voters"] < t["registered_voters"]
        lists = sum(r["votes"] for r in tables["national"] if r["country"] == t["country"])
        if t["country"] == "LU":  # six votes per voter
            assert 5 * t["valid_votes"] < lists <= 6 * t["valid_votes"]
        else:
            assert lists <= t["valid_votes"]
        blank_reported = definition.country_facts[t["country"]].get("blank_reported", False)
        assert (t["blank_votes"] != "") == blank_reported, t["country"]
    for country in ("BE", "IE", "IT", "PL"):
        by_constituency = {}
        for row in tables["constituency"]:
            if row["country"] == country:
                by_constituency[row["list_id"]] = by_constituency.get(row["list_id"], 0) + row["votes"]
        national = {r["list_id"]: r["votes"] for r in tables["national"] if r["country"] == country}
        assert by_constituency == national, country


def test_stv_seats_are_declared_per_constituency():
    tables = synthetic.generate("ep2024", seed=2024)
    ie = {}
    for row in tables["constituency"]:
        if row["country"] == "IE" and row["seats"] != "":
            ie[row["constituency"]] = ie.get(row["constituency"], 0) + row["seats"]
    assert ie == {"Dublin": 4, "Midlands-North-West": 5, "South": 5}
    assert sum(r["seats"] for r in tables["national"] if r["country"] == "MT") == 6


def test_shares_start_from_2019_and_the_noise_is_bounded():
    """Starting shares: the 2019 share of the same list or party, the sum of a joint list's parties,
    else U(0.5 %, 3 %); the drawn share stays within exp(+-6 sigma) of the normalised start."""
    definition = load_election("ep2024")
    base = synthetic._Base(load_election("ep2019"))
    rows19 = {(r["country"], r["list_id"]): r for r in _read(ROOT / "data/ep2019/results_national.csv")}
    turnout19 = {r["country"]: r for r in _read(ROOT / "data/ep2019/turnout.csv")}
    start = synthetic.starting_shares(definition, base, "DE", synthetic._rng("t"))
    assert start["cdu"] == (int(rows19[("DE", "cdu")]["votes"]) / int(turnout19["DE"]["valid_votes"]), "2019")
    ro = synthetic.starting_shares(definition, base, "RO", synthetic._rng("t"))
    psd, pnl = (int(rows19[("RO", k)]["votes"]) for k in ("psd", "pnl"))
    assert ro["psd_pnl"][1] == "joint"
    assert ro["psd_pnl"][0] == pytest.approx((psd + pnl) / int(turnout19["RO"]["valid_votes"]))
    origins = [o for cc in definition.countries
               for _, o in synthetic.starting_shares(definition, base, cc, synthetic._rng("t")).values()]
    assert {"2019", "joint", "new"} == set(origins)
    new = [v for cc in definition.countries
           for v, o in synthetic.starting_shares(definition, base, cc, synthetic._rng("t")).values() if o == "new"]
    assert all(0.005 <= v <= 0.03 for v in new)

    tables = synthetic.generate("ep2024", seed=2024)
    for country in ("DE", "RO", "FR", "AT"):
        rng = synthetic._rng("synthetic", "ep2024", country, 2024)
        rng.normal(0, synthetic.TURNOUT_SIGMA)  # the model draws the turnout first
        start = synthetic.starting_shares(definition, base, country, rng)
        total = sum(v for v, _ in start.values())
        listed = {r["list_id"]: r["votes"] for r in tables["national"] if r["country"] == country}
        valid = next(t["valid_votes"] for t in tables["turnout"] if t["country"] == country)
        for list_id, votes in listed.items():
            if votes > 1000:
                ratio = (votes / valid) / (start[list_id][0] / total)
                assert math.exp(-6 * synthetic.SHARE_SIGMA) < ratio < math.exp(6 * synthetic.SHARE_SIGMA), \
                    (country, list_id, ratio)


def test_real_results_are_never_overwritten():
    with pytest.raises(ValueError, match="ep2019: results_files.synthetic is not true"):
        synthetic.write_synthetic("ep2019")


def test_replay_of_2024_is_test_flagged(tmp_path, capsys):
    assert main(["replay", "--election", "ep2024", "--out", str(tmp_path), "--waves", "provisional:50,final:100",
                 "--countries", "IE,MT,LU"]) == 0
    files = sorted(tmp_path.glob("ep2024-*.csv"))
    assert [f.name for f in files] == [f"ep2024-{c}-000{n}.csv" for c in ("IE", "LU", "MT") for n in (1, 2)]
    for path in files:
        head = path.read_text(encoding="utf-8").splitlines()[0]
        assert '"test":true' in head.replace(" ", ""), head


def test_a_rehearsal_of_synthetic_counts_compares_no_official_seats():
    from enr.rehearsal import compare_seats

    bundle = {"countries": [{"code": "LU", "status": "final", "lists": [{"list_id": "csv", "seats": 6}]}]}
    assert compare_seats(bundle, "ep2024") == {"checked": [], "differing": {}, "ok": True, "synthetic": True}
    real = compare_seats(bundle, "ep2019")  # 2019 has official seats: LU csv won 2, not 6
    assert real["checked"] == ["LU"] and not real["ok"]
