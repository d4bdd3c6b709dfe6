"""The accepted counts: result sets with their list votes, their corrections, and a digest of them all.

A result set is what one accepted delivery of a country says (totals, units reporting, votes per
list and constituency); the latest accepted sequence of a country is its current count. The
``_other`` pseudo-list is stored with the votes but left out when they are read (its votes are in
``other_votes`` and in ``valid``). Corrections are the per-field changes a correcting delivery
declared, as the bundle lists them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from enr.delivery import OTHER_LIST
from enr.store.engine import StoreBase, _iso, _of_election, _row_dict
from enr.store.models import CorrectionRow, ListResultRow, ResultSetRow


@dataclass
class Counts:
    """The counts of a result set, as the intake hands them over and as the store gives them back."""

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


@dataclass
class NewResult(Counts):
    """The accepted counts of a delivery, as the intake hands them to :meth:`Store.record_delivery`."""

    votes: pd.DataFrame  # constituency, list_id, votes (every list incl. _other)
    validation_path: str | None = None
    declared_seats: list[dict] | None = None
    reason: str | None = None


@dataclass
class ResultSet(Counts):
    """An accepted result set of a country. ``votes`` excludes the ``_other`` pseudo-list (its
    votes are in ``other_votes`` and in ``valid``); ``declared_seats`` is a DataFrame
    ``constituency, list_id, seats`` for STV countries, else None."""

    id: int
    election: str
    country: str
    sequence: int
    received_at: datetime
    sha256: str
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


class Results(StoreBase):
    """Reading the accepted counts (they are written with their delivery: :meth:`Deliveries.record_delivery`)."""

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
            query = _of_election(ResultSetRow, election, country)
            rows = session.scalars(query.order_by(ResultSetRow.country, ResultSetRow.sequence)).all()
            return [self._result_set(session, row, with_votes=False) for row in rows]

    def corrections(self, election: str, country: str | None = None) -> list[dict]:
        """Correction events as bundle entries: sequence, corrects, unit_id, list_id, field, before, after, reason."""
        with self.session() as session:
            query = _of_election(CorrectionRow, election, country)
            rows = session.scalars(query.order_by(CorrectionRow.id)).all()
            return [{"country": r.country, "sequence": r.sequence, "corrects": r.corrects, "unit_id": r.unit_id,
                     "list_id": r.list_id, "constituency": r.constituency, "field": r.field, "before": r.before,
                     "after": r.after, "reason": r.reason, "recorded_at": _iso(r.recorded_at)}
                    for r in rows]

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
