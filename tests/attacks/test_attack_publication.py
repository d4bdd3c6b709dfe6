"""Attacks on publication: the embargo, the area, the approved bytes, races, rollback, the clock.

Each test is one attempt; each asserts the refusal's named reason and that nothing public
changed (``public_state``: current.json and the digest of every public file, before and after).
"""
from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import timedelta

import pytest

from attack_support import (AFTER, BEFORE, ELECTION, area, public_state, publish, sealed_versions, stage)
from publish import release

pytestmark = pytest.mark.attack


# -- the embargo under every flag combination --------------------------------------------------------

@pytest.mark.parametrize("version, purpose, refusal, words", [
    ("v0001", "election", release.EmbargoNotLifted, "embargo until 2019-05-26T21:00:00"),
    ("v0001", "rehearsal", release.AreaMismatch, "REAL version into a rehearsal area"),
    ("v0001", None, release.AreaNotDeclared, "run `enr init`"),
    ("t0001", "election", release.AreaMismatch, r"TEST \(rehearsal\) version into the public area of a real"),
    ("t0001", None, release.AreaNotDeclared, "run `enr init`"),
], ids=["real-election", "real-rehearsal", "real-unmarked", "test-election", "test-unmarked"])
def test_publication_before_the_embargo(tmp_path, version, purpose, refusal, words):
    bucket = area(tmp_path, purpose)
    digest = stage(bucket, version)[version]
    before = public_state(bucket)
    with pytest.raises(refusal, match=words):
        publish(bucket, version, digest, now=BEFORE)
    assert public_state(bucket) == before == {}


def test_only_an_all_test_version_reaches_a_rehearsal_area_before_the_embargo(tmp_path):
    """The one combination that publishes before the embargo: every country test, a rehearsal area."""
    bucket = area(tmp_path, "rehearsal")
    digest = stage(bucket, "t0001")["t0001"]
    publish(bucket, "t0001", digest, now=BEFORE)
    bundle = json.loads(bucket.read(f"public/{ELECTION}/t0001/data/bundle.json"))
    reported = [c for c in bundle["countries"] if c["status"] != "none"]
    assert reported and all(c["test"] for c in reported)  # not one real number in it


@pytest.mark.parametrize("version, purpose, now", [
    ("m0001", "rehearsal", BEFORE),   # flagged test because one country is: the old bypass
    ("m0001", "election", AFTER),
    ("m0002", "election", AFTER),     # flagged real while one country's data is test
], ids=["flagged-test-rehearsal-before", "flagged-test-election-after", "flagged-real-election-after"])
def test_a_test_and_real_mix(tmp_path, version, purpose, now):
    bucket = area(tmp_path, purpose)
    digest = stage(bucket, version)[version]
    with pytest.raises((release.MixedVersion, release.AreaMismatch)) as refused:
        publish(bucket, version, digest, now=now)
    if purpose == "rehearsal" or version == "m0002":
        assert refused.type is release.MixedVersion
        assert "test data for MT, real data for AT" in str(refused.value)
    assert public_state(bucket) == {}


# -- what was approved is what is published ---------------------------------------------------------

def test_a_staged_page_changed_after_the_approval(tmp_path):
    bucket = area(tmp_path, "election")
    digest = stage(bucket, "v0001")["v0001"]
    key = f"staging/{ELECTION}/v0001/en/index.html"
    bucket.write(key, bucket.read(key).replace(b"</body>", b"<p>AT: 99%</p></body>"))
    with pytest.raises(release.IntegrityError, match="en/index.html"):
        publish(bucket, "v0001", digest)
    assert public_state(bucket) == {}


@pytest.mark.parametrize("name, refusal, words", [
    ("data/bundle.json", release.IntegrityError, "bundle.json"),
    ("manifest.json", release.ApprovalMismatch, "approval is for"),
], ids=["bundle", "manifest"])
def test_a_staged_file_swapped_for_another_versions_after_the_approval(tmp_path, name, refusal, words):
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0001", "v0002")
    bucket.write(f"staging/{ELECTION}/v0001/{name}", bucket.read(f"staging/{ELECTION}/v0002/{name}"))
    with pytest.raises(refusal, match=words):
        publish(bucket, "v0001", digests["v0001"])
    assert public_state(bucket) == {}


def test_an_approval_of_another_version_replayed(tmp_path):
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0001", "v0002")
    publish(bucket, "v0001", digests["v0001"])
    before = public_state(bucket)
    with pytest.raises(release.ApprovalMismatch, match="nothing published"):
        publish(bucket, "v0002", digests["v0001"], now=AFTER + timedelta(minutes=5))
    assert public_state(bucket) == before


def test_a_published_version_republished_with_other_bytes(tmp_path):
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0001", "v0002")
    publish(bucket, "v0001", digests["v0001"])
    before = public_state(bucket)
    built = sealed_versions()
    # the staged v0001 is replaced by other content, and that content is "approved"
    for path in built["v0002"][0].rglob("*"):
        if path.is_file():
            bucket.write(f"staging/{ELECTION}/v0001/{path.relative_to(built['v0002'][0]).as_posix()}",
                         path.read_bytes())
    with pytest.raises(release.VersionNotNewer, match="a published version never changes"):
        publish(bucket, "v0001", digests["v0002"], now=AFTER + timedelta(minutes=5))
    assert public_state(bucket) == before


