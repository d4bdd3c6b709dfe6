"""Rehearsal: the hard guard (a rehearsal never reaches a real election's public area, nor a real
version a rehearsal area), and a small rehearsal through Airflow checked end to end."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.publish_fixtures import build_bundle, demo_key, scratch_dir
from publish import release
from publish.build import build_version
from publish.bucket import Bucket
from publish.signing import Signer

ELECTION = "ep2019"
EMBARGO = datetime(2019, 5, 26, 23, 0, tzinfo=timezone(timedelta(hours=2)))
AFTER = datetime(2019, 5, 26, 21, 30, tzinfo=timezone.utc)
APPROVAL = {"approved_by": "reviewer@example.invalid", "approved_at": "2019-05-26T21:25:00+00:00"}


@pytest.fixture(scope="module")
def builds() -> dict[str, tuple[Path, str]]:
    base, _ = demo_key()
    out = scratch_dir("enrreh-b-")
    some = {"AT", "MT"}
    bundles = {"v0001": build_bundle("v0001", only=some), "v0002": build_bundle("v0002", test=True, only=some)}
    with Signer(base / "sign") as signer:
        return {v: (out / v, build_version(b, out / v, signer, languages=["en"])[1]) for v, b in bundles.items()}


def _publish(bucket: Bucket, builds, version: str):
    base, _ = demo_key()
    digest = release.stage(bucket, ELECTION, version, builds[version][0])
    with Signer(base / "sign") as signer:
        return release.publish_version(bucket, ELECTION, version, digest, embargo=EMBARGO, now=AFTER,
                                       approval=APPROVAL, signer=signer)


def test_a_test_version_is_refused_in_a_real_public_area(tmp_path: Path, builds) -> None:
    bucket = Bucket((tmp_path / "real").as_uri())
    release.mark_area(bucket, "election")
    with pytest.raises(release.AreaMismatch, match="TEST"):
        _publish(bucket, builds, "v0002")  # v0002 is a test (rehearsal) version
    assert release.current(bucket, ELECTION) is None
    assert not bucket.list(f"public/{ELECTION}/v0002")
    assert _publish(bucket, builds, "v0001").version == "v0001"  # a real one goes through


def test_a_real_version_is_refused_in_a_rehearsal_area(tmp_path: Path, builds) -> None:
    bucket = Bucket((tmp_path / "rehearsal").as_uri())
    release.mark_area(bucket, "rehearsal")
    with pytest.raises(release.AreaMismatch, match="REAL"):
        _publish(bucket, builds, "v0001")
    assert release.current(bucket, ELECTION) is None
    assert _publish(bucket, builds, "v0002").version == "v0002"


def test_an_unmarked_area_refuses_test_and_real_versions(tmp_path: Path, builds) -> None:
    bucket = Bucket((tmp_path / "unmarked").as_uri())
    assert release.area_purpose(bucket, ELECTION)["purpose"] is None
    for version in ("v0001", "v0002"):
        with pytest.raises(release.AreaNotDeclared, match="enr init"):
            _publish(bucket, builds, version)
    assert release.current(bucket, ELECTION) is None and not bucket.list(f"public/{ELECTION}")
    release.mark_area(bucket, "election")  # declared: the real version goes through
    assert _publish(bucket, builds, "v0001").version == "v0001"


def test_an_area_never_changes_purpose(tmp_path: Path) -> None:
    bucket = Bucket((tmp_path / "b").as_uri())
    release.mark_area(bucket, "election")
    release.mark_area(bucket, "election")  # idempotent
    with pytest.raises(release.AreaMismatch):
        release.mark_area(bucket, "rehearsal")


def test_the_rehearsal_refuses_a_real_election_area(tmp_path: Path, monkeypatch) -> None:
    from enr.rehearsal import RehearsalRefused, guard_area, rehearsal_area

    real = tmp_path / "real-bucket"
    release.mark_area(Bucket(real.as_uri()), "election")
    with rehearsal_area(tmp_path / "home", bucket_url=real.as_uri()):
        with pytest.raises(RehearsalRefused):
            guard_area(ELECTION)
    with rehearsal_area(tmp_path / "home2"):
        assert guard_area(ELECTION)["purpose"] == "rehearsal"
        assert os.environ["ENR_HOME"] == str(tmp_path / "home2")
    assert os.environ.get("ENR_HOME") != str(tmp_path / "home2")


@pytest.mark.slow
def test_a_small_compressed_rehearsal_through_airflow(monkeypatch) -> None:
    """Three countries, estimate -> provisional -> final -> corrections, two bad deliveries, x3600."""
    from enr import pipeline
    from enr.rehearsal import run_rehearsal

    home = Path(tempfile.mkdtemp(prefix="enrr", dir="/tmp"))
    monkeypatch.setenv("ENR_HOME", str(home))
    for var in ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_STORE_URL", "ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME",
                "AIRFLOW_HOME"):
        monkeypatch.delenv(var, raising=False)
    area = home / "rehearsal"
    lines: list[str] = []
    try:
        summary = run_rehearsal(countries=["AT", "DK", "SI"], waves=("estimate", "provisional:50", "final:100"),
                                speed=3600, bad=2, home=area, echo=lines.append)
        checks = summary["checks"]
        assert checks["published"] and checks["test_flag"], (checks, lines)
        assert checks["seats"]["ok"] and set(checks["seats"]["checked"]) == {"AT", "DK", "SI"}, checks["seats"]
        assert checks["verify"], checks
        assert len(checks["rejected"]) == 2 and checks["corrections"] > 0, checks
        assert [w["wave"] for w in summary["waves"]] == ["estimate", "provisional:50", "final:100", "correction"]

        # the operator's view: `enr status` in the rehearsal area lists rejected deliveries and corrections
        env = {**os.environ, "ENR_HOME": str(area)}
        shown = subprocess.run([str(Path(os.sys.executable).with_name("enr")), "status"], env=env,
                               capture_output=True, text=True, check=True).stdout
        assert shown.count("QUARANTINED") == 2 and "CORRECTION" in shown, shown
        # the staged (and published) site's corrections page shows before and after
        bucket = area / "bucket"
        version = summary["published"]["version"]
        page = (bucket / "staging" / ELECTION / version / "en" / "corrections.html").read_text()
        correction = next(c for c in summary["status"]["corrections"] if c["unit_id"] and c["list_id"])
        for value in (correction["before"], correction["after"]):
            assert f"{value:,}" in page or str(value) in page
        assert "TEST" in (bucket / "public" / ELECTION / version / "en" / "index.html").read_text()
        bundle = json.loads((bucket / "public" / ELECTION / version / "data" / "bundle.json").read_text())
        assert bundle["test"] is True and all(c["test"] for c in bundle["countries"] if c["status"] != "none")
        assert json.loads((bucket / "AREA.json").read_text())["purpose"] == "rehearsal"
        assert not (home / "bucket").exists()  # nothing went to the ordinary area
    finally:
        for sub in ("keys/sender", "keys/trusted", "keys/signing"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={"GNUPGHOME": str(area / sub)},
                           capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
