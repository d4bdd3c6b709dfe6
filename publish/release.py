"""Staging, approval-checked atomic publication, rollback and replication of versions.

Bucket layout (docs/CONTRACTS.md)::

    staging/<election>/<version>/...         the sealed version the reviewer looks at
    public/<election>/<version>/...          published versions, immutable
    public/<election>/current.json           pointer {election, version, manifest_sha256, published_at, test}
    public/<election>/index.html             meta refresh to the current version (no JavaScript)
    public/<election>/publications.json      log of every publish and rollback
    public/<election>/publications.atom      the same log as an Atom feed

Publication is **copy, verify, then flip**:

1. the staged ``manifest.json`` must have exactly the digest the reviewer approved
   (:class:`ApprovalMismatch`); a test (rehearsal) version never goes to a real election's
   public area, nor a real version to a rehearsal area (:func:`check_area`, :class:`AreaMismatch`:
   the bucket's ``AREA.json`` marker decides, and an area without one refuses everything: it must be
   declared first, by ``enr init``); a version is test only when every country in it is test
   (:class:`MixedVersion` otherwise), and a real version is never published before the embargo
   (:class:`EmbargoNotLifted`), whatever the area; ``now`` must not be behind the last
   publication recorded in the area (:class:`ClockMovedBack`: a clock set back is not trusted
   for the embargo); the version must not be older than the current one
   (:class:`VersionNotNewer`) nor carry an unresolved tie (:class:`UnresolvedTies`);
2. every staged file is checked against the approved manifest (:class:`IntegrityError`: a file
   changed after the approval is never copied), then copied, byte for byte, to
   ``public/<election>/<version>/``, the manifest last, then a signed ``approval.json`` naming the
   manifest digest;
3. every copied file is read back and checked against the manifest (:class:`IntegrityError`);
4. only then ``current.json`` is replaced (one atomic write), then ``index.html`` and the log.

Readers follow ``current.json``, so they see the previous version or the new one, never a mix;
a publisher that dies before step 4 leaves ``current.json`` as it was, and running it again
finishes the job. Nothing reads the clock: ``now`` is passed in.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Callable, Iterator

from enr.versions import version_key
from publish import feeds, model, read_policy
from publish.bucket import BULK_BATCH, CACHE_IMMUTABLE, CACHE_POINTER, Bucket
from publish.files import file_identity
# the refusals live in publish.errors (publish.timeline raises them too); importable from here as before
from publish.errors import (AreaMismatch, AreaNotDeclared, ApprovalMismatch, ClockMovedBack,  # noqa: F401
                            EmbargoNotLifted, IntegrityError, MixedVersion, NotPublished, NotStaged, PublishError,
                            UnresolvedTies, VersionNotNewer)
from publish.manifest import (APPROVAL, APPROVAL_SIG, MANIFEST, MANIFEST_SIG, SUMS, SUMS_SIG, canonical_json,
                              map_files, read_manifest, sha256_file)
from publish.timeline import check_timeline  # the embargo, estimates and projection rules

log = logging.getLogger(__name__)

_THREAD_LOCK = threading.Lock()
_THREAD_LOCKS: dict[str, threading.Lock] = {}

CURRENT = "current.json"
INDEX = "index.html"
PUBLICATIONS = "publications.json"
ATOM = "publications.atom"


@dataclass(frozen=True)
class PublishResult:
    election: str
    version: str
    manifest_sha256: str
    published_at: str
    files: int
    previous_version: str | None
    already_published: bool


def _check_name(kind: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value or "") or value in (".", ".."):
        raise PublishError(f"{kind} {value!r} is not a safe folder name")
    return value


def staging_prefix(election: str, version: str) -> str:
    return f"staging/{_check_name('election', election)}/{_check_name('version', version)}"


def staged_prefix(bucket: Bucket, election: str, version: str) -> str:
    """Where ``version`` is staged: on an object store **in place**, at its final keys
    ``public/<election>/<version>/`` (unreadable by anyone until publication grants it in the bucket's
    read policy: :mod:`publish.read_policy`), on a local folder in ``staging/<election>/<version>/``
    (a folder has no read policy: publication links or copies it to ``public/``)."""
    return staging_prefix(election, version) if bucket.is_local else public_prefix(election, version)


def public_prefix(election: str, version: str | None = None) -> str:
    base = f"public/{_check_name('election', election)}"
    return f"{base}/{_check_name('version', version)}" if version else base


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise PublishError(f"time without a UTC offset: {moment!r}")
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _md5(data: bytes) -> str:
    """The ETag an object store gives a single-part upload of ``data``."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


AREA = "AREA.json"
PURPOSES = ("election", "rehearsal")


def mark_area(bucket: Bucket, purpose: str) -> dict:
    """Write the bucket's purpose marker ``AREA.json`` ({"purpose": "election"|"rehearsal"}).

    A bucket keeps its purpose for ever: marking it with the other purpose is refused.
    """
    if purpose not in PURPOSES:
        raise PublishError(f"area purpose {purpose!r}: one of {', '.join(PURPOSES)}")
    existing = area_purpose(bucket)
    if existing["marked"] and existing["purpose"] != purpose:
        raise AreaMismatch(f"{bucket.url_of(AREA)} marks a {existing['purpose']} area; it cannot become a "
                           f"{purpose} area (use another bucket)")
    marker = {"schema": "enr-area/1", "purpose": purpose}
    if not existing["marked"]:
        bucket.write_atomic(AREA, canonical_json(marker), cache_control=CACHE_POINTER)
    return marker


