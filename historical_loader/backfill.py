"""The steps of one ``historical_backfill`` run, without Airflow (the DAG tasks call these).

A run is identified by a regular EP election day (its logical date); it handles the elections and
pre-election delegations dated in that day's window (see :mod:`historical_loader.election_days`):

* :func:`migrate_store`   bring the history tables to the newest revision;
* :func:`validate_window` read the source, check every rule for the window's years, report the gaps;
* :func:`load_window`     validate again and load year by year (one transaction per year,
                          idempotent: see :mod:`historical_loader.store`);
* :func:`verify_window`   read back: the store holds exactly the source's rows for those years.

Each returns a small JSON-able summary (counts, labels, digests; never the data).
:func:`load_all` loads every year (the command line and tests use it).
"""
from __future__ import annotations

import hashlib
import logging
import time
from datetime import date, datetime
from pathlib import Path

from enr.settings import get_settings
from historical_loader.election_days import as_day, in_window, window
from historical_loader.errors import Finding
from historical_loader.source import HistoricalData, read_historical
from historical_loader.store import HistoryStore
from historical_loader.validation import summarise, validate

log = logging.getLogger(__name__)


class StoreMismatch(RuntimeError):
    """After loading, the store does not hold exactly the source's rows (names the elections)."""


def _store(store: str | HistoryStore | None) -> HistoryStore:
    if isinstance(store, HistoryStore):
        return store
    if store is None:
        store = get_settings().store_url
    return HistoryStore(store)


def window_years(data: HistoricalData, day: date | datetime | str) -> list[int]:
    """The years whose elections or delegations are dated in the window of ``day``."""
    bounds = window(day)
    return sorted({e.year for e in data.elections + data.delegations if in_window(e.election_date, bounds)})


def _gaps_by_election(warnings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for w in warnings:
        out.setdefault(w.election, []).append(w)
    return out


def _digest(data: HistoricalData, years: list[int]) -> str:
    parts = sorted(e.digest() for e in data.elections + data.delegations if e.year in years)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def migrate_store(store: str | HistoryStore | None = None) -> dict:
    history = _store(store)
    revision = history.migrate()
    return {"store": history.url, "revision": revision}


def validate_window(day: date | datetime | str, folder: Path | None = None) -> dict:
    """Validate the window of ``day``; raises HistoryValidationError (election, rule, lines)."""
    day = as_day(day)
    data = read_historical(folder)
    years = window_years(data, day)
    warnings = validate(data, years)
    elections = [e for e in data.elections if e.year in years]
    delegations = [d for d in data.delegations if d.year in years]
    summary = {"election_day": day.isoformat(), "years": years, "elections": len(elections),
               "delegations": len(delegations), "rows": sum(len(e.rows) for e in elections),
               "delegation_rows": sum(len(d.rows) for d in delegations),
               "warnings": summarise(warnings), "digest": _digest(data, years)}
    log.info("history validated day=%s years=%s elections=%d rows=%d warnings=%s digest=%s", summary["election_day"],
             years, summary["elections"], summary["rows"], summary["warnings"], summary["digest"][:12])
    for w in warnings:
        if w.rule not in ("small_parties_missing",):
            log.info("known gap: %s", w)
    return summary


def _load_years(history: HistoryStore, data: HistoricalData, years: list[int], *, run_id: str,
                replace: bool, bounds: tuple[date | None, date]) -> dict:
    """Validate ``years`` (before touching the store), then load them and any year the store holds
    in ``bounds`` that the source no longer has (a difference, see :mod:`historical_loader.store`)."""
    warnings = validate(data, years)
    gaps = _gaps_by_election(warnings)
    years = sorted(set(years) | set(history.years_between(*bounds)))
    totals = {"years": years, "inserted": 0, "unchanged": 0, "replaced": 0, "deleted": 0, "rows": 0,
              "by_year": {}, "digest": _digest(data, years)}
    for year in years:
        started = time.perf_counter()
        outcome = history.load_year(year, data.elections, data.delegations, known_gaps=gaps, run_id=run_id,
                                    replace=replace)
        for key in ("inserted", "unchanged", "replaced", "deleted"):
            totals[key] += len(outcome[key])
        totals["rows"] += outcome["rows"]
        totals["by_year"][str(year)] = {k: len(outcome[k]) for k in ("inserted", "unchanged", "replaced", "deleted")}
        log.info("history loaded year=%d inserted=%d unchanged=%d replaced=%d deleted=%d rows=%d run=%s "
                 "seconds=%.3f", year, len(outcome["inserted"]), len(outcome["unchanged"]), len(outcome["replaced"]),
                 len(outcome["deleted"]), outcome["rows"], run_id, time.perf_counter() - started)
        if outcome["replaced"] or outcome["deleted"]:
            log.warning("history year=%d replaced %s deleted %s (replace=True)", year, outcome["replaced"],
                        outcome["deleted"])
    return totals


def load_window(day: date | datetime | str, store: str | HistoryStore | None = None, *, run_id: str,
                replace: bool = False, folder: Path | None = None) -> dict:
    """Validate and load the window of ``day`` (one transaction per year)."""
    day = as_day(day)
    data = read_historical(folder)
    summary = _load_years(_store(store), data, window_years(data, day), run_id=run_id, replace=replace,
                          bounds=window(day))
    summary["election_day"] = day.isoformat()
    return summary


def load_all(store: str | HistoryStore | None = None, *, run_id: str, replace: bool = False,
             folder: Path | None = None) -> dict:
    """Validate and load every year of the source (one transaction per year)."""
    data = read_historical(folder)
    return _load_years(_store(store), data, data.years(), run_id=run_id, replace=replace, bounds=(None, date.max))


def verify_window(day: date | datetime | str, store: str | HistoryStore | None = None,
                  folder: Path | None = None) -> dict:
    """Read the window's years back: the store must hold exactly the source's elections, party rows
    and delegations for them (no more, no fewer, same content). Raises :class:`StoreMismatch`."""
    day = as_day(day)
    data = read_historical(folder)
    history = _store(store)
    years = sorted(set(window_years(data, day)) | set(history.years_between(*window(day))))
    stored = {(e["election_year"], e["country"]): e for e in history.elections(years)}
    problems = []
    expected = [e for e in data.elections if e.year in years]
    for e in expected:
        row = stored.pop((e.year, e.country), None)
        if row is None:
            problems.append(f"{e.label}: not in the store")
        elif row["content_sha256"] != e.digest():
            problems.append(f"{e.label}: stored digest {row['content_sha256'][:12]} != source {e.digest()[:12]}")
    problems += [f"EP {y} {c}: in the store but not in the source" for (y, c) in sorted(stored)]
    counts = history.counts(years)
    rows = sum(len(e.rows) for e in expected)
    delegation_rows = sum(len(d.rows) for d in data.delegations if d.year in years)
    if counts["results"] != rows:
        problems.append(f"{counts['results']} party rows stored for {years}, the source has {rows}")
    if counts["delegations"] != delegation_rows:
        problems.append(f"{counts['delegations']} delegation rows stored for {years}, the source has {delegation_rows}")
    if problems:
        raise StoreMismatch(f"history store after loading {day.isoformat()}: " + "; ".join(problems))
    summary = {"election_day": day.isoformat(), "years": years, **counts}
    log.info("history verified day=%s years=%s elections=%d rows=%d delegation_rows=%d", day, years,
             counts["elections"], counts["results"], counts["delegations"])
    return summary
