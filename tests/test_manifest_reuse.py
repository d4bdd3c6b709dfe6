"""The manifest of an incremental version on a local folder (issue 16): the pages taken unchanged from
the previous version keep the previous manifest's entries instead of being hashed again, with the
same manifest bytes as a manifest computed from every file; a reused file whose bytes no longer
match is refused when the manifest is written (size changed) or at staging (same size)."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.publish_fixtures import build_bundle, demo_key
from publish import manifest as manifest_mod
from publish import release
from publish.bucket import Bucket
from publish.build import build_version
from publish.manifest import ManifestError, manifest_extra, sign_version, write_manifest
from publish.signing import Signer
from publish.site import Reuse, render_site

ELECTION = "ep2019"
LANGS = ["en", "de"]
SOME = {"AT", "DK", "SI"}


def _versions() -> tuple[dict, dict]:
    first = build_bundle("v0003", only=SOME, hostile_name=False)
    for country in first["countries"]:
        country["since_version"], country["since_generated_at"] = "v0003", first["generated_at"]
    second = copy.deepcopy(first)
    second["version"], second["generated_at"] = "v0004", "2019-05-26T22:30:00+00:00"
    for country in second["countries"]:
        if country["code"] == "DK":
            country["since_version"], country["since_generated_at"] = "v0004", second["generated_at"]
    return first, second


def _previous(tmp_path: Path, signer: Signer) -> tuple[dict, Reuse]:
    first, second = _versions()
    prints: dict = {}
    build_version(first, tmp_path / "v0003", signer, languages=LANGS, fingerprints=prints)
    files = json.loads((tmp_path / "v0003" / "manifest.json").read_bytes())["files"]
    reuse = Reuse(tmp_path / "v0003", prints, digests={e["path"]: e["sha256"] for e in files},
                  entries={e["path"]: e for e in files})
    return second, reuse


def test_reused_pages_keep_their_entries_and_the_manifest_is_the_same(tmp_path, monkeypatch):
    base, _ = demo_key()
    hashed = []
    real_entry = manifest_mod._entry

    def counting(path, data):
        hashed.append(path)
        return real_entry(path, data)
    with Signer(base / "sign") as signer:
        second, reuse = _previous(tmp_path, signer)
        monkeypatch.setattr(manifest_mod, "_entry", counting)
        _, digest = build_version(second, tmp_path / "v0004", signer, languages=LANGS, reuse=reuse)
    folder = tmp_path / "v0004"
    assert len(reuse.copied) >= 8  # AT and SI: the country pages and cards of both languages
    assert "en/country/at.html" in reuse.copied and "en/country/dk.html" not in reuse.copied
    assert os.path.samefile(folder / "en/country/at.html", tmp_path / "v0003" / "en/country/at.html")
    assert not set(hashed) & set(reuse.copied)  # not hashed again
    assert "en/country/dk.html" in hashed and "en/index.html" in hashed
    # the same manifest as one computed from every file's bytes
    signed = (folder / "manifest.json").read_bytes()
    monkeypatch.setattr(manifest_mod, "_entry", real_entry)
    _, recomputed = write_manifest(folder, {k: v for k, v in json.loads(signed).items()
                                            if k not in {"schema", "files", "total_bytes"}})
    assert (folder / "manifest.json").read_bytes() == signed
    assert recomputed == digest


def _render_unsigned(tmp_path: Path) -> tuple[Path, dict, Reuse, Signer]:
    base, _ = demo_key()
    signer = Signer(base / "sign").__enter__()
    second, reuse = _previous(tmp_path, signer)
    folder = tmp_path / "v0004"
    render_site(second, folder, languages=LANGS, reuse=reuse)
    assert "en/country/at.html" in reuse.copied
    return folder, second, reuse, signer


def _replace(path: Path, data: bytes) -> None:
    path.unlink()  # a new file, not the previous version's (hard-linked) one
    path.write_bytes(data)


def test_a_reused_file_whose_size_changed_is_refused_when_sealing(tmp_path):
    folder, second, reuse, signer = _render_unsigned(tmp_path)
    try:
        page = folder / "en" / "country" / "at.html"
        _replace(page, page.read_bytes() + b"<!-- slipped in -->")
        with pytest.raises(ManifestError, match=r"en/country/at.html: taken unchanged .* changed after it was copied"):
            sign_version(folder, signer, manifest_extra(second), reused=reuse.copied)
        assert not (folder / "manifest.json").exists()
    finally:
        signer.__exit__(None, None, None)


def test_a_reused_file_with_other_bytes_of_the_same_size_is_caught_at_staging(tmp_path):
    folder, second, reuse, signer = _render_unsigned(tmp_path)
    try:
        page = folder / "en" / "country" / "at.html"
        data = page.read_bytes()
        _replace(page, data.replace(b"<html", b"<HTML", 1))
        assert len(page.read_bytes()) == len(data) and page.read_bytes() != data
        manifest_path, _ = sign_version(folder, signer, manifest_extra(second), reused=reuse.copied)
    finally:
        signer.__exit__(None, None, None)
    bucket = Bucket((tmp_path / "bucket").as_uri())
    release.mark_area(bucket, "election")
    with pytest.raises(release.IntegrityError, match="en/country/at.html"):
        release.stage(bucket, ELECTION, "v0004", folder)
    assert bucket.read_or_none(f"staging/{ELECTION}/v0004/manifest.json") is None


def test_entries_without_md5_are_hashed(tmp_path, monkeypatch):
    """A previous manifest made before entries had an MD5: its files are read and hashed."""
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.txt").write_bytes(b"abc")
    entry = manifest_mod._entry("a.txt", b"abc")
    _, expected = write_manifest(tmp_path / "v", {"version": "v1"})
    stale = {"a.txt": {**entry, "md5": None, "sha256": "0" * 64}}
    assert write_manifest(tmp_path / "v", {"version": "v1"}, reused=stale)[1] == expected


# -- the stage's read-back of checked links (issue 16) ----------------------------------------------

EMBARGO = datetime(2019, 5, 26, 23, 0, tzinfo=timezone(timedelta(hours=2)))
AFTER = datetime(2019, 5, 26, 21, 30, tzinfo=timezone.utc)


def _sealed_increment(tmp_path: Path) -> tuple[Path, Reuse, Bucket]:
    """v0004 rendered incrementally from v0003 and sealed; an election bucket to stage it in."""
    base, _ = demo_key()
    with Signer(base / "sign") as signer:
        second, reuse = _previous(tmp_path, signer)
        build_version(second, tmp_path / "v0004", signer, languages=LANGS, reuse=reuse)
    bucket = Bucket((tmp_path / "bucket").as_uri())
    release.mark_area(bucket, "election")
    return tmp_path / "v0004", reuse, bucket


def _reads(monkeypatch) -> list[str]:
    """The staged files read back (by path in the version)."""
    read: list[str] = []
    real = Bucket.read_or_none

    def counting(self, key):
        read.append(key.split("/v0004/", 1)[-1])
        return real(self, key)
    monkeypatch.setattr(Bucket, "read_or_none", counting)
    return read


def test_the_stage_does_not_read_back_links_it_checked_and_reads_every_other_file(tmp_path, monkeypatch):
    folder, reuse, bucket = _sealed_increment(tmp_path)
    assert "en/country/at.html" in reuse.checked and "en/country/dk.html" not in reuse.checked
    assert set(reuse.checked) == set(reuse.copied)  # every copied page was linked, and is the file read
    read = _reads(monkeypatch)
    digest = release.stage(bucket, ELECTION, "v0004", folder, checked=reuse.checked)
    assert digest == hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    entries = [e["path"] for e in json.loads((folder / "manifest.json").read_bytes())["files"]]
    assert sorted(set(read) & set(entries)) == sorted(set(entries) - set(reuse.checked))
    assert "en/country/dk.html" in read and "en/index.html" in read and "en/country/at.html" not in read


def test_a_checked_link_changed_in_place_afterwards_is_read_back_and_refused(tmp_path, monkeypatch):
    folder, reuse, bucket = _sealed_increment(tmp_path)
    page = folder / "en" / "country" / "at.html"
    data = page.read_bytes()
    time.sleep(0.02)  # past the file system's clock tick: the write gives the file a new modification time
    with open(page, "r+b") as handle:  # written through: the same inode, the same size, other bytes
        handle.write(data.replace(b"<html", b"<HTML", 1))
    assert page.read_bytes() != data and len(page.read_bytes()) == len(data)
    read = _reads(monkeypatch)
    with pytest.raises(release.IntegrityError, match="en/country/at.html"):
        release.stage(bucket, ELECTION, "v0004", folder, checked=reuse.checked)
    assert "en/country/at.html" in read
    assert bucket.read_or_none(f"staging/{ELECTION}/v0004/manifest.json") is None


def test_a_checked_link_replaced_by_another_file_is_read_back_and_refused(tmp_path):
    folder, reuse, bucket = _sealed_increment(tmp_path)
    page = folder / "en" / "country" / "at.html"
    data = page.read_bytes()
    _replace(page, data.replace(b"<html", b"<HTML", 1))  # a new inode under the checked name
    with pytest.raises(release.IntegrityError, match="en/country/at.html"):
        release.stage(bucket, ELECTION, "v0004", folder, checked=reuse.checked)


def test_a_change_that_puts_the_modification_time_back_is_still_refused_at_publication(tmp_path):
    """The limit of the identity check: the file's owner may write a checked link in place and set its
    modification time back (``os.utime``). Staging then takes it as checked; publication, which reads
    every file again against the signed manifest, refuses it: nothing but the approved bytes is published."""
    folder, reuse, bucket = _sealed_increment(tmp_path)
    page = folder / "en" / "country" / "at.html"
    data, status = page.read_bytes(), page.stat()
    with open(page, "r+b") as handle:
        handle.write(data.replace(b"<html", b"<HTML", 1))
    assert page.read_bytes() != data
    os.utime(page, ns=(status.st_atime_ns, status.st_mtime_ns))
    digest = release.stage(bucket, ELECTION, "v0004", folder, checked=reuse.checked)
    base, _ = demo_key()
    with Signer(base / "sign") as signer, pytest.raises(release.IntegrityError, match="en/country/at.html"):
        release.publish_version(bucket, ELECTION, "v0004", digest, embargo=EMBARGO, now=AFTER, signer=signer,
                                approval={"approved_by": "reviewer@example.invalid",
                                          "approved_at": "2019-05-26T21:25:00+00:00"})
    assert release.current(bucket, ELECTION) is None


def test_an_incremental_stage_takes_only_the_manifest_that_was_staged(tmp_path, caplog):
    """A local stage reuses the previous version's files by its manifest's entries, which pass into the
    new signed manifest: a previous manifest.json edited since it was staged (its SHA-256 is not the one
    the store recorded) is not used, so a page changed together with its entry is rendered again."""
    import logging

    from enr.pipeline import _reuse

    bucket = Bucket((tmp_path / "bucket").as_uri())
    manifest = b'{"files": [{"path": "en/index.html", "sha256": "' + b"a" * 64 + b'", "size": 1, "md5": "' + b"b" * 32 + b'"}]}'
    bucket.write(f"staging/{ELECTION}/v0001/manifest.json", manifest)
    bucket.write(f"tally/{ELECTION}/v0001/render-index.json", b'{"en/index.html": "print"}')

    class Store:
        recorded = hashlib.sha256(manifest).hexdigest()

        def versions(self, election):
            return [{"version": "v0001", "manifest_sha256": self.recorded}]
    reuse = _reuse(bucket, Store(), ELECTION, "v0002")
    assert reuse is not None and reuse.digests == {"en/index.html": "a" * 64}
    assert reuse.fingerprints == {"en/index.html": "print"}

    forged = manifest.replace(b"a" * 64, b"c" * 64)
    bucket.write(f"staging/{ELECTION}/v0001/manifest.json", forged)
    with caplog.at_level(logging.WARNING, logger="publish.release"):
        assert _reuse(bucket, Store(), ELECTION, "v0002") is None
    assert any("not the manifest staged as" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_previous_file_that_is_not_a_plain_file_is_rendered_again(tmp_path, kind):
    """Reuse.read takes only plain files: a symbolic link (even to the right bytes) or a FIFO in the
    previous version is neither followed nor waited on; the page is rendered again."""
    folder, second, reuse, signer = _render_unsigned(tmp_path)
    signer.__exit__(None, None, None)
    page = tmp_path / "v0003" / "en" / "country" / "at.html"
    data = page.read_bytes()
    page.unlink()
    if kind == "symlink":
        (tmp_path / "elsewhere.html").write_bytes(data)
        page.symlink_to(tmp_path / "elsewhere.html")
    else:
        os.mkfifo(page)
    assert reuse.read("en/country/at.html") is None
    assert reuse.read("en/country/si.html") is not None


def test_a_link_is_recorded_as_checked_only_if_it_names_the_file_that_was_read(tmp_path):
    """``Reuse.linked``: after ``read`` checked a previous file, a link to it counts as checked (what the
    stage need not read back) only if it is that file; replaced in between (a new file, the same bytes)
    it is not recorded, nor is a file read without a manifest to check it against."""
    folder = tmp_path / "v0003"
    folder.mkdir()
    for name in ("a.html", "b.html"):
        (folder / name).write_bytes(b"<p>" + name.encode() + b"</p>")
    entries = {name: {"path": name, "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                      "size": (folder / name).stat().st_size, "md5": "0" * 32} for name in ("a.html", "b.html")}
    reuse = Reuse(folder, {}, digests={n: e["sha256"] for n, e in entries.items()}, entries=entries)
    out = tmp_path / "v0004"
    out.mkdir()
    for name in ("a.html", "b.html"):
        assert reuse.read(name) == (folder / name).read_bytes()
    _replace(folder / "b.html", (folder / "b.html").read_bytes())  # after the read, before the link
    for name in ("a.html", "b.html"):
        os.link(folder / name, out / name)
        reuse.linked(name, out / name)
    assert set(reuse.checked) == {"a.html"} and reuse.checked["a.html"][1] == entries["a.html"]["sha256"]
    unchecked = Reuse(folder, {}, entries=entries)  # no digests: read() checks nothing
    assert unchecked.read("a.html") is not None
    os.link(folder / "a.html", out / "again.html")
    unchecked.linked("a.html", out / "again.html")
    assert unchecked.checked == {}