def area_purpose(bucket: Bucket, election: str | None = None) -> dict:
    """What a bucket's public area is for: ``{"purpose": "election"|"rehearsal"|None, "marked": bool, "why": ...}``.

    The marker ``AREA.json`` decides; without one, the publications already made decide (an area
    where a real version was published is a real election's, one with only test versions a
    rehearsal's); an empty unmarked area has no purpose yet (``None``).
    """
    data = bucket.read_or_none(AREA)
    if data is not None:
        purpose = json.loads(data.decode("utf-8")).get("purpose")
        if purpose not in PURPOSES:
            raise AreaMismatch(f"{bucket.url_of(AREA)}: unknown purpose {purpose!r}")
        return {"purpose": purpose, "marked": True, "why": f"marker {AREA}"}
    if election is not None:
        flags = {bool(e.get("test")) for e in _publications(bucket, election) if e.get("event") == "publish"}
        if False in flags:
            return {"purpose": "election", "marked": False, "why": "a real version was published here"}
        if True in flags:
            return {"purpose": "rehearsal", "marked": False, "why": "only test versions were published here"}
    return {"purpose": None, "marked": False, "why": "no marker and no publication"}


def check_area(bucket: Bucket, election: str, test: bool) -> None:
    """The hard guard of rehearsals: a test version never goes to a real election's public area,
    a real version never to a rehearsal area (:class:`AreaMismatch`), and nothing goes to an area
    nobody declared (:class:`AreaNotDeclared`: ``enr init`` writes ``AREA.json``)."""
    area = area_purpose(bucket, election)
    if not area["marked"]:
        seen = f"; {area['why']}" if area["purpose"] else ""
        raise AreaNotDeclared(f"{election}: refusing to publish into {bucket.url_of(public_prefix(election))}: the "
                              f"bucket has no {AREA} declaring it an election or a rehearsal area{seen}; run "
                              f"`enr init` (publish.release.mark_area) to declare it")
    if test and area["purpose"] == "election":
        raise AreaMismatch(f"{election}: refusing to publish a TEST (rehearsal) version into the public area of a "
                           f"real election ({bucket.url_of(public_prefix(election))}; {area['why']})")
    if not test and area["purpose"] == "rehearsal":
        raise AreaMismatch(f"{election}: refusing to publish a REAL version into a rehearsal area "
                           f"({bucket.url_of(public_prefix(election))}; {area['why']})")


def bundle_test_flag(bundle: dict, where: str) -> bool:
    """A bundle is test only when every country that reported is test; a mix is refused
    (:class:`MixedVersion`, naming the countries), so one rehearsal delivery never turns other
    countries' real numbers into a "test" version that escapes the embargo."""
    reported = [c for c in bundle.get("countries", []) if c.get("status", "none") != "none"]
    test = sorted(c["code"] for c in reported if c.get("test"))
    real = sorted(c["code"] for c in reported if not c.get("test"))
    if test and real:
        raise MixedVersion(f"{where}: test and real data in one version: test data for {', '.join(test)}, real data "
                           f"for {', '.join(real)}; a version is all test or all real (wait for the test countries' "
                           f"real deliveries)")
    return bool(test) and not real


def check_clock(bucket: Bucket, election: str, now: datetime) -> None:
    """Refuse a ``now`` earlier than the last publication or rollback recorded in the area's log
    (:class:`ClockMovedBack`): the embargo is only as good as the clock that reads it."""
    stamps = [e["published_at"] for e in _publications(bucket, election) if e.get("published_at")]
    pointer = current(bucket, election)
    if pointer and pointer.get("published_at"):
        stamps.append(pointer["published_at"])
    if not stamps:
        return
    last = max(datetime.fromisoformat(s) for s in stamps)
    if now < last:
        raise ClockMovedBack(f"{election}: the clock says {_iso(now)}, before the last publication recorded in "
                             f"{bucket.url_of(public_prefix(election))} ({_iso(last)}); the clock moved back and "
                             f"cannot be trusted for the embargo: nothing published")


def current(bucket: Bucket, election: str) -> dict | None:
    """The current pointer of ``election``, or None before the first publication."""
    data = bucket.read_or_none(f"{public_prefix(election)}/{CURRENT}")
    return None if data is None else json.loads(data.decode("utf-8"))


def _publications(bucket: Bucket, election: str) -> list[dict]:
    data = bucket.read_or_none(f"{public_prefix(election)}/{PUBLICATIONS}")
    return [] if data is None else json.loads(data.decode("utf-8"))


def _matches(entry: dict | None, data: bytes | None) -> bool:
    """``data`` exists and is the file of the manifest ``entry`` (size and SHA-256); a file the
    manifest does not list (``entry`` None: the signatures) only has to exist."""
    return data is not None and (entry is None or (len(data) == entry["size"] and _sha(data) == entry["sha256"]))


def _refuse_mismatch(bucket: Bucket, prefix: str, bad: list[str], error: type[PublishError] = IntegrityError) -> None:
    if bad:
        raise error(f"{bucket.url_of(prefix)}: {len(bad)} file(s) missing or not matching the manifest: "
                    f"{', '.join(bad[:10])}")


