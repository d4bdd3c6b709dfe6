"""The manifest of a version: every file with its SHA-256 and size, plus what the version is made of.

A rendered version folder is sealed in this order, so that every byte is covered by a signature:

1. the site, feeds, widget and ``publisher-key.asc`` (the content);
2. ``SHA256SUMS``: ``<sha256>  <path>`` for every content file, the format ``sha256sum -c`` reads;
3. ``manifest.json``: every content file **and** ``SHA256SUMS`` with digest and size, plus
   ``extra`` (election, version, test flag, generation time, the deliveries with their digests);
4. detached signatures ``SHA256SUMS.asc`` and ``manifest.json.asc`` (:mod:`publish.signing`).

The reviewer approves the SHA-256 of ``manifest.json``; publication copies those exact bytes.
The approval itself is a separate signed ``approval.json`` written at publish time that names the
manifest digest, so the approved manifest never changes.

``manifest.json`` is canonical JSON (sorted keys, fixed indentation, no clock): the same content
gives the same manifest and the same digest.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from publish.files import write_new
from publish.parallel import usable_cpus

MANIFEST = "manifest.json"
MANIFEST_SIG = "manifest.json.asc"
SUMS = "SHA256SUMS"
SUMS_SIG = "SHA256SUMS.asc"
APPROVAL = "approval.json"
APPROVAL_SIG = "approval.json.asc"
PUBLIC_KEY = "publisher-key.asc"
MANIFEST_SCHEMA = "enr-manifest/1"
# Files that are about the version rather than part of it: never listed in the manifest.
SEALS = frozenset({MANIFEST, MANIFEST_SIG, SUMS_SIG, APPROVAL, APPROVAL_SIG})
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


class ManifestError(ValueError):
    """A version folder that cannot be sealed (unsafe file name, missing folder)."""


_T = TypeVar("_T")
_R = TypeVar("_R")
# below this many files a second thread is not worth starting
THREADED_MIN_FILES = 256


def map_files(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[function(item) for item in items]``, on two threads when this process may use two CPUs and
    there are :data:`THREADED_MIN_FILES` items or more: for reading and hashing files, which release
    the GIL (the read, and hashlib on buffers over 2 KB), so a version's ~2,600 files are hashed on
    both cores. Each thread takes a contiguous half; the results keep the items' order."""
    if usable_cpus() < 2 or len(items) < THREADED_MIN_FILES:
        return [function(item) for item in items]
    middle = len(items) // 2
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="enr-hash") as pool:
        second = pool.submit(lambda: [function(item) for item in items[middle:]])
        first = [function(item) for item in items[:middle]]
        return first + second.result()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def content_files(version_dir: Path) -> list[str]:
    """Relative POSIX paths of the content files (everything but the seals), sorted."""
    version_dir = Path(version_dir)
    if not version_dir.is_dir():
        raise ManifestError(f"{version_dir}: not a folder")
    paths = []
    for path in version_dir.rglob("*"):
        if path.is_file():
            rel = path.relative_to(version_dir).as_posix()
            if rel in SEALS or rel == SUMS:
                continue
            if not _SAFE_PATH.match(rel):
                raise ManifestError(f"{version_dir}: unsafe file name {rel!r} (letters, digits, . _ - / only)")
            paths.append(rel)
    return sorted(paths)


def sums_text(entries: list[dict]) -> str:
    return "".join(f"{e['sha256']}  {e['path']}\n" for e in entries)


