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

Where it lives: :class:`Store` is a thin facade over one class per noun, each working over the
same engine and sessions (:class:`enr.store.engine.StoreBase`): :mod:`.deliveries` (deliveries and
the audit log), :mod:`.results` (the accepted counts, corrections), :mod:`.versions` (the version
state machine), :mod:`.lots` (ties settled by lot); :mod:`.models` the tables, :mod:`.roles` the
application role's grants, ``migrations/`` the alembic history.
"""
from __future__ import annotations

from enr.store.deliveries import OUTCOMES, Deliveries
from enr.store.engine import MIGRATIONS, StoreBase, StoreError
from enr.store.lots import Lots
from enr.store.models import Base
from enr.store.results import Counts, NewResult, Results, ResultSet
from enr.store.versions import BACKUP_STATUSES, VERSION_STATUSES, Versions, VersionStateError


class Store(Deliveries, Results, Versions, Lots, StoreBase):
    """The results store at a SQLAlchemy URL (see the module docstring for the API): one engine and
    its sessions (:class:`StoreBase`), read and written by noun (deliveries and audit, results,
    versions, lots)."""


__all__ = ["NewResult", "ResultSet", "Store", "StoreError", "VersionStateError", "VERSION_STATUSES", "Base",
           "BACKUP_STATUSES", "MIGRATIONS", "OUTCOMES", "Counts", "Deliveries", "Lots", "Results", "StoreBase",
           "Versions"]
