"""Manifest and signatures: the Python verifier and the plain tools (gpg, sha256sum) agree."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.publish_fixtures import build_bundle, demo_key, scratch_dir
from publish.build import build_version
from publish.manifest import SUMS, read_manifest, write_manifest
from publish.signing import GpgHome, Signer, SigningError, ensure_demo_signing_key
from publish.verify import verify_version


@pytest.fixture(scope="module")
def keys() -> tuple[Path, str]:
    return demo_key()


@pytest.fixture(scope="module")
def sealed(keys) -> tuple[Path, str]:
    base, _ = keys
    out = scratch_dir("enrpub-v-") / "v0003"
    with Signer(base / "sign") as signer:
        _, digest = build_version(build_bundle(), out, signer, languages=["en", "el"])
    return out, digest


def fresh_copy(sealed_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "v0003"
    shutil.copytree(sealed_dir, target)
    return target


def gpg_env(home: Path) -> dict:
    return {**os.environ, "GNUPGHOME": str(home), "LC_ALL": "C"}


def test_manifest_lists_every_file_with_digest_and_size(sealed) -> None:
    folder, digest = sealed
    manifest = read_manifest((folder / "manifest.json").read_bytes())
    listed = {e["path"] for e in manifest["files"]}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk - listed == {"manifest.json", "manifest.json.asc", "SHA256SUMS.asc"}
    assert {"SHA256SUMS", "publisher-key.asc", "data/bundle.json", "en/index.html", "widget/widget.js"} <= listed
    assert manifest["election"] == "ep2019" and manifest["version"] == "v0003" and manifest["test"] is False
    assert len(manifest["deliveries"]) == 28 and all(len(d["sha256"]) == 64 for d in manifest["deliveries"])
    assert manifest["unresolved_ties"] == []
    assert all(e["size"] == (folder / e["path"]).stat().st_size for e in manifest["files"])


def test_manifest_is_deterministic(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "x.txt").write_text("x")
    (folder / "b.txt").write_text("b")
    _, first = write_manifest(folder, {"version": "v1"})
    _, second = write_manifest(folder, {"version": "v1"})
    assert first == second
    assert (folder / SUMS).read_text() == (
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  a/x.txt\n"
        "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.txt\n")


def test_python_verifier_accepts_the_sealed_version(sealed, keys) -> None:
    folder, digest = sealed
    base, fingerprint = keys
    report = verify_version(folder, base / "verify", trusted_fingerprints=[fingerprint])
    assert report.ok, report.summary()
    assert report.manifest_sha256 == digest and report.signer_fingerprint == fingerprint
    assert report.files_checked == len(report.manifest["files"])
    # same result through a file:// URL
    assert verify_version(folder.as_uri(), base / "verify").ok


def test_plain_gpg_and_sha256sum_verify(sealed, keys) -> None:
    folder, _ = sealed
    base, _ = keys
    env = gpg_env(base / "verify")
    for data, sig in (("SHA256SUMS", "SHA256SUMS.asc"), ("manifest.json", "manifest.json.asc")):
        result = subprocess.run(["gpg", "--batch", "--verify", sig, data], cwd=folder, env=env,
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "Good signature" in result.stderr
    result = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout[-500:] + result.stderr[-500:]
    assert result.stdout.count(": OK") == len((folder / "SHA256SUMS").read_text().splitlines())
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)


def test_one_changed_byte_is_detected(sealed, keys, tmp_path: Path) -> None:
    base, _ = keys
    folder = fresh_copy(sealed[0], tmp_path)
    page = folder / "en" / "country" / "fr.html"
    data = bytearray(page.read_bytes())
    data[len(data) // 2] ^= 0x01
    page.write_bytes(bytes(data))
    report = verify_version(folder, base / "verify")
    assert not report.ok and report.changed == ["en/country/fr.html"]
    result = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert result.returncode != 0 and "en/country/fr.html: FAILED" in result.stdout


def test_tampered_manifest_or_sums_breaks_the_signature(sealed, keys, tmp_path: Path) -> None:
    base, _ = keys
    folder = fresh_copy(sealed[0], tmp_path)
    sums = folder / "SHA256SUMS"
    sums.write_bytes(sums.read_bytes().replace(b"  en/index.html", b"  en/index.htm"))
    report = verify_version(folder, base / "verify")
    assert not report.ok and not report.sums_signature_valid
    result = subprocess.run(["gpg", "--batch", "--verify", "SHA256SUMS.asc", "SHA256SUMS"], cwd=folder,
                            env=gpg_env(base / "verify"), capture_output=True, text=True)
    assert result.returncode != 0 and "BAD signature" in result.stderr
    manifest = folder / "manifest.json"
    document = json.loads(manifest.read_text())
    document["files"][0]["size"] += 1
    manifest.write_text(json.dumps(document))
    assert not verify_version(folder, base / "verify").signature_valid


def test_missing_and_extra_files_are_listed(sealed, keys, tmp_path: Path) -> None:
    base, _ = keys
    folder = fresh_copy(sealed[0], tmp_path)
    (folder / "en" / "methodology.html").unlink()
    (folder / "en" / "injected.html").write_text("<p>not ours</p>")
    report = verify_version(folder, base / "verify")
    assert not report.ok
    assert report.missing == ["en/methodology.html"] and report.extra == ["en/injected.html"]


def test_untrusted_key_is_refused(sealed, tmp_path: Path) -> None:
    folder, _ = sealed
    other = tmp_path / "other"
    ensure_demo_signing_key(other)
    with Signer(other) as signer:
        fingerprint = signer.fingerprint
    report = verify_version(folder, other)  # the publisher's key is not in this keyring
    assert not report.ok and not report.signature_valid
    base, _ = demo_key()
    report = verify_version(folder, base / "verify", trusted_fingerprints=[fingerprint])
    assert not report.ok and "not a trusted publisher key" in " ".join(report.errors)


def test_long_gnupghome_and_clear_errors(tmp_path: Path) -> None:
    long_home = tmp_path / ("k" * 80) / "signing"
    assert len(str(long_home)) > 100
    fingerprint = ensure_demo_signing_key(long_home)
    assert ensure_demo_signing_key(long_home) == fingerprint  # created once
    with Signer(long_home, fingerprint) as signer:
        target = tmp_path / "x.txt"
        target.write_text("hello")
        signature = signer.sign_file(target)
        assert signature.read_text().startswith("-----BEGIN PGP SIGNATURE-----")
    empty = tmp_path / "empty"
    GpgHome(empty).close()
    with pytest.raises(SigningError, match="no secret key"):
        Signer(empty)
    with pytest.raises(SigningError, match="no secret key with fingerprint"):
        Signer(long_home, "0" * 40)


def test_verify_command_line(sealed, keys) -> None:
    import sys

    folder, _ = sealed
    base, fingerprint = keys
    root = Path(__file__).resolve().parent.parent
    ok = subprocess.run([sys.executable, "-m", "enr.cli", "verify", str(folder), "--keyring", str(base / "verify"),
                         "--fingerprint", fingerprint], cwd=root, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("OK "), ok.stdout + ok.stderr
    shown = subprocess.run(["gpg", "--show-keys", "--with-fingerprint", "publisher-key.asc"], cwd=folder,
                           env=gpg_env(base / "verify"), capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and fingerprint in shown.stdout.replace(" ", "")


def test_every_relative_link_of_a_sealed_version_resolves(sealed) -> None:
    from urllib.parse import urlsplit

    from tests.support.publish_fixtures import check_page

    folder, _ = sealed
    broken = []
    for page in folder.rglob("*.html"):
        for url in check_page(page).urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # fragments only (same page); external URLs are tested elsewhere
            target = (page.parent / parts.path).resolve()
            if not target.is_file():
                broken.append(f"{page.relative_to(folder)} -> {url}")
    assert not broken, broken[:10]
