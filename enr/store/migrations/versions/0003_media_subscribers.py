"""The media's webhook subscribers, their state events and the attempts log (append-only).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Three tables for :mod:`enr.media`: ``media_subscribers`` (URL, secret, filters),
``media_subscriber_events`` (disabled / enabled, with who and why) and ``webhook_attempts`` (one
row per HTTP attempt). Like every table of the store they refuse UPDATE, DELETE and (PostgreSQL)
TRUNCATE: a subscriber's state is derived from its events and attempts, so the application role
needs no more than SELECT and INSERT (``enr.store.roles`` grants exactly that on every table).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("media_subscribers", "media_subscriber_events", "webhook_attempts")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "media_subscribers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("countries", sa.JSON()),
        sa.Column("languages", sa.JSON()),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_media_subscribers"),
    )
    op.create_table(
        "media_subscriber_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("who", sa.String(200)),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_media_subscriber_events"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["media_subscribers.id"],
                                name="fk_media_subscriber_events_subscriber_id_media_subscribers"),
    )
    op.create_index("ix_media_subscriber_events_subscriber_id", "media_subscriber_events", ["subscriber_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(64), nullable=False),
        sa.Column("webhook_id", sa.String(64), nullable=False),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("elapsed_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["media_subscribers.id"],
                                name="fk_webhook_attempts_subscriber_id_media_subscribers"),
    )
    op.create_index("ix_webhook_attempts_webhook_id", "webhook_attempts", ["webhook_id"])
    op.create_index("ix_webhook_attempts_subscriber_id", "webhook_attempts", ["subscriber_id"])

    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "postgresql":  # enr_append_only() is created by revision 0001
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION enr_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION enr_append_only()")
        elif dialect == "sqlite":
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                           f"SELECT RAISE(ABORT, 'enr results store: {table} is append-only ({action} refused)'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in reversed(TABLES):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        elif dialect == "sqlite":
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        op.drop_table(table)