def _verify_copy(bucket: Bucket, prefix: str, manifest: dict, error: type[PublishError] = IntegrityError,
                 checked: dict[str, tuple] | None = None) -> None:
    """Every file of ``manifest`` under ``prefix`` against its entry (a local folder: read back and
    hashed on both cores; an object store: read in batches). ``checked`` (a local stage only):
    ``{path: (identity, sha256)}`` of files linked from an earlier version after their bytes were
    checked in this stage (:attr:`publish.site.Reuse.checked`); such a file is not read again when
    its entry has that SHA-256 and the staged name is still that file, unchanged
    (:func:`publish.files.file_identity`)."""
    entries = manifest["files"]
    bad = []
    if bucket.local_root is not None:  # a local folder: every file read and hashed, on both cores
        def fine(entry: dict) -> bool:
            known = (checked or {}).get(entry["path"])
            if known is not None and known[1] == entry["sha256"]:
                try:
                    status = os.stat(bucket.local_path(f"{prefix}/{entry['path']}"))
                except OSError:
                    status = None
                if status is not None and file_identity(status) == known[0] and status.st_size == entry["size"]:
                    return True
            return _matches(entry, bucket.read_or_none(f"{prefix}/{entry['path']}"))
        fine = map_files(fine, entries)
        _refuse_mismatch(bucket, prefix, [e["path"] for e, ok in zip(entries, fine) if not ok], error)
        return
    for start in range(0, len(entries), BULK_BATCH):
        chunk = entries[start:start + BULK_BATCH]
        for entry, data in zip(chunk, bucket.read_many(f"{prefix}/{e['path']}" for e in chunk)):
            if not _matches(entry, data):
                bad.append(entry["path"])
    _refuse_mismatch(bucket, prefix, bad, error)


_MD5 = re.compile(r"[0-9a-f]{32}")
# what a version folder may hold besides the manifest's files
_SEALS = (SUMS_SIG, MANIFEST_SIG)
_BESIDE_MANIFEST = frozenset({MANIFEST, *_SEALS, APPROVAL, APPROVAL_SIG})


def _verify_in_place(bucket: Bucket, prefix: str, manifest: dict, required: tuple[str, ...] = (),
                     error: type[PublishError] = IntegrityError) -> dict[str, tuple[int, str]]:
    """Check the objects under ``prefix`` of an object store against ``manifest`` from the store's
    listing (a few requests, nothing read back): every file there with the manifest's size and MD5
    (the ETag of a single-part upload), each of ``required`` present, and **nothing else** but the
    seals and the approval (an object slipped into the folder would become public with it). A file
    whose ETag is not a plain MD5 (a multipart upload) or whose entry has no MD5 (a manifest made
    before it had them) is read and checked by its SHA-256 instead. Returns the listing."""
    found = bucket.objects(prefix)
    start = len(prefix) + 1
    present = {key[start:]: value for key, value in found.items()}
    entries = {entry["path"]: entry for entry in manifest["files"]}
    bad, to_read = [], []
    for path, entry in entries.items():
        got = present.get(path)
        if got is None or got[0] != entry["size"]:
            bad.append(path)
        elif entry.get("md5") and _MD5.fullmatch(got[1]):
            if got[1] != entry["md5"]:
                bad.append(path)
        else:
            to_read.append(path)
    for chunk_start in range(0, len(to_read), BULK_BATCH):
        chunk = to_read[chunk_start:chunk_start + BULK_BATCH]
        for path, data in zip(chunk, bucket.read_many(f"{prefix}/{p}" for p in chunk)):
            if not _matches(entries[path], data):
                bad.append(path)
    bad += [name for name in required if name not in present]
    _refuse_mismatch(bucket, prefix, sorted(bad), error)
    extra = sorted(path for path in present if path not in entries and path not in _BESIDE_MANIFEST)
    if extra:
        raise error(f"{bucket.url_of(prefix)}: {len(extra)} object(s) that the manifest does not list: "
                    f"{', '.join(extra[:10])}; a version folder holds its manifest's files only")
    return found


def _upload(bucket: Bucket, prefix: str, source: Bucket, names: list[str], manifest: dict,
            manifest_bytes: bytes, copies: dict[str, str] | None = None) -> None:
    """Stage on an object store: ``SHA256SUMS`` first (digests only, no result), which an anonymous
    reader must be refused (:func:`publish.read_policy.check_hidden`; else it is deleted again and
    nothing more is written), then what an earlier stage of the version left (an older manifest, a
    file this render does not have) is removed, then every file PUT concurrently, checked from the listing (size and
    MD5 against the manifest), then the manifest last."""
    probe = f"{prefix}/{SUMS}"
    bucket.write_atomic(probe, source.read(SUMS), cache_control=CACHE_IMMUTABLE)
    try:
        read_policy.check_hidden(bucket, probe)
    except read_policy.ReadPolicyError:
        bucket.delete(probe)
        raise
    # a stage run again (a retried task) starts from its own files only: an earlier manifest, or a
    # file the new render does not have, is removed first (the folder is unpublished and unreadable)
    keep = {f"{prefix}/{name}" for name in names}
    for key in sorted(set(bucket.objects(prefix)) - keep):
        bucket.delete(key)
    copies = copies or {}
    if copies:  # unchanged files of an earlier version: copied inside the store (checked below like the rest)
        bucket.copy_many({f"{prefix}/{name}": src for name, src in copies.items()})
    names = [name for name in names if name not in copies]
    for start in range(0, len(names), BULK_BATCH):
        bucket.write_many({f"{prefix}/{name}": source.read(name) for name in names[start:start + BULK_BATCH]},
                          cache_control=CACHE_IMMUTABLE)
    _verify_in_place(bucket, prefix, manifest, required=tuple(n for n in _SEALS if n in names))
    bucket.write_atomic(f"{prefix}/{MANIFEST}", manifest_bytes, cache_control=CACHE_IMMUTABLE)


def _refuse_published(bucket: Bucket, election: str, version: str) -> None:
    """A published version never changes: staging it again (in place, on an object store) is refused."""
    if any(e.get("event") == "publish" and e.get("version") == version for e in _publications(bucket, election)):
        raise VersionNotNewer(f"{election}/{version} is published; a published version never changes: stage a new "
                              f"version")


