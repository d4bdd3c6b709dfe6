"""Fault: the primary object store goes down while readers load the public site.

nginx (the real docker/nginx site configuration, with the backup store as the upstream's ``backup``
server and ``proxy_next_upstream error timeout http_502 http_503 http_504``) takes every request
the primary cannot answer from the backup store. Readers see no error, never an older version, and
a file no reader had fetched before (not in nginx's cache) is served from the backup store while
the primary is down, byte for byte as the manifest says.
"""
from __future__ import annotations

import hashlib
import json
import time

import pytest

from conftest import BUCKET, ELECTION, next_wave

pytestmark = pytest.mark.slow


def test_the_public_site_fails_over_to_the_backup_store(layout, night, recovery_table):
    from enr import demo, operator
    from tests.support.fault_layout import (Readers, bucket_digests, fetch, ingest_all, publish_staged,
                                            tally_and_stage)

    demo.drop_into_inbox(next_wave(night))
    assert not ingest_all(ELECTION)["quarantined"]
    staged = tally_and_stage(ELECTION)
    published = publish_staged(ELECTION, staged)
    assert published["backup"] == "ok", published
    version = published["version"]

    primary, backup, port = layout["primary"], layout["backup"], layout["port"]
    before = bucket_digests(primary.client(), BUCKET, f"public/{ELECTION}/")
    assert bucket_digests(backup.client(), BUCKET, f"public/{ELECTION}/{version}/") == \
        {k: v for k, v in before.items() if k.startswith(f"public/{ELECTION}/{version}/")}
    manifest = json.loads(fetch(port, f"/{ELECTION}/{version}/manifest.json")[1])
    files = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    untouched = [p for p in ("de/index.html", "it/index.html", "data/countries/it.json") if p in files]
    assert len(untouched) == 3, "sample pages missing from the manifest"

    readers = Readers(port, ELECTION, threads=6).start()
    try:
        time.sleep(3)
        served_before = readers.requests
        primary.stop(grace=0.5)  # SIGTERM then SIGKILL: the store is gone, connections refused
        down_at = time.monotonic()
        # A page nobody read yet: not in nginx's cache, so it can only come from the backup store.
        status, body = fetch(port, f"/{ELECTION}/{version}/{untouched[0]}")
        failover = time.monotonic() - down_at
        assert status == 200 and hashlib.sha256(body).hexdigest() == files[untouched[0]]
        time.sleep(8)
        for path in untouched[1:]:
            status, body = fetch(port, f"/{ELECTION}/{version}/{path}")
            assert status == 200 and hashlib.sha256(body).hexdigest() == files[path], path
        served_down = readers.requests - served_before
        primary.start()
        back_at = time.monotonic()
        time.sleep(3)
    finally:
        readers.stop()
    assert readers.errors == [], readers.errors[:10]
    assert served_down > 100, f"only {served_down} requests while the primary was down"
    assert readers.went_backwards() == []
    assert {v for seen in readers.versions_seen for v in seen} == {version}
    # Nothing lost: the primary came back with every object as it was.
    assert bucket_digests(primary.client(), BUCKET, f"public/{ELECTION}/") == before
    assert operator.status(ELECTION)["current"]["version"] == version
    recovery_table.record("primary bucket down under readers (nginx failover)", failover,
                          f"{readers.requests} requests, 0 errors; {served_down} served while the primary was down "
                          f"({back_at - down_at:.0f} s)")
