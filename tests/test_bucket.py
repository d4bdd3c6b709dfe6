"""The one bucket (enr/bucket.py): one key rule for the intake and the publisher, atomic writes, no overwrite.

Hostile keys are tried on every operation of both faces of the bucket (the intake's
``enr.bucketio.Bucket`` and the publisher's ``publish.bucket.Bucket``): each is refused with
:class:`UnsafeKey` before anything is read or written, and nothing appears outside the bucket.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from enr import bucket as core
from enr import bucketio
from enr.bucket import Bucket, BucketError, UnsafeKey, check_key
from publish import bucket as publish_bucket

HOSTILE = ["../outside.txt", "/etc/passwd", "a/../../outside.txt", "a//b", "a/./b", ".", "..", "a\\..\\b",
           "a\x00b", "a\nb", "a\x7fb", "", "a/", "/a", "x" * 1025]


@pytest.fixture(params=["intake", "publish"])
def bucket(request, tmp_path: Path) -> Bucket:
    root = tmp_path / "bucket"
    root.mkdir()
    kind = bucketio.Bucket if request.param == "intake" else publish_bucket.Bucket
    return kind(root)


def test_one_class_behind_both_names() -> None:
    assert publish_bucket.Bucket is core.Bucket
    assert issubclass(bucketio.Bucket, core.Bucket)
    assert bucketio.UnsafeKey is publish_bucket.UnsafeKey is UnsafeKey
    # callers of either side keep catching what they caught: the intake ValueError, the publisher OSError
    assert issubclass(UnsafeKey, ValueError) and issubclass(UnsafeKey, BucketError)


@pytest.mark.parametrize("key", HOSTILE)
def test_every_operation_refuses_a_hostile_key(bucket: Bucket, key: str, tmp_path: Path) -> None:
    bucket.write("good.txt", b"good")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    operations = [
        lambda: bucket.read(key), lambda: bucket.exists(key), lambda: bucket.write(key, b"x"),
        lambda: bucket.write_once(key, b"x"), lambda: bucket.delete(key), lambda: bucket.stat(key),
        lambda: bucket.copy("good.txt", key), lambda: bucket.copy(key, "copy.txt"),
        lambda: bucket.read_many(["good.txt", key]), lambda: bucket.write_many({"ok.txt": b"x", key: b"x"}),
    ]
    for number, operation in enumerate(operations):
        with pytest.raises(UnsafeKey):
            operation()
            pytest.fail(f"operation {number} accepted {key!r}")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    assert bucket.read("good.txt") == b"good"


@pytest.mark.parametrize("prefix", ["../", "/etc", "a//b", "a/../..", "a\x00", "..", "x" * 1025])
def test_folder_prefixes_follow_the_same_rule(bucket: Bucket, prefix: str) -> None:
    for operation in (bucket.list, bucket.sub, bucket.local_path, bucket.remove_temporary, bucket.url_of):
        with pytest.raises(UnsafeKey):
            operation(prefix)


def test_a_folder_prefix_may_end_in_a_slash_or_be_the_root(bucket: Bucket) -> None:
    bucket.write("public/ep2019/v0001/manifest.json", b"{}")
    assert bucket.list("public/ep2019/") == bucket.list("public/ep2019") == ["public/ep2019/v0001/manifest.json"]
    assert bucket.list("") == ["public/ep2019/v0001/manifest.json"]
    assert bucket.sub("public/ep2019/v0001/").read("manifest.json") == b"{}"
    assert check_key("a/b/", folder=True) == "a/b" and check_key("", folder=True) == ""


def test_a_symbolic_link_does_not_lead_out_of_the_bucket(bucket: Bucket, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    os.symlink(outside, bucket.local_root / "link")
    os.symlink(outside / "secret.txt", bucket.local_root / "file-link.txt")
    for key in ("link/secret.txt", "file-link.txt"):
        with pytest.raises(UnsafeKey):
            bucket.read(key)
        with pytest.raises(UnsafeKey):
            bucket.write(key, b"overwritten")
        with pytest.raises(UnsafeKey):
            bucket.delete(key)
    with pytest.raises(UnsafeKey):
        bucket.list("link")
    with pytest.raises(UnsafeKey):
        bucket.sub("link")
    assert (outside / "secret.txt").read_bytes() == b"secret"
    # a link that stays inside the bucket is an ordinary path
    bucket.write("real/a.txt", b"a")
    os.symlink(bucket.local_root / "real", bucket.local_root / "alias")
    assert bucket.read("alias/a.txt") == b"a"


def test_writes_replace_in_one_step_and_write_once_never_overwrites(bucket: Bucket) -> None:
    bucket.write("deliveries/x.csv", b"one")
    bucket.write("deliveries/x.csv", b"two")
    assert bucket.read("deliveries/x.csv") == b"two"
    assert bucket.write_once("deliveries/y.csv", b"first") is True
    assert bucket.write_once("deliveries/y.csv", b"second") is False
    assert bucket.read("deliveries/y.csv") == b"first"
    (bucket.local_root / "deliveries" / ".tmp-z.csv.abc").write_bytes(b"half")  # a killed writer's leftover
    assert bucket.list("deliveries") == ["deliveries/x.csv", "deliveries/y.csv"]
    assert sorted(os.listdir(bucket.local_root / "deliveries")) == [".tmp-z.csv.abc", "x.csv", "y.csv"]
    assert bucket.remove_temporary("deliveries") == 1


def test_the_inbox_takes_raw_entries_only_as_plain_names_of_its_folder(tmp_path: Path) -> None:
    inbox = bucketio.Bucket(tmp_path / "bucket")
    inbox.write("inbox/ep2019-MT-0001.csv", b"data")
    (inbox.root / "inbox" / "odd name\\with backslash.csv").write_bytes(b"odd")  # any name a sender chose
    (inbox.root / "inbox" / ".upload.part").write_bytes(b"partial")
    assert inbox.entries("inbox") == ["ep2019-MT-0001.csv", "odd name\\with backslash.csv"]
    assert inbox.entry_path("inbox", "odd name\\with backslash.csv").read_bytes() == b"odd"
    for name in ("../bucket/inbox/ep2019-MT-0001.csv", "a/b", "..", "", "x\x00"):
        with pytest.raises(UnsafeKey):
            inbox.entry_path("inbox", name)
    with pytest.raises(FileNotFoundError):
        inbox.entry_path("inbox", "missing.csv")
    inbox.move_entry("inbox", "odd name\\with backslash.csv", "quarantine/ep2019/_invalid/odd.csv")
    assert inbox.read("quarantine/ep2019/_invalid/odd.csv") == b"odd"
    with pytest.raises(FileExistsError):
        inbox.move_entry("inbox", "ep2019-MT-0001.csv", "quarantine/ep2019/_invalid/odd.csv")
    with pytest.raises(UnsafeKey):
        inbox.move_entry("inbox", "ep2019-MT-0001.csv", "../stolen.csv")
    assert inbox.entries("inbox") == ["ep2019-MT-0001.csv"] and not (tmp_path / "stolen.csv").exists()


@pytest.mark.slow
def test_the_same_rules_on_an_object_store(tmp_path: Path) -> None:
    """The inbox and the key rule over S3 (SeaweedFS): hostile keys refused before any request,
    entries listed and moved (copy + delete), ``write_once`` not overwriting, stat from the listing."""
    from tests.support.s3 import SeaweedS3, serving, skip_without_seaweed

    skip_without_seaweed()
    with serving({"enr_bucket_test": SeaweedS3(tmp_path / "s3", buckets=("enr-export",), public_buckets=())}):
        inbox = bucketio.open_bucket("s3://enr_bucket_test@enr-export/night/")
        assert inbox.local_root is None
        inbox.write("inbox/ep2019-MT-0001.csv", b"data")
        inbox.write("inbox/ep2019-MT-0001.csv.asc", b"sig")
        inbox.write("inbox/.upload.part", b"partial")
        inbox.write("inbox/sub/nested.csv", b"nested")
        assert inbox.entries("inbox") == ["ep2019-MT-0001.csv", "ep2019-MT-0001.csv.asc"]
        entry = inbox.entry_path("inbox", "ep2019-MT-0001.csv")
        assert entry.read_bytes() == b"data" and entry.stat().st_size == 4 and not entry.is_symlink()
        first = entry.stat().st_mtime_ns
        inbox.write("inbox/ep2019-MT-0001.csv", b"DATA")  # replaced: another ETag, another stamp
        assert inbox.entry_path("inbox", "ep2019-MT-0001.csv").stat().st_mtime_ns != first
        for name in ("../x", "a/b", "..", "x\x00"):
            with pytest.raises(UnsafeKey):
                inbox.entry_path("inbox", name)
        with pytest.raises(FileNotFoundError):
            inbox.entry_path("inbox", "missing.csv")
        for key in ("../escape.txt", "/abs", "a//b", "a\\b", "a\nb"):
            with pytest.raises(UnsafeKey):
                inbox.write(key, b"x")
            with pytest.raises(UnsafeKey):
                inbox.read(key)
        inbox.move_entry("inbox", "ep2019-MT-0001.csv.asc", "quarantine/ep2019/MT/0001.csv.asc")
        assert inbox.read("quarantine/ep2019/MT/0001.csv.asc") == b"sig"
        with pytest.raises(FileExistsError):
            inbox.move_entry("inbox", "ep2019-MT-0001.csv", "quarantine/ep2019/MT/0001.csv.asc")
        assert inbox.entries("inbox") == ["ep2019-MT-0001.csv"]
        assert inbox.write_once("deliveries/ep2019/MT/0001.csv", b"first") is True
        assert inbox.write_once("deliveries/ep2019/MT/0001.csv", b"second") is False
        assert inbox.read("deliveries/ep2019/MT/0001.csv") == b"first"
        assert inbox.walk("deliveries") == ["deliveries/ep2019/MT/0001.csv"]
        # the publisher's face of the same store sees the same keys
        assert publish_bucket.Bucket("s3://enr_bucket_test@enr-export/").list("night/quarantine") == [
            "night/quarantine/ep2019/MT/0001.csv.asc"]
