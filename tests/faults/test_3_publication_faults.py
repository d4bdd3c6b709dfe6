"""Faults during publication: the primary bucket unreachable, then the backup bucket down.

Primary down: the approved version's publication fails with a transient error (the one the
publish task's retry policy retries); readers, through nginx, stay on the previous version with 0
errors; nothing of the new version is public on either store; once the store is back the retried
publication completes, and readers move forward, never back.

Backup down: the publication completes (the version is live), ``enr status`` shows the backup
behind; when the backup store is back, the ingest DAG's ``backups`` task (it runs every minute)
copies the version over, and the backup store serves exactly the primary's bytes.

At the end the night's seats are the ones computed without any fault, and every version was
published once, in order.
"""
from __future__ import annotations

import json
import time

import pytest

from conftest import BUCKET, ELECTION, next_wave

pytestmark = pytest.mark.slow


def _publications(client) -> list[str]:
    log = json.loads(client.get_object(Bucket=BUCKET, Key=f"public/{ELECTION}/publications.json")["Body"].read())
    return [entry["version"] for entry in log if entry["event"] == "publish"]


def test_primary_bucket_unreachable_during_publication(layout, night, recovery_table):
    from enr import operator, pipeline
    from plugins.enr_airflow.tasks import TransientInfrastructureError, infrastructure_errors
    from tests.support.fault_layout import APPROVAL, Readers, bucket_digests

    staged = night.get("staged")
    assert staged, "needs the version staged by the store-restart test (tests/faults/test_2_store_restart.py)"
    primary, backup = layout["primary"], layout["backup"]
    previous = operator.status(ELECTION)["current"]["version"]
    described = pipeline.describe_version(ELECTION, staged["version"])
    before = bucket_digests(primary.client(), BUCKET, f"public/{ELECTION}/")
    readers = Readers(layout["port"], ELECTION, threads=4).start()
    try:
        time.sleep(2)
        primary.stop(grace=0.5)
        down_at = time.monotonic()
        with pytest.raises(TransientInfrastructureError) as failed:
            with infrastructure_errors(f"publish {ELECTION} {staged['version']}"):
                pipeline.publish(ELECTION, staged["version"], described["manifest_sha256"], APPROVAL)
        failed_after = time.monotonic() - down_at
        assert "object store" in str(failed.value), failed.value
        time.sleep(3)
        during = [v for seen in readers.versions_seen for v in seen]
        assert set(during) == {previous}, during
        primary.start()
        up_at = time.monotonic()
        # The retry (Airflow: after retry_delay; the retry asks the reviewer again, see the DAG's doc)
        result = pipeline.publish(ELECTION, staged["version"], described["manifest_sha256"], APPROVAL)
        done_at = time.monotonic()
        assert result["version"] == staged["version"] and result["backup"] == "ok", result
        time.sleep(3)
    finally:
        readers.stop()
    assert readers.errors == [], readers.errors[:10]
    assert readers.went_backwards() == []
    assert {v for seen in readers.versions_seen for v in seen} == {previous, staged["version"]}
    after = bucket_digests(primary.client(), BUCKET, f"public/{ELECTION}/")
    assert {k: v for k, v in after.items() if k in before and "/v0" in k} == \
        {k: v for k, v in before.items() if "/v0" in k}, "a published version's bytes changed"
    assert _publications(primary.client()) == _publications(backup.client())
    published = _publications(primary.client())
    assert published == sorted(published) and len(published) == len(set(published)), published
    assert published[-1] == staged["version"]
    recovery_table.record("primary bucket unreachable during publication", done_at - up_at,
                          f"publication failed {failed_after:.1f} s after the outage with a retryable error; readers "
                          f"stayed on {previous} with 0 errors; the time is the retried publication (copy, flip, "
                          f"backup), started as soon as the store was back (+ retry_delay and re-approval in Airflow)",
                          recovered="by task retry (reviewer re-approves)")


def test_backup_bucket_down_during_publication(layout, night, reference_seats, recovery_table):
    from enr import demo, operator
    from plugins.enr_airflow.tasks import catch_up_backups
    from tests.support.fault_layout import (Readers, bucket_digests, current_seat_state, ingest_all,
                                            publish_staged, tally_and_stage)

    primary, backup = layout["primary"], layout["backup"]
    demo.drop_into_inbox(next_wave(night))
    assert not ingest_all(ELECTION)["quarantined"]
    staged = tally_and_stage(ELECTION)
    readers = Readers(layout["port"], ELECTION, threads=4).start()
    try:
        backup.stop(grace=0.5)
        down_at = time.monotonic()
        result = publish_staged(ELECTION, staged)
        assert result["backup"] == "failed", result
        status = operator.status(ELECTION)
        assert status["current"]["version"] == staged["version"]
        assert status["backup_trouble"] == [staged["version"]]
        shown = operator.format_status(status)
        assert "BACKUP FAILED" in shown, shown
        # the ingest DAG's catch-up while the store is still down: tried, still behind, shown
        assert catch_up_backups(ELECTION) == {staged["version"]: "failed"}
        assert operator.status(ELECTION)["backup_trouble"] == [staged["version"]]
        backup.start()
        up_at = time.monotonic()
        caught = catch_up_backups(ELECTION)  # the next ingest run's `backups` task
        done_at = time.monotonic()
        time.sleep(2)
    finally:
        readers.stop()
    assert caught == {staged["version"]: "ok"}, caught
    assert operator.status(ELECTION)["backup_trouble"] == []
    assert readers.errors == [], readers.errors[:10]
    assert readers.went_backwards() == []
    prefix = f"public/{ELECTION}/"
    on_primary = bucket_digests(primary.client(), BUCKET, prefix)
    on_backup = bucket_digests(backup.client(), BUCKET, prefix)
    assert on_backup == on_primary, sorted(set(on_primary.items()) ^ set(on_backup.items()))[:5]
    published = _publications(primary.client())
    assert published == sorted(published) and len(published) == len(set(published)) == night["taken"]
    # The night ends with the seats computed without any fault.
    assert current_seat_state(ELECTION) == reference_seats
    assert operator.status(ELECTION)["current"]["seats_allocated"] == 751
    recovery_table.record("backup bucket down during publication", done_at - up_at,
                          f"publication completed, backup shown BACKUP FAILED by enr status; caught up by the ingest "
                          f"DAG's backups task after the store came back (down {up_at - down_at:.0f} s)",
                          recovered="by the next ingest run (every minute)")
