"""The history tables of the results store, on their own :class:`~sqlalchemy.MetaData`.

They live in the same database as the election-night store (``enr.store``) but are migrated by
their own alembic environment (``historical_loader/migrations``, version table
``alembic_version_history``), so neither package's migrations touch the other's tables.

* ``hist_elections``: one row per country and EP election (year, date, seat total, source,
  known gaps found by validation, the content digest, when and by which run it was loaded);
* ``hist_results``: the party rows of an election (votes, exact vote share as the source's decimal
  text, seats, ParlGov party id);
* ``hist_delegations``: the delegations appointed before a country's first direct election. They
  are not elections and never appear in ``hist_results``.

Portable SQLAlchemy Core (SQLite for development and tests, PostgreSQL in production): vote shares
are stored as text (``'29.54'``), never as binary floats; votes are 64-bit integers.
"""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

hist_elections = sa.Table(
    "hist_elections", metadata,
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

hist_results = sa.Table(
    "hist_results", metadata,
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

hist_delegations = sa.Table(
    "hist_delegations", metadata,
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

HISTORY_TABLES: tuple[str, ...] = ("hist_elections", "hist_results", "hist_delegations")
VERSION_TABLE = "alembic_version_history"