def _link(source: Path, target: Path) -> bool:
    """Hard-link a rendered file into a local bucket (same file system), atomically; False if not possible.

    Only for staging from the render folder, which is thrown away afterwards: the staged file then
    shares its bytes at most with other staged versions and with the card and render caches (their
    files and the render's are never written in place, only replaced: :mod:`publish.files`).
    Publication and replication always copy. A new name is linked directly (a link
    appears whole); an existing one is replaced through a temporary link and a rename."""
    try:
        try:
            os.link(source, target)
            return True
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
            return True
        except FileExistsError:
            tmp = target.with_name(f".tmp-{target.name}.{os.getpid()}")
            tmp.unlink(missing_ok=True)
            os.link(source, tmp)
            os.replace(tmp, target)
            return True
    except OSError:
        return False


def _while_synced(bucket: Bucket, work: Callable[[], None]) -> None:
    """Run ``work`` while :meth:`Bucket.sync` flushes what was written so far, on another thread (the
    flush waits on the disk, ``work`` reads back from memory); returns when both are done, raising
    the first failure."""
    failed: list[BaseException] = []

    def flush() -> None:
        try:
            bucket.sync()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            failed.append(exc)
    flushing = threading.Thread(target=flush, name="enr-stage-sync")
    flushing.start()
    try:
        work()
    finally:
        flushing.join()
    if failed:
        raise failed[0]


def stage(bucket: Bucket, election: str, version: str, rendered_dir: Path, *, backup: Bucket | None = None,
          copies: dict[str, str] | None = None, checked: dict[str, tuple] | None = None) -> str:
    """Copy a sealed, rendered folder to where it is staged (:func:`staged_prefix`); the manifest's SHA-256.

    Every staged file is checked against the folder's manifest (local folder: read back; object
    store: from the listing, size and MD5), which is written last, so a stage that dies midway
    (or finds a file not matching) never shows a complete-looking manifest over partial content.

    On an object store the version goes straight to its final keys under ``public/``, where the
    bucket's read policy refuses it to everyone until publication grants it; the stage checks with
    its first object that an anonymous reader is refused there (:func:`publish.read_policy.check_hidden`)
    and refuses to touch a published version. ``backup`` (an object store too): the version is staged
    there as well, at the same time, so that replication after the publication has nothing left
    to copy; a backup that fails here is only logged (:func:`replicate` copies what is missing).

    ``copies`` (object stores only): ``{manifest path: source key}`` for the files the manifest lists
    that are not in ``rendered_dir``: an earlier version's unchanged pages, copied server-side from
    its staged prefix (in the backup from the same keys there), then checked from the listing like
    every uploaded file (size and MD5 against this manifest).

    ``checked`` (a local folder): files of ``rendered_dir`` linked from an earlier version after this
    stage checked their bytes against its manifest (:attr:`publish.site.Reuse.checked`): the read-back
    takes those that are still the same files, unchanged, as read (see :func:`_verify_copy`); every
    other file is read back. Publication checks every file again, these too.
    """
    rendered_dir = Path(rendered_dir)
    manifest_path = rendered_dir / MANIFEST
    if not manifest_path.is_file():
        raise NotStaged(f"{rendered_dir}: no manifest.json (seal the folder with build_version first)")
    manifest_bytes = manifest_path.read_bytes()
    manifest = read_manifest(manifest_bytes)
    if manifest.get("election") != election or manifest.get("version") != version:
        raise PublishError(f"{rendered_dir}: manifest is for {manifest.get('election')}/{manifest.get('version')}, "
                           f"not {election}/{version}")
    prefix = staged_prefix(bucket, election, version)
    names = [entry["path"] for entry in manifest["files"]] + [n for n in _SEALS if (rendered_dir / n).is_file()]
    source = Bucket(rendered_dir)
    copies = dict(copies or {})
    absent = [name for name in names if name not in copies and not (rendered_dir / name).is_file()]
    if absent or set(copies) - set(names):
        raise NotStaged(f"{rendered_dir}: {len(absent)} file(s) of the manifest neither rendered nor to be copied "
                        f"({', '.join(absent[:5])}), or copies the manifest does not list")

    if bucket.local_root is not None:
        if copies:
            raise PublishError(f"{bucket.url}: copies from an earlier version are for object stores only")
        for name in names:
            if not _link(rendered_dir / name, bucket.local_path(f"{prefix}/{name}")):
                source.copy(name, f"{prefix}/{name}", dst=bucket, durable=False, cache_control=CACHE_IMMUTABLE)
        # every staged file read back and checked against the manifest (a render-folder file that does
        # not match is caught here too) while the files are flushed to disk; the manifest is written
        # only when both are done
        _while_synced(bucket, lambda: _verify_copy(bucket, prefix, manifest, checked=checked))
        bucket.write_atomic(f"{prefix}/{MANIFEST}", manifest_bytes, cache_control=CACHE_IMMUTABLE)
    else:
        _refuse_published(bucket, election, version)
        mirror = None
        if backup is not None and not backup.is_local:
            mirror = threading.Thread(target=_stage_backup, name="enr-stage-backup",
                                      args=(backup, election, version, prefix, source, names, manifest, manifest_bytes,
                                            copies))
            mirror.start()
        try:
            _upload(bucket, prefix, source, names, manifest, manifest_bytes, copies)
        finally:
            if mirror is not None:
                mirror.join()
    digest = _sha(manifest_bytes)
    log.info("staged election=%s version=%s files=%d copied_in_store=%d manifest_sha256=%s", election, version,
             len(names) + 1, len(copies), digest)
    return digest


