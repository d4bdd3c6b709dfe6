"""Staging, approval-checked atomic publication, kill midway, rollback, replicate, refusals."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.publish_fixtures import ROOT, build_bundle, demo_key, scratch_dir
from publish import release
from publish.build import build_version
from publish.bucket import Bucket
from publish.signing import Signer
from publish.verify import verify_version

ELECTION = "ep2019"
EMBARGO = datetime(2019, 5, 26, 23, 0, tzinfo=timezone(timedelta(hours=2)))
AFTER = datetime(2019, 5, 26, 21, 30, tzinfo=timezone.utc)
APPROVAL = {"approved_by": "reviewer@example.invalid", "approved_at": "2019-05-26T21:25:00+00:00"}


@pytest.fixture(scope="module")
def builds() -> dict[str, tuple[Path, str]]:
    """Sealed folders of v0001..v0003, a rehearsal and a version with an unresolved tie (English, 5 countries)."""
    base, _ = demo_key()
    out = scratch_dir("enrpub-b-")
    some = {"DE", "FR", "IT", "LU", "MT"}  # a partial night keeps the versions small and the tests fast
    bundles = {
        "v0001": build_bundle("v0001", statuses={"FR": "provisional", "DE": "final"},
                              generated_at="2019-05-26T21:05:00+00:00", only=some),
        "v0002": build_bundle("v0002", only=some),
        "v0003": build_bundle("v0003", statuses={"IT": "final"}, generated_at="2019-05-26T22:00:00+00:00", only=some),
        "t0001": build_bundle("t0001", test=True, only=some),
        "v0009": build_bundle("v0009", unresolved_tie=True, only=some),
    }
    result = {}
    with Signer(base / "sign") as signer:
        for version, bundle in bundles.items():
            result[version] = build_version(bundle, out / version, signer, languages=["en"])
    return {v: (out / v, digest) for v, (_, digest) in result.items()}


@pytest.fixture
def bucket(tmp_path: Path) -> Bucket:
    """A real election's export bucket, declared as such (``enr init`` does this)."""
    bucket = Bucket((tmp_path / "bucket").as_uri())
    release.mark_area(bucket, "election")
    return bucket


def stage_all(bucket: Bucket, builds, *versions: str) -> dict[str, str]:
    return {v: release.stage(bucket, ELECTION, v, builds[v][0]) for v in versions}


def publish(bucket: Bucket, version: str, digest: str, **kw):
    base, _ = demo_key()
    with Signer(base / "sign") as signer:
        return release.publish_version(bucket, ELECTION, version, digest, embargo=kw.pop("embargo", EMBARGO),
                                       now=kw.pop("now", AFTER), approval=APPROVAL, signer=signer, **kw)


def consistent_read(bucket: Bucket) -> str:
    """What a reader does: follow current.json, then check every file of that version against its manifest."""
    pointer = json.loads(bucket.read(f"public/{ELECTION}/current.json"))
    prefix = f"public/{ELECTION}/{pointer['version']}"
    manifest_bytes = bucket.read(f"{prefix}/manifest.json")
    assert hashlib.sha256(manifest_bytes).hexdigest() == pointer["manifest_sha256"]
    for entry in json.loads(manifest_bytes)["files"]:
        assert hashlib.sha256(bucket.read(f"{prefix}/{entry['path']}")).hexdigest() == entry["sha256"], entry["path"]
    return pointer["version"]


def test_stage_returns_the_built_digest_and_publish_flips_current(bucket: Bucket, builds) -> None:
    digests = stage_all(bucket, builds, "v0001")
    assert digests["v0001"] == builds["v0001"][1]
    result = publish(bucket, "v0001", digests["v0001"])
    assert result.version == "v0001" and result.previous_version is None
    pointer = release.current(bucket, ELECTION)
    assert pointer["version"] == "v0001" and pointer["manifest_sha256"] == digests["v0001"]
    assert pointer["published_at"] == "2019-05-26T21:30:00+00:00"
    index = bucket.read(f"public/{ELECTION}/index.html").decode()
    assert 'http-equiv="refresh" content="0; url=v0001/index.html"' in index and "<script" not in index
    base, fingerprint = demo_key()
    report = verify_version(bucket.sub(f"public/{ELECTION}/v0001"), base / "verify", [fingerprint])
    assert report.ok, report.summary()
    assert report.approval["approval"] == APPROVAL and report.approval["manifest_sha256"] == digests["v0001"]
    staged = bucket.list(f"staging/{ELECTION}/v0001")
    published = bucket.list(f"public/{ELECTION}/v0001")
    assert len(published) == len(staged) + 2  # + approval.json and its signature
    for key in staged:  # exact bytes
        assert bucket.read(key) == bucket.read(key.replace("staging/", "public/", 1))
    assert consistent_read(bucket) == "v0001"
    atom = bucket.read(f"public/{ELECTION}/publications.atom").decode()
    assert "v0001 (publish)" in atom


