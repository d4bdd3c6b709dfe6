"""Loading the history into the results store: all 175 elections, idempotent, conflicts named.

SQLite in tmp by default; the same tests run against PostgreSQL when ``ENR_TEST_PG_URL`` is set
(a throwaway database: the hist_* tables are dropped first).
"""
from __future__ import annotations

import csv
import os
import shutil
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from historical_loader import backfill
from historical_loader.election_days import EP_ELECTION_DAYS, EP_SIZE, UnknownElectionDay, window, window_of
from historical_loader.errors import HistoryConflictError
from historical_loader.site import history_for_site
from historical_loader.source import read_historical
from historical_loader.store import HistoryStore
from historical_loader.tables import VERSION_TABLE, metadata

DATA = Path(__file__).resolve().parent.parent / "data" / "historical"


def _csv(name: str, folder: Path = DATA) -> list[dict]:
    with (folder / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url = os.environ.get("ENR_TEST_PG_URL")
    if not url:
        pytest.skip("ENR_TEST_PG_URL not set")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    engine.dispose()
    return url


@pytest.fixture
def loaded(store_url):
    history = HistoryStore(store_url)
    history.migrate()
    summary = backfill.load_all(history, run_id="test-load")
    yield history, summary
    history.dispose()


def test_all_175_country_elections_load(loaded):
    history, summary = loaded
    assert summary["inserted"] == 175 + 8  # elections + delegations
    assert history.counts() == {"elections": 175, "results": 1658, "delegations": 44}
    assert summary["rows"] == 1658 + 44


def test_seats_per_country_and_year_match_the_totals_file(loaded):
    history, _ = loaded
    stored_total = {(e["election_year"], e["country"]): e["seats_total"] for e in history.elections()}
    seat_sum: dict[tuple[int, str], int] = defaultdict(int)
    for r in history.results():
        seat_sum[(r["election_year"], r["country"])] += r["seats"] or 0
    mismatches = []
    totals = _csv("ep_seat_totals.csv")
    assert len(totals) == 175
    for row in totals:
        key = (int(row["election_year"]), row["country"])
        assert stored_total[key] == int(row["seats_total"]), key
        if seat_sum[key] != int(row["seats_total"]):
            mismatches.append((key, row["check"]))
    # SOURCES.md: "all 175 country-elections match"; a mismatch would have to be marked in the file
    assert all(check == "MISMATCH" for _, check in mismatches)
    assert mismatches == []
    # the regular elections add up to the Parliament's size
    for year, size in EP_SIZE.items():
        assert sum(t for (y, _), t in stored_total.items() if y == year) == size, year


def test_known_gaps_are_stored_with_the_election(loaded):
    history, _ = loaded
    by_key = {(e["election_year"], e["country"]): e for e in history.elections()}
    fr = by_key[(1989, "FR")]
    assert {g["rule"] for g in fr["known_gaps"]} >= {"alliance_double_count", "seats_missing"}
    assert "ParlGov 2024" in fr["source"] and "ep_1979_2019.csv" in fr["source"]
    assert fr["loaded_by_run"] == "test-load" and fr["loaded_at"] is not None
    assert len(fr["content_sha256"]) == 64


def test_vote_shares_and_empty_numbers_stay_exact(loaded):
    history, _ = loaded
    rows = {(r["election_year"], r["country"], r["party_abbrev"]): r for r in history.results()}
    assert rows[(1979, "BE", "CVP|CD&V")]["vote_share"] == "29.54"
    assert rows[(1979, "DE", "FDP")]["vote_share"] == "6"  # as given, not 6.0
    assert rows[(1979, "DE", "SPD")]["votes"] == 11370045
    hu = rows[(2019, "HU", "Fi+KDNP")]
    assert hu["seats"] is None and hu["votes"] is not None  # the alliance row: seats on the members
    assert rows[(1979, "DK", "GrFa")]["votes"] is None and rows[(1979, "DK", "GrFa")]["vote_share"] is None


def test_delegations_are_kept_apart(loaded):
    history, _ = loaded
    delegations = history.delegations()
    assert {(str(d["delegation_date"]), d["country"]) for d in delegations} == {
        ("1981-01-01", "EL"), ("1986-01-01", "ES"), ("1986-01-01", "PT"), ("1995-01-01", "AT"),
        ("1995-01-01", "FI"), ("1995-01-01", "SE"), ("2007-01-01", "BG"), ("2007-01-01", "RO")}
    # no delegation date among the elections, and EL 1981 is the October election only
    assert all(not str(e["election_date"]).endswith("-01-01") for e in history.elections())
    el1981 = [e for e in history.elections() if e["election_year"] == 1981]
    assert [(e["country"], str(e["election_date"])) for e in el1981] == [("EL", "1981-10-18")]
    assert len([r for r in history.results() if r["election_year"] == 1981]) == len(
        [r for r in _csv("ep_1979_2019.csv") if r["election_year"] == "1981"])


def test_second_load_adds_and_changes_nothing(loaded):
    history, _ = loaded
    before = history.snapshot()
    again = backfill.load_all(history, run_id="test-again")
    assert (again["inserted"], again["unchanged"], again["rows"]) == (0, 183, 0)
    assert history.snapshot() == before  # loaded_at and loaded_by_run included


def test_migrate_is_idempotent_and_uses_its_own_version_table(store_url):
    history = HistoryStore(store_url)
    assert history.revision() is None
    assert history.migrate() == history.head() == history.migrate()
    tables = set(sa.inspect(history.engine).get_table_names())
    assert {"hist_elections", "hist_results", "hist_delegations", VERSION_TABLE} <= tables
    assert "alembic_version" not in tables  # the election-night store's alembic is not touched
    history.dispose()


def _changed_copy(tmp_path: Path) -> tuple[Path, int]:
    folder = tmp_path / "changed"
    shutil.copytree(DATA, folder)
    path = folder / "ep_1979_2019.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    line = 0
    for index, row in enumerate(rows):
        if row["country"] == "NL" and row["election_year"] == "1984" and row["party_abbrev"] == "CDA":
            row["votes"] = str(int(row["votes"]) + 1000)
            line = index + 2
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return folder, line


def test_changed_source_is_a_conflict_naming_the_rows_and_writes_nothing(loaded, tmp_path):
    history, _ = loaded
    folder, line = _changed_copy(tmp_path)
    before = history.snapshot()
    with pytest.raises(HistoryConflictError) as caught:
        backfill.load_window("1984-06-17", history, run_id="test-changed", folder=folder)
    message = str(caught.value)
    assert "EP 1984 NL" in message and "CDA" in message and f"line {line}" in message and "votes" in message
    assert "replace" in message
    assert history.snapshot() == before  # nothing of 1981/1984 written, EL 1981 included

    replaced = backfill.load_window("1984-06-17", history, run_id="test-replace", folder=folder, replace=True)
    assert replaced["replaced"] == 1 and replaced["unchanged"] == 11
    after = history.snapshot()
    assert after["results"] != before["results"]
    nl = [e for e in history.elections([1984]) if e["country"] == "NL"][0]
    assert nl["loaded_by_run"] == "test-replace"
    assert history.counts() == {"elections": 175, "results": 1658, "delegations": 44}
    assert backfill.verify_window("1984-06-17", history, folder=folder)["results"] == 90


def test_election_gone_from_source_is_a_conflict(loaded, tmp_path):
    history, _ = loaded
    folder = tmp_path / "gone"
    shutil.copytree(DATA, folder)
    for name in ("ep_1979_2019.csv", "ep_seat_totals.csv"):
        path = folder / name
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header, rows = reader.fieldnames, [r for r in reader
                                               if not (r["country"] == "HR" and r["election_year"] == "2013")]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
    with pytest.raises(HistoryConflictError, match="EP 2013 HR: in the store but no longer in the source"):
        backfill.load_window("2014-05-25", history, run_id="test-gone", folder=folder)


def test_windows_put_out_of_cycle_elections_with_the_next_regular_one():
    data = read_historical(DATA)
    assert backfill.window_years(data, "1979-06-10") == [1979]
    assert backfill.window_years(data, "1984-06-17") == [1981, 1984]
    assert backfill.window_years(data, "1989-06-18") == [1986, 1987, 1989]
    assert backfill.window_years(data, "1999-06-13") == [1995, 1996, 1999]
    assert backfill.window_years(data, "2009-06-07") == [2007, 2009]
    assert backfill.window_years(data, "2014-05-25") == [2013, 2014]
    everything = [y for day in EP_ELECTION_DAYS for y in backfill.window_years(data, day)]
    assert sorted(everything) == data.years()  # every year in exactly one run
    assert window("1984-06-17T00:00:00+00:00") == (date(1979, 6, 10), date(1984, 6, 17))
    assert window_of(date(2019, 5, 23)) == date(2019, 5, 26)  # NL/UK Thursday with the Sunday
    with pytest.raises(UnknownElectionDay, match="1984-06-14"):
        window("1984-06-14")


def test_history_for_site(loaded):
    history, _ = loaded
    site = history_for_site(history)
    assert len(site["countries"]) == 28
    assert sum(len(v) for v in site["countries"].values()) == 175
    de = site["countries"]["DE"]
    assert [e["year"] for e in de] == [1979, 1984, 1989, 1994, 1999, 2004, 2009, 2014, 2019]
    first = de[0]
    assert first["election_date"] == "1979-06-10" and first["seats_total"] == 81
    assert set(first["parties"][0]) == {"party_abbrev", "party_name", "vote_share", "seats", "votes"}
    assert first["parties"][0]["party_abbrev"] == "SPD"  # most seats first
    sizes = {e["year"]: e["seats_total"] for e in site["eu"]}
    assert {y: sizes[y] for y in EP_SIZE} == EP_SIZE
    assert sizes[1981] == 434 and sizes[1995] == 626 and sizes[2007] == 785
    by_year = {e["year"]: e for e in site["eu"]}
    assert by_year[1986]["appointed"] == ["ES", "PT"] and by_year[1986]["elected"] == []
    assert by_year[2019]["countries"]["UK"] == 73 and not by_year[1996]["regular"]
    # the URL form gives the same structure
    assert history_for_site(history.url) == site


def test_previous_results_reader_still_works():
    from historical_loader.previous import previous_results

    previous = previous_results(DATA / "ep_1979_2019.csv", 2019)
    assert len(previous) == 28
    assert previous["FR"]["year"] == 2014 and previous["FR"]["seats_total"] == 74
    assert previous["HR"]["year"] == 2014