def staged_manifest(bucket: Bucket, election: str, version: str, manifest_sha256: str) -> bytes | None:
    """The staged ``version``'s ``manifest.json`` if it is the one staged (``manifest_sha256``, as the
    store recorded it), else None: an incremental stage takes its entries into the new signed
    manifest, so a manifest edited since, or missing, is not trusted (logged)."""
    key = f"{staged_prefix(bucket, election, version)}/{MANIFEST}"
    manifest_bytes = bucket.read_or_none(key)
    if manifest_bytes is not None and _sha(manifest_bytes) != manifest_sha256:
        log.warning("%s: not the manifest staged as %s; its files are not reused", bucket.url_of(key), manifest_sha256)
        return None
    return manifest_bytes


def reuse_in_store(bucket: Bucket, election: str, version: str, manifest_sha256: str, fingerprints: dict):
    """What an incremental stage on an object store may copy from the staged ``version``
    (a :class:`publish.site.Reuse` without folder), or None.

    Its ``manifest.json`` must be the one staged (``manifest_sha256``, as the store recorded it: a
    manifest edited since is not trusted); only the files that the bucket's listing shows with that
    manifest's size and MD5 are offered (a missing or replaced object is rendered again)."""
    from publish.site import Reuse

    prefix = staged_prefix(bucket, election, version)
    manifest_bytes = staged_manifest(bucket, election, version, manifest_sha256)
    if manifest_bytes is None:
        return None
    files = read_manifest(manifest_bytes)["files"]
    listing = bucket.objects(prefix)
    entries = {e["path"]: e for e in files
               if e.get("md5") and listing.get(f"{prefix}/{e['path']}") == (e["size"], e["md5"])}
    return Reuse(folder=None, fingerprints=fingerprints, digests={e["path"]: e["sha256"] for e in files},
                 source=prefix, entries=entries)


def _stage_backup(backup: Bucket, election: str, version: str, prefix: str, source: Bucket, names: list[str],
                  manifest: dict, manifest_bytes: bytes, copies: dict[str, str] | None = None) -> None:
    """The backup's half of :func:`stage` (in its own thread): logged, never raised."""
    try:
        _refuse_published(backup, election, version)
        _upload(backup, prefix, source, names, manifest, manifest_bytes, copies)
        log.info("staged election=%s version=%s on the backup %s too", election, version, backup.url)
    except Exception as exc:  # noqa: BLE001 - the backup never stops the primary; replicate() copies later
        log.warning("staging election=%s version=%s on the backup %s failed (replication will copy it): %s",
                    election, version, backup.url, exc)


def _grant(bucket: Bucket, election: str, version: str, manifest_sha256: str) -> None:
    """Let anonymous readers of an object store read ``version`` and the election's pointer files, then
    check as one of them that the version's manifest is there (a policy takes effect at once on
    SeaweedFS and MinIO, within seconds on AWS: waited for, up to 15 s)."""
    import time

    if bucket.is_local:
        return
    base, target = public_prefix(election), public_prefix(election, version)
    read_policy.grant(bucket, [f"{target}/*"] + [f"{base}/{name}" for name in (CURRENT, INDEX, PUBLICATIONS, ATOM)])
    deadline = time.monotonic() + 15
    while True:
        status, body = bucket.anonymous_get(f"{target}/{MANIFEST}")
        if status == 200 and _sha(body) == manifest_sha256:
            return
        if time.monotonic() > deadline:
            raise IntegrityError(f"{bucket.url_of(target)}: after the grant an anonymous reader gets {status} for "
                                 f"manifest.json, not the published one; current.json not changed")
        time.sleep(0.2)


def _index_html(election: str, version: str, test: bool, synthetic: bool = False) -> bytes:
    target = f"{escape(version)}/index.html"
    banner = "<p><strong>TEST: rehearsal data, not real results</strong></p>\n" if test else ""
    banner += "<p><strong>SYNTHETIC: invented numbers, not real results</strong></p>\n" if synthetic else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="refresh" content="0; url={target}">\n<link rel="canonical" href="{target}">\n'
            f'<title>{escape(election)}: results</title>\n</head>\n<body>\n{banner}'
            f'<p><a href="{target}">{escape(election)} {escape(version)}</a></p>\n</body>\n</html>\n').encode("utf-8")


def _flip(bucket: Bucket, election: str, version: str, digest: str, published_at: str, test: bool,
          previous: dict | None, event: str, changes: list[dict], synthetic: bool = False) -> dict:
    base = public_prefix(election)
    pointer = {"election": election, "version": version, "manifest_sha256": digest, "published_at": published_at,
               "test": test, "previous_version": previous.get("version") if previous else None}
    bucket.write_atomic(f"{base}/{CURRENT}", canonical_json(pointer), cache_control=CACHE_POINTER)  # commit point
    bucket.write_atomic(f"{base}/{INDEX}", _index_html(election, version, test, synthetic), cache_control=CACHE_POINTER)
    log_entries = _publications(bucket, election)
    log_entries.append({"event": event, "version": version, "manifest_sha256": digest, "published_at": published_at,
                        "test": test, "changes": changes, **({"synthetic": True} if synthetic else {})})
    bucket.write_atomic(f"{base}/{PUBLICATIONS}", canonical_json(log_entries),  # type: ignore[arg-type]
                        cache_control=CACHE_POINTER)
    bucket.write_atomic(f"{base}/{ATOM}", feeds.atom_feed({"id": election, "name": election}, log_entries,
                                                          **feeds.websub_links(election)),
                        cache_control=CACHE_POINTER)
    return pointer


