"""The same staging, publication, verification and replication on an S3-compatible store.

A moto S3 server runs in-process on loopback (``ThreadedMotoServer``, port 0); the bucket is
reached the production way, through Airflow's ObjectStoragePath and an ``aws`` connection given
as an ``AIRFLOW_CONN_*`` variable (moto's in-process ``mock_aws`` does not work with s3fs).
These tests are fast and run in the normal suite.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.publish_fixtures import build_bundle, demo_key, moto_connection, moto_s3, scratch_dir
from publish import release
from publish.build import build_version
from publish.bucket import CACHE_IMMUTABLE, CACHE_POINTER, Bucket
from publish.signing import Signer
from publish.verify import verify_version

CONN_ID = "enr_publish_test_s3"
BUCKET = "enr-publish-test"
_ENDPOINT: list[str] = []


def s3_client():
    import boto3

    return boto3.client("s3", endpoint_url=_ENDPOINT[0], aws_access_key_id="testing-key",
                        aws_secret_access_key="testing-secret", region_name="us-east-1")


@pytest.fixture(scope="module")
def s3_url():
    with moto_s3(BUCKET) as (endpoint, _):
        _ENDPOINT[:] = [endpoint]
        var = f"AIRFLOW_CONN_{CONN_ID.upper()}"
        old = os.environ.get(var)
        os.environ[var] = moto_connection(endpoint)
        try:
            yield f"s3://{BUCKET}/"
        finally:
            if old is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = old


@pytest.fixture(scope="module")
def sealed() -> dict[str, tuple[Path, str]]:
    base, _ = demo_key()
    out = scratch_dir("enrpub-s3-")
    result = {}
    with Signer(base / "sign") as signer:
        for version in ("v0001", "v0002"):
            _, digest = build_version(build_bundle(version, only={"FR", "LU", "MT"}), out / version, signer, languages=["en"])
            result[version] = (out / version, digest)
    return result


def test_bucket_basics_on_s3(s3_url: str) -> None:
    bucket = Bucket(s3_url, conn_id=CONN_ID)
    assert not bucket.is_local
    bucket.write_atomic("probe/a/b.txt", b"hello")
    assert bucket.exists("probe/a/b.txt") and not bucket.exists("probe/a/c.txt")
    assert bucket.read("probe/a/b.txt") == b"hello"
    bucket.copy("probe/a/b.txt", "probe/copy.txt")
    assert bucket.list("probe") == ["probe/a/b.txt", "probe/copy.txt"]
    assert bucket.read_or_none("probe/missing") is None
    # bulk: concurrent PUTs with each object's Content-Type, concurrent GETs in order, None where missing
    many = {f"probe/m/{i}.json": b'{"i": %d}' % i for i in range(300)} | {"probe/m/page.html": b"<p>"}
    bucket.write_many(many, cache_control=CACHE_IMMUTABLE)
    keys = ["probe/m/page.html", "probe/m/none.json", *sorted(many)[:280]]
    assert bucket.read_many(keys) == [b"<p>", None, *[many[k] for k in sorted(many)[:280]]]
    head = s3_client().head_object(Bucket=BUCKET, Key="probe/m/page.html")
    assert (head["ContentType"], head["CacheControl"]) == ("text/html; charset=utf-8", CACHE_IMMUTABLE)
    assert s3_client().head_object(Bucket=BUCKET, Key="probe/m/7.json")["ContentType"].startswith("application/json")


def test_stage_publish_verify_rollback_replicate_on_s3(s3_url: str, sealed, tmp_path: Path) -> None:
    bucket = Bucket(s3_url, conn_id=CONN_ID)
    client = s3_client()

    def head(key: str) -> tuple[str, str]:
        meta = client.head_object(Bucket=BUCKET, Key=key)
        return meta.get("ContentType", ""), meta.get("CacheControl", "")

    now = datetime(2019, 5, 26, 21, 30, tzinfo=timezone.utc)
    embargo = datetime(2019, 5, 26, 21, 0, tzinfo=timezone.utc)
    base, fingerprint = demo_key()
    release.mark_area(bucket, "election")
    for version in ("v0001", "v0002"):
        folder, digest = sealed[version]
        assert release.stage(bucket, "ep2019", version, folder) == digest
        with Signer(base / "sign") as signer:
            release.publish_version(bucket, "ep2019", version, digest, embargo=embargo, now=now,
                                    approval={"approved_by": "r"}, signer=signer)
    assert release.current(bucket, "ep2019")["version"] == "v0002"
    heads = {key: head(key) for key in ("public/ep2019/v0002/en/index.html", "public/ep2019/v0002/data/eu.json",
                                        "public/ep2019/v0002/widget/widget.js", "public/ep2019/current.json")}
    assert heads["public/ep2019/v0002/en/index.html"][0] == "text/html; charset=utf-8"
    assert heads["public/ep2019/v0002/data/eu.json"] == ("application/json; charset=utf-8", CACHE_IMMUTABLE)
    assert heads["public/ep2019/v0002/widget/widget.js"][0].startswith("text/javascript")
    assert heads["public/ep2019/current.json"][1] == CACHE_POINTER
    report = verify_version(bucket.sub("public/ep2019/v0002"), base / "verify", [fingerprint])
    assert report.ok, report.summary()
    with pytest.raises(release.ApprovalMismatch):
        release.publish_version(bucket, "ep2019", "v0002", "f" * 64, embargo=embargo, now=now, approval={})
    release.rollback(bucket, "ep2019", "v0001", now=now)
    assert release.current(bucket, "ep2019")["version"] == "v0001"
    backup = Bucket(tmp_path / "backup")
    assert release.replicate(bucket, backup, "ep2019", "v0001")["current_followed"]
    assert verify_version(backup.sub("public/ep2019/v0001"), base / "verify").ok
    # tampering with one object in the store is caught
    key = "public/ep2019/v0002/data/eu.json"
    bucket.write_atomic(key, bucket.read(key).replace(b'"EPP"', b'"EPQ"', 1))
    tampered = verify_version(bucket.sub("public/ep2019/v0002"), base / "verify")
    assert not tampered.ok and tampered.changed == ["data/eu.json"]
    # ... and is not replicated: the bytes copied are checked against the manifest on the way
    with pytest.raises(release.IntegrityError, match="data/eu.json"):
        release.replicate(bucket, Bucket(tmp_path / "backup2"), "ep2019", "v0002")
    assert Bucket(tmp_path / "backup2").read_or_none("public/ep2019/v0002/manifest.json") is None