def canonical_json(document: dict) -> bytes:
    return (json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def manifest_extra(bundle: dict) -> dict:
    """What the manifest says about the version, taken from the bundle."""
    from publish import model

    return {
        "election": bundle["election"]["id"], "version": bundle["version"], "test": bool(bundle.get("test")),
        "generated_at": bundle["generated_at"],
        "deliveries": [{"country": d.get("country"), "sequence": d.get("sequence"), "sha256": d.get("sha256"),
                        "status": d.get("status")} for d in bundle.get("deliveries", [])],
        "unresolved_ties": [{"country": code, "seat": tie.get("seat"), "lists": tie.get("lists", [])}
                            for code, tie in model.unresolved_ties(bundle)],
        "changes": len(bundle.get("changes", [])),
        **({"synthetic": True} if bundle.get("synthetic") else {}),  # made-up counts (enr.synthetic)
    }


def _entry(path: str, data: bytes) -> dict:
    """A manifest entry: the file's SHA-256 (what readers and the verifier check) and size, and its MD5,
    which is the ETag an object store gives a single-part upload: publication on S3 checks the
    objects against the manifest from the bucket's listing, without reading them back (a file with
    the same size and MD5 but other bytes needs an MD5 second preimage, which nobody knows how to make)."""
    return {"path": path, "sha256": sha256_bytes(data), "size": len(data),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest()}


def _reused_entry(version_dir: Path, rel: str, entry: dict) -> dict:
    """The previous manifest's entry of a file taken unchanged from the previous version, if its size
    is still the entry's (its bytes were checked against the entry's SHA-256 when it was copied, and
    staging reads every staged file back and checks it against the new manifest:
    :func:`publish.release.stage`); a file whose size changed since is refused here."""
    size = (version_dir / rel).stat().st_size
    if size != entry["size"]:
        raise ManifestError(f"{version_dir / rel}: taken unchanged from the previous version ({entry['size']} bytes, "
                            f"sha256 {entry['sha256']}) but now {size} bytes: it changed after it was copied")
    return {"path": rel, "sha256": entry["sha256"], "size": entry["size"], "md5": entry["md5"]}


def write_manifest(version_dir: Path, extra: dict, known: dict[str, dict] | None = None,
                   reused: dict[str, dict] | None = None) -> tuple[Path, str]:
    """Write ``SHA256SUMS`` and ``manifest.json`` into ``version_dir``; returns (manifest path, its SHA-256).

    ``known``: content files that are not in the folder but will be staged beside it (an incremental
    stage on an object store copies unchanged pages from the previous version inside the store), with
    their entries from the previous version's manifest (path, sha256, size, md5); staging checks the
    copies against them. A path both in the folder and in ``known`` is refused.

    ``reused``: files in the folder taken unchanged from the previous version (an incremental render
    on a local folder links them after checking their bytes against the previous manifest), with the
    previous manifest's entries: their digests are taken from there instead of being computed again
    (:func:`_reused_entry`); every other file is read and hashed."""
    version_dir = Path(version_dir)
    reused = {rel: e for rel, e in (reused or {}).items() if e.get("md5") and e.get("sha256")}
    entries = map_files(lambda rel: _reused_entry(version_dir, rel, reused[rel]) if rel in reused
                        else _entry(rel, (version_dir / rel).read_bytes()), content_files(version_dir))
    if known:
        clash = sorted({e["path"] for e in entries} & set(known))
        if clash or any(not _SAFE_PATH.match(rel) or rel in SEALS or rel == SUMS for rel in known):
            raise ManifestError(f"{version_dir}: known entries clash with the folder or are unsafe: {clash[:5]}")
        entries += [{"path": rel, "sha256": e["sha256"], "size": e["size"], "md5": e["md5"]}
                    for rel, e in known.items()]
        entries.sort(key=lambda e: e["path"])
    sums = sums_text(entries).encode("ascii")
    write_new(version_dir / SUMS, sums)
    files = entries + [_entry(SUMS, sums)]
    files.sort(key=lambda e: e["path"])
    reserved = {"schema", "files", "total_bytes"}
    clash = reserved & set(extra)
    if clash:
        raise ManifestError(f"extra may not set {sorted(clash)}")
    document = {"schema": MANIFEST_SCHEMA, **extra, "files": files, "total_bytes": sum(e["size"] for e in files)}
    data = canonical_json(document)
    path = version_dir / MANIFEST
    write_new(path, data)
    return path, sha256_bytes(data)


def read_manifest(data: bytes) -> dict:
    document = json.loads(data.decode("utf-8"))
    if document.get("schema") != MANIFEST_SCHEMA or not isinstance(document.get("files"), list):
        raise ManifestError(f"not an {MANIFEST_SCHEMA} manifest")
    return document


def sign_version(version_dir: Path, signer, extra: dict, known: dict[str, dict] | None = None,
                 reused: dict[str, dict] | None = None) -> tuple[Path, str]:
    """Seal a rendered folder: public key, SHA256SUMS, manifest, and both detached signatures
    (``known``: files staged beside the folder, ``reused``: files in it taken unchanged from the
    previous version, see :func:`write_manifest`)."""
    version_dir = Path(version_dir)
    write_new(version_dir / PUBLIC_KEY, signer.public_key().encode("ascii"))
    manifest_path, digest = write_manifest(version_dir, {**extra, "signing_key": signer.fingerprint}, known, reused)
    signer.sign_file(version_dir / SUMS)
    signer.sign_file(manifest_path)
    return manifest_path, digest
