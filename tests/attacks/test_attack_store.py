"""Attacks on the results store on PostgreSQL, as the application role (and one as the owner).

The schema is migrated by the owner role (``ENR_TEST_PG_URL``, as ``ENR_STORE_OWNER_URL`` in
production), which grants the application role (``ENR_TEST_PG_APP_URL``, the user of
``ENR_STORE_URL``) SELECT and INSERT only. Each attempt below is refused by PostgreSQL with its
own reason, and the accepted results (``Store.results_digest``), the row counts and the triggers
are the same afterwards. Then the whole pipeline runs as the application role.
``scripts/pg-test-cluster.sh start`` creates both roles; ``.ci/run`` sets both URLs.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from enr.store import NewResult, Store
from enr.store.models import APPEND_ONLY_TABLES

PG_URL = os.environ.get("ENR_TEST_PG_URL")
APP_URL = os.environ.get("ENR_TEST_PG_APP_URL")

pytestmark = [
    pytest.mark.attack,
    pytest.mark.postgres,
    pytest.mark.skipif(not (PG_URL and APP_URL), reason="ENR_TEST_PG_URL / ENR_TEST_PG_APP_URL are not set: no "
                                                        "PostgreSQL server with an owner and an application role "
                                                        "(scripts/pg-test-cluster.sh start sets both)"),
]
T0 = datetime(2019, 5, 26, 21, 0, tzinfo=timezone.utc)


def _in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def schema():
    """A fresh schema migrated by the owner, the app role granted; its owner and app URLs."""
    from sqlalchemy import create_engine, text

    name = f"atk_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    owner_url, app_url = _in_schema(PG_URL, name), _in_schema(APP_URL, name)
    owner = Store(owner_url)
    owner.migrate(app_role=Store(APP_URL).engine.url.username)
    owner.close()
    yield {"owner": owner_url, "app": app_url, "name": name}
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture
def seeded(schema):
    """The schema with one accepted delivery (AT), recorded as the owner."""
    owner = Store(schema["owner"])
    _accept(owner, "AT", 1)
    owner.close()
    return schema


def _accept(store: Store, country: str, sequence: int) -> dict:
    votes = pd.DataFrame([("", "a", 600), ("", "b", 400)], columns=["constituency", "list_id", "votes"])
    result = NewResult(status="provisional", issued_at="2019-05-26T23:05:00+02:00", registered=2000, voters=1010,
                       blank=None, invalid=10, valid=1000, other_votes=0, units_reporting=2, units_total=4,
                       snapshot_path=f"snapshots/{country}.parquet", votes=votes)
    return store.record_delivery(election="ep2019", country=country, sequence=sequence, status="provisional",
                                 file_name=f"ep2019-{country}-{sequence:04d}.csv",
                                 sha256=f"{country}{sequence:062d}", size=100,
                                 received_at=T0 + timedelta(minutes=sequence), outcome="accepted", signer="F" * 40,
                                 test=False, result=result)


def _state(url: str) -> tuple:
    """The accepted results' digest, every append-only table's row count, and the triggers."""
    from sqlalchemy import text

    store = Store(url)
    try:
        with store.engine.connect() as conn:
            counts = tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in APPEND_ONLY_TABLES)
            triggers = tuple(sorted(r[0] for r in conn.execute(text(
                "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT t.tgisinternal"))))
        return store.results_digest("ep2019"), counts, triggers
    finally:
        store.close()


ATTEMPTS = {
    "update": ("UPDATE result_sets SET valid = valid + 1000", "permission denied"),
    "delete": ("DELETE FROM list_results", "permission denied"),
    "truncate": ("TRUNCATE deliveries CASCADE", "permission denied"),
    "drop-trigger": ("DROP TRIGGER result_sets_append_only ON result_sets", "must be owner"),
    "drop-table": ("DROP TABLE version_events", "must be owner"),
    "alter-table": ("ALTER TABLE result_sets DISABLE TRIGGER ALL", "must be owner"),
    "create-table": ("CREATE TABLE result_sets_shadow (id int)", "permission denied"),
    "grant-self": ("GRANT UPDATE ON result_sets TO CURRENT_USER", "permission denied|no privileges were granted"),
}


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
def test_the_application_role_is_refused(seeded, attempt):
    from sqlalchemy import create_engine, exc, text

    schema = seeded
    sql, reason = ATTEMPTS[attempt]
    before = _state(schema["owner"])
    engine = create_engine(schema["app"])
    try:
        with engine.connect() as conn:
            if attempt == "grant-self":  # PostgreSQL only warns for a grant it cannot make: check the effect
                conn.execute(text(sql))
                conn.commit()
                allowed = conn.execute(text("SELECT has_table_privilege(current_user, 'result_sets', 'UPDATE')"))
                assert allowed.scalar_one() is False
            else:
                with pytest.raises(exc.ProgrammingError, match=reason):
                    conn.execute(text(sql))
                    conn.commit()
    finally:
        engine.dispose()
    assert _state(schema["owner"]) == before


def test_the_owner_cannot_truncate_either(seeded):
    """TRUNCATE skips row triggers; the statement trigger of migration 0002 refuses it, owner included."""
    from sqlalchemy import create_engine, exc, text

    schema = seeded
    before = _state(schema["owner"])
    engine = create_engine(schema["owner"])
    try:
        with engine.connect() as conn, pytest.raises(exc.InternalError, match="append-only"):
            conn.execute(text("TRUNCATE list_results"))
    finally:
        engine.dispose()
    assert _state(schema["owner"]) == before


def test_the_application_role_cannot_be_the_owner(schema):
    from enr.store.roles import RoleError

    owner = Store(schema["owner"])
    try:
        with pytest.raises(RoleError, match="would own the tables"):
            owner.migrate(app_role=owner.engine.url.username)
    finally:
        owner.close()


def test_the_store_works_as_the_application_role(seeded):
    """What the pipeline does as the app role: accept deliveries, read them, version events, lots."""
    store = Store(seeded["app"])
    try:
        _accept(store, "MT", 1)
        assert set(store.latest_results("ep2019")) == {"AT", "MT"}
        store.add_version("ep2019", "v0001", bundle_path="tally/ep2019/v0001/bundle.json", state_key="k")
        store.add_version_event("ep2019", "v0001", "pending_approval", detail={"manifest_sha256": "a" * 64})
        store.add_version_event("ep2019", "v0001", "published")
        store.add_version_event("ep2019", "v0001", "backup_failed", detail={"reason": "backup unreachable"})
        info = store.version("ep2019", "v0001")
        assert info["status"] == "published" and info["backup"] == "backup_failed"
        store.record_lot("ep2019", "AT", "t1", "a", by="notary", lists=["a", "b"])
        assert store.lots("ep2019") == {"AT": {"t1": "a"}}
    finally:
        store.close()


def test_the_night_runs_as_the_application_role(schema, enr_home, monkeypatch):
    """Migrations as ENR_STORE_OWNER_URL, then intake, tally, stage and publish as ENR_STORE_URL (app role)."""
    from enr import demo, operator, pipeline, replay

    monkeypatch.setenv("ENR_STORE_OWNER_URL", schema["owner"])
    monkeypatch.setenv("ENR_STORE_URL", schema["app"])
    migrated = operator.migrate_store()
    assert migrated["app_role"] == Store(APP_URL).engine.url.username and "hist_elections" in migrated["tables"]
    keys = demo.ensure_demo_keys()
    operator.mark_public_areas("rehearsal")
    night = replay.write_night(enr_home / "outbox", election="ep2019", waves=("final:100",), countries=["LU", "MT"],
                               sender_home=keys["sender_home"], seed=0, bad=0)
    demo.drop_into_inbox(night.waves[0].files)
    for country in ("LU", "MT"):
        assert pipeline.ingest_country("ep2019", country)["accepted"]
    tallied = pipeline.tally("ep2019")
    staged = pipeline.stage("ep2019", tallied)
    published = pipeline.publish("ep2019", staged["version"], staged["manifest_sha256"],
                                 {"chosen_options": ["Approve"], "responded_by": {"id": "reviewer"}})
    assert published["backup"] == "ok"
    assert operator.status("ep2019")["current"]["version"] == staged["version"]