@contextmanager
def publication_lock(bucket: Bucket, election: str) -> Iterator[None]:
    """One publisher (publish or rollback) of ``election`` at a time on this bucket.

    Two publishers racing would both read the old ``current.json``, both pass the "not older"
    check and flip one after the other, so an older version could end up current. On a local
    bucket an exclusive ``flock`` on ``.locks/publish-<election>.lock`` (outside ``public/``)
    serialises them, across threads and processes; an object store has no lock, there the
    deployment serialises publication (one publish task at a time in the signing queue)."""
    if bucket.local_root is None:
        yield
        return
    import fcntl

    path = bucket.local_root / ".locks" / f"publish-{_check_name('election', election)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK:
        thread_lock = _THREAD_LOCKS.setdefault(str(path), threading.Lock())
    with thread_lock, path.open("a") as handle:  # flock is per open file: threads need their own lock too
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish_version(bucket: Bucket, election: str, version: str, approved_manifest_sha256: str, *,
                    embargo: datetime, now: datetime, approval: dict, signer=None,
                    on_file: Callable[[str], None] | None = None) -> PublishResult:
    """Publish the staged ``version`` if it is exactly what was approved (see the module docstring).

    ``approval``: who approved and when (e.g. ``{"approved_by": "...", "approved_at": "..."}``),
    written to ``approval.json`` (signed with ``signer`` when given). ``on_file`` is called after
    each file is copied (progress; the tests use it to kill the publisher midway). Publishers of
    one election are serialised (:func:`publication_lock`).
    """
    with publication_lock(bucket, election):
        return _publish_version(bucket, election, version, approved_manifest_sha256, embargo=embargo, now=now,
                                approval=approval, signer=signer, on_file=on_file)


def _publish_version(bucket: Bucket, election: str, version: str, approved_manifest_sha256: str, *,
                     embargo: datetime, now: datetime, approval: dict, signer=None,
                     on_file: Callable[[str], None] | None = None) -> PublishResult:
    staged = staged_prefix(bucket, election, version)
    manifest_bytes = bucket.read_or_none(f"{staged}/{MANIFEST}")
    if manifest_bytes is None:
        raise NotStaged(f"{bucket.url_of(staged)}: no staged manifest.json")
    digest = _sha(manifest_bytes)
    if digest != approved_manifest_sha256:
        raise ApprovalMismatch(f"{election}/{version}: the staged manifest has sha256 {digest}, but the approval "
                               f"is for {approved_manifest_sha256}; nothing published (re-review the staged version)")
    manifest = read_manifest(manifest_bytes)
    test = bool(manifest.get("test"))
    check_area(bucket, election, test)
    check_clock(bucket, election, now)
    bundle_entry = next((e for e in manifest["files"] if e["path"] == "data/bundle.json"), None)
    if bundle_entry is None:
        raise NotStaged(f"{election}/{version}: the staged version has no data/bundle.json")
    bundle_bytes = bucket.read(f"{staged}/data/bundle.json")
    if _sha(bundle_bytes) != bundle_entry["sha256"]:
        raise IntegrityError(f"{election}/{version}: staged data/bundle.json does not match the approved manifest")
    staged_bundle = json.loads(bundle_bytes.decode("utf-8"))
    countries_test = bundle_test_flag(staged_bundle, f"{election}/{version}")
    if bool(staged_bundle.get("test")) != test or countries_test != test:
        raise MixedVersion(f"{election}/{version}: the manifest's test flag ({test}) disagrees with the bundle's "
                           f"({bool(staged_bundle.get('test'))}) or its countries' ({countries_test})")
    check_timeline(staged_bundle, test=test, embargo=embargo, now=now, where=f"{election}/{version}")
    ties = model.unresolved_ties(staged_bundle)
    if ties:
        where = ", ".join(f"{code} seat {tie.get('seat')} ({' / '.join(map(str, tie.get('lists', [])))})"
                          for code, tie in ties)
        raise UnresolvedTies(f"{election}/{version}: unresolved tie(s) awaiting the drawing of lots: {where}")

    previous = current(bucket, election)
    published = {e["version"]: e["manifest_sha256"] for e in _publications(bucket, election) if e["event"] == "publish"}
    if previous and version_key(version) < version_key(previous["version"]):
        raise VersionNotNewer(f"{election}/{version} is older than the current version {previous['version']}; "
                              f"use rollback() to go back to an earlier version")
    if version in published and published[version] != digest:
        raise VersionNotNewer(f"{election}/{version} was already published with manifest {published[version]}; "
                              f"a published version never changes: publish a new version")
    already = version in published

    target = public_prefix(election, version)
    names = [entry["path"] for entry in manifest["files"]] + list(_SEALS)
    if not bucket.is_local:
        return _publish_in_place(bucket, election, version, manifest, manifest_bytes, digest, test, previous,
                                 already, approval=approval, signer=signer, now=now, on_file=on_file)
    if bucket.remove_temporary(target):
        log.warning("removed temporary files of an interrupted publication election=%s version=%s", election, version)
    for seal in _SEALS:
        if not bucket.exists(f"{staged}/{seal}"):
            raise NotStaged(f"{election}/{version}: the staged version has no {seal}")
    # the staged bytes are checked before a single one is copied: a file changed after the approval
    # never becomes readable under public/ (nginx serves public/<election>/<version>/ by its URL)
    _verify_copy(bucket, staged, manifest)
    def copy(name: str) -> None:
        bucket.copy(f"{staged}/{name}", f"{target}/{name}", durable=False)
        if on_file:
            on_file(name)

    bucket.map(copy, names)
    bucket.sync()  # content durable before the manifest and, later, the pointer
    bucket.write_atomic(f"{target}/{MANIFEST}", manifest_bytes, cache_control=CACHE_IMMUTABLE)
    if on_file:
        on_file(MANIFEST)
    published_at = _iso(now)
    _write_approval(bucket, election, version, digest, published_at, approval, signer, already, on_file)
    try:
        _verify_copy(bucket, target, manifest)
        if _sha(bucket.read(f"{target}/{MANIFEST}")) != digest:
            raise IntegrityError(f"{bucket.url_of(target)}/manifest.json does not have the approved digest")
    except IntegrityError:
        if not already:  # a folder that was never published is taken down again
            for key in bucket.list(target):
                bucket.delete(key)
        raise

    return _finish(bucket, election, version, manifest, digest, published_at, test, previous, already, len(names) + 1)


