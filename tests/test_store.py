"""The results store on SQLite and (with ENR_TEST_PG_URL) PostgreSQL: migrations, append-only, API."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from bad_deliveries.fixtures import store_url  # noqa: F401 (fixture)
from enr.store import NewResult, Store, StoreError, VersionStateError
from enr.store.models import APPEND_ONLY_TABLES, Base

T0 = datetime(2019, 5, 26, 21, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(store_url):  # noqa: F811
    s = Store(store_url)
    s.migrate()
    yield s
    s.close()


def result(votes: dict[tuple[str, str], int], *, status="provisional", blank=None, other=0) -> NewResult:
    valid = sum(votes.values())
    frame = pd.DataFrame([(c, l, v) for (c, l), v in votes.items()], columns=["constituency", "list_id", "votes"])
    return NewResult(status=status, issued_at="2019-05-26T23:05:00+02:00", registered=1000, voters=valid + 10,
                     blank=blank, invalid=10 - (blank or 0), valid=valid, other_votes=other, units_reporting=2,
                     units_total=4, snapshot_path="snapshots/x.parquet", votes=frame)


def accept(store, country, sequence, votes, **kwargs):
    corrections = kwargs.pop("corrections", ())
    corrects = kwargs.pop("corrects", None)
    return store.record_delivery(election="ep2019", country=country, sequence=sequence, status="provisional",
                                 file_name=f"ep2019-{country}-{sequence:04d}.csv", sha256=f"{country}{sequence:062d}",
                                 size=100, received_at=T0 + timedelta(minutes=sequence), outcome="accepted",
                                 signer="F" * 40, test=True, result=result(votes, **kwargs), corrects=corrects,
                                 corrections=corrections)


def test_a_fresh_sqlite_database_is_migrated(tmp_path):
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert fresh.schema_revision() is None
    fresh.migrate()
    assert fresh.schema_revision() == "0003"
    assert fresh.latest_results("ep2019") == {} and fresh.next_version("ep2019") == "v0001"
    fresh.close()


def test_migrations_are_idempotent_and_match_the_models(store):
    store.migrate()
    assert store.schema_revision() == "0003"
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff


def test_tables_are_append_only(store):
    accept(store, "MT", 1, {("", "pl"): 10})
    accept(store, "MT", 2, {("", "pl"): 11}, corrects=1,
           corrections=[{"unit_id": "MT-00001", "list_id": "pl", "field": "votes", "before": 10, "after": 11}])
    store.add_version("ep2019", "v0001", bundle_path="tally/ep2019/v0001/bundle.json")
    store.record_lot("ep2019", "MT", "seat-6", "pl", by="notary", lists=["pl", "pn"])
    for table in APPEND_ONLY_TABLES:
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises((IntegrityError, DBAPIError)):
                with store.engine.begin() as conn:
                    conn.execute(text(statement))
    assert len(store.deliveries("ep2019")) == 2


def test_latest_result_is_the_highest_accepted_sequence(store):
    assert store.latest_result("ep2019", "FR") is None
    accept(store, "FR", 1, {("", "rn"): 100, ("", "lrem"): 90})
    accept(store, "FR", 3, {("", "rn"): 250, ("", "lrem"): 240, ("", "_other"): 7}, other=7, blank=3,
           status="final")
    accept(store, "BE", 1, {("Dutch-speaking electoral college", "nva"): 50,
                            ("French-speaking electoral college", "ps"): 40})
    latest = store.latest_result("ep2019", "FR")
    assert latest.sequence == 3 and latest.status == "final"
    assert latest.votes.to_dict("records") == [{"constituency": "", "list_id": "rn", "votes": 250},
                                               {"constituency": "", "list_id": "lrem", "votes": 240}]
    assert latest.votes["votes"].dtype == "int64"
    assert latest.totals == {"registered": 1000, "voters": 507, "valid": 497, "blank": 3, "invalid": 7}
    assert latest.other_votes == 7 and latest.test is True
    result_set, votes = store.latest_result("ep2019", "FR")
    assert result_set.sequence == 3 and votes.equals(latest.votes)
    assert latest.received_at.tzinfo is not None
    everything = store.latest_results("ep2019")
    assert sorted(everything) == ["BE", "FR"] and everything["FR"].sequence == 3
    assert set(everything["BE"].votes["constituency"]) == {"Dutch-speaking electoral college",
                                                           "French-speaking electoral college"}
    assert [r.sequence for r in store.result_sets("ep2019", "FR")] == [1, 3]
    assert store.accepted_sequences("ep2019", "FR") == [1, 3]


def test_a_sequence_is_accepted_once(store):
    accept(store, "AT", 1, {("", "oevp"): 5})
    with pytest.raises(IntegrityError):
        accept(store, "AT", 1, {("", "oevp"): 6})
    assert store.latest_result("ep2019", "AT").votes["votes"].tolist() == [5]


def test_quarantined_and_duplicate_deliveries_are_recorded_with_audit(store):
    base = dict(election="ep2019", country="LU", sequence=1, status="final", file_name="ep2019-LU-0001.csv",
                sha256="a" * 64, size=10, received_at=T0)
    store.record_delivery(**base, outcome="quarantined", rule="signature_bad", reason={"rule": "signature_bad"},
                          reason_text="signature_bad: tampered")
    store.record_delivery(**base, outcome="duplicate", reason={"duplicate_of": 1})
    deliveries = store.deliveries("ep2019")
    assert [d["outcome"] for d in deliveries] == ["quarantined", "duplicate"]
    assert deliveries[0]["reason_text"] == "signature_bad: tampered"
    assert store.find_delivery("ep2019", "a" * 64)["id"] == deliveries[0]["id"]
    assert len(store.deliveries_by_sha("ep2019", "a" * 64)) == 2
    assert store.latest_results("ep2019") == {}
    assert [e["event"] for e in store.audit("ep2019")] == ["quarantined", "duplicate"]
    assert store.received_sequences("ep2019", "LU") == [1]
    with pytest.raises(ValueError):
        store.record_delivery(**base, outcome="accepted")


def test_corrections_are_kept_as_events(store):
    accept(store, "MT", 1, {("", "pl"): 100, ("", "pn"): 80}, status="final")
    accept(store, "MT", 2, {("", "pl"): 95, ("", "pn"): 85}, status="final", corrects=1,
           corrections=[{"unit_id": "MT-00003", "list_id": "pl", "field": "votes", "before": 40, "after": 35,
                         "reason": "recount"},
                        {"unit_id": None, "list_id": "pl", "field": "votes", "before": 100, "after": 95,
                         "reason": "recount"}])
    events = store.corrections("ep2019", "MT")
    assert [(e["sequence"], e["corrects"], e["unit_id"], e["before"], e["after"]) for e in events] == \
        [(2, 1, "MT-00003", 40, 35), (2, 1, None, 100, 95)]
    assert store.corrections("ep2019", "FR") == []
    assert "correction" in [e["event"] for e in store.audit("ep2019", "MT")]


def test_results_digest_changes_only_with_accepted_results(store):
    empty = store.results_digest("ep2019")
    accept(store, "MT", 1, {("", "pl"): 10})
    one = store.results_digest("ep2019")
    assert one != empty
    store.record_delivery(election="ep2019", country="MT", sequence=2, status="final", file_name="x", sha256="b" * 64,
                          size=1, received_at=T0, outcome="quarantined", rule="encoding")
    store.audit_event("note", election="ep2019", detail={"x": 1})
    assert store.results_digest("ep2019") == one


def test_versions_and_their_events(store):
    assert store.next_version("ep2019") == "v0001"
    store.add_version("ep2019", "v0001", bundle_path="tally/ep2019/v0001/bundle.json", state_key="k1",
                      bundle_sha256="c" * 64)
    assert store.next_version("ep2019") == "v0002" and store.next_version("ep2024") == "v0001"
    assert store.version_status("ep2019", "v0001") == "tallied"
    store.add_version_event("ep2019", "v0001", "pending_approval", detail={"manifest_sha256": "d" * 64,
                                                                           "staging_path": "staging/ep2019/v0001/"})
    store.add_version("ep2019", "v0002", bundle_path="b2", state_key="k2")
    store.add_version_event("ep2019", "v0002", "pending_approval")
    assert [v["version"] for v in store.pending_versions("ep2019")] == ["v0001", "v0002"]
    store.add_version_event("ep2019", "v0001", "superseded", detail={"by": "v0002"})
    with pytest.raises(VersionStateError):
        store.add_version_event("ep2019", "v0001", "published")
    store.add_version_event("ep2019", "v0002", "approved", by="reviewer")
    store.add_version_event("ep2019", "v0002", "published", by="reviewer", detail={"manifest_sha256": "e" * 64})
    info = store.version("ep2019", "v0001")
    assert info["status"] == "superseded" and info["manifest_sha256"] == "d" * 64
    assert info["staging_path"] == "staging/ep2019/v0001/"
    assert [e["status"] for e in info["events"]] == ["tallied", "pending_approval", "superseded"]
    versions = store.versions("ep2019")
    assert [(v["version"], v["status"], v["state_key"]) for v in versions] == [("v0001", "superseded", "k1"),
                                                                               ("v0002", "published", "k2")]
    assert store.pending_versions("ep2019") == []
    assert [(p["version"], p["by"]) for p in store.publications("ep2019")] == [("v0002", "reviewer")]
    assert [e["status"] for e in store.version_events("ep2019", "v0002")] == ["tallied", "pending_approval",
                                                                              "approved", "published"]
    with pytest.raises(IntegrityError):
        store.add_version("ep2019", "v0002", bundle_path="again")
    with pytest.raises(StoreError):
        store.add_version_event("ep2019", "v0009", "approved")
    with pytest.raises(ValueError):
        store.add_version_event("ep2019", "v0002", "done")
    assert store.version("ep2019", "v0009") is None


def test_lots(store):
    store.record_lot("ep2019", "DK", "dhondt:13", "venstre", by="notary", lists=["venstre", "s"], seat=13)
    assert store.record_lot("ep2019", "DK", "dhondt:13", "venstre", by="notary")["winner"] == "venstre"
    with pytest.raises(StoreError):
        store.record_lot("ep2019", "DK", "dhondt:13", "s", by="notary")
    with pytest.raises(StoreError):
        store.record_lot("ep2019", "DK", "dhondt:14", "x", by="notary", lists=["a", "b"])
    store.record_lot("ep2019", "AT", "t", "spoe", by="notary")
    assert store.lots("ep2019") == {"DK": {"dhondt:13": "venstre"}, "AT": {"t": "spoe"}}
    assert [lot["who"] for lot in store.lot_records("ep2019", "DK")] == ["notary"]
    assert store.lots("ep2024") == {}


def test_versions_are_ordered_by_number_not_as_text():
    """``v10000`` comes after ``v9999`` everywhere versions are ordered (the text order says the opposite)."""
    from enr.versions import next_version, version_key

    assert "v10000" < "v9999"  # the trap
    assert version_key("v10000") > version_key("v9999")
    assert sorted(["v10000", "v0002", "v9999"], key=version_key) == ["v0002", "v9999", "v10000"]
    assert next_version(["v9999", "v10000", "notes"]) == "v10001"
    assert next_version([]) == "v0001"
