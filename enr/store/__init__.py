"""The results store: every delivery, the accepted counts, corrections, publication versions, lots.

Layer: enr core (docs/ARCHITECTURE.md): imports SQLAlchemy, alembic and enr core only.

SQLAlchemy 2 with alembic migrations (``Store(url).migrate()``), SQLite by default and
PostgreSQL (psycopg2) in production, with the same code and no dialect-specific SQL outside the
migration's append-only triggers. **Nothing is updated in place or deleted**: the current state is
the latest row or the latest event (see :mod:`enr.store.models`).

API (dict results are JSON-able: times as ISO 8601 UTC strings; ``ResultSet.received_at`` is a
timezone-aware ``datetime``; ``at``/``received_at`` arguments take aware datetimes)::

    store = Store("sqlite:///results.db")          # or postgresql+psycopg2://...
    store.migrate()                                 # alembic upgrade head
    owner_store.migrate(app_role="results")        # PostgreSQL: as the owner; the app role may SELECT, INSERT only

    # intake (one transaction per delivery)
    store.record_delivery(election=, country=, sequence=, status=, file_name=, sha256=, size=,
                          received_at=, outcome="accepted"|"quarantined"|"duplicate", signer=, rule=,
                          reason=, reason_text=, corrects=, test=, warnings=, stored_key=,
                          result=NewResult(...) | None, corrections=[{...}]) -> dict
    store.audit_event(event, election=, country=, sequence=, sha256=, detail=) -> dict
    store.find_delivery(election, sha256) -> dict | None          # first received with these bytes
    store.deliveries_by_sha(election, sha256) -> list[dict]
    store.accepted_sequences(election, country) -> list[int]
    store.received_sequences(election, country) -> list[int]

    # reading the counts
    store.latest_result(election, country) -> ResultSet | None    # highest accepted sequence;
                                                                  # .votes = DataFrame[constituency, list_id, votes]
                                                                  # (rs, votes = store.latest_result(...) works too)
    store.latest_results(election) -> dict[country, ResultSet]
    store.result_sets(election, country=None) -> list[ResultSet]  # history, without .votes
    store.corrections(election, country=None) -> list[dict]       # bundle "corrections" entries
    store.deliveries(election, country=None) -> list[dict]
    store.audit(election=None, country=None, since_id=0, event=None) -> list[dict]
    store.results_digest(election) -> str                         # SHA-256 of the accepted results tables

    # publication versions (status = latest event)
    store.next_version(election) -> "v0001", "v0002", ...
    store.add_version(election, version, bundle_path=, state_key=, bundle_sha256=, staging_path=,
                      manifest_sha256=, test=, by=, status="tallied", detail=) -> dict
    store.add_version_event(election, version, status, by=None, detail=None, at=None) -> dict
    store.version_status(election, version) -> str | None
    store.version(election, version) -> dict | None
    store.versions(election) -> list[dict]                        # oldest first, with "status" and "backup"
    store.version_events(election, version=None) -> list[dict]
    store.pending_versions(election) -> list[dict]                # latest status pending_approval
    store.publications(election) -> list[dict]                    # published / made_current / rolled_back events

    # lots that settle ties
    store.record_lot(election, country, tie, winner, by=, constituency=None, seat=None, lists=None,
                     detail=None) -> dict
    store.lots(election) -> {country: {tie: winner}}
    store.lot_records(election, country=None) -> list[dict]

Concurrency: the unique constraint on (election, country, sequence) of ``result_sets`` makes a
second acceptance of the same sequence fail; versions are unique per (election, version).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from enr.delivery import OTHER_LIST
from enr.versions import next_version
from enr.store.models import (AuditRow, Base, CorrectionRow, DeliveryRow, ListResultRow, LotRow, ResultSetRow,
                              VersionEventRow, VersionRow)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
OUTCOMES = ("accepted", "quarantined", "duplicate")
VERSION_STATUSES = ("tallied", "staged", "pending_approval", "approved", "rejected", "superseded", "refused",
                    "published", "rolled_back", "made_current")
# The backup of a published version is a track of its own: these events never change the version's
# status (a live version whose copy to the backup bucket failed is still published), they set its
# ``backup`` field ("backup_pending" after the flip, "backup_failed" with the reason, "backup_ok").
BACKUP_STATUSES = ("backup_pending", "backup_failed", "backup_ok")
_CLOSED = ("rejected", "superseded")


class StoreError(RuntimeError):
    """A request the store refuses (unknown version, a second lot for a tie, ...)."""


class VersionStateError(StoreError):
    """A version event that its current status does not allow (e.g. publishing a rejected version)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass
class NewResult:
    """The accepted counts of a delivery, as the intake hands them to :meth:`Store.record_delivery`."""

    status: str
    issued_at: str
    registered: int
    voters: int
    blank: int | None
    invalid: int
    valid: int
    other_votes: int
    units_reporting: int
    units_total: int
    snapshot_path: str
    votes: pd.DataFrame  # constituency, list_id, votes (every list incl. _other)
    validation_path: str | None = None
    declared_seats: list[dict] | None = None
    reason: str | None = None


@dataclass
class ResultSet:
    """An accepted result set of a country. ``votes`` excludes the ``_other`` pseudo-list (its
    votes are in ``other_votes`` and in ``valid``); ``declared_seats`` is a DataFrame
    ``constituency, list_id, seats`` for STV countries, else None."""

    id: int
    election: str
    country: str
    sequence: int
    status: str
    issued_at: str
    received_at: datetime
    sha256: str
    registered: int
    voters: int
    blank: int | None
    invalid: int
    valid: int
    other_votes: int
    units_reporting: int
    units_total: int
    snapshot_path: str
    validation_path: str | None
    test: bool
    corrects: int | None
    reason: str | None
    delivery_id: int
    votes: pd.DataFrame | None = field(default=None, repr=False)
    declared_seats: pd.DataFrame | None = field(default=None, repr=False)

    def __iter__(self):
        """``result_set, votes = store.latest_result(election, country)`` also works."""
        return iter((self, self.votes))

    @property
    def totals(self) -> dict:
        return {"registered": self.registered, "voters": self.voters, "valid": self.valid, "blank": self.blank,
                "invalid": self.invalid}

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("votes", "declared_seats")}
        out["received_at"] = self.received_at.isoformat()
        return out


def _row_dict(row: Any, skip: tuple[str, ...] = (), iso: bool = True) -> dict:
    """A row as a dict; datetimes as ISO 8601 UTC strings (JSON-able) unless ``iso=False``."""
    out = {}
    for column in row.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(row, column.key)
        if isinstance(value, datetime):
            value = _utc(value).isoformat() if iso else _utc(value)
        out[column.key] = value
    return out


def _iso(value: datetime | None) -> str | None:
    return _utc(value).isoformat() if value is not None else None


