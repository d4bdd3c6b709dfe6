"""Publication versions and their state machine, as append-only events.

A version (``v0001``, ``v0002``, ... per election) is created ``tallied``; its status is its
latest event: ``tallied -> staged -> pending_approval -> approved -> published``, or
``rejected`` / ``superseded`` / ``refused`` on the way; a published version may later be
``rolled_back`` from, another ``made_current``. ``approved`` and ``published`` are refused once a
version is ``rejected`` or ``superseded`` (:class:`VersionStateError`). The backup of a
published version is a track of its own (:data:`BACKUP_STATUSES`) that never changes its status.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from enr.store import engine
from enr.store.engine import StoreBase, StoreError, _iso, _json_safe, _row_dict, _utc
from enr.store.models import VersionEventRow, VersionRow
from enr.versions import next_version

VERSION_STATUSES = ("tallied", "staged", "pending_approval", "approved", "rejected", "superseded", "refused",
                    "published", "rolled_back", "made_current")
# The backup of a published version is a track of its own: these events never change the version's
# status (a live version whose copy to the backup bucket failed is still published), they set its
# ``backup`` field ("backup_pending" after the flip, "backup_failed" with the reason, "backup_ok").
BACKUP_STATUSES = ("backup_pending", "backup_failed", "backup_ok")
_CLOSED = ("rejected", "superseded")


class VersionStateError(StoreError):
    """A version event that its current status does not allow (e.g. publishing a rejected version)."""


class Versions(StoreBase):
    """Creating versions, appending their events, reading their status and history."""

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
        at = _utc(at) or engine.utcnow()
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
                                        at=_utc(at) or engine.utcnow(), who=by, detail=_json_safe(detail))
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