def test_approved_digest_must_match_the_staged_manifest(bucket: Bucket, builds) -> None:
    digests = stage_all(bucket, builds, "v0002")
    with pytest.raises(release.ApprovalMismatch, match="approval is for"):
        publish(bucket, "v0002", "0" * 64)
    # someone re-stages other content under the approved version: refused as well
    approved = digests["v0002"]
    other = builds["v0003"][0]
    prefix = f"staging/{ELECTION}/v0002"
    bucket.write(f"{prefix}/manifest.json", (other / "manifest.json").read_bytes())
    with pytest.raises(release.ApprovalMismatch):
        publish(bucket, "v0002", approved)
    assert release.current(bucket, ELECTION) is None
    assert not bucket.list(f"public/{ELECTION}")


def test_embargo_refuses_real_results_in_an_election_area(bucket: Bucket, builds) -> None:
    digests = stage_all(bucket, builds, "v0001", "t0001")
    before = datetime(2019, 5, 26, 20, 59, tzinfo=timezone.utc)
    with pytest.raises(release.EmbargoNotLifted, match="embargo until 2019-05-26T21:00:00"):
        publish(bucket, "v0001", digests["v0001"], now=before)
    with pytest.raises(release.AreaMismatch, match="TEST"):  # a rehearsal never goes to an election's area
        publish(bucket, "t0001", digests["t0001"], now=before)
    assert release.current(bucket, ELECTION) is None
    assert not bucket.list(f"public/{ELECTION}")


def test_a_rehearsal_area_takes_test_versions_before_the_embargo(tmp_path: Path, builds) -> None:
    bucket = Bucket((tmp_path / "rehearsal").as_uri())
    release.mark_area(bucket, "rehearsal")
    digests = stage_all(bucket, builds, "t0001")
    before = datetime(2019, 5, 26, 20, 59, tzinfo=timezone.utc)
    result = publish(bucket, "t0001", digests["t0001"], now=before)
    assert result.version == "t0001" and release.current(bucket, ELECTION)["test"] is True
    assert "TEST" in bucket.read(f"public/{ELECTION}/index.html").decode()


def test_an_undeclared_area_refuses_every_version(tmp_path: Path, builds) -> None:
    bucket = Bucket((tmp_path / "undeclared").as_uri())
    digests = stage_all(bucket, builds, "v0001", "t0001")
    before = datetime(2019, 5, 26, 20, 59, tzinfo=timezone.utc)
    for version, now in (("t0001", before), ("v0001", before), ("v0001", AFTER)):
        with pytest.raises(release.AreaNotDeclared, match="run `enr init`"):
            publish(bucket, version, digests[version], now=now)
    assert release.current(bucket, ELECTION) is None and not bucket.list(f"public/{ELECTION}")


def test_unresolved_tie_and_older_version_are_refused(bucket: Bucket, builds) -> None:
    digests = stage_all(bucket, builds, "v0001", "v0002", "v0009")
    with pytest.raises(release.UnresolvedTies, match="LU seat 6"):
        publish(bucket, "v0009", digests["v0009"])
    publish(bucket, "v0002", digests["v0002"])
    with pytest.raises(release.VersionNotNewer, match="older than the current version v0002"):
        publish(bucket, "v0001", digests["v0001"])
    again = publish(bucket, "v0002", digests["v0002"])  # a retry of the same approved version is harmless
    assert again.already_published and consistent_read(bucket) == "v0002"


