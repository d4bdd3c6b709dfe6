"""Shared by the data/publication attacks: sealed versions, a public-tree fingerprint, a publisher.

Every attack asserts two things: the refusal's *named* reason (its exception type and the words
of its message), and that nothing public changed — :func:`public_state` is ``current.json`` and
the SHA-256 of every key under ``public/`` (and, for a store, the accepted results' digest).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from publish import release
from publish.bucket import Bucket
from tests.support.publish_fixtures import build_bundle, demo_key, scratch_dir

ELECTION = "ep2019"
EMBARGO = datetime(2019, 5, 26, 23, 0, tzinfo=timezone(timedelta(hours=2)))  # 21:00 UTC
BEFORE = datetime(2019, 5, 26, 20, 30, tzinfo=timezone.utc)
AFTER = datetime(2019, 5, 26, 21, 30, tzinfo=timezone.utc)
APPROVAL = {"approved_by": "reviewer", "approved_at": "2019-05-26T21:25:00+00:00"}
SOME = {"AT", "MT"}  # two small countries keep every sealed version small


@lru_cache(maxsize=1)
def sealed_versions() -> dict[str, tuple[Path, str]]:
    """Sealed folders (English only): real ``v0001``..``v0003``, all-test ``t0001``, and mixes
    ``m0001`` (flagged test, MT test, AT real) and ``m0002`` (flagged real, MT test)."""
    from publish.build import build_version
    from publish.signing import Signer

    base, _ = demo_key()
    out = scratch_dir("enratk-")
    bundles = {
        "v0001": build_bundle("v0001", only=SOME, statuses={"AT": "provisional"}),
        "v0002": build_bundle("v0002", only=SOME),
        "v0003": build_bundle("v0003", only=SOME, statuses={"MT": "official"}),
        "t0001": build_bundle("t0001", test=True, only=SOME),
        "m0001": build_bundle("m0001", test=True, only=SOME, test_countries={"MT"}),
        "m0002": build_bundle("m0002", test=False, only=SOME, test_countries={"MT"}),
    }
    with Signer(base / "sign") as signer:
        return {v: (out / v, build_version(b, out / v, signer, languages=["en"])[1]) for v, b in bundles.items()}


def area(tmp_path: Path, purpose: str | None, name: str = "bucket") -> Bucket:
    """A fresh export bucket, declared ``purpose`` (None: undeclared)."""
    bucket = Bucket((tmp_path / name).as_uri())
    if purpose:
        release.mark_area(bucket, purpose)
    return bucket


def stage(bucket: Bucket, *versions: str) -> dict[str, str]:
    built = sealed_versions()
    return {v: release.stage(bucket, ELECTION, v, built[v][0]) for v in versions}


def publish(bucket: Bucket, version: str, digest: str, *, now: datetime = AFTER, approval: dict | None = None,
            sign: bool = True):
    """Publish as the pipeline does; ``sign=False`` leaves approval.json unsigned (racing processes:
    one closing its Signer stops the keyring's gpg-agent under the other)."""
    from publish.signing import Signer

    if not sign:
        return release.publish_version(bucket, ELECTION, version, digest, embargo=EMBARGO, now=now,
                                       approval=approval or APPROVAL)
    base, _ = demo_key()
    with Signer(base / "sign") as signer:
        return release.publish_version(bucket, ELECTION, version, digest, embargo=EMBARGO, now=now,
                                       approval=approval or APPROVAL, signer=signer)


def public_state(bucket: Bucket) -> dict[str, str]:
    """What readers can see: SHA-256 of every key under ``public/`` (current.json included)."""
    return {key: hashlib.sha256(bucket.read(key)).hexdigest() for key in sorted(bucket.list("public"))}


def drop_delivery(home: Path, sender_home: Path, country: str, sequence: int, *, test: bool,
                  wave: str = "final:100") -> None:
    """A signed delivery of ``country`` put into the inbox of the current ENR_HOME (as a contractor would)."""
    from enr import demo
    from enr.replay import delivery_name, make_delivery
    from enr.signatures import sign_delivery

    out = home / "outbox"
    out.mkdir(exist_ok=True)
    path = out / delivery_name(ELECTION, country, sequence)
    path.write_bytes(make_delivery(ELECTION, country, wave, sequence, test=test))
    sign_delivery(path, sender_home)
    demo.drop_into_inbox([path])
