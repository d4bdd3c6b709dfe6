"""Tables of the results store (SQLAlchemy 2 declarative models).

Every table is append-only: rows are inserted, never updated or deleted (the migration installs
triggers that refuse UPDATE and DELETE on SQLite and PostgreSQL alike). Current state is always
"the latest row" or "the latest event": the latest accepted result set of a country is the one
with the highest sequence; the status of a publication version is its latest event.

The schema is created by the alembic migrations in ``enr/store/migrations`` (never by
``create_all``); ``tests/test_store.py`` checks that the migrations and these models agree.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}

APPEND_ONLY_TABLES = ("deliveries", "audit_log", "result_sets", "list_results", "corrections", "versions",
                      "version_events", "lots")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DeliveryRow(Base):
    """Every file that reached the intake: accepted, quarantined or duplicate."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    election: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(8))
    sequence: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signer: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    rule: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[dict | None] = mapped_column(JSON)
    reason_text: Mapped[str | None] = mapped_column(Text)
    corrects: Mapped[int | None] = mapped_column(Integer)
    test: Mapped[bool | None] = mapped_column(Boolean)
    warnings: Mapped[list | None] = mapped_column(JSON)
    stored_key: Mapped[str | None] = mapped_column(String(400))
    __table_args__ = (Index("ix_deliveries_election_country_sequence", "election", "country", "sequence"),
                      Index("ix_deliveries_sha256", "sha256"))


class AuditRow(Base):
    """The append-only audit log: one row per event, with the delivery's SHA-256 where there is one."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    election: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(8))
    sequence: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_audit_log_election_country", "election", "country"),)


class ResultSetRow(Base):
    """An accepted delivery: its totals and where its unit-level snapshot is."""

    __tablename__ = "result_sets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    election: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(8))
    sequence: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sha256: Mapped[str] = mapped_column(String(64))
    registered: Mapped[int] = mapped_column(BigInteger)
    voters: Mapped[int] = mapped_column(BigInteger)
    blank: Mapped[int | None] = mapped_column(BigInteger)
    invalid: Mapped[int] = mapped_column(BigInteger)
    valid: Mapped[int] = mapped_column(BigInteger)
    other_votes: Mapped[int] = mapped_column(BigInteger)
    units_reporting: Mapped[int] = mapped_column(Integer)
    units_total: Mapped[int] = mapped_column(Integer)
    snapshot_path: Mapped[str] = mapped_column(String(400))
    validation_path: Mapped[str | None] = mapped_column(String(400))
    test: Mapped[bool] = mapped_column(Boolean)
    corrects: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    declared_seats: Mapped[list | None] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("election", "country", "sequence",
                                       name="uq_result_sets_election_country_sequence"),
                      UniqueConstraint("delivery_id", name="uq_result_sets_delivery_id"))


class ListResultRow(Base):
    """Votes of a result set aggregated per constituency x list (``""`` = the whole country)."""

    __tablename__ = "list_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_set_id: Mapped[int] = mapped_column(ForeignKey("result_sets.id"))
    constituency: Mapped[str] = mapped_column(String(200))
    list_id: Mapped[str] = mapped_column(String(200))
    votes: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("result_set_id", "constituency", "list_id",
                                       name="uq_list_results_set_constituency_list"),)


class CorrectionRow(Base):
    """One changed number of a correction: per unit and list (votes), per unit (totals) or national."""

    __tablename__ = "corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_set_id: Mapped[int] = mapped_column(ForeignKey("result_sets.id"))
    election: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(8))
    sequence: Mapped[int] = mapped_column(Integer)
    corrects: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[str | None] = mapped_column(String(200))
    list_id: Mapped[str | None] = mapped_column(String(200))
    constituency: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(16))
    before: Mapped[int | None] = mapped_column(BigInteger)
    after: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_corrections_election_country", "election", "country"),)


class VersionRow(Base):
    """A publication version (``v0001`` ...) of an election: the bundle and, once staged, the site."""

    __tablename__ = "versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    election: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bundle_path: Mapped[str | None] = mapped_column(String(400))
    bundle_sha256: Mapped[str | None] = mapped_column(String(64))
    state_key: Mapped[str | None] = mapped_column(String(64))
    staging_path: Mapped[str | None] = mapped_column(String(400))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    test: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict | None] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("election", "version", name="uq_versions_election_version"),)


class VersionEventRow(Base):
    """The status history of a version: staged, pending_approval, approved, published, ..."""

    __tablename__ = "version_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    election: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    who: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_version_events_election_version", "election", "version"),)


class LotRow(Base):
    """A drawn lot that settles a tie (recorded once per tie; never redrawn)."""

    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    election: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(8))
    tie: Mapped[str] = mapped_column(String(200))
    constituency: Mapped[str | None] = mapped_column(String(200))
    seat: Mapped[int | None] = mapped_column(Integer)
    lists: Mapped[list | None] = mapped_column(JSON)
    winner: Mapped[str] = mapped_column(String(200))
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    who: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict | None] = mapped_column(JSON)
    __table_args__ = (UniqueConstraint("election", "country", "tie", name="uq_lots_election_country_tie"),)


# -- the media's subscribers (enr.media): append-only too ------------------------------------------
#
# A subscriber's state is never updated in place: it is derived (enr.media.subscribers) from its
# events (disabled / enabled) and from the attempts log (consecutive failures = failed attempts
# since its last acknowledged one or its last re-enabling). So the application role keeps
# SELECT and INSERT only, and every change of state has a time and a reason.

MEDIA_TABLES = ("media_subscribers", "media_subscriber_events", "webhook_attempts")


class MediaSubscriberRow(Base):
    """A newsroom's webhook endpoint: URL, shared secret and optional country/language filters."""

    __tablename__ = "media_subscribers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    countries: Mapped[list | None] = mapped_column(JSON)
    languages: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(String(200))


class MediaSubscriberEventRow(Base):
    """A change of a subscriber's state: ``disabled`` (by hand or after N failures) or ``enabled``."""

    __tablename__ = "media_subscriber_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("media_subscribers.id"))
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    who: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_media_subscriber_events_subscriber_id", "subscriber_id"),)


class WebhookAttemptRow(Base):
    """One HTTP attempt to deliver one webhook message (``webhook_id``) to one subscriber."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("media_subscribers.id"))
    webhook_id: Mapped[str] = mapped_column(String(64))
    election: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    elapsed_ms: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_webhook_attempts_webhook_id", "webhook_id"),
                      Index("ix_webhook_attempts_subscriber_id", "subscriber_id"))