def _write_approval(bucket: Bucket, election: str, version: str, digest: str, published_at: str, approval: dict,
                    signer, already: bool, on_file: Callable[[str], None] | None) -> None:
    """The signed record of the approval, ``approval.json`` (+ ``.asc``), beside the manifest."""
    if already and bucket.exists(f"{public_prefix(election, version)}/{APPROVAL}"):
        return
    target = public_prefix(election, version)
    record = {"schema": "enr-approval/1", "election": election, "version": version, "manifest_sha256": digest,
              "published_at": published_at, "approval": approval}
    record_bytes = canonical_json(record)
    bucket.write_atomic(f"{target}/{APPROVAL}", record_bytes, cache_control=CACHE_IMMUTABLE)
    if signer is not None:
        bucket.write_atomic(f"{target}/{APPROVAL_SIG}", signer.sign_bytes(record_bytes), cache_control=CACHE_IMMUTABLE)
    if on_file:
        on_file(APPROVAL)


def _publish_in_place(bucket: Bucket, election: str, version: str, manifest: dict, manifest_bytes: bytes, digest: str,
                      test: bool, previous: dict | None, already: bool, *, approval: dict, signer, now: datetime,
                      on_file: Callable[[str], None] | None) -> PublishResult:
    """Publication on an object store, where the version was staged at its final keys: nothing is
    copied. The objects are checked against the approved manifest from the listing (size and MD5
    of every file, the seals present, nothing else in the folder), the signed approval is written
    beside them, the bucket's read policy grants the folder (one write) and an anonymous read of
    the manifest must give the approved bytes; only then the pointer flips."""
    target = public_prefix(election, version)
    listing = _verify_in_place(bucket, target, manifest, required=_SEALS)
    if listing.get(f"{target}/{MANIFEST}") != (len(manifest_bytes), _md5(manifest_bytes)):
        raise IntegrityError(f"{bucket.url_of(target)}/manifest.json is not the approved manifest")
    published_at = _iso(now)
    _write_approval(bucket, election, version, digest, published_at, approval, signer, already, on_file)
    _grant(bucket, election, version, digest)
    return _finish(bucket, election, version, manifest, digest, published_at, test, previous, already,
                   len(manifest["files"]) + len(_SEALS) + 1)


def _finish(bucket: Bucket, election: str, version: str, manifest: dict, digest: str, published_at: str, test: bool,
            previous: dict | None, already: bool, files: int) -> PublishResult:
    """Flip the pointer to the checked version and say what was published."""
    target = public_prefix(election, version)
    changes_doc = bucket.read_or_none(f"{target}/changes.json")
    changes = json.loads(changes_doc.decode("utf-8")).get("changes", []) if changes_doc else []
    _flip(bucket, election, version, digest, published_at, test, previous, "publish", changes,
          synthetic=bool(manifest.get("synthetic")))
    log.info("published election=%s version=%s manifest_sha256=%s previous=%s files=%d test=%s", election, version,
             digest, previous.get("version") if previous else None, files, test)
    return PublishResult(election=election, version=version, manifest_sha256=digest, published_at=published_at,
                         files=files, previous_version=previous.get("version") if previous else None,
                         already_published=already)


def rollback(bucket: Bucket, election: str, version: str, *, now: datetime | None = None) -> dict:
    """Point ``current.json`` back to an earlier published ``version`` (checked against its manifest first)."""
    with publication_lock(bucket, election):
        return _rollback(bucket, election, version, now=now)


def _rollback(bucket: Bucket, election: str, version: str, *, now: datetime | None = None) -> dict:
    published = {e["version"]: e for e in _publications(bucket, election) if e["event"] == "publish"}
    if version not in published:
        raise NotPublished(f"{election}/{version} was never published; published: {', '.join(sorted(published, key=version_key)) or 'none'}")
    target = public_prefix(election, version)
    manifest_bytes = bucket.read_or_none(f"{target}/{MANIFEST}")
    if manifest_bytes is None or _sha(manifest_bytes) != published[version]["manifest_sha256"]:
        raise IntegrityError(f"{bucket.url_of(target)}: manifest missing or not the one published")
    manifest = read_manifest(manifest_bytes)
    if bucket.is_local:
        _verify_copy(bucket, target, manifest)
    else:
        _verify_in_place(bucket, target, manifest, required=_SEALS)
    previous = current(bucket, election)
    now = now or datetime.now(timezone.utc)
    check_clock(bucket, election, now)
    _grant(bucket, election, version, published[version]["manifest_sha256"])
    moment = _iso(now)
    pointer = _flip(bucket, election, version, published[version]["manifest_sha256"], moment,
                    bool(manifest.get("test")), previous, "rollback",
                    [{"country": "", "what": f"rollback from {previous.get('version') if previous else None}"}],
                    synthetic=bool(manifest.get("synthetic")))
    log.info("rolled back election=%s to version=%s from=%s", election, version,
             previous.get("version") if previous else None)
    return pointer


