"""Throwaway PostgreSQL databases on a test server (``ENR_TEST_PG_URL``), for tests and the production bench."""
from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class TempDatabases:
    """Fresh databases ``<kind>_<random>`` on the server of ``server_url``; dropped by :meth:`drop`.

    ``server_url``: any SQLAlchemy/libpq URL of a role allowed to CREATE DATABASE (ENR_TEST_PG_URL).
    """

    server_url: str
    kinds: tuple[str, ...] = ("airflow", "results")
    urls: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    admin_url: str | None = None

    @staticmethod
    def _connect(url):
        import psycopg2

        conn = psycopg2.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                                password=url.password, dbname=url.database or "postgres", connect_timeout=10)
        conn.autocommit = True
        return conn

    def _admin(self):
        """A connection allowed to CREATE DATABASE: the test role if it may, else ENR_TEST_PG_ADMIN_URL,
        else the `postgres` superuser of the same (throwaway, trust-auth) test server."""
        import psycopg2
        from sqlalchemy.engine import make_url

        url = make_url(self.server_url)
        if self.admin_url:
            return self._connect(make_url(self.admin_url))
        conn = self._connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            allowed = cur.fetchone()[0]
        if allowed:
            return conn
        conn.close()
        candidates = [os.environ.get("ENR_TEST_PG_ADMIN_URL"),
                      url.set(username="postgres", password=None, database="postgres").render_as_string(
                          hide_password=False)]
        errors = []
        for candidate in filter(None, candidates):
            try:
                self.admin_url = candidate
                return self._connect(make_url(candidate))
            except psycopg2.Error as exc:
                errors.append(str(exc).strip())
        raise RuntimeError(f"role {url.username!r} of ENR_TEST_PG_URL may not CREATE DATABASE and no admin "
                           f"connection worked ({'; '.join(errors)}): give it CREATEDB or set ENR_TEST_PG_ADMIN_URL")

    def create(self) -> dict[str, str]:
        import secrets

        from sqlalchemy.engine import make_url

        suffix = secrets.token_hex(4)
        base = make_url(self.server_url).set(drivername="postgresql+psycopg2")
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for kind in self.kinds:
                    name = f"{kind}_{suffix}"
                    # Owned by the test role, which then creates the tables (PostgreSQL 15: the public
                    # schema belongs to the database owner).
                    cur.execute(f'CREATE DATABASE "{name}" OWNER "{base.username}" ENCODING \'UTF8\' '
                                f'TEMPLATE template0')
                    self.names[kind] = name
                    self.urls[kind] = base.set(database=name).render_as_string(hide_password=False)
        finally:
            conn.close()
        return self.urls

    def drop(self) -> None:
        if not self.names:
            return
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for name in self.names.values():
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()
        self.names.clear()

    def __enter__(self) -> dict[str, str]:
        return self.create()

    def __exit__(self, *exc) -> None:
        self.drop()
