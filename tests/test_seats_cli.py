"""``enr seats`` over whole tables: the 2019 data, a 2024-shaped table, and bad input."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from enr.cli import main
from enr.definition import load_election
from enr.seats_command import run

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "ep2019"


def _run(*args, **kw) -> tuple[int, str]:
    out = io.StringIO()
    rc = run(*args, out=out, **kw)
    return rc, out.getvalue()


def test_whole_2019_tables(tmp_path):
    target = tmp_path / "seats.csv"
    rc, text = _run("ep2019", DATA / "results_national.csv", DATA / "turnout.csv",
                    DATA / "results_constituency.csv", target)
    assert rc == 0, text
    seats = pd.read_csv(target, dtype={"seats": int}, keep_default_na=False)
    assert list(seats.columns) == ["country", "list_id", "seats"]
    nat = pd.read_csv(DATA / "results_national.csv", dtype=str, keep_default_na=False)
    nat = nat[nat.votes != ""]
    merged = nat.merge(seats, on=["country", "list_id"], suffixes=("_official", ""))
    assert len(merged) == len(nat) == len(seats)
    assert (merged.seats_official.astype(int) == merged.seats).all()
    assert seats.seats.sum() == 751
    assert text.count("agrees with the table's seats column") == 28
    assert "IT: 73/73 seats (italy_national)" in text and "[not seated: lega 1, fi 1, fdi 1]" in text
    assert "SK: 13/13" in text and "[not seated: kdh 1]" in text
    assert "PL:   constituencies: PL: no constituency counts" in text


def test_main_parses_the_documented_interface(tmp_path, capsys):
    rc = main(["seats", "--election", "ep2019", "--results", str(DATA / "results_national.csv"),
               "--turnout", str(DATA / "turnout.csv"), "--out", str(tmp_path / "s.csv")])
    text = capsys.readouterr().out
    # without the constituency table Belgium cannot be allocated and NI has no declaration
    assert rc == 1
    assert "BE:   INCOMPLETE: BE / Dutch-speaking electoral college: no counts for this constituency" in text
    assert "UK:   INCOMPLETE: UK / Northern Ireland: STV" in text
    assert "AT:   agrees" in text


def test_disagreement_and_stv_without_seats(tmp_path):
    nat = pd.read_csv(DATA / "results_national.csv", dtype=str, keep_default_na=False)
    table = nat[nat.country.isin(["AT", "MT"])].copy()
    table.loc[table.list_id == "oevp", "seats"] = "8"
    table.loc[table.country == "MT", "seats"] = ""
    path = tmp_path / "r.csv"
    table.to_csv(path, index=False)
    rc, text = _run("ep2019", path, DATA / "turnout.csv", None, tmp_path / "s.csv")
    assert rc == 1
    assert "AT:   DISAGREES with the table's seats column: oevp computed 7 table 8" in text
    assert "MT:   STV: seats are declared, not computed; the results table has no seats column" in text


def test_unknown_country_and_bad_numbers(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame([{"country": "XX", "list_id": "a", "votes": "10"}]).to_csv(path, index=False)
    rc, text = _run("ep2019", path, DATA / "turnout.csv", None, tmp_path / "s.csv")
    assert rc == 1 and "XX: not a country of ep2019; skipped" in text
    pd.DataFrame([{"country": "AT", "list_id": "a", "votes": "1.5e3"}]).to_csv(path, index=False)
    rc, text = _run("ep2019", path, DATA / "turnout.csv", None, tmp_path / "s.csv")
    assert rc == 2 and "line 2: column 'votes' = '1.5e3' is not a whole number" in text
    pd.DataFrame([{"country": "AT", "list": "a"}]).to_csv(path, index=False)
    rc, text = _run("ep2019", path, DATA / "turnout.csv", None, tmp_path / "s.csv")
    assert rc == 2 and "missing column(s) list_id, votes" in text
    rc, text = _run("ep1066", path, DATA / "turnout.csv", None, tmp_path / "s.csv")
    assert rc == 2 and "no such election definition" in text


def test_2024_definition_on_2024_shaped_tables(tmp_path):
    """No 2024 results are in the repository: 2019 votes are reused on the 2024 rules (UK dropped), which
    exercises every 2024 rule; the STV countries have no declaration and are reported as such."""
    e = load_election("ep2024")
    nat = pd.read_csv(DATA / "results_national.csv", dtype=str, keep_default_na=False)
    nat = nat[nat.country.isin(e.countries)].drop(columns=["seats"])
    con = pd.read_csv(DATA / "results_constituency.csv", dtype=str, keep_default_na=False)
    con = con[con.country.isin(["BE", "IT"])].drop(columns=["seats"])
    paths = {name: tmp_path / f"{name}.csv" for name in ("r", "c")}
    nat.to_csv(paths["r"], index=False)
    con.to_csv(paths["c"], index=False)
    target = tmp_path / "seats.csv"
    rc, text = _run("ep2024", paths["r"], DATA / "turnout.csv", paths["c"], target)
    assert rc == 1  # IE and MT: STV without declaration
    seats = pd.read_csv(target, keep_default_na=False)
    totals = seats.groupby("country").seats.sum().to_dict()
    for cc, country in e.countries.items():
        if cc in ("IE", "MT"):
            assert totals.get(cc, 0) == 0
            assert f"{cc}:   INCOMPLETE" in text
        else:
            assert totals[cc] == country.seats, (cc, text)
    assert "BE: 22/22" in text and "IT: 76/76" in text and "SK: 15/15" in text and "PL: 53/53" in text
