"""TRUNCATE refused on the append-only tables (PostgreSQL): row triggers do not see it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

A statement-level ``BEFORE TRUNCATE`` trigger on each append-only table raises, as the row
triggers do for UPDATE and DELETE. The application role cannot TRUNCATE anyway (no privilege,
:mod:`enr.store.roles`); this also stops the owner from doing it by mistake. SQLite has no TRUNCATE
(its ``DELETE`` without ``WHERE`` runs the row triggers when there are any).
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("deliveries", "audit_log", "result_sets", "list_results", "corrections", "versions",
               "version_events", "lots")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION enr_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in reversed(APPEND_ONLY):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
