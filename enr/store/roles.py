"""Who may do what in the results store on PostgreSQL: an owner role and an application role.

The append-only rule of the store (:mod:`enr.store.models`) is enforced by triggers, and
triggers belong to whoever owns the tables: a role that owns them can drop them, ``TRUNCATE``
(which row triggers do not see), ``ALTER`` or ``DROP`` the tables. So the store has two roles:

* the **owner** (``ENR_STORE_OWNER_URL``) runs the migrations — it creates the tables, the
  triggers, and grants the application role what it needs; nothing else connects as it;
* the **application role** (the user of ``ENR_STORE_URL``: the workers, the CLI) may only
  ``SELECT`` and ``INSERT`` on the store's tables (and use their id sequences). ``UPDATE`` and
  ``DELETE`` are refused twice (no privilege, and the triggers), ``TRUNCATE``, ``DROP TRIGGER``,
  ``DROP TABLE`` and ``ALTER TABLE`` are refused because it owns nothing.

The history tables of :mod:`historical_loader` (``hist_*``) live in the same database; their
loader replaces an election year's rows in one transaction, so the application role may also
``DELETE`` there (and only there). :func:`grant_application_role` is idempotent and runs after
every migration (``Store.migrate(app_role=...)``). SQLite has no roles: nothing to do there.
"""
from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

from enr.store.models import APPEND_ONLY_TABLES

log = logging.getLogger(__name__)

HISTORY_PREFIX = "hist_"
VERSION_TABLES = ("alembic_version",)


class RoleError(RuntimeError):
    """The application role cannot be set up (unknown role, or the same role as the owner)."""


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name or ""):
        raise RoleError(f"{name!r} is not a plain SQL role or table name")
    return f'"{name}"'


def grant_application_role(connection: Connection, role: str) -> dict:
    """Give ``role`` SELECT and INSERT on the store's tables of the current schema, nothing more.

    Returns ``{"schema": ..., "role": ..., "tables": [...]}``. Refuses a role that is the current
    (owner) user: an owner cannot be restricted by grants.
    """
    if connection.dialect.name != "postgresql":
        return {"schema": None, "role": role, "tables": []}
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if owner == role:
        raise RoleError(f"the application role {role!r} is the role that runs the migrations: it would own the "
                        f"tables (and could TRUNCATE them or drop their triggers); use ENR_STORE_OWNER_URL for the "
                        f"migrations and another role in ENR_STORE_URL")
    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if exists is None:
        raise RoleError(f"no PostgreSQL role {role!r} (create it: CREATE ROLE {role} LOGIN PASSWORD ...)")
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    tables = [r[0] for r in connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                                               {"s": schema})]
    r, s = _ident(role), _ident(schema)
    connection.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {r}"))
    connection.execute(text(f"REVOKE CREATE ON SCHEMA {s} FROM {r}"))
    for table in tables:
        t = f"{s}.{_ident(table)}"
        connection.execute(text(f"REVOKE ALL ON {t} FROM PUBLIC"))
        connection.execute(text(f"REVOKE ALL ON {t} FROM {r}"))
        if table in VERSION_TABLES:
            allowed = "SELECT"
        elif table.startswith(HISTORY_PREFIX):
            allowed = "SELECT, INSERT, DELETE"
        else:
            allowed = "SELECT, INSERT"
        connection.execute(text(f"GRANT {allowed} ON {t} TO {r}"))
    connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}"))
    missing = sorted(set(APPEND_ONLY_TABLES) - set(tables))
    if missing:
        raise RoleError(f"schema {schema}: the store's tables {missing} are missing (migrate first)")
    log.info("store role %s: SELECT, INSERT on %d tables of schema %s (owner %s)", role, len(tables), schema, owner)
    return {"schema": schema, "role": role, "tables": sorted(tables)}
