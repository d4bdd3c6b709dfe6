"""Incremental staging on an object store: unchanged pages are copied inside the store, not rendered again.

The export bucket and its backup are S3 buckets (a moto server on loopback, reached through
Airflow's ObjectStoragePath and an ``aws`` connection, as in production). After a one-country
delivery, ``pipeline.stage`` must copy every other country's pages from the previous version's
staged prefix server-side (in both buckets) instead of uploading them, and the staged version
must be exactly a full render of the same bundle: the same manifest digest, every object's bytes
as the manifest says. A page of the previous version replaced in the bucket after its staging
is not copied (its ETag no longer matches that version's manifest): it is rendered and uploaded;
an earlier manifest replaced in the bucket is not trusted at all.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a moto server and three stages of three countries

COUNTRIES = ["AT", "DK", "SI"]
CHANGED = "DK"
CONN_ID = "enr_incremental_s3"
EXPORT, BACKUP = "enr-inc-export", "enr-inc-backup"


@pytest.fixture
def s3(enr_home, monkeypatch):
    from tests.support.processes import environment
    from tests.support.publish_fixtures import moto_connection, moto_s3

    with moto_s3(EXPORT, BACKUP) as (endpoint, client):
        monkeypatch.setenv("ENR_BUCKET_URL", f"s3://{CONN_ID}@{EXPORT}/night/")
        monkeypatch.setenv("ENR_BACKUP_BUCKET_URL", f"s3://{CONN_ID}@{BACKUP}/night/")
        with environment({f"AIRFLOW_CONN_{CONN_ID.upper()}": moto_connection(endpoint)}):
            yield client


def _spy(monkeypatch) -> dict[str, list[str]]:
    """Record the keys every bulk upload and every in-store copy writes (both buckets)."""
    from publish.bucket import Bucket

    seen: dict[str, list[str]] = {"uploaded": [], "copied": [], "sources": []}
    write_many, copy_many = Bucket.write_many, Bucket.copy_many

    def spy_write(self, items, *args, **kwargs):
        seen["uploaded"] += [self.url_of(k) for k in items]
        return write_many(self, items, *args, **kwargs)

    def spy_copy(self, pairs, *args, **kwargs):
        seen["copied"] += [self.url_of(k) for k in pairs]
        seen["sources"] += list(pairs.values())
        return copy_many(self, pairs, *args, **kwargs)

    monkeypatch.setattr(Bucket, "write_many", spy_write)
    monkeypatch.setattr(Bucket, "copy_many", spy_copy)
    return seen


def test_one_country_stage_on_s3_copies_the_other_pages_and_equals_a_full_render(s3, enr_home, monkeypatch):
    from enr import demo, pipeline, replay
    from publish.build import build_version
    from publish.verify import verify_version

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    night = replay.write_night(enr_home / "outbox", waves=("provisional:50", "final:100"), countries=COUNTRIES,
                               sender_home=keys["sender_home"])
    demo.drop_into_inbox(night.waves[0].files)
    for country in COUNTRIES:
        assert not pipeline.ingest_country("ep2019", country)["quarantined"]
    first = pipeline.stage("ep2019", pipeline.tally("ep2019"))  # nothing earlier: everything uploaded
    export, backup = pipeline.export_bucket(), pipeline.backup_bucket()
    old_prefix = f"public/ep2019/{first['version']}"
    # an attacker (or a bad tool) replaces one of the staged version's pages after its staging
    tampered = f"{old_prefix}/en/country/si.html"
    export.write_atomic(tampered, export.read(tampered).replace(b"</body>", b"<script>x()</script></body>"))

    demo.drop_into_inbox([p for p in night.waves[1].files if f"-{CHANGED}-" in p.name])
    assert pipeline.ingest_country("ep2019", CHANGED)["accepted"]
    seen = _spy(monkeypatch)
    second = pipeline.stage("ep2019", pipeline.tally("ep2019"))
    new_prefix = f"public/ep2019/{second['version']}"

    manifest = json.loads(export.read(f"{new_prefix}/manifest.json"))
    bundle = json.loads(export.read(f"{new_prefix}/data/bundle.json"))
    languages = bundle["election"]["languages"]
    assert len(languages) == 24
    others = [f"{lang}/country/{c.lower()}.html" for lang in languages for c in COUNTRIES if c != CHANGED]
    for bucket in (export, backup):
        uploaded = {k for k in seen["uploaded"] if k.startswith(bucket.url_of(new_prefix))}
        copied = {k for k in seen["copied"] if k.startswith(bucket.url_of(new_prefix))}
        # the other countries' pages are copied in the store, never uploaded (except the replaced one)
        expected = {bucket.url_of(f"{new_prefix}/{rel}") for rel in others} - {bucket.url_of(f"{new_prefix}/en/country/si.html")}
        assert expected <= copied, sorted(expected - copied)[:5]
        assert not expected & uploaded
        # the changed country's pages and the EU pages are rendered and uploaded
        for lang in languages:
            assert bucket.url_of(f"{new_prefix}/{lang}/country/{CHANGED.lower()}.html") in uploaded
            assert bucket.url_of(f"{new_prefix}/{lang}/index.html") in uploaded
        assert not copied & uploaded
        assert len(copied) + len(uploaded) >= len(manifest["files"])
        # every object there is what the signed manifest says, and nothing else
        report = verify_version(bucket.sub(new_prefix), pipeline.get_settings().signing_home)
        assert report.ok, report.summary()
    # the replaced page was not copied: it was rendered again and uploaded, with the right bytes
    assert export.url_of(f"{new_prefix}/en/country/si.html") in seen["uploaded"]
    assert b"<script>x()</script>" not in export.read(f"{new_prefix}/en/country/si.html")
    assert export.read(f"{new_prefix}/en/country/at.html") == export.read(f"{old_prefix}/en/country/at.html")

    # a full render of the same bundle gives the same manifest, byte for byte
    with tempfile.TemporaryDirectory(prefix="enr-full-") as tmp, pipeline.signer() as publisher:
        full_dir = Path(tmp) / second["version"]
        _, digest = build_version(bundle, full_dir, publisher, history=pipeline._history("ep2019"),
                                  public_base_url=pipeline.get_settings().public_base_url)
        assert (full_dir / "manifest.json").read_bytes() == export.read(f"{new_prefix}/manifest.json")
    assert digest == second["manifest_sha256"]

    # the newest earlier version's manifest replaced in the bucket (to vouch for other bytes): it is not
    # trusted, nothing is copied from it; the version before it (intact) is used instead
    key = f"{new_prefix}/manifest.json"
    export.write_atomic(key, export.read(key).replace(b'"changes"', b'"changes" ', 1))
    demo.drop_into_inbox([p for p in night.waves[1].files if "-SI-" in p.name])
    assert pipeline.ingest_country("ep2019", "SI")["accepted"]
    for found in seen.values():
        found.clear()
    third = pipeline.stage("ep2019", pipeline.tally("ep2019"))
    assert seen["sources"] and all(src.startswith(f"{old_prefix}/") for src in seen["sources"])
    assert export.url_of(f"public/ep2019/{third['version']}/de/country/at.html") in seen["copied"]
    report = verify_version(export.sub(f"public/ep2019/{third['version']}"), pipeline.get_settings().signing_home)
    assert report.ok, report.summary()
