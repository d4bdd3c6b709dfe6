"""The results store: deliveries, audit log, result sets, list results, corrections, versions, lots.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Every table is append-only: triggers refuse UPDATE and DELETE (SQLite: RAISE(ABORT); PostgreSQL:
a plpgsql function raising an exception).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("deliveries", "audit_log", "result_sets", "list_results", "corrections", "versions",
               "version_events", "lots")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("country", sa.String(8)),
        sa.Column("sequence", sa.Integer()),
        sa.Column("status", sa.String(16)),
        sa.Column("file_name", sa.String(400), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("signature_sha256", sa.String(64)),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", _tz(), nullable=False),
        sa.Column("signer", sa.String(64)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(64)),
        sa.Column("reason", sa.JSON()),
        sa.Column("reason_text", sa.Text()),
        sa.Column("corrects", sa.Integer()),
        sa.Column("test", sa.Boolean()),
        sa.Column("warnings", sa.JSON()),
        sa.Column("stored_key", sa.String(400)),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_election_country_sequence", "deliveries", ["election", "country", "sequence"])
    op.create_index("ix_deliveries_sha256", "deliveries", ["sha256"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("country", sa.String(8)),
        sa.Column("sequence", sa.Integer()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_election_country", "audit_log", ["election", "country"])

    op.create_table(
        "result_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("country", sa.String(8), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("received_at", _tz(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("registered", sa.BigInteger(), nullable=False),
        sa.Column("voters", sa.BigInteger(), nullable=False),
        sa.Column("blank", sa.BigInteger()),
        sa.Column("invalid", sa.BigInteger(), nullable=False),
        sa.Column("valid", sa.BigInteger(), nullable=False),
        sa.Column("other_votes", sa.BigInteger(), nullable=False),
        sa.Column("units_reporting", sa.Integer(), nullable=False),
        sa.Column("units_total", sa.Integer(), nullable=False),
        sa.Column("snapshot_path", sa.String(400), nullable=False),
        sa.Column("validation_path", sa.String(400)),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("corrects", sa.Integer()),
        sa.Column("reason", sa.Text()),
        sa.Column("declared_seats", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_result_sets"),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], name="fk_result_sets_delivery_id_deliveries"),
        sa.UniqueConstraint("election", "country", "sequence", name="uq_result_sets_election_country_sequence"),
        sa.UniqueConstraint("delivery_id", name="uq_result_sets_delivery_id"),
    )

    op.create_table(
        "list_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("result_set_id", sa.Integer(), nullable=False),
        sa.Column("constituency", sa.String(200), nullable=False),
        sa.Column("list_id", sa.String(200), nullable=False),
        sa.Column("votes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_list_results"),
        sa.ForeignKeyConstraint(["result_set_id"], ["result_sets.id"],
                                name="fk_list_results_result_set_id_result_sets"),
        sa.UniqueConstraint("result_set_id", "constituency", "list_id", name="uq_list_results_set_constituency_list"),
    )

    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("result_set_id", sa.Integer(), nullable=False),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("country", sa.String(8), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("corrects", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(200)),
        sa.Column("list_id", sa.String(200)),
        sa.Column("constituency", sa.String(200)),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("before", sa.BigInteger()),
        sa.Column("after", sa.BigInteger()),
        sa.Column("reason", sa.Text()),
        sa.Column("recorded_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_corrections"),
        sa.ForeignKeyConstraint(["result_set_id"], ["result_sets.id"],
                                name="fk_corrections_result_set_id_result_sets"),
    )
    op.create_index("ix_corrections_election_country", "corrections", ["election", "country"])

    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("bundle_path", sa.String(400)),
        sa.Column("bundle_sha256", sa.String(64)),
        sa.Column("state_key", sa.String(64)),
        sa.Column("staging_path", sa.String(400)),
        sa.Column("manifest_sha256", sa.String(64)),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_versions"),
        sa.UniqueConstraint("election", "version", name="uq_versions_election_version"),
    )

    op.create_table(
        "version_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("who", sa.String(200)),
        sa.Column("detail", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_version_events"),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], name="fk_version_events_version_id_versions"),
    )
    op.create_index("ix_version_events_election_version", "version_events", ["election", "version"])

    op.create_table(
        "lots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("election", sa.String(32), nullable=False),
        sa.Column("country", sa.String(8), nullable=False),
        sa.Column("tie", sa.String(200), nullable=False),
        sa.Column("constituency", sa.String(200)),
        sa.Column("seat", sa.Integer()),
        sa.Column("lists", sa.JSON()),
        sa.Column("winner", sa.String(200), nullable=False),
        sa.Column("drawn_at", _tz(), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("detail", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_lots"),
        sa.UniqueConstraint("election", "country", "tie", name="uq_lots_election_country_tie"),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION enr_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'enr results store: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
            END
            $$ LANGUAGE plpgsql""")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION enr_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                           f"SELECT RAISE(ABORT, 'enr results store: {table} is append-only ({action} refused)'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in reversed(APPEND_ONLY):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif dialect == "sqlite":
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    for table in ("lots", "version_events", "versions", "corrections", "list_results", "result_sets",
                  "audit_log", "deliveries"):
        op.drop_table(table)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS enr_append_only()")
