"""Lots that settle ties: drawn once per tie, recorded with who drew them, never redrawn.

The tally reads them as ``{country: {tie: winner}}``; recording the same winner again is a no-op,
another winner for a tie already drawn is refused (:class:`StoreError`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from enr.store import engine
from enr.store.engine import StoreBase, StoreError, _json_safe, _of_election, _row_dict, _utc
from enr.store.models import AuditRow, LotRow


class Lots(StoreBase):
    """Recording and reading the lots drawn for ties."""

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
                         lists=lists, winner=winner, drawn_at=_utc(at) or engine.utcnow(), who=by,
                         detail=_json_safe(detail))
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
            query = _of_election(LotRow, election, country)
            return [_row_dict(r) for r in session.scalars(query.order_by(LotRow.id))]
