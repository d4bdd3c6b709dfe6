"""Alembic environment of the results store: run programmatically by ``Store.migrate()``.

The caller passes an open connection in ``config.attributes["connection"]``; there is no
alembic.ini and nothing here reads the environment.
"""
from __future__ import annotations

from alembic import context

from enr.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the store migrations through enr.store.Store(url).migrate()")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