def replicate(bucket: Bucket, backup_bucket: Bucket, election: str, version: str) -> dict:
    """Copy a published version to the backup bucket and check every digest there.

    Only a version the primary's log records as published (with this manifest) is replicated: on
    an object store a staged version sits under ``public/`` too, unreadable until granted. On
    object stores the backup's objects are checked from its listing (size and MD5 against the
    manifest); what :func:`stage` already put there is not copied again, what is missing or differs
    is read from the primary (checked by SHA-256) and written. The backup's read policy then grants
    the version. If it is the primary's current version, the backup's pointer and index follow, so
    the backup can serve readers as it stands.
    """
    target = public_prefix(election, version)
    manifest_bytes = bucket.read_or_none(f"{target}/{MANIFEST}")
    if manifest_bytes is None:
        raise NotPublished(f"{bucket.url_of(target)}: no published manifest.json")
    published = {e["version"]: e["manifest_sha256"] for e in _publications(bucket, election) if e["event"] == "publish"}
    if published.get(version) != _sha(manifest_bytes):
        raise NotPublished(f"{election}/{version}: the primary's log {bucket.url_of(public_prefix(election))}/"
                           f"{PUBLICATIONS} does not record this manifest as published; nothing replicated")
    manifest = read_manifest(manifest_bytes)
    backup_area = area_purpose(backup_bucket)
    if backup_area["marked"] and backup_area["purpose"] != ("rehearsal" if manifest.get("test") else "election"):
        raise AreaMismatch(f"{election}/{version}: the backup {backup_bucket.url_of(AREA)} marks a "
                           f"{backup_area['purpose']} area; this version is {'TEST' if manifest.get('test') else 'REAL'}")
    if bucket.is_local and backup_bucket.is_local:
        names = [k[len(target) + 1:] for k in bucket.list(target)]
        names = [name for name in names if name != MANIFEST]
        _verify_copy(bucket, target, manifest)
        for name in names:
            bucket.copy(f"{target}/{name}", f"{target}/{name}", dst=backup_bucket, durable=False,
                        cache_control=CACHE_IMMUTABLE)
        copied = len(names)
    else:
        copied = _replicate_objects(bucket, backup_bucket, target, manifest)
    backup_bucket.sync()
    backup_bucket.write_atomic(f"{target}/{MANIFEST}", manifest_bytes, cache_control=CACHE_IMMUTABLE)
    if backup_bucket.is_local:
        _verify_copy(backup_bucket, target, manifest)
        if _sha(backup_bucket.read(f"{target}/{MANIFEST}")) != _sha(manifest_bytes):
            raise IntegrityError(f"{backup_bucket.url_of(target)}/manifest.json differs from the primary's")
    _grant(backup_bucket, election, version, _sha(manifest_bytes))  # on an object store: reads the manifest back
    pointer = current(bucket, election)
    followed = False
    if pointer and pointer["version"] == version:
        base = public_prefix(election)
        names = [f"{base}/{name}" for name in (PUBLICATIONS, ATOM, INDEX)]
        backup_bucket.write_many({key: data for key, data in zip(names, bucket.read_many(names)) if data is not None},
                                 cache_control=CACHE_POINTER)
        backup_bucket.write_atomic(f"{base}/{CURRENT}", canonical_json(pointer), cache_control=CACHE_POINTER)
        followed = True
    files = len(manifest["files"]) + len(_SEALS) + 1
    report = {"election": election, "version": version, "files": files, "copied": copied,
              "manifest_sha256": _sha(manifest_bytes), "backup": backup_bucket.url, "current_followed": followed,
              "ok": True}
    log.info("replicated election=%s version=%s files=%d copied=%d to=%s", election, version, files, copied,
             backup_bucket.url)
    return report


def _replicate_objects(bucket: Bucket, backup_bucket: Bucket, target: str, manifest: dict) -> int:
    """Bring the backup's ``target`` folder to the manifest's files plus the seals and the approval;
    how many objects were written. The backup's listing tells which files are already there with the
    manifest's size and MD5 (staged there by :func:`stage`) and that nothing else is (an object slipped
    in would become public with the version: refused); the others are read from the primary in bulk,
    each checked by SHA-256 against the manifest, and written (concurrent GETs and PUTs; a PUT that
    returned is stored, and the anonymous read of the manifest after the grant closes the check)."""
    entries = {entry["path"]: entry for entry in manifest["files"]}
    there = {}
    if not backup_bucket.is_local:
        there = {key[len(target) + 1:]: value for key, value in backup_bucket.objects(target).items()}
        extra = sorted(path for path in there if path not in entries and path not in _BESIDE_MANIFEST)
        if extra:
            raise IntegrityError(f"{backup_bucket.url_of(target)}: {len(extra)} object(s) that the manifest does not "
                                 f"list: {', '.join(extra[:10])}; a version folder holds its manifest's files only")
    missing = [path for path, entry in entries.items()
               if not (entry.get("md5") and there.get(path) == (entry["size"], entry["md5"]))]
    # the seals and the signed approval are small and always written (the approval only exists once published)
    missing += [name for name in (*_SEALS, APPROVAL, APPROVAL_SIG)]
    written = 0
    for start in range(0, len(missing), BULK_BATCH):
        chunk = missing[start:start + BULK_BATCH]
        keys = [f"{target}/{name}" for name in chunk]
        data = bucket.read_many(keys)
        _refuse_mismatch(bucket, target, [name for name, value in zip(chunk, data)
                                          if not _matches(entries.get(name), value)
                                          and not (name == APPROVAL_SIG and value is None)])
        present = {key: value for key, value in zip(keys, data) if value is not None}
        backup_bucket.write_many(present, cache_control=CACHE_IMMUTABLE)
        written += len(present)
    return written
