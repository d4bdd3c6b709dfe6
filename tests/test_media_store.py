"""The media's tables in the results store, on SQLite and (ENR_TEST_PG_URL) PostgreSQL: append-only,
state derived from events and attempts; on PostgreSQL the application role (SELECT, INSERT only)
runs the whole registry and cannot rewrite a subscriber's history."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bad_deliveries.fixtures import store_url  # noqa: F401 (fixture)
from test_store import store  # noqa: F401 (fixture: a migrated store on each backend)
from enr.media.subscribers import Attempt, SubscriberRegistry
from enr.store import Store
from enr.store.models import MEDIA_TABLES

PG_URL = os.environ.get("ENR_TEST_PG_URL")
APP_URL = os.environ.get("ENR_TEST_PG_APP_URL")


def _attempt(sid: str, ok: bool, msg: str = "msg_1") -> Attempt:
    return Attempt(subscriber_id=sid, webhook_id=msg, ok=ok, status_code=204 if ok else None,
                   error=None if ok else "ConnectionRefusedError", elapsed_ms=1, at=datetime.now(timezone.utc))


def _exercise(registry: SubscriberRegistry) -> None:
    registry.add("https://a.example/hook", subscriber_id="a", countries=["fr"])
    registry.add("https://b.example/hook", subscriber_id="b")
    kw = {"election": "ep2019", "version": "v0001", "kind": "publish", "disable_after": 3}
    assert registry.record([_attempt("a", False), _attempt("b", True, "msg_b")], **kw) == []
    assert registry.record([_attempt("a", False)], **kw) == []
    assert registry.get("a").consecutive_failures == 2
    assert registry.record([_attempt("a", True)], **kw) == []  # a success ends the streak
    assert registry.get("a").consecutive_failures == 0 and registry.acknowledged(["msg_1", "msg_x"]) == {"msg_1"}
    assert registry.record([_attempt("a", False, f"m{n}") for n in range(3)], **kw) == ["a"]
    assert not registry.get("a").active and "3 failed attempts in a row" in registry.get("a").disabled_reason
    registry.enable("a", by="desk")
    assert registry.get("a").active and registry.get("a").consecutive_failures == 0


def test_state_is_derived_and_the_tables_are_append_only(store):  # noqa: F811
    _exercise(SubscriberRegistry(store))
    for table in MEDIA_TABLES:
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises((IntegrityError, DBAPIError)):
                with store.engine.begin() as conn:
                    conn.execute(text(statement))
    assert len(SubscriberRegistry(store).attempts("a")) == 6


@pytest.mark.postgres
@pytest.mark.skipif(not (PG_URL and APP_URL), reason="ENR_TEST_PG_URL / ENR_TEST_PG_APP_URL are not set "
                                                     "(scripts/pg-test-cluster.sh start sets both)")
def test_the_application_role_runs_the_registry_but_cannot_rewrite_it():
    from sqlalchemy import create_engine

    name = f"media_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    path = f"options=-csearch_path%3D{name}"
    owner = Store(f"{PG_URL}{'&' if '?' in PG_URL else '?'}{path}")
    app = Store(f"{APP_URL}{'&' if '?' in APP_URL else '?'}{path}")
    try:
        owner.migrate(app_role=app.engine.url.username)
        _exercise(SubscriberRegistry(app))
        for statement in ("UPDATE media_subscribers SET url = 'https://evil.example/'",
                          "UPDATE media_subscriber_events SET event = 'enabled'",
                          "DELETE FROM webhook_attempts", "TRUNCATE webhook_attempts"):
            with pytest.raises(DBAPIError, match="permission denied"):
                with app.engine.begin() as conn:
                    conn.execute(text(statement))
        with pytest.raises(DBAPIError, match="append-only"):
            with owner.engine.begin() as conn:
                conn.execute(text("TRUNCATE media_subscriber_events"))
    finally:
        owner.close()
        app.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()
