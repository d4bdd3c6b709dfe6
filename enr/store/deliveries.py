"""Deliveries and the audit log: every file received, whatever became of it, and every event of the night.

One transaction per delivery (:meth:`Deliveries.record_delivery`): the delivery row, its result
set, list votes and corrections when it was accepted, and its audit events (``accepted`` |
``quarantined`` | ``duplicate``, ``correction``, ``sequence_gap``). A file is recorded whatever
its outcome: the audit log answers "what did we receive, and what did we do with it".
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import insert, select

from enr.store import engine
from enr.store.engine import StoreBase, _json_safe, _of_election, _row_dict, _utc
from enr.store.models import AuditRow, CorrectionRow, DeliveryRow, ListResultRow, ResultSetRow
from enr.store.results import NewResult

OUTCOMES = ("accepted", "quarantined", "duplicate")


class Deliveries(StoreBase):
    """Recording deliveries (with their accepted counts) and audit events; reading them back."""

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
            row = AuditRow(at=_utc(at) or engine.utcnow(), election=election, country=country, sequence=sequence,
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

    def deliveries(self, election: str, country: str | None = None) -> list[dict]:
        with self.session() as session:
            query = _of_election(DeliveryRow, election, country)
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


def _delivery_dict(row: DeliveryRow) -> dict:
    return _row_dict(row)
