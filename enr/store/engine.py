"""The store's connection and how rows leave it: engine, sessions, migrations, dicts with UTC times.

:class:`StoreBase` opens a SQLAlchemy engine at a URL (SQLite with WAL and a busy timeout by
default, PostgreSQL in production) and runs the alembic migrations; the noun classes of the
store (:mod:`.deliveries`, :mod:`.results`, :mod:`.versions`, :mod:`.lots`) work over its
sessions. Every time the store hands out is timezone-aware UTC; rows leave it as JSON-able dicts
(times as ISO 8601 strings) unless a caller asks for datetimes.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Select, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreError(RuntimeError):
    """A request the store refuses (unknown version, a second lot for a tie, ...)."""


def utcnow() -> datetime:
    """The store's clock, for the times it records itself (a test sets ``enr.store.engine.utcnow``)."""
    return datetime.now(timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _row_dict(row: Any, skip: tuple[str, ...] = (), iso: bool = True) -> dict:
    """A row as a dict; datetimes as ISO 8601 UTC strings (JSON-able) unless ``iso=False``."""
    out = {}
    for column in row.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(row, column.key)
        if isinstance(value, datetime):
            value = _utc(value).isoformat() if iso else _utc(value)
        out[column.key] = value
    return out


def _iso(value: datetime | None) -> str | None:
    return _utc(value).isoformat() if value is not None else None


def _of_election(model: Any, election: str, country: str | None = None) -> Select:
    """The rows of ``model`` for an election (and a country, when one is named)."""
    query = select(model).where(model.election == election)
    if country:
        query = query.where(model.country == country)
    return query


def _json_safe(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, default=str))


class StoreBase:
    """The engine and sessions of the results store at a SQLAlchemy URL, and its schema."""

    def __init__(self, url: str, *, engine: Engine | None = None, echo: bool = False) -> None:
        self.url = url
        if engine is None:
            kwargs: dict[str, Any] = {"echo": echo}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 60}
                if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            else:
                kwargs["pool_pre_ping"] = True
            engine = create_engine(url, **kwargs)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return self._sessions()

    # -- schema ---------------------------------------------------------------------------------

    def migrate(self, revision: str = "head", *, app_role: str | None = None) -> None:
        """Bring the schema to ``revision`` with the alembic migrations (idempotent).

        On PostgreSQL, run it as the owner role and name the application role: it is then granted
        SELECT and INSERT only (:func:`enr.store.roles.grant_application_role`), in the same
        transaction."""
        from alembic import command
        from alembic.config import Config

        from enr.store.roles import grant_application_role

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            if app_role:
                grant_application_role(connection, app_role)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    def schema_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoints, no fsync per commit
    cursor.close()