class Store:
    """The results store at a SQLAlchemy URL (see the module docstring for the API)."""

    def __init__(self, url: str, *, engine: Engine | None = None, echo: bool = False) -> None:
        self.url = url
        if engine is None:
            kwargs: dict[str, Any] = {"echo": echo}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 60}
                if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            else:
                kwargs["pool_pre_ping"] = True
            engine = create_engine(url, **kwargs)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return self._sessions()

    # -- schema ---------------------------------------------------------------------------------

    def migrate(self, revision: str = "head", *, app_role: str | None = None) -> None:
        """Bring the schema to ``revision`` with the alembic migrations (idempotent).

        On PostgreSQL, run it as the owner role and name the application role: it is then granted
        SELECT and INSERT only (:func:`enr.store.roles.grant_application_role`), in the same
        transaction."""
        from alembic import command
        from alembic.config import Config

        from enr.store.roles import grant_application_role

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            if app_role:
                grant_application_role(connection, app_role)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    def schema_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    # -- intake ---------------------------------------------------------------------------------

    def record_delivery(self, *, election: str, country: str | None, sequence: int | None, status: str | None,
                        file_name: str, sha256: str, size: int, received_at: datetime, outcome: str,
                        signer: str | None = None, rule: str | None = None, reason: dict | None = None,
                        reason_text: str | None = None, corrects: int | None = None, test: bool | None = None,
                        warnings: Iterable[str] = (), stored_key: str | None = None,
                        signature_sha256: str | None = None, result: NewResult | None = None,
                        corrections: Iterable[dict] = (), audit_detail: dict | None = None) -> dict:
        """Record one received delivery and, if accepted, its result set — in one transaction.

        Appends the audit events ``accepted`` | ``quarantined`` | ``duplicate`` (plus
        ``correction`` when counts were corrected). Returns the delivery row as a dict, with
        ``result_set_id`` when a result set was stored.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        if (outcome == "accepted") != (result is not None):
            raise ValueError("an accepted delivery needs its result (and only an accepted one has one)")
        received_at = _utc(received_at)
        warnings = list(warnings)
        with self.session() as session, session.begin():
            delivery = DeliveryRow(election=election, country=country, sequence=sequence, status=status,
                                   file_name=file_name, sha256=sha256, signature_sha256=signature_sha256, size=size,
                                   received_at=received_at,
                                   signer=signer, outcome=outcome, rule=rule, reason=reason, reason_text=reason_text,
                                   corrects=corrects, test=test, warnings=warnings, stored_key=stored_key)
            session.add(delivery)
            session.flush()
            out = _row_dict(delivery)
            detail = {"file_name": file_name, "size": size, "outcome": outcome, "status": status, "signer": signer,
                      "rule": rule, "warnings": warnings, **(audit_detail or {})}
            if reason is not None:
                detail["reason"] = reason
            if result is not None:
                rs = ResultSetRow(
                    delivery_id=delivery.id, election=election, country=country, sequence=sequence,
                    status=result.status, issued_at=result.issued_at, received_at=received_at, sha256=sha256,
                    registered=int(result.registered), voters=int(result.voters),
                    blank=None if result.blank is None else int(result.blank), invalid=int(result.invalid),
                    valid=int(result.valid), other_votes=int(result.other_votes),
                    units_reporting=int(result.units_reporting), units_total=int(result.units_total),
                    snapshot_path=result.snapshot_path, validation_path=result.validation_path, test=bool(test),
                    corrects=corrects, reason=result.reason, declared_seats=result.declared_seats)
                session.add(rs)
                session.flush()
                votes = result.votes
                if len(votes):
                    session.execute(insert(ListResultRow), [
                        {"result_set_id": rs.id, "constituency": str(c or ""), "list_id": str(l), "votes": int(v)}
                        for c, l, v in zip(votes["constituency"], votes["list_id"], votes["votes"])])
                rows = [{"result_set_id": rs.id, "election": election, "country": country, "sequence": sequence,
                         "corrects": corrects, "unit_id": c.get("unit_id"), "list_id": c.get("list_id"),
                         "constituency": c.get("constituency"), "field": c["field"],
                         "before": None if c.get("before") is None else int(c["before"]),
                         "after": None if c.get("after") is None else int(c["after"]),
                         "reason": c.get("reason", result.reason), "recorded_at": received_at}
                        for c in corrections]
                if rows:
                    session.execute(insert(CorrectionRow), rows)
                out["result_set_id"] = rs.id
                detail["result_set_id"] = rs.id
            session.add(AuditRow(at=received_at, election=election, country=country, sequence=sequence,
                                 sha256=sha256, event=outcome, detail=_json_safe(detail)))
            if result is not None and corrects is not None:
                session.add(AuditRow(at=received_at, election=election, country=country, sequence=sequence,
                                     sha256=sha256, event="correction",
                                     detail={"corrects": corrects, "changes": len(list(rows)),
                                             "reason": result.reason}))
            if any(w.startswith("sequence_gap") for w in warnings):
                session.add(AuditRow(at=received_at, election=election, country=country, sequence=sequence,
                                     sha256=sha256, event="sequence_gap",
                                     detail={"warnings": [w for w in warnings if w.startswith("sequence_gap")]}))
        return out

    def audit_event(self, event_name: str, *, election: str, country: str | None = None, sequence: int | None = None,
                    sha256: str | None = None, detail: dict | None = None, at: datetime | None = None) -> dict:
        """Append one event to the audit log."""
        with self.session() as session, session.begin():
            row = AuditRow(at=_utc(at) or utcnow(), election=election, country=country, sequence=sequence,
                           sha256=sha256, event=event_name, detail=_json_safe(detail))
            session.add(row)
            session.flush()
            return _row_dict(row)

    def find_delivery(self, election: str, sha256: str) -> dict | None:
        with self.session() as session:
            row = session.scalars(select(DeliveryRow).where(DeliveryRow.election == election,
                                                            DeliveryRow.sha256 == sha256)
                                  .order_by(DeliveryRow.id).limit(1)).first()
            return _delivery_dict(row) if row else None

    def deliveries_by_sha(self, election: str, sha256: str) -> list[dict]:
        """Every delivery of ``election`` received with these bytes (oldest first)."""
        with self.session() as session:
            rows = session.scalars(select(DeliveryRow).where(DeliveryRow.election == election,
                                                             DeliveryRow.sha256 == sha256).order_by(DeliveryRow.id))
            return [_delivery_dict(r) for r in rows]

    def accepted_sequences(self, election: str, country: str) -> list[int]:
        with self.session() as session:
            return list(session.scalars(select(ResultSetRow.sequence).where(
                ResultSetRow.election == election, ResultSetRow.country == country).order_by(ResultSetRow.sequence)))

    def received_sequences(self, election: str, country: str) -> list[int]:
        with self.session() as session:
            return sorted(set(session.scalars(select(DeliveryRow.sequence).where(
                DeliveryRow.election == election, DeliveryRow.country == country,
                DeliveryRow.sequence.is_not(None)))))

    # -- counts -----------------------------------------------------------------------------------

    def _result_set(self, session: Session, row: ResultSetRow, with_votes: bool) -> ResultSet:
        data = _row_dict(row, skip=("declared_seats",), iso=False)
        rs = ResultSet(**data)
        if with_votes:
            votes = pd.DataFrame(session.execute(
                select(ListResultRow.constituency, ListResultRow.list_id, ListResultRow.votes)
                .where(ListResultRow.result_set_id == row.id, ListResultRow.list_id != OTHER_LIST)
                .order_by(ListResultRow.id)).all(), columns=["constituency", "list_id", "votes"])
            votes["votes"] = votes["votes"].astype("int64")
            votes["constituency"] = votes["constituency"].astype(str)
            votes["list_id"] = votes["list_id"].astype(str)
            rs.votes = votes
            if row.declared_seats:
                seats = pd.DataFrame(row.declared_seats, columns=["constituency", "list_id", "seats"])
                seats["seats"] = seats["seats"].astype("int64")
                rs.declared_seats = seats
        return rs

    def latest_result(self, election: str, country: str) -> ResultSet | None:
        """The latest accepted result set (highest sequence) of a country, with its votes."""
        with self.session() as session:
            row = session.scalars(select(ResultSetRow).where(
                ResultSetRow.election == election, ResultSetRow.country == country)
                .order_by(ResultSetRow.sequence.desc()).limit(1)).first()
            return None if row is None else self._result_set(session, row, with_votes=True)

    def latest_results(self, election: str) -> dict[str, ResultSet]:
        """``{country: latest ResultSet}`` for every country with an accepted delivery."""
        with self.session() as session:
            latest = (select(ResultSetRow.country, func.max(ResultSetRow.sequence).label("sequence"))
                      .where(ResultSetRow.election == election).group_by(ResultSetRow.country).subquery())
            rows = session.scalars(select(ResultSetRow).join(
                latest, (ResultSetRow.country == latest.c.country) & (ResultSetRow.sequence == latest.c.sequence))
                .where(ResultSetRow.election == election).order_by(ResultSetRow.country)).all()
            return {row.country: self._result_set(session, row, with_votes=True) for row in rows}

    def result_sets(self, election: str, country: str | None = None) -> list[ResultSet]:
        with self.session() as session:
            query = select(ResultSetRow).where(ResultSetRow.election == election)
            if country:
                query = query.where(ResultSetRow.country == country)
            rows = session.scalars(query.order_by(ResultSetRow.country, ResultSetRow.sequence)).all()
            return [self._result_set(session, row, with_votes=False) for row in rows]

    def corrections(self, election: str, country: str | None = None) -> list[dict]:
        """Correction events as bundle entries: sequence, corrects, unit_id, list_id, field, before, after, reason."""
        with self.session() as session:
            query = select(CorrectionRow).where(CorrectionRow.election == election)
            if country:
                query = query.where(CorrectionRow.country == country)
            rows = session.scalars(query.order_by(CorrectionRow.id)).all()
            return [{"country": r.country, "sequence": r.sequence, "corrects": r.corrects, "unit_id": r.unit_id,
                     "list_id": r.list_id, "constituency": r.constituency, "field": r.field, "before": r.before,
                     "after": r.after, "reason": r.reason, "recorded_at": _iso(r.recorded_at)}
                    for r in rows]

    def deliveries(self, election: str, country: str | None = None) -> list[dict]:
        with self.session() as session:
            query = select(DeliveryRow).where(DeliveryRow.election == election)
            if country:
                query = query.where(DeliveryRow.country == country)
            return [_delivery_dict(r) for r in session.scalars(query.order_by(DeliveryRow.id))]

    def audit(self, election: str | None = None, country: str | None = None, *, since_id: int = 0,
              event_name: str | None = None) -> list[dict]:
        with self.session() as session:
            query = select(AuditRow).where(AuditRow.id > since_id)
            if election:
                query = query.where(AuditRow.election == election)
            if country:
                query = query.where(AuditRow.country == country)
            if event_name:
                query = query.where(AuditRow.event == event_name)
            return [_row_dict(r) for r in session.scalars(query.order_by(AuditRow.id))]

    def results_digest(self, election: str) -> str:
        """SHA-256 over the accepted results (result sets, list results, corrections) of an election
        (to compare a store with itself, e.g. before and after a refused delivery)."""
        digest = hashlib.sha256()
        with self.session() as session:
            ids = select(ResultSetRow.id).where(ResultSetRow.election == election)
            queries = (
                select(*ResultSetRow.__table__.columns).where(ResultSetRow.election == election)
                .order_by(ResultSetRow.id),
                select(*ListResultRow.__table__.columns).where(ListResultRow.result_set_id.in_(ids))
                .order_by(ListResultRow.id),
                select(*CorrectionRow.__table__.columns).where(CorrectionRow.election == election)
                .order_by(CorrectionRow.id),
            )
            for query in queries:
                for row in session.execute(query):
                    digest.update(repr(tuple(row)).encode())
                digest.update(b"|")
        return digest.hexdigest()

    # -- versions ---------------------------------------------------------------------------------

    def next_version(self, election: str) -> str:
        """The id the next version of ``election`` will get: ``v0001``, ``v0002``, ..."""
        with self.session() as session:
            names = session.scalars(select(VersionRow.version).where(VersionRow.election == election)).all()
        return next_version(names)

    def add_version(self, election: str, version: str, *, bundle_path: str | None = None,
                    state_key: str | None = None, bundle_sha256: str | None = None, staging_path: str | None = None,
                    manifest_sha256: str | None = None, test: bool = False, by: str | None = "system",
                    status: str = "tallied", detail: dict | None = None, at: datetime | None = None) -> dict:
        """Create a version (unique per election) with its first status event (``tallied`` by default)."""
        if status not in VERSION_STATUSES:
            raise ValueError(f"unknown version status {status!r} (known: {', '.join(VERSION_STATUSES)})")
        at = _utc(at) or utcnow()
        with self.session() as session, session.begin():
            row = VersionRow(election=election, version=version, created_at=at, bundle_path=bundle_path,
                             bundle_sha256=bundle_sha256, state_key=state_key, staging_path=staging_path,
                             manifest_sha256=manifest_sha256, test=test, detail=_json_safe(detail))
            session.add(row)
            session.flush()
            session.add(VersionEventRow(version_id=row.id, election=election, version=version, status=status,
                                        at=at, who=by, detail=_json_safe(detail)))
        return self.version(election, version)

    def add_version_event(self, election: str, version: str, status: str, *, by: str | None = None,
                          detail: dict | None = None, at: datetime | None = None) -> dict:
        """Append a status event (or a backup event, :data:`BACKUP_STATUSES`) to a version.
        ``approved``/``published`` are refused once the version is ``rejected`` or ``superseded``."""
        if status not in VERSION_STATUSES + BACKUP_STATUSES:
            raise ValueError(f"unknown version status {status!r} (known: {', '.join(VERSION_STATUSES)})")
        with self.session() as session, session.begin():
            row = session.scalars(select(VersionRow).where(VersionRow.election == election,
                                                           VersionRow.version == version)).first()
            if row is None:
                raise StoreError(f"{election}: no version {version}")
            current = self._status(session, row.id)
            if status in ("approved", "published") and current in _CLOSED:
                raise VersionStateError(f"{election} {version} is {current}: it cannot become {status}")
            event_row = VersionEventRow(version_id=row.id, election=election, version=version, status=status,
                                        at=_utc(at) or utcnow(), who=by, detail=_json_safe(detail))
            session.add(event_row)
            session.flush()
            return _row_dict(event_row)

    @staticmethod
    def _status(session: Session, version_id: int) -> str | None:
        return session.scalars(select(VersionEventRow.status).where(VersionEventRow.version_id == version_id,
                                                                    VersionEventRow.status.not_in(BACKUP_STATUSES))
                               .order_by(VersionEventRow.id.desc()).limit(1)).first()

    def version_status(self, election: str, version: str) -> str | None:
        info = self.version(election, version)
        return info["status"] if info else None

    def _version_dicts(self, session: Session, election: str, version: str | None = None) -> list[dict]:
        query = select(VersionRow).where(VersionRow.election == election)
        if version is not None:
            query = query.where(VersionRow.version == version)
        rows = session.scalars(query.order_by(VersionRow.id)).all()
        if not rows:
            return []
        events: dict[int, list[VersionEventRow]] = {}
        for ev in session.scalars(select(VersionEventRow).where(VersionEventRow.version_id.in_([r.id for r in rows]))
                                  .order_by(VersionEventRow.id)):
            events.setdefault(ev.version_id, []).append(ev)
        out = []
        for row in rows:
            info = _row_dict(row)
            history = events.get(row.id, [])
            states = [ev for ev in history if ev.status not in BACKUP_STATUSES]
            backups = [ev for ev in history if ev.status in BACKUP_STATUSES]
            info["status"] = states[-1].status if states else None
            info["status_at"] = _iso(states[-1].at) if states else None
            info["backup"] = backups[-1].status if backups else None
            info["backup_detail"] = backups[-1].detail if backups else None
            for ev in history:  # later events may carry the staging facts
                for key in ("manifest_sha256", "staging_path", "bundle_sha256"):
                    if isinstance(ev.detail, dict) and ev.detail.get(key):
                        info[key] = ev.detail[key]
            info["events"] = [{"status": ev.status, "at": _iso(ev.at), "by": ev.who, "detail": ev.detail}
                              for ev in history]
            out.append(info)
        return out

    def version(self, election: str, version: str) -> dict | None:
        with self.session() as session:
            found = self._version_dicts(session, election, version)
        return found[0] if found else None

    def versions(self, election: str) -> list[dict]:
        with self.session() as session:
            return self._version_dicts(session, election)

    def version_events(self, election: str, version: str | None = None) -> list[dict]:
        with self.session() as session:
            query = select(VersionEventRow).where(VersionEventRow.election == election)
            if version is not None:
                query = query.where(VersionEventRow.version == version)
            return [_row_dict(r) for r in session.scalars(query.order_by(VersionEventRow.id))]

    def pending_versions(self, election: str) -> list[dict]:
        """Versions whose latest event is ``pending_approval`` (oldest first)."""
        return [v for v in self.versions(election) if v["status"] == "pending_approval"]

    def publications(self, election: str) -> list[dict]:
        """Every publication event (published, made_current, rolled_back), oldest first."""
        return [{"version": e["version"], "status": e["status"], "at": e["at"], "by": e["who"],
                 "manifest_sha256": (e["detail"] or {}).get("manifest_sha256") if isinstance(e["detail"], dict) else None}
                for e in self.version_events(election) if e["status"] in ("published", "made_current", "rolled_back")]

    # -- lots -------------------------------------------------------------------------------------

    def record_lot(self, election: str, country: str, tie: str, winner: str, *, by: str,
                   constituency: str | None = None, seat: int | None = None, lists: list[str] | None = None,
                   detail: dict | None = None, at: datetime | None = None) -> dict:
        """Record the drawn lot of a tie; recording the same winner again is a no-op, another winner
        for an already drawn tie is refused (:class:`StoreError`)."""
        if lists is not None and winner not in lists:
            raise StoreError(f"{election} {country} tie {tie}: winner {winner!r} is not among {lists}")
        with self.session() as session, session.begin():
            existing = session.scalars(select(LotRow).where(LotRow.election == election, LotRow.country == country,
                                                            LotRow.tie == tie)).first()
            if existing is not None:
                if existing.winner != winner:
                    raise StoreError(f"{election} {country} tie {tie} was already drawn: {existing.winner}")
                return _row_dict(existing)
            row = LotRow(election=election, country=country, tie=tie, constituency=constituency, seat=seat,
                         lists=lists, winner=winner, drawn_at=_utc(at) or utcnow(), who=by, detail=_json_safe(detail))
            session.add(row)
            session.flush()
            session.add(AuditRow(at=row.drawn_at, election=election, country=country, event="lot",
                                 detail={"tie": tie, "winner": winner, "by": by}))
            return _row_dict(row)

    def lots(self, election: str) -> dict[str, dict[str, str]]:
        """``{country: {tie: winner}}`` — what the tally needs."""
        out: dict[str, dict[str, str]] = {}
        for lot in self.lot_records(election):
            out.setdefault(lot["country"], {})[lot["tie"]] = lot["winner"]
        return out

    def lot_records(self, election: str, country: str | None = None) -> list[dict]:
        with self.session() as session:
            query = select(LotRow).where(LotRow.election == election)
            if country:
                query = query.where(LotRow.country == country)
            return [_row_dict(r) for r in session.scalars(query.order_by(LotRow.id))]


def _delivery_dict(row: DeliveryRow) -> dict:
    return _row_dict(row)


def _json_safe(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoints, no fsync per commit
    cursor.close()


__all__ = ["NewResult", "ResultSet", "Store", "StoreError", "VersionStateError", "VERSION_STATUSES", "Base"]