# -- races --------------------------------------------------------------------------------------------

def test_two_threads_publish_the_same_version(tmp_path):
    bucket = area(tmp_path, "election")
    digest = stage(bucket, "v0001")["v0001"]
    errors: list[BaseException] = []

    def run():
        try:
            publish(bucket, "v0001", digest, sign=False)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    log = json.loads(bucket.read(f"public/{ELECTION}/publications.json"))
    assert [e["version"] for e in log] == ["v0001"] * 4  # each publisher ran whole, one after the other
    assert release.current(bucket, ELECTION)["version"] == "v0001"


def _publish_in_process(url: str, version: str, digest: str, start, results) -> None:
    from publish.bucket import Bucket

    start.wait(30)
    try:
        publish(Bucket(url), version, digest, sign=False)
        results.put((version, "published"))
    except Exception as exc:  # noqa: BLE001 - the parent asserts which refusal it was
        results.put((version, f"{type(exc).__name__}: {exc}" if not isinstance(exc, release.PublishError)
                     else type(exc).__name__))


def test_two_processes_publish_different_versions(tmp_path):
    """An older and a newer version published at once: the older never ends up current."""
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0002", "v0003")
    ctx = multiprocessing.get_context("fork")
    for attempt in range(3):  # both orders are likely over a few rounds; the invariant must hold in each
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_publish_in_process, args=(bucket.url, v, digests[v], start, results))
                 for v in ("v0003", "v0002")]
        for proc in procs:
            proc.start()
        start.set()
        outcome = dict(results.get(timeout=120) for _ in procs)
        for proc in procs:
            proc.join(30)
        assert outcome["v0003"] == "published"
        assert outcome["v0002"] in ("published", "VersionNotNewer")
        assert release.current(bucket, ELECTION)["version"] == "v0003"
        log = [e["version"] for e in json.loads(bucket.read(f"public/{ELECTION}/publications.json"))]
        assert "v0002" not in log[log.index("v0003"):], log  # never flipped back to the older one


# -- rollback -------------------------------------------------------------------------------------------

def test_a_rollback_to_a_version_never_published(tmp_path):
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0001", "v0002")
    publish(bucket, "v0002", digests["v0002"])
    before = public_state(bucket)
    with pytest.raises(release.NotPublished, match="v0001 was never published"):  # staged, never published
        release.rollback(bucket, ELECTION, "v0001", now=AFTER + timedelta(minutes=5))
    assert public_state(bucket) == before


def test_a_rollback_to_a_folder_copied_into_public_by_hand(tmp_path):
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0001", "v0002")
    publish(bucket, "v0002", digests["v0002"])
    for key in bucket.list(f"staging/{ELECTION}/v0001"):  # the files are there, the publication never was
        bucket.write(key.replace("staging/", "public/", 1), bucket.read(key))
    before = public_state(bucket)
    with pytest.raises(release.NotPublished, match="never published"):
        release.rollback(bucket, ELECTION, "v0001", now=AFTER + timedelta(minutes=5))
    assert public_state(bucket) == before


def test_a_rollback_to_a_published_version_altered_since(tmp_path):
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0001", "v0002")
    publish(bucket, "v0001", digests["v0001"])
    publish(bucket, "v0002", digests["v0002"], now=AFTER + timedelta(minutes=1))
    key = f"public/{ELECTION}/v0001/data/bundle.json"
    bucket.write(key, bucket.read(key).replace(b'"votes": ', b'"votes": 1'))
    before = public_state(bucket)
    with pytest.raises(release.IntegrityError, match="bundle.json"):
        release.rollback(bucket, ELECTION, "v0001", now=AFTER + timedelta(minutes=5))
    assert public_state(bucket) == before


# -- the clock --------------------------------------------------------------------------------------------

def test_the_clock_moved_back_across_the_embargo(tmp_path):
    """After a publication at 21:30 UTC the clock reads 20:30 (before the embargo): refused for the clock."""
    bucket = area(tmp_path, "rehearsal")
    digests = stage(bucket, "t0001")
    publish(bucket, "t0001", digests["t0001"], now=AFTER)
    real = area(tmp_path, "election", "real")
    digests = stage(real, "v0001", "v0002")
    publish(real, "v0001", digests["v0001"], now=AFTER)
    before = public_state(real)
    with pytest.raises(release.ClockMovedBack, match="the clock moved back"):
        publish(real, "v0002", digests["v0002"], now=BEFORE)
    assert public_state(real) == before


def test_the_clock_moved_back_behind_the_last_publication(tmp_path):
    bucket = area(tmp_path, "election")
    digests = stage(bucket, "v0001", "v0002")
    publish(bucket, "v0001", digests["v0001"], now=AFTER + timedelta(hours=1))
    before = public_state(bucket)
    with pytest.raises(release.ClockMovedBack, match="before the last publication"):
        publish(bucket, "v0002", digests["v0002"], now=AFTER)  # after the embargo, but before 22:30
    with pytest.raises(release.ClockMovedBack):
        release.rollback(bucket, ELECTION, "v0001", now=AFTER)
    assert public_state(bucket) == before