def test_publisher_killed_midway_leaves_readers_on_a_consistent_version(bucket: Bucket, builds) -> None:
    digests = stage_all(bucket, builds, "v0001", "v0002")
    publish(bucket, "v0001", digests["v0001"])
    total = len(json.loads((builds["v0002"][0] / "manifest.json").read_text())["files"]) + 4
    script = (
        "import os, signal, sys\n"
        "from datetime import datetime, timezone\n"
        "from publish.bucket import Bucket\n"
        "from publish import release\n"
        "limit = int(sys.argv[3]); seen = []\n"
        "def hook(name):\n"
        "    seen.append(name)\n"
        "    if len(seen) >= limit:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "release.publish_version(Bucket(sys.argv[1]), 'ep2019', 'v0002', sys.argv[2],\n"
        "    embargo=datetime(2019, 5, 26, 21, tzinfo=timezone.utc), now=datetime(2019, 5, 26, 21, 40, tzinfo=timezone.utc),\n"
        "    approval={'approved_by': 'r'}, on_file=hook)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for limit in (1, total // 2, total):  # first file, middle, after the last file but before the flip
        proc = subprocess.run([sys.executable, "-c", script, bucket.url, digests["v0002"], str(limit)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == -9, proc.stderr[-2000:]
        assert release.current(bucket, ELECTION)["version"] == "v0001"
        assert consistent_read(bucket) == "v0001"
    base, _ = demo_key()
    assert verify_version(bucket.sub(f"public/{ELECTION}/v0001"), base / "verify").ok
    # the half-copied folder is not what readers are sent to; running the publisher again finishes the job
    public = bucket.local_path(f"public/{ELECTION}/v0002")
    leftover = public / "en" / ".tmp-index.html.x1"
    leftover.write_text("a temporary file of a killed copy")
    publish(bucket, "v0002", digests["v0002"])
    assert not leftover.exists()
    assert consistent_read(bucket) == "v0002"
    assert verify_version(bucket.sub(f"public/{ELECTION}/v0002"), base / "verify").ok


def test_readers_during_a_publication_see_old_or_new_never_a_mix(bucket: Bucket, builds) -> None:
    digests = stage_all(bucket, builds, "v0001", "v0002")
    publish(bucket, "v0001", digests["v0001"])
    seen: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(consistent_read(bucket))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        publish(bucket, "v0002", digests["v0002"])
        for _ in range(3):
            seen.append(consistent_read(bucket))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failures, failures[0]
    assert set(seen) <= {"v0001", "v0002"} and seen[-1] == "v0002"


def test_rollback_flips_back_in_one_call(bucket: Bucket, builds) -> None:
    digests = stage_all(bucket, builds, "v0001", "v0002", "v0003")
    publish(bucket, "v0001", digests["v0001"])
    publish(bucket, "v0002", digests["v0002"])
    pointer = release.rollback(bucket, ELECTION, "v0001", now=AFTER + timedelta(minutes=5))
    assert pointer["version"] == "v0001" and pointer["previous_version"] == "v0002"
    assert consistent_read(bucket) == "v0001"
    assert "url=v0001/index.html" in bucket.read(f"public/{ELECTION}/index.html").decode()
    with pytest.raises(release.NotPublished):
        release.rollback(bucket, ELECTION, "v0003")
    publish(bucket, "v0003", digests["v0003"], now=AFTER + timedelta(minutes=10))  # a newer version goes out normally
    assert consistent_read(bucket) == "v0003"
    events = [(e["event"], e["version"]) for e in json.loads(bucket.read(f"public/{ELECTION}/publications.json"))]
    assert events == [("publish", "v0001"), ("publish", "v0002"), ("rollback", "v0001"), ("publish", "v0003")]
    # the operator command does the same
    proc = subprocess.run([sys.executable, "-m", "enr.cli", "rollback", "v0002", "--bucket", bucket.url, "--election",
                           ELECTION], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert consistent_read(bucket) == "v0002"


def test_replicate_copies_and_checks_the_backup(bucket: Bucket, builds, tmp_path: Path) -> None:
    digests = stage_all(bucket, builds, "v0001")
    publish(bucket, "v0001", digests["v0001"])
    backup = Bucket(tmp_path / "backup")
    report = release.replicate(bucket, backup, ELECTION, "v0001")
    assert report["ok"] and report["current_followed"]
    assert consistent_read(backup) == "v0001"
    base, _ = demo_key()
    assert verify_version(backup.sub(f"public/{ELECTION}/v0001"), base / "verify").ok
    assert backup.list(f"public/{ELECTION}/v0001") == bucket.list(f"public/{ELECTION}/v0001")
    # a corrupted primary is not replicated
    key = f"public/{ELECTION}/v0001/en/index.html"
    bucket.write(key, bucket.read(key) + b" ")
    with pytest.raises(release.IntegrityError, match="en/index.html"):
        release.replicate(bucket, Bucket(tmp_path / "backup2"), ELECTION, "v0001")


def test_the_operator_commands_on_bucket_urls(bucket: Bucket, builds, tmp_path: Path, capsys) -> None:
    """``enr current``, ``enr replicate VERSION`` and ``enr rollback VERSION --bucket``: the bucket-level
    commands, by URL, without a results store."""
    from enr.cli import main

    digests = stage_all(bucket, builds, "v0001", "v0002")
    publish(bucket, "v0001", digests["v0001"])
    publish(bucket, "v0002", digests["v0002"], now=AFTER + timedelta(minutes=5))
    backup = Bucket(tmp_path / "backup")
    assert main(["current", "--bucket", bucket.url, "--election", ELECTION]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "v0002"
    assert main(["replicate", "v0002", "--bucket", bucket.url, "--backup", backup.url, "--election", ELECTION]) == 0
    assert json.loads(capsys.readouterr().out)["current_followed"] is True
    assert consistent_read(backup) == "v0002"
    assert main(["rollback", "v0001", "--bucket", bucket.url, "--election", ELECTION]) == 0
    assert json.loads(capsys.readouterr().out)["previous_version"] == "v0002"
    assert consistent_read(bucket) == "v0001" and consistent_read(backup) == "v0002"  # that bucket only
    assert main(["rollback", "v0009", "--bucket", bucket.url, "--election", ELECTION]) == 1
    assert "v0009 was never published; published: v0001, v0002" in capsys.readouterr().err


def test_stage_refuses_a_folder_that_does_not_match_its_manifest(bucket: Bucket, builds, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "v0001"
    shutil.copytree(builds["v0001"][0], folder)
    (folder / "en" / "index.html").write_text("changed after sealing")
    with pytest.raises(release.IntegrityError, match="en/index.html"):
        release.stage(bucket, ELECTION, "v0001", folder)
    assert bucket.read_or_none(f"staging/{ELECTION}/v0001/manifest.json") is None  # never looks complete
    with pytest.raises(release.PublishError, match="manifest is for"):
        release.stage(bucket, ELECTION, "v0002", builds["v0001"][0])


def test_a_backup_failure_after_the_flip_leaves_the_version_published(enr_home, monkeypatch) -> None:
    """Honest states: once current.json flipped the version is published; the backup is its own track
    (backup_failed, shown by enr status), retried by retry_backups until it is backup_ok."""
    from attacks.attack_support import drop_delivery
    from enr import demo, operator, pipeline

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    operator.mark_public_areas("rehearsal")
    blocker = enr_home / "blocked"
    blocker.write_text("a file where the backup bucket's folder should be")
    monkeypatch.setenv("ENR_BACKUP_BUCKET_URL", (blocker / "backup").as_uri())
    for country in ("AT", "MT"):
        drop_delivery(enr_home, keys["sender_home"], country, 1, test=True)
        assert pipeline.ingest_country(ELECTION, country)["accepted"]
    staged = pipeline.stage(ELECTION, pipeline.tally(ELECTION))
    result = pipeline.publish(ELECTION, staged["version"], staged["manifest_sha256"],
                              {"chosen_options": ["Approve"], "responded_by": {"id": "reviewer"}})
    assert result["backup"] == "failed"  # reported, not raised: the live version is not "refused"
    status = operator.status(ELECTION)
    info = status["versions"][-1]
    assert info["status"] == "published" and info["backup"] == "backup_failed"
    assert status["current"]["version"] == staged["version"] and status["backup_trouble"] == [staged["version"]]
    assert "BACKUP FAILED" in operator.format_status(status)
    assert "refused" not in [e["status"] for e in info["events"]]

    assert pipeline.retry_backups(ELECTION) == {staged["version"]: "failed"}  # still blocked
    blocker.unlink()
    assert pipeline.retry_backups(ELECTION) == {staged["version"]: "ok"}
    status = operator.status(ELECTION)
    assert status["versions"][-1]["backup"] == "backup_ok" and status["backup_trouble"] == []
    assert "BACKUP" not in operator.format_status(status)
    assert operator.verify_current(ELECTION)["backup_ok"]


def test_stage_reads_back_on_two_threads_and_names_a_bad_file_in_either_half(bucket: Bucket, builds, tmp_path: Path,
                                                                              monkeypatch) -> None:
    """Staging to a local folder reads every file back and hashes it on two threads
    (:func:`publish.manifest.map_files`, each thread a half of the manifest): a file that does not
    match is named whichever half it is in, and the manifest is still never written."""
    import shutil

    from publish import manifest as manifest_mod

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(manifest_mod, "THREADED_MIN_FILES", 2)
    seen: set[str] = set()
    real = release._matches

    def matches(entry, data):
        seen.add(threading.current_thread().name)
        return real(entry, data)
    monkeypatch.setattr(release, "_matches", matches)
    folder = tmp_path / "v0001"
    shutil.copytree(builds["v0001"][0], folder)
    paths = [e["path"] for e in json.loads((folder / "manifest.json").read_bytes())["files"]]
    first, last = paths[0], paths[-1]
    for rel in (first, last):
        (folder / rel).write_bytes((folder / rel).read_bytes() + b"\n")
    with pytest.raises(release.IntegrityError) as refused:
        release.stage(bucket, ELECTION, "v0001", folder)
    assert f" {first}" in str(refused.value) and f" {last}" in str(refused.value), str(refused.value)
    assert "MainThread" in seen and any(name.startswith("enr-hash") for name in seen), seen
    assert bucket.read_or_none(f"staging/{ELECTION}/v0001/manifest.json") is None
    # the same folder, mended, stages: every file checked, in manifest order
    shutil.rmtree(folder)
    shutil.copytree(builds["v0001"][0], folder)
    assert release.stage(bucket, ELECTION, "v0001", folder) == builds["v0001"][1]


def test_map_files_keeps_the_order_on_one_thread_or_two(monkeypatch) -> None:
    from publish import manifest as manifest_mod

    items = list(range(1000))
    for cpus in ({0}, {0, 1}):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cpus=cpus: cpus)
        names: set[str] = set()

        def square(n: int) -> int:
            names.add(threading.current_thread().name)
            return n * n
        assert manifest_mod.map_files(square, items) == [n * n for n in items]
        assert len(names) == len(cpus), names
    assert manifest_mod.map_files(square, []) == []


def test_stage_writes_the_manifest_only_once_the_files_are_flushed_and_checked(bucket: Bucket, builds, tmp_path: Path,
                                                                                monkeypatch) -> None:
    """The read-back runs while the staged files are flushed to disk (another thread); the manifest,
    the stage's commit point, is written after both; a flush that fails stages nothing."""
    import time

    events: list[str] = []

    def slow_sync(self) -> None:
        events.append("flush started")
        time.sleep(0.3)
        events.append("flush done")
    monkeypatch.setattr(type(bucket), "sync", slow_sync)
    real_verify = release._verify_copy

    def verify(*args, **kwargs) -> None:
        events.append("check started")
        real_verify(*args, **kwargs)
        events.append("check done")
    monkeypatch.setattr(release, "_verify_copy", verify)
    real_write = type(bucket).write_atomic

    def write_atomic(self, key, *args, **kwargs):
        if key.endswith("/manifest.json"):
            events.append("manifest")
        return real_write(self, key, *args, **kwargs)
    monkeypatch.setattr(type(bucket), "write_atomic", write_atomic)
    assert release.stage(bucket, ELECTION, "v0001", builds["v0001"][0]) == builds["v0001"][1]
    assert events[-1] == "manifest" and sorted(events[:-1]) == ["check done", "check started", "flush done",
                                                                 "flush started"], events
    assert events.index("check started") < events.index("flush done")  # at the same time, not one after the other

    def broken_sync(self) -> None:
        raise OSError("the disk went away")
    monkeypatch.setattr(type(bucket), "sync", broken_sync)
    other = Bucket(tmp_path / "other")
    with pytest.raises(OSError, match="the disk went away"):
        release.stage(other, ELECTION, "v0001", builds["v0001"][0])
    assert other.read_or_none(f"staging/{ELECTION}/v0001/manifest.json") is None
