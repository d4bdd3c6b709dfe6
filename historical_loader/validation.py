"""The rules the historical results must satisfy before they reach the store.

A rule broken by the data is a **violation**: :func:`validate` raises
:class:`~historical_loader.errors.HistoryValidationError` listing every one (election, rule,
file lines). A **known gap** of ParlGov that SOURCES.md documents is a **warning**: returned with
its reason, logged, and stored with the election (``hist_elections.known_gaps``), never silently
passed.

Violations (errors):

``parse``                     a field that cannot be read (see :mod:`historical_loader.source`)
``year_matches_date``         ``election_year`` is the year of ``election_date``
``one_date_per_election``     one date and one seat total per country and election
``duplicate_party``           a ParlGov party appears once per election
``counts_nonnegative``        seats and votes are >= 0, the seat total is > 0
``share_range``               0 <= vote share <= 100
``seats_sum``                 the parties' seats add up to the country's seat total
``totals_file``               the election is in ``ep_seat_totals.csv`` with the same seat total,
                              date and seat sum, and every row there has its election
``share_sum``                 the shares of the parties that hold seats or lost (the rows with a
                              seat number) add up to at most 100 %, give or take the rounding of
                              the shares as given (half a unit of the last decimal of each)
``ep_size``                   at a regular election the countries' seat totals add up to the size
                              of the Parliament (:data:`~historical_loader.election_days.EP_SIZE`)
``year_in_one_window``        all elections of a year are loaded by the same backfill run
``delegation_seats``          a delegation has a seat number on every row, adding up to its total
``delegation_no_votes``       a delegation has no votes and no shares (it was appointed)
``delegation_before_election``  a delegation predates the country's first direct election

Known gaps (warnings, with the reason from SOURCES.md):

``small_parties_missing``     the listed shares add up to less than 100 %
``alliance_double_count``     the listed shares exceed 100 % only because a joint-list part
                              without seats repeats part of its list's share
``seats_missing`` / ``votes_missing`` / ``share_missing``  empty numbers in ParlGov
``seats_sum_known_mismatch``  ``ep_seat_totals.csv`` already marks the election ``MISMATCH``
                              and the seats add up to the sum it records
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal

from historical_loader.election_days import EP_ELECTION_DAYS, EP_SIZE, window_of
from historical_loader.errors import Finding, HistoryValidationError
from historical_loader.source import TOTALS_FILE, Election, HistoricalData

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)

REASON_SMALL_PARTIES = ("ParlGov lists only parties that won a seat or about 1 % of the vote; "
                        "'others' are not listed (SOURCES.md, known gaps)")
REASON_ALLIANCE = ("joint-list parts without a seat number repeat part of their list's share "
                   "(SOURCES.md, alliances)")
REASON_SEATS = ("alliance rows whose seats sit on the member rows, joint-list parts, or lists ParlGov "
                "left empty instead of 0 (SOURCES.md, empty seats)")
REASON_VOTES = ("alliance members holding seats won on a joint list, or votes not recorded by ParlGov "
                "(SOURCES.md, empty votes)")
REASON_SHARE = "no vote share recorded by ParlGov (SOURCES.md, empty votes)"


def _half_unit(text: str) -> Decimal:
    """Half a unit of the last decimal place given: ``'31.6'`` -> 0.05, ``'6'`` -> 0.5."""
    places = len(text.split(".", 1)[1]) if "." in text else 0
    return Decimal(5) / (Decimal(10) ** (places + 1))


def _abbrevs(rows) -> str:
    return ", ".join(r.party_abbrev for r in rows)


class _Collector:
    def __init__(self) -> None:
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []

    def error(self, election: Election | str, rule: str, message: str, lines: Iterable[int] = (),
              file: str = "") -> None:
        self.errors.append(self._finding(election, rule, message, lines, file))

    def warn(self, election: Election, rule: str, message: str, lines: Iterable[int] = ()) -> None:
        self.warnings.append(self._finding(election, rule, message, lines, ""))

    @staticmethod
    def _finding(election, rule, message, lines, file) -> Finding:
        if isinstance(election, Election):
            return Finding(election.label, rule, message, file or election.file, tuple(lines))
        return Finding(str(election), rule, message, file, tuple(lines))


def _check_rows(c: _Collector, e: Election) -> None:
    dates = {r.election_date for r in e.rows}
    totals = {r.seats_total for r in e.rows}
    if len(dates) > 1 or len(totals) > 1:
        c.error(e, "one_date_per_election",
                f"rows disagree: dates {sorted(d.isoformat() for d in dates)}, seat totals {sorted(totals)}",
                e.lines)
    wrong_year = [r for r in e.rows if r.election_date.year != r.election_year]
    if wrong_year:
        c.error(e, "year_matches_date", f"election_year {e.year} but election_date "
                f"{wrong_year[0].election_date.isoformat()}", [r.line for r in wrong_year])
    seen: dict[int, int] = {}
    for r in e.rows:
        if r.source_party_id in seen:
            c.error(e, "duplicate_party", f"party {r.party_abbrev} (ParlGov id {r.source_party_id}) appears twice",
                    [seen[r.source_party_id], r.line])
        seen.setdefault(r.source_party_id, r.line)
    negative = [r for r in e.rows if (r.seats is not None and r.seats < 0) or (r.votes is not None and r.votes < 0)]
    if negative:
        c.error(e, "counts_nonnegative", f"negative seats or votes for {_abbrevs(negative)}",
                [r.line for r in negative])
    if e.seats_total <= 0:
        c.error(e, "counts_nonnegative", f"seat total {e.seats_total} is not positive", e.lines)
    out_of_range = [r for r in e.rows if r.vote_share is not None and not (0 <= r.vote_share <= HUNDRED)]
    for r in out_of_range:
        c.error(e, "share_range", f"vote share of {r.party_abbrev} is {r.vote_share_text}, not between 0 and 100",
                [r.line])


def _check_election(c: _Collector, e: Election, data: HistoricalData) -> None:
    _check_rows(c, e)
    seats = sum(r.seats or 0 for r in e.rows)
    total = data.totals.get((e.year, e.country))
    if total is None:
        c.error(e, "totals_file", f"no row for {e.year} {e.country} in {TOTALS_FILE}", e.lines)
    else:
        if total.seats_total != e.seats_total:
            c.error(e, "totals_file", f"{TOTALS_FILE} line {total.line} gives seat total {total.seats_total}, "
                    f"the results {e.seats_total}", e.lines)
        if total.election_date != e.election_date:
            c.error(e, "totals_file", f"{TOTALS_FILE} line {total.line} gives date "
                    f"{total.election_date.isoformat()}, the results {e.election_date.isoformat()}", e.lines)
        if total.seats_sum != seats:
            c.error(e, "totals_file", f"{TOTALS_FILE} line {total.line} records a seat sum of {total.seats_sum}, "
                    f"the results add up to {seats}", e.lines)
    if seats != e.seats_total:
        if total is not None and total.check == "MISMATCH" and total.seats_sum == seats:
            c.warn(e, "seats_sum_known_mismatch",
                   f"party seats add up to {seats}, not the seat total {e.seats_total}; {TOTALS_FILE} line "
                   f"{total.line} marks this election MISMATCH (seats_diff {total.seats_diff}): ParlGov does "
                   f"not attribute every seat to a listed party", e.lines)
        else:
            c.error(e, "seats_sum", f"party seats add up to {seats}, not the seat total {e.seats_total}", e.lines)
    elif total is not None and total.check == "MISMATCH":
        c.warn(e, "seats_sum_known_mismatch", f"{TOTALS_FILE} line {total.line} marks this election MISMATCH, "
               f"but the party seats now add up to the seat total {e.seats_total}", e.lines)

    shared = [r for r in e.rows if r.vote_share is not None]
    with_seat_number = [r for r in shared if r.seats is not None]
    tolerance = sum((_half_unit(r.vote_share_text) for r in shared), Decimal(0))
    tolerance_seated = sum((_half_unit(r.vote_share_text) for r in with_seat_number), Decimal(0))
    total_share = sum((r.vote_share for r in shared), Decimal(0))
    seated_share = sum((r.vote_share for r in with_seat_number), Decimal(0))
    if seated_share > HUNDRED + tolerance_seated:
        c.error(e, "share_sum", f"the vote shares add up to {seated_share} %, more than 100 % "
                f"(rounding allows {tolerance_seated})", [r.line for r in with_seat_number])
    elif total_share > HUNDRED + tolerance:
        parts = [r for r in shared if r.seats is None]
        c.warn(e, "alliance_double_count", f"the listed vote shares add up to {total_share} %: {_abbrevs(parts)} "
               f"counted inside a joint list; {REASON_ALLIANCE}", [r.line for r in parts])
    elif total_share < HUNDRED - tolerance:
        c.warn(e, "small_parties_missing", f"the listed parties add up to {total_share} % of the valid votes; "
               f"{REASON_SMALL_PARTIES}")
    for rule, missing, reason in (
        ("seats_missing", [r for r in e.rows if r.seats is None], REASON_SEATS),
        ("votes_missing", [r for r in e.rows if r.votes is None], REASON_VOTES),
        ("share_missing", [r for r in e.rows if r.vote_share is None], REASON_SHARE),
    ):
        if missing:
            c.warn(e, rule, f"empty for {_abbrevs(missing)}: {reason}", [r.line for r in missing])


def _check_delegation(c: _Collector, d: Election, first_election: dict[str, Election]) -> None:
    _check_rows(c, d)
    no_seats = [r for r in d.rows if r.seats is None]
    if no_seats:
        c.error(d, "delegation_seats", f"no seat number for {_abbrevs(no_seats)}", [r.line for r in no_seats])
    seats = sum(r.seats or 0 for r in d.rows)
    if seats != d.seats_total:
        c.error(d, "delegation_seats", f"delegation seats add up to {seats}, not its total {d.seats_total}",
                d.lines)
    voted = [r for r in d.rows if r.votes is not None or r.vote_share is not None]
    if voted:
        c.error(d, "delegation_no_votes", f"votes or vote shares given for {_abbrevs(voted)}: a delegation is "
                f"appointed, not elected; elected results belong in the results file", [r.line for r in voted])
    first = first_election.get(d.country)
    if first is not None and d.election_date >= first.election_date:
        c.error(d, "delegation_before_election", f"dated {d.election_date.isoformat()}, not before the first "
                f"direct election of {d.country} ({first.election_date.isoformat()})", d.lines)


def validate(data: HistoricalData, years: Iterable[int] | None = None) -> list[Finding]:
    """Check the elections and delegations of ``years`` (all when None) against every rule.

    Returns the warnings (known gaps, each with its reason); raises
    :class:`HistoryValidationError` listing every violation.
    """
    selected = set(data.years() if years is None else years)
    c = _Collector()
    first_election: dict[str, Election] = {}
    for e in data.elections:
        if e.country not in first_election or e.election_date < first_election[e.country].election_date:
            first_election[e.country] = e
    elections = [e for e in data.elections if e.year in selected]
    delegations = [d for d in data.delegations if d.year in selected]
    for e in elections:
        _check_election(c, e, data)
    for d in delegations:
        _check_delegation(c, d, first_election)
    present = {(e.year, e.country) for e in elections}
    for (year, country), total in sorted(data.totals.items()):
        if year in selected and (year, country) not in present:
            c.error(f"EP {year} {country}", "totals_file", f"{TOTALS_FILE} has this election but the results "
                    f"file has no row for it", [total.line], TOTALS_FILE)
    regular_years = {d.year for d in EP_ELECTION_DAYS}
    for year in sorted(selected & regular_years):
        size = sum(e.seats_total for e in elections if e.year == year)
        if year in EP_SIZE and size != EP_SIZE[year]:
            c.error(f"EP {year} (all countries)", "ep_size", f"the countries' seat totals add up to {size}, "
                    f"not the {EP_SIZE[year]} seats of the Parliament elected in {year}")
    for year in sorted(selected):
        members = [e for e in elections if e.year == year] + [d for d in delegations if d.year == year]
        windows = {window_of(m.election_date) for m in members}
        if len(windows) > 1 or None in windows:
            days = ", ".join(sorted(str(w) for w in windows))
            c.error(f"EP {year}", "year_in_one_window", f"the elections of {year} fall into the backfill runs "
                    f"of {days}; a year must be loaded by one run")
    if c.errors:
        raise HistoryValidationError(c.errors)
    return c.warnings


def summarise(warnings: list[Finding]) -> dict[str, int]:
    """Count of warnings by rule, for the one log line per stage."""
    out: dict[str, int] = {}
    for w in warnings:
        out[w.rule] = out.get(w.rule, 0) + 1
    return dict(sorted(out.items()))
