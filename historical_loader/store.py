"""The history part of the results store: migrate, load a year idempotently, read back.

**Idempotency policy (insert-if-absent with a content check, one transaction per year).**
Loading year ``Y`` opens one transaction and, for every election (country) and every delegation
of ``Y`` in the source:

* not in the store yet -> inserted (with the validation's known gaps, the content digest, the
  time and the loading run);
* in the store with exactly the same content (date, seat total, every party row: names, exact
  vote-share text, votes, seats, ParlGov id) -> left as it is, ``loaded_at`` included: a second
  run writes nothing;
* in the store with different content (the source file changed) -> **error**
  (:class:`~historical_loader.errors.HistoryConflictError`) naming the election and each added,
  removed or changed row with its source line, and nothing of the year is written; with
  ``replace=True`` (CLI ``--replace``, DAG param ``replace``) the stored election is deleted and
  the source's rows inserted instead, in the same transaction.

An election of ``Y`` in the store but no longer in the source is a difference too (deleted only
with ``replace``). Two loaders racing on the same year cannot both insert: the primary and
unique keys stop the second, whose transaction rolls back; running it again is a no-op.

Portable SQLAlchemy Core: no dialect-specific SQL, so SQLite (development, tests) and
PostgreSQL (production) behave the same.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from historical_loader.errors import Finding, HistoryConflictError
from historical_loader.source import SOURCE, Election
from historical_loader.tables import VERSION_TABLE, hist_delegations, hist_elections, hist_results

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
RESULT_CONTENT = ("party_abbrev", "party_name", "party_name_english", "vote_share", "votes", "seats",
                  "source_party_id")
FIELD_NAMES = ("party_abbrev", "party_name", "party_name_english", "vote_share", "votes", "seats",
               "source_party_id")


def _engine(url: str | Engine) -> Engine:
    if isinstance(url, Engine):
        return url
    options: dict = {}
    if str(url).startswith("sqlite"):
        # several processes (Airflow tasks) may write the same SQLite file: wait for the lock
        options["connect_args"] = {"timeout": 60}
    return sa.create_engine(url, **options)


def _describe(label: str, stored: list[tuple], incoming: list[tuple], lines: dict[int, int]) -> list[str]:
    """Row-level differences between stored and incoming party rows (keyed by ParlGov party id)."""
    by_id_stored = {row[-1]: row for row in stored}
    by_id_new = {row[-1]: row for row in incoming}
    out = []
    for pid in sorted(by_id_new.keys() - by_id_stored.keys()):
        out.append(f"{label}: party {by_id_new[pid][0]} (ParlGov id {pid}, line {lines.get(pid, '?')}) "
                   f"is new in the source")
    for pid in sorted(by_id_stored.keys() - by_id_new.keys()):
        out.append(f"{label}: party {by_id_stored[pid][0]} (ParlGov id {pid}) is stored but no longer in the source")
    for pid in sorted(by_id_new.keys() & by_id_stored.keys()):
        old, new = by_id_stored[pid], by_id_new[pid]
        changes = [f"{name} {old[i]!r} -> {new[i]!r}" for i, name in enumerate(FIELD_NAMES) if old[i] != new[i]]
        if changes:
            out.append(f"{label}: party {new[0]} (ParlGov id {pid}, line {lines.get(pid, '?')}): "
                       + ", ".join(changes))
    return out


class HistoryStore:
    """The ``hist_*`` tables of the results store at ``url`` (a SQLAlchemy URL or an Engine)."""

    def __init__(self, url: str | Engine):
        self.engine = _engine(url)

    @property
    def url(self) -> str:
        """The store's URL with any password hidden (for logs and task summaries)."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------------------------

    def _alembic_config(self):
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return config

    def migrate(self) -> str:
        """Bring the history tables to the newest revision (alembic, version table
        ``alembic_version_history``); returns the revision now in the database."""
        from alembic import command

        config = self._alembic_config()
        head = self.head()
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except sa.exc.DBAPIError:
            # Another process (a parallel backfill run) may be migrating the same store: its tables
            # appear while ours fail to be created. Wait for it to reach head, otherwise re-raise.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if self.revision() == head:
                        break
                except sa.exc.DBAPIError:
                    pass
                time.sleep(1)
            else:
                raise
            log.info("history store migrated concurrently by another process store=%s", self.url)
        revision = self.revision()
        log.info("history store migrated store=%s revision=%s", self.url, revision)
        return revision or ""

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

    def head(self) -> str:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head() or ""

    # -- loading -----------------------------------------------------------------------------------

    def load_year(self, year: int, elections: Iterable[Election], delegations: Iterable[Election] = (), *,
                  known_gaps: dict[str, list[Finding]] | None = None, run_id: str, replace: bool = False,
                  loaded_at: datetime | None = None, source: str = SOURCE) -> dict:
        """Load the elections and delegations of ``year`` in one transaction (see the module doc).

        Returns ``{"year", "inserted", "unchanged", "replaced", "deleted", "rows"}`` (election labels
        per action; ``rows`` = party rows written). Raises :class:`HistoryConflictError` when the
        store holds different content and ``replace`` is False (nothing written).
        """
        elections = [e for e in elections if e.year == year]
        delegations = [d for d in delegations if d.year == year]
        known_gaps = known_gaps or {}
        when = loaded_at or datetime.now(timezone.utc)
        outcome: dict = {"year": year, "inserted": [], "unchanged": [], "replaced": [], "deleted": [], "rows": 0}
        differences: list[str] = []
        with self.engine.begin() as conn:
            stored = {row.country: row for row in conn.execute(
                sa.select(hist_elections).where(hist_elections.c.election_year == year))}
            for e in elections:
                row = stored.pop(e.country, None)
                if row is None:
                    outcome["rows"] += self._insert_election(conn, e, known_gaps.get(e.label, []), run_id, when, source)
                    outcome["inserted"].append(e.label)
                    continue
                stored_rows = self._stored_results(conn, year, e.country)
                same = (stored_rows == e.content() and row.election_date == e.election_date
                        and row.seats_total == e.seats_total)
                if same:
                    outcome["unchanged"].append(e.label)
                    continue
                if replace:
                    self._delete_election(conn, year, e.country)
                    outcome["rows"] += self._insert_election(conn, e, known_gaps.get(e.label, []), run_id, when,
                                                             source)
                    outcome["replaced"].append(e.label)
                    continue
                if row.election_date != e.election_date or row.seats_total != e.seats_total:
                    differences.append(f"{e.label}: stored date {row.election_date} / seat total {row.seats_total}, "
                                       f"source {e.election_date} / {e.seats_total} (lines {e.lines[0]}-{e.lines[-1]})")
                differences += _describe(e.label, stored_rows, e.content(),
                                         {r.source_party_id: r.line for r in e.rows})
            for country in sorted(stored):
                label = f"EP {year} {country}"
                if replace:
                    self._delete_election(conn, year, country)
                    outcome["deleted"].append(label)
                else:
                    differences.append(f"{label}: in the store but no longer in the source")

            stored_delegations = {(r.country, r.delegation_date) for r in conn.execute(
                sa.select(hist_delegations.c.country, hist_delegations.c.delegation_date)
                .where(hist_delegations.c.election_year == year).distinct())}
            for d in delegations:
                key = (d.country, d.election_date)
                if key not in stored_delegations:
                    outcome["rows"] += self._insert_delegation(conn, d, run_id, when, source)
                    outcome["inserted"].append(d.label)
                    continue
                stored_delegations.discard(key)
                stored_rows, stored_total = self._stored_delegation(conn, d.country, d.election_date)
                if stored_rows == d.content() and stored_total == {d.seats_total}:
                    outcome["unchanged"].append(d.label)
                elif replace:
                    self._delete_delegation(conn, d.country, d.election_date)
                    outcome["rows"] += self._insert_delegation(conn, d, run_id, when, source)
                    outcome["replaced"].append(d.label)
                else:
                    if stored_total != {d.seats_total}:
                        differences.append(f"{d.label}: stored seat total {sorted(stored_total)}, source "
                                           f"{d.seats_total}")
                    differences += _describe(d.label, stored_rows, d.content(),
                                             {r.source_party_id: r.line for r in d.rows})
            for country, day in sorted(stored_delegations):
                label = f"delegation {day.isoformat()} {country}"
                if replace:
                    self._delete_delegation(conn, country, day)
                    outcome["deleted"].append(label)
                else:
                    differences.append(f"{label}: in the store but no longer in the source")
            if differences:
                raise HistoryConflictError(year, differences)
        return outcome

    @staticmethod
    def _stored_results(conn: Connection, year: int, country: str) -> list[tuple]:
        columns = [hist_results.c[name] for name in RESULT_CONTENT]
        rows = conn.execute(sa.select(*columns).where(hist_results.c.election_year == year,
                                                      hist_results.c.country == country))
        return sorted(tuple(r) for r in rows)

    @staticmethod
    def _stored_delegation(conn: Connection, country: str, day: date) -> tuple[list[tuple], set[int]]:
        t = hist_delegations.c
        rows = conn.execute(sa.select(t.party_abbrev, t.party_name, t.party_name_english, t.seats,
                                      t.source_party_id, t.seats_total)
                            .where(t.country == country, t.delegation_date == day)).all()
        content = sorted((r[0], r[1], r[2], None, None, r[3], r[4]) for r in rows)
        return content, {r[5] for r in rows}

    @staticmethod
    def _insert_election(conn: Connection, e: Election, gaps: list[Finding], run_id: str, when: datetime,
                         source: str) -> int:
        conn.execute(sa.insert(hist_elections).values(
            election_year=e.year, country=e.country, election_date=e.election_date, seats_total=e.seats_total,
            source=f"{source}; {e.file}", known_gaps=[g.as_dict() for g in gaps], content_sha256=e.digest(),
            loaded_at=when, loaded_by_run=run_id))
        conn.execute(sa.insert(hist_results), [{
            "election_year": e.year, "country": e.country, "party_abbrev": r.party_abbrev,
            "party_name": r.party_name, "party_name_english": r.party_name_english,
            "vote_share": r.vote_share_text, "votes": r.votes, "seats": r.seats,
            "source_party_id": r.source_party_id} for r in e.rows])
        return len(e.rows)

    @staticmethod
    def _insert_delegation(conn: Connection, d: Election, run_id: str, when: datetime, source: str) -> int:
        conn.execute(sa.insert(hist_delegations), [{
            "delegation_date": d.election_date, "election_year": d.year, "country": d.country,
            "party_abbrev": r.party_abbrev, "party_name": r.party_name, "party_name_english": r.party_name_english,
            "seats": r.seats, "seats_total": r.seats_total, "source_party_id": r.source_party_id,
            "source": f"{source}; {d.file}", "loaded_at": when, "loaded_by_run": run_id} for r in d.rows])
        return len(d.rows)

    @staticmethod
    def _delete_election(conn: Connection, year: int, country: str) -> None:
        conn.execute(sa.delete(hist_results).where(hist_results.c.election_year == year,
                                                   hist_results.c.country == country))
        conn.execute(sa.delete(hist_elections).where(hist_elections.c.election_year == year,
                                                     hist_elections.c.country == country))

    @staticmethod
    def _delete_delegation(conn: Connection, country: str, day: date) -> None:
        conn.execute(sa.delete(hist_delegations).where(hist_delegations.c.country == country,
                                                       hist_delegations.c.delegation_date == day))

    # -- reading -----------------------------------------------------------------------------------

    def years_between(self, start: date | None, end: date) -> list[int]:
        """Years of the stored elections and delegations dated in ``(start, end]``."""
        out: set[int] = set()
        with self.engine.connect() as conn:
            for table, column in ((hist_elections, hist_elections.c.election_date),
                                  (hist_delegations, hist_delegations.c.delegation_date)):
                query = sa.select(table.c.election_year).where(column <= end).distinct()
                if start is not None:
                    query = query.where(column > start)
                out |= {row[0] for row in conn.execute(query)}
        return sorted(out)

    def elections(self, years: Iterable[int] | None = None) -> list[dict]:
        """Stored elections (one dict per country and year), oldest first."""
        query = sa.select(hist_elections).order_by(hist_elections.c.election_date, hist_elections.c.country)
        if years is not None:
            query = query.where(hist_elections.c.election_year.in_(list(years)))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def results(self, years: Iterable[int] | None = None) -> list[dict]:
        """Stored party rows, by year, country, then seats and share as stored order (id)."""
        query = sa.select(hist_results).order_by(hist_results.c.election_year, hist_results.c.country,
                                                 hist_results.c.id)
        if years is not None:
            query = query.where(hist_results.c.election_year.in_(list(years)))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def delegations(self, years: Iterable[int] | None = None) -> list[dict]:
        query = sa.select(hist_delegations).order_by(hist_delegations.c.delegation_date,
                                                     hist_delegations.c.country, hist_delegations.c.id)
        if years is not None:
            query = query.where(hist_delegations.c.election_year.in_(list(years)))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def snapshot(self, years: Iterable[int] | None = None) -> dict[str, list[tuple]]:
        """Everything stored for ``years`` as sorted tuples (ids left out, times and runs kept):
        two equal snapshots mean the store holds the same rows."""
        years = None if years is None else list(years)
        elections = sorted((e["election_year"], e["country"], str(e["election_date"]), e["seats_total"],
                            e["content_sha256"], str(e["loaded_at"]), e["loaded_by_run"])
                           for e in self.elections(years))
        results = sorted((r["election_year"], r["country"], *[r[c] for c in RESULT_CONTENT])
                         for r in self.results(years))
        delegations = sorted((str(d["delegation_date"]), d["country"], d["party_abbrev"], d["seats"],
                              d["seats_total"], d["source_party_id"], str(d["loaded_at"]))
                             for d in self.delegations(years))
        return {"elections": elections, "results": results, "delegations": delegations}

    def counts(self, years: Iterable[int] | None = None) -> dict[str, int]:
        snap = self.snapshot(years)
        return {name: len(rows) for name, rows in snap.items()}
