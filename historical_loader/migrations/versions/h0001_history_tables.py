"""History tables: hist_elections, hist_results, hist_delegations.

Revision ID: h0001
Revises:
Create Date: 2026-11-28

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "h0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = ("history",)
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "hist_elections",
        sa.Column("election_year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("country", sa.String(2), primary_key=True),
        sa.Column("election_date", sa.Date, nullable=False),
        sa.Column("seats_total", sa.Integer, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("known_gaps", sa.JSON, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by_run", sa.String(250), nullable=False),
    )
    op.create_table(
        "hist_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("election_year", sa.Integer, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("party_abbrev", sa.String(40), nullable=False),
        sa.Column("party_name", sa.String(300), nullable=False),
        sa.Column("party_name_english", sa.String(300), nullable=False),
        sa.Column("vote_share", sa.String(24), nullable=True),
        sa.Column("votes", sa.BigInteger, nullable=True),
        sa.Column("seats", sa.Integer, nullable=True),
        sa.Column("source_party_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["election_year", "country"],
                                ["hist_elections.election_year", "hist_elections.country"],
                                name="fk_hist_results_election", ondelete="CASCADE"),
        sa.UniqueConstraint("election_year", "country", "source_party_id", name="uq_hist_results_party"),
    )
    op.create_table(
        "hist_delegations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delegation_date", sa.Date, nullable=False),
        sa.Column("election_year", sa.Integer, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("party_abbrev", sa.String(40), nullable=False),
        sa.Column("party_name", sa.String(300), nullable=False),
        sa.Column("party_name_english", sa.String(300), nullable=False),
        sa.Column("seats", sa.Integer, nullable=False),
        sa.Column("seats_total", sa.Integer, nullable=False),
        sa.Column("source_party_id", sa.Integer, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by_run", sa.String(250), nullable=False),
        sa.UniqueConstraint("country", "delegation_date", "source_party_id", name="uq_hist_delegations_party"),
    )


def downgrade() -> None:
    op.drop_table("hist_delegations")
    op.drop_table("hist_results")
    op.drop_table("hist_elections")
