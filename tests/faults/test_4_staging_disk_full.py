"""Fault: the staging area's disk is full.

A real full file system: a small tmpfs mounted for the test (root, as in CI) holds a local-folder
export bucket (``ENR_BUCKET_URL=file://...``, as on the single-machine set-up), filled until a
whole site version no longer fits. ``stage`` refuses with one clear error (:class:`StagingFull`:
no space left, what to do), leaves no partial file under ``staging/`` and nothing under
``public/``; the version is recorded ``refused`` with the reason (``enr status``); the error is
not one Airflow retries. Once space is freed, running ``stage`` again (clearing the Airflow task)
stages the version normally.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ELECTION

pytestmark = pytest.mark.slow

SIZE_MB = 160  # a version with its social cards is ~60 MB: the filler leaves it 1 MB


@pytest.fixture
def small_disk():
    mount = Path(tempfile.mkdtemp(prefix="enrdf", dir="/tmp"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root, as .ci/run runs): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)
        mount.rmdir()


def test_a_full_staging_area_is_refused_cleanly_and_staging_works_after_space_is_freed(layout, night, small_disk,
                                                                                      recovery_table):
    from enr import demo, operator, pipeline
    from plugins.enr_airflow.tasks import transient_reason
    from tests.support.fault_layout import ingest_all
    from tests.support.processes import environment

    work = layout["home"] / "diskfull"
    bucket_dir = small_disk / "bucket"
    with environment({"ENR_HOME": str(work), "ENR_STORE_URL": f"sqlite:///{work / 'results.db'}",
                      "ENR_BUCKET_URL": f"file://{bucket_dir}", "ENR_BACKUP_BUCKET_URL": f"file://{work / 'backup'}",
                      "ENR_TRUSTED_KEYS": str(layout["home"] / "enr" / "keys" / "trusted"),
                      "ENR_SIGNING_HOME": str(layout["keys"]["signing_home"])}):
        pipeline.open_store().migrate()
        operator.mark_public_areas("rehearsal")
        demo.drop_into_inbox(night["waves"][0])
        assert not ingest_all(ELECTION)["quarantined"]
        tallied = pipeline.tally(ELECTION)
        # Fill the disk, leaving 1 MiB: the rendered site (tens of MiB) cannot be staged.
        free = os.statvfs(small_disk)
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * (free.f_bavail * free.f_frsize - (1 << 20)))

        started = time.monotonic()
        with pytest.raises(pipeline.StagingFull) as refused:
            pipeline.stage(ELECTION, tallied)
        refused_after = time.monotonic() - started
        message = str(refused.value)
        assert "no space left" in message and tallied["version"] in message and "Free space" in message
        assert transient_reason(refused.value) is None  # not retried: the operator frees space first
        bucket = pipeline.export_bucket()
        assert bucket.list(f"staging/{ELECTION}/{tallied['version']}") == []
        assert not [p for p in (bucket_dir / "staging").rglob("*") if p.is_file()]
        assert bucket.list(f"public/{ELECTION}") == []
        store = pipeline.open_store()
        assert store.version_status(ELECTION, tallied["version"]) == "refused"
        assert store.pending_versions(ELECTION) == []

        filler.unlink()  # the operator frees space, then clears the failed `stage` task
        freed_at = time.monotonic()
        staged = pipeline.stage(ELECTION, tallied)
        restaged = time.monotonic() - freed_at
        assert staged["version"] == tallied["version"]
        assert store.version_status(ELECTION, tallied["version"]) == "pending_approval"
        assert bucket.exists(f"staging/{ELECTION}/{tallied['version']}/manifest.json")
    recovery_table.record("staging area full (ENOSPC)", restaged,
                          f"refused after {refused_after:.0f} s with StagingFull, partial files removed, nothing public, "
                          f"not retried; the time is the stage run again after space was freed",
                          recovered="by the operator (free space, clear the task)")
