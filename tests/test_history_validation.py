"""Validation of the ParlGov history: every broken rule names the election, the rule and the lines.

Each test corrupts a copy of ``data/historical/`` in tmp and checks the typed error
(:class:`HistoryValidationError`) or, for a known gap, the warning with its reason.
"""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from historical_loader.errors import HistoryValidationError
from historical_loader.source import read_historical
from historical_loader.validation import summarise, validate

DATA = Path(__file__).resolve().parent.parent / "data" / "historical"
RESULTS = "ep_1979_2019.csv"
DELEGATIONS = "ep_pre_election_delegations.csv"
TOTALS = "ep_seat_totals.csv"


@pytest.fixture
def data_copy(tmp_path) -> Path:
    folder = tmp_path / "historical"
    shutil.copytree(DATA, folder)
    return folder


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def _write(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def edit(path: Path, match: dict, **changes: str) -> int:
    """Change the first row matching ``match``; returns its line number (header = 1)."""
    header, rows = _rows(path)
    for index, row in enumerate(rows):
        if all(row[k] == v for k, v in match.items()):
            row.update(changes)
            _write(path, header, rows)
            return index + 2
    raise AssertionError(f"no row matches {match}")


def drop(path: Path, match: dict) -> None:
    header, rows = _rows(path)
    _write(path, header, [r for r in rows if not all(r[k] == v for k, v in match.items())])


def violations(folder: Path, years=None) -> HistoryValidationError:
    with pytest.raises(HistoryValidationError) as caught:
        validate(read_historical(folder), years)
    return caught.value


def find(error: HistoryValidationError, rule: str):
    matching = [v for v in error.violations if v.rule == rule]
    assert matching, f"no violation of {rule!r} in: {error}"
    return matching[0]


# -- the real data ---------------------------------------------------------------------------------

def test_real_data_passes_with_known_gaps_as_warnings():
    warnings = validate(read_historical(DATA))
    counts = summarise(warnings)
    # SOURCES.md: small parties missing in most elections; FR 1989 UDF|MD inside RPR+UDF's share;
    # 12 empty seats in 9 elections, 25 empty votes (and shares) in 18 elections.
    assert counts["small_parties_missing"] > 100
    assert counts["alliance_double_count"] == 1
    assert counts["seats_missing"] == 9
    assert counts["votes_missing"] == 18
    assert "seats_sum_known_mismatch" not in counts  # all 175 match (ep_seat_totals.csv: all ok)
    double = next(w for w in warnings if w.rule == "alliance_double_count")
    assert double.election == "EP 1989 FR" and "UDF|MD" in double.message and "SOURCES.md" in double.message
    empty_seats = sum(len(w.lines) for w in warnings if w.rule == "seats_missing")
    empty_votes = sum(len(w.lines) for w in warnings if w.rule == "votes_missing")
    assert (empty_seats, empty_votes) == (12, 25)
    for w in warnings:
        assert "SOURCES.md" in w.message, f"a warning without its reason: {w}"


# -- violations --------------------------------------------------------------------------------------

def test_seats_not_adding_up_names_election_rule_and_line(data_copy):
    line = edit(data_copy / RESULTS, {"country": "DE", "election_year": "1984", "party_abbrev": "SPD"}, seats="34")
    error = violations(data_copy)
    v = find(error, "seats_sum")
    assert v.election == "EP 1984 DE"
    assert "82" in v.message and "81" in v.message
    assert line in v.lines
    assert "EP 1984 DE" in str(error) and "seats_sum" in str(error)


def test_share_above_100_is_a_violation(data_copy):
    line = edit(data_copy / RESULTS, {"country": "FR", "election_year": "2019", "party_abbrev": "FN"},
                vote_share="123.3")
    v = find(violations(data_copy), "share_range")
    assert v.election == "EP 2019 FR" and v.lines == (line,) and "123.3" in v.message


def test_negative_share_is_a_violation(data_copy):
    edit(data_copy / RESULTS, {"country": "IT", "election_year": "1999"}, vote_share="-0.5")
    v = find(violations(data_copy), "share_range")
    assert v.election == "EP 1999 IT"


def test_shares_adding_up_to_more_than_100(data_copy):
    edit(data_copy / RESULTS, {"country": "NL", "election_year": "1994", "party_abbrev": "CDA"}, vote_share="90.1")
    v = find(violations(data_copy), "share_sum")
    assert v.election == "EP 1994 NL"


def test_unreadable_count_is_a_parse_violation_with_its_line(data_copy):
    line = edit(data_copy / RESULTS, {"country": "PL", "election_year": "2004"}, seats="three")
    error = violations(data_copy)
    v = find(error, "parse")
    assert v.lines == (line,) and "seats" in v.message and v.file == RESULTS
    assert v.election == "EP 2004 PL"


def test_missing_column_is_a_parse_violation(data_copy):
    header, rows = _rows(data_copy / RESULTS)
    header.remove("seats_total")
    for row in rows:
        del row["seats_total"]
    _write(data_copy / RESULTS, header, rows)
    v = find(violations(data_copy), "parse")
    assert "seats_total" in v.message


def test_year_must_match_date(data_copy):
    edit(data_copy / RESULTS, {"country": "SE", "election_year": "1995"}, election_date="1994-09-17")
    error = violations(data_copy)
    assert find(error, "year_matches_date").election == "EP 1995 SE"


def test_duplicate_party_in_an_election(data_copy):
    header, rows = _rows(data_copy / RESULTS)
    twice = next(r for r in rows if r["country"] == "LU" and r["election_year"] == "2009" and r["seats"] == "0")
    rows.insert(rows.index(twice), dict(twice))
    _write(data_copy / RESULTS, header, rows)
    v = find(violations(data_copy), "duplicate_party")
    assert v.election == "EP 2009 LU" and len(v.lines) == 2


def test_seat_total_disagreeing_with_totals_file(data_copy):
    edit(data_copy / TOTALS, {"country": "IE", "election_year": "2014"}, seats_total="12", seats_sum="12")
    error = violations(data_copy)
    v = find(error, "totals_file")
    assert v.election == "EP 2014 IE" and "12" in v.message


def test_election_missing_from_results_is_named(data_copy):
    drop(data_copy / RESULTS, {"country": "MT", "election_year": "2004"})
    error = violations(data_copy)
    v = next(v for v in error.violations if v.rule == "totals_file" and v.election == "EP 2004 MT")
    assert v.file == TOTALS
    assert find(error, "ep_size").election == "EP 2004 (all countries)"


def test_parliament_size_rule(data_copy):
    drop(data_copy / RESULTS, {"country": "LU", "election_year": "1979"})
    drop(data_copy / TOTALS, {"country": "LU", "election_year": "1979"})
    v = find(violations(data_copy), "ep_size")
    assert "404" in v.message and "410" in v.message and v.election == "EP 1979 (all countries)"


def test_delegation_with_votes_is_not_allowed(data_copy):
    line = edit(data_copy / DELEGATIONS, {"country": "AT", "party_abbrev": "SPO"}, votes="1000", vote_share="40")
    v = find(violations(data_copy), "delegation_no_votes")
    assert v.election == "delegation 1995-01-01 AT" and v.lines == (line,) and v.file == DELEGATIONS


def test_delegation_seats_must_add_up(data_copy):
    edit(data_copy / DELEGATIONS, {"country": "RO", "party_abbrev": "PSD"}, seats="1")
    v = find(violations(data_copy), "delegation_seats")
    assert v.election == "delegation 2007-01-01 RO"


def test_only_selected_years_are_checked(data_copy):
    edit(data_copy / RESULTS, {"country": "DE", "election_year": "1984", "party_abbrev": "SPD"}, seats="34")
    validate(read_historical(data_copy), [1979])  # 1984 not checked: passes
    assert find(violations(data_copy, [1981, 1984]), "seats_sum").election == "EP 1984 DE"


# -- known gaps ------------------------------------------------------------------------------------

def test_known_mismatch_in_totals_file_is_a_warning_with_its_reason(data_copy):
    edit(data_copy / RESULTS, {"country": "DK", "election_year": "1994", "party_abbrev": "V"}, seats="3")
    header, rows = _rows(data_copy / TOTALS)
    row = next(r for r in rows if r["country"] == "DK" and r["election_year"] == "1994")
    row.update(seats_sum=str(int(row["seats_sum"]) - 1), seats_diff="-1", check="MISMATCH")
    _write(data_copy / TOTALS, header, rows)
    # ... is not silently passed: it comes back as a warning naming the election and the reason
    warnings = validate(read_historical(data_copy), [1994])
    known = [w for w in warnings if w.rule == "seats_sum_known_mismatch"]
    assert len(known) == 1 and known[0].election == "EP 1994 DK"
    assert "MISMATCH" in known[0].message and "ep_seat_totals.csv" in known[0].message
    # ... but an unmarked mismatch is still a violation
    edit(data_copy / TOTALS, {"country": "DK", "election_year": "1994"}, check="ok")
    assert find(violations(data_copy, [1994]), "seats_sum").election == "EP 1994 DK"
