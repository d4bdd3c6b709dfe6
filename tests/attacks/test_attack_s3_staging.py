"""Attacks on a version staged in place on S3, before its approval (the production layout).

On an object store a version is staged at its final keys ``public/<election>/<version>/`` and made
readable at publication by one grant in the bucket's read policy (publish/read_policy.py). Here a
real S3 server (SeaweedFS ``weed mini``, SigV4, bucket policies enforced) and the shipped nginx site
configuration in front of it are attacked as a reader without credentials would (guess the next
version's URLs) and as a writer with the publisher's bucket credentials but not the reviewer's
approval would (change, add, replicate). Each attack asserts the refusal's named reason and that
nothing became readable.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
import http.client
import json

import pytest

from attack_support import ELECTION, publish, sealed_versions
from publish import read_policy, release
from publish.bucket import Bucket
from tests.support.nginx import nginx_binary, serving_site
from tests.support.s3 import SeaweedS3, serving, skip_without_seaweed

pytestmark = [pytest.mark.attack, pytest.mark.slow]

GUESSES = ("manifest.json", "en/index.html", "data/eu.json", "data/bundle.json", "SHA256SUMS",
           "no-such-file.html")  # a key that does not exist is refused the same way: no existence oracle


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    skip_without_seaweed()
    export = SeaweedS3(tmp_path_factory.mktemp("s3") / "export", buckets=("enr-export", "enr-backup", "enr-open"),
                       public_buckets=("enr-export", "enr-backup"))
    with serving({"enr_attack_s3": export}):
        yield export


@pytest.fixture(scope="module")
def site(s3, tmp_path_factory):
    """The shipped nginx configuration of the public site in front of the export bucket (None without nginx)."""
    if nginx_binary() is None:
        yield None
        return
    with serving_site(tmp_path_factory.mktemp("nginx"), upstream=f"127.0.0.1:{s3.s3_port}",
                      bucket="enr-export") as port:
        yield port


def _bucket(name: str) -> Bucket:
    return Bucket(f"s3://enr_attack_s3@{name}/")


def _through_site(port: int | None, path: str) -> int | None:
    if port is None:
        return None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _stage(bucket: Bucket, version: str, backup: Bucket | None = None) -> str:
    return release.stage(bucket, ELECTION, version, sealed_versions()[version][0], backup=backup)


def _assert_unreadable(s3, site, bucket: str, version: str) -> None:
    for name in GUESSES:
        assert s3.anonymous_get(bucket, f"public/{ELECTION}/{version}/{name}")[0] == 403, name
        if site is not None and bucket == "enr-export":
            assert _through_site(site, f"/{ELECTION}/{version}/{name}") == 404, name


@pytest.fixture(scope="module")
def published_v1(s3):
    bucket, backup = _bucket("enr-export"), _bucket("enr-backup")
    for store in (bucket, backup):
        release.mark_area(store, "election")
    digest = _stage(bucket, "v0001", backup)
    publish(bucket, "v0001", digest)
    release.replicate(bucket, backup, ELECTION, "v0001")
    return digest


def test_the_next_version_is_unreadable_before_its_approval_and_readable_after(s3, site, published_v1):
    bucket, backup = _bucket("enr-export"), _bucket("enr-backup")
    digest = _stage(bucket, "v0002", backup)
    # the files are there, at the very keys they will be published under, on both stores...
    assert bucket.exists(f"public/{ELECTION}/v0002/en/index.html")
    assert backup.exists(f"public/{ELECTION}/v0002/en/index.html")
    # ...and a reader who guesses the next version's URLs gets nothing, from the bucket or the site
    for store in ("enr-export", "enr-backup"):
        _assert_unreadable(s3, site, store, "v0002")
    assert json.loads(s3.anonymous_get("enr-export", f"public/{ELECTION}/current.json")[1])["version"] == "v0001"
    assert _through_site(site, f"/{ELECTION}/v0001/en/index.html") in (None, 200)

    publish(bucket, "v0002", digest, now=datetime(2019, 5, 26, 22, 0, tzinfo=timezone.utc))
    report = release.replicate(bucket, backup, ELECTION, "v0002")
    assert report["copied"] <= 4  # the seals and the approval: every page was staged on the backup already
    for store in ("enr-export", "enr-backup"):
        status, body = s3.anonymous_get(store, f"public/{ELECTION}/v0002/manifest.json")
        assert status == 200 and hashlib.sha256(body).hexdigest() == digest
    if site is not None:
        assert _through_site(site, f"/{ELECTION}/v0002/en/index.html") == 200


def test_a_file_changed_after_the_approval_is_never_published(s3, site, published_v1):
    bucket = _bucket("enr-export")
    digest = _stage(bucket, "v0003")
    key = f"public/{ELECTION}/v0003/en/index.html"
    bucket.write(key, bucket.read(key).replace(b"</body>", b"<script>alert(1)</script></body>"))
    before = release.current(bucket, ELECTION)
    with pytest.raises(release.IntegrityError, match="not matching the manifest: en/index.html"):
        publish(bucket, "v0003", digest, now=datetime(2019, 5, 26, 23, 0, tzinfo=timezone.utc))
    assert release.current(bucket, ELECTION) == before
    _assert_unreadable(s3, site, "enr-export", "v0003")


def test_an_object_slipped_into_the_staged_folder_is_never_published(s3, site, published_v1):
    bucket = _bucket("enr-export")
    digest = _stage(bucket, "v0003")  # staged again, whole: the tampered page is replaced
    bucket.write(f"public/{ELECTION}/v0003/en/login.html", b"<form action='https://evil.example/'>")
    before = release.current(bucket, ELECTION)
    with pytest.raises(release.IntegrityError, match="that the manifest does not list: en/login.html"):
        publish(bucket, "v0003", digest, now=datetime(2019, 5, 26, 23, 0, tzinfo=timezone.utc))
    assert release.current(bucket, ELECTION) == before
    _assert_unreadable(s3, site, "enr-export", "v0003")
    assert s3.anonymous_get("enr-export", f"public/{ELECTION}/v0003/en/login.html")[0] == 403
    # staging the version again starts from its own files only: the slipped object is removed
    _stage(bucket, "v0003")
    assert not bucket.exists(f"public/{ELECTION}/v0003/en/login.html")
    assert bucket.exists(f"public/{ELECTION}/v0003/en/index.html")


def test_replicating_a_version_nobody_published_is_refused(s3, site, published_v1):
    bucket, backup = _bucket("enr-export"), _bucket("enr-backup")
    _stage(bucket, "t0001")
    with pytest.raises(release.NotPublished, match="does not record this manifest as published"):
        release.replicate(bucket, backup, ELECTION, "t0001")
    _assert_unreadable(s3, site, "enr-backup", "t0001")


def test_a_published_version_is_never_staged_again(s3, published_v1):
    bucket = _bucket("enr-export")
    with pytest.raises(release.VersionNotNewer, match="a published version never changes"):
        _stage(bucket, "v0001")


def test_a_bucket_that_lets_anyone_read_public_refuses_staging(s3):
    """The layout before staging in place granted ``public/*``: there a staged version would be
    readable at once. The stage checks as an anonymous reader first and uploads nothing."""
    client = s3.client()
    client.put_bucket_policy(Bucket="enr-open", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "PublicSiteRead", "Effect": "Allow", "Principal": "*",
                                                "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::enr-open/public/*"]}]}))
    bucket = _bucket("enr-open")
    release.mark_area(bucket, "election")
    with pytest.raises(read_policy.ReadPolicyError, match="lets anyone read where a version is staged"):
        _stage(bucket, "v0001")
    listed = client.list_objects_v2(Bucket="enr-open", Prefix="public/").get("Contents", [])
    assert not [item["Key"] for item in listed if not item["Key"].endswith("/")]  # the probe was taken back
