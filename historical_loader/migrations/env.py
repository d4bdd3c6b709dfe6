"""Alembic environment of the history tables (run programmatically by ``HistoryStore.migrate``).

Its own version table (``alembic_version_history``) keeps these migrations independent of the
election-night store's (``enr/store``) in the same database. Autogenerate only sees the
``hist_*`` tables. No logging configuration here: the caller (Airflow task, CLI, tests) owns it.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from historical_loader.tables import HISTORY_TABLES, VERSION_TABLE, metadata

config = context.config


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        return name in HISTORY_TABLES
    return True


def _configure(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                      include_object=include_object, render_as_batch=connection.dialect.name == "sqlite")


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      version_table=VERSION_TABLE, include_object=include_object, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
