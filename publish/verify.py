"""Verify a version: signatures first, then every file against the signed manifest.

``verify_version(version_dir_or_url, keyring_home)`` works on a local folder, a ``file://`` URL
or any bucket URL (:class:`publish.bucket.Bucket`). It checks, and reports each finding:

* ``manifest.json.asc`` is a good signature of ``manifest.json`` by a key in ``keyring_home``
  (and, if ``trusted_fingerprints`` is given, by one of those keys: the publisher's primary key
  fingerprint, obtained out of band, is *pinned*, and a good signature by any other key is refused
  with a line naming both; the same holds for ``SHA256SUMS.asc`` and ``approval.json.asc``);
* ``SHA256SUMS.asc`` is a good signature of ``SHA256SUMS`` and ``SHA256SUMS`` says the same as
  the manifest for every file it lists (the plain-tools route must not disagree with ours);
* every file the manifest lists exists with that size and SHA-256 (*missing*, *changed*);
* no file is there that the manifest does not list (*extra*), the seals excepted;
* if an ``approval.json`` is present: it is signed and names this manifest's digest.

Anyone can do the same with plain tools (docs/VERIFY.md)::

    gpg --verify SHA256SUMS.asc SHA256SUMS && sha256sum -c SHA256SUMS
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from publish.bucket import Bucket
from publish.manifest import (APPROVAL, APPROVAL_SIG, MANIFEST, MANIFEST_SIG, SEALS, SUMS, SUMS_SIG,
                              ManifestError, read_manifest)
from publish.signing import verify_detached


@dataclass
class VerifyReport:
    location: str
    manifest_sha256: str = ""
    signature_valid: bool = False
    signer_fingerprint: str = ""
    sums_signature_valid: bool = False
    files_checked: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    approval: dict | None = None
    manifest: dict | None = None

    @property
    def ok(self) -> bool:
        return (self.signature_valid and self.sums_signature_valid and not self.missing and not self.extra
                and not self.changed and not self.errors)

    def summary(self) -> str:
        if self.ok:
            return (f"OK {self.location}: {self.files_checked} files, manifest sha256 {self.manifest_sha256}, "
                    f"signed by {self.signer_fingerprint}")
        parts = [f"FAILED {self.location}:"]
        if not self.signature_valid:
            parts.append("manifest signature not valid;")
        if not self.sums_signature_valid:
            parts.append("SHA256SUMS signature not valid;")
        for name in ("missing", "extra", "changed"):
            values = getattr(self, name)
            if values:
                parts.append(f"{name}: {', '.join(values[:10])}{' ...' if len(values) > 10 else ''};")
        parts += self.errors
        return " ".join(parts)


def _source(version_dir_or_url: str | os.PathLike | Bucket) -> Bucket:
    if isinstance(version_dir_or_url, Bucket):
        return version_dir_or_url
    return Bucket(version_dir_or_url)


def _pinned(check, trusted: set[str], name: str, report: VerifyReport) -> bool:
    """True if no key is pinned or ``check`` is a signature by a pinned key; else an error line."""
    if not trusted or check.by(trusted):
        return True
    report.errors.append(f"{name}: a valid signature, but by key {check.primary_fingerprint} (signing key "
                         f"{check.fingerprint}), which is not a trusted publisher key: not by the pinned publisher "
                         f"key {', '.join(sorted(trusted))}; refused")
    return False


def verify_version(version_dir_or_url: str | os.PathLike | Bucket, keyring_home: Path,
                   trusted_fingerprints: list[str] | None = None) -> VerifyReport:
    source = _source(version_dir_or_url)
    report = VerifyReport(location=source.url)
    trusted = {f.replace(" ", "").upper() for f in trusted_fingerprints or []}
    manifest_bytes = source.read_or_none(MANIFEST)
    manifest_sig = source.read_or_none(MANIFEST_SIG)
    if manifest_bytes is None:
        report.missing.append(MANIFEST)
        report.errors.append("no manifest.json: nothing can be checked")
        return report
    report.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    if manifest_sig is None:
        report.missing.append(MANIFEST_SIG)
    else:
        check = verify_detached(keyring_home, manifest_bytes, manifest_sig)
        report.signer_fingerprint = check.fingerprint
        report.signature_valid = check.valid
        if not check.valid:
            report.errors.append(f"manifest.json.asc: {check.status or 'no valid signature'}")
        if check.valid and not _pinned(check, trusted, "manifest.json.asc", report):
            report.signature_valid = False
    try:
        manifest = read_manifest(manifest_bytes)
    except (ManifestError, ValueError) as exc:
        report.errors.append(f"manifest.json: {exc}")
        return report
    report.manifest = manifest

    listed = {entry["path"]: entry for entry in manifest["files"]}
    present = set(source.list(""))
    def check(item: tuple[str, dict]) -> tuple[str, str]:
        path, entry = item
        data = source.read_or_none(path)
        if data is None:
            return path, "missing"
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return path, "changed"
        return path, "ok"

    for path, state in source.map(check, sorted(listed.items())):
        if state == "missing":
            report.missing.append(path)
            continue
        report.files_checked += 1
        if state == "changed":
            report.changed.append(path)
    report.extra = sorted(p for p in present if p not in listed and p not in SEALS)

    sums = source.read_or_none(SUMS)
    sums_sig = source.read_or_none(SUMS_SIG)
    if sums is not None and sums_sig is not None:
        check = verify_detached(keyring_home, sums, sums_sig)
        report.sums_signature_valid = check.valid and (not report.signer_fingerprint
                                                       or check.fingerprint == report.signer_fingerprint)
        if not report.sums_signature_valid:
            report.errors.append(f"SHA256SUMS.asc: {check.status or 'no valid signature'}"
                                 + ("" if not check.valid else f" but by {check.fingerprint}, not the manifest's signer"))
        elif not _pinned(check, trusted, "SHA256SUMS.asc", report):
            report.sums_signature_valid = False
        for line in sums.decode("utf-8", "replace").splitlines():
            digest, _, path = line.partition("  ")
            entry = listed.get(path)
            if entry is None or entry["sha256"] != digest:
                report.errors.append(f"SHA256SUMS disagrees with the manifest on {path!r}")
        listed_in_sums = {line.partition("  ")[2] for line in sums.decode("utf-8", "replace").splitlines()}
        for path in listed:
            if path != SUMS and path not in listed_in_sums:
                report.errors.append(f"SHA256SUMS does not list {path!r}")
    elif SUMS_SIG not in report.missing:
        report.missing.append(SUMS_SIG if sums is not None else SUMS)

    approval = source.read_or_none(APPROVAL)
    if approval is not None:
        try:
            report.approval = json.loads(approval.decode("utf-8"))
        except ValueError:
            report.errors.append("approval.json: not JSON")
        else:
            if report.approval.get("manifest_sha256") != report.manifest_sha256:
                report.errors.append("approval.json names another manifest digest")
            approval_sig = source.read_or_none(APPROVAL_SIG)
            signed = verify_detached(keyring_home, approval, approval_sig) if approval_sig is not None else None
            if signed is None or not signed.valid:
                report.errors.append("approval.json: no valid signature")
            else:
                _pinned(signed, trusted, "approval.json.asc", report)
    return report
