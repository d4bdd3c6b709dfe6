"""The steps of the election night, one function per DAG task, without Airflow.

Each function resolves the settings, calls the parts (intake, store, seat engine, renderer,
signing, bucket) and returns a small JSON-able summary (ids, paths, digests — never data).
The DAG tasks in ``plugins/enr_airflow/tasks.py``, the ``enr`` command and the tests call them.
The operator's own commands (setup, status, lots, rollback, verify) are in :mod:`enr.operator`;
the demo's throwaway keys and its drop into the inbox in :mod:`enr.demo`.

Versions move through append-only events in the results store:
``tallied -> pending_approval -> (approved -> published) | rejected | superseded | refused``; a
published version can later be ``rolled_back`` from (another becomes current). A published
version's copy to the backup bucket is a track of its own (``backup_pending -> backup_ok |
backup_failed``, retried by :func:`retry_backups`): backup trouble never makes a live version look
refused. A tally refused because test and real data would mix is an audit event
(``tally_refused``) that ``enr status`` shows.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from enr.definition import load_election
from enr.settings import get_settings
from enr.versions import version_key

log = logging.getLogger(__name__)


class NothingPending(LookupError):
    """No staged version waits for approval."""


class Superseded(RuntimeError):
    """A newer version was staged or published: this one must never be published."""


class StagingFull(RuntimeError):
    """No space left where the version is rendered or staged: nothing was staged (the partial copy
    is removed, the version recorded ``refused`` with the reason). Free space, then run ``stage``
    again (clear the failed Airflow task): the version is staged as if nothing happened."""


class PublicationRefused(RuntimeError):
    """Publication is not allowed (embargo, digest mismatch, unresolved tie, rejected)."""


class TallyRefused(RuntimeError):
    """The tally (or staging) is refused: test and real data would mix in one version."""


# -- plumbing --------------------------------------------------------------------------------------

def open_store():
    from enr.store import Store

    store = Store(get_settings().store_url)
    return store


def export_bucket():
    from publish.bucket import Bucket

    return Bucket(get_settings().bucket_url)


def backup_bucket():
    from publish.bucket import Bucket

    return Bucket(get_settings().backup_bucket_url)


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- ingest ----------------------------------------------------------------------------------------

def pending_countries(election: str, *, largest_first: bool = False) -> list[str]:
    from enr.intake import pending_countries as _pending

    return _pending(get_settings(), election, largest_first=largest_first)


def require_store_schema() -> None:
    """The results store must be migrated (``enr init``) before a night: say so, not ``no such table``."""
    from enr.errors import SetupRequired

    store = open_store()
    try:
        revision = store.schema_revision()
    finally:
        store.close()
    if revision is None:
        raise SetupRequired(f"the results store {store!r} has no schema: run `enr init` (or start Airflow with "
                            f"`enr airflow`, which migrates it)")


def ingest_country(election: str, country: str) -> dict:
    from enr.intake import process_inbox

    require_store_schema()

    results = process_inbox(get_settings(), election, countries=[country])
    summary = {"country": country, "accepted": [], "duplicates": [], "quarantined": [], "warnings": []}
    for result in results:
        item = {"file": result.file_name, "sequence": result.sequence, "sha256": result.sha256}
        if result.outcome == "accepted":
            summary["accepted"].append(item)
        elif result.outcome == "duplicate":
            summary["duplicates"].append(item)
        else:
            summary["quarantined"].append({**item, "reason": result.reason_text})
        summary["warnings"].extend(result.warnings)
    log.info("ingest %s %s: %d accepted, %d duplicate, %d quarantined", election, country,
             len(summary["accepted"]), len(summary["duplicates"]), len(summary["quarantined"]))
    return summary


# -- tally -----------------------------------------------------------------------------------------

def _counts(store, election: str) -> dict:
    from enr.tally import CountryCounts

    counts = {}
    for country, latest in store.latest_results(election).items():
        counts[country] = CountryCounts(
            country=country, status=latest.status, sequence=latest.sequence, sha256=latest.sha256,
            as_of=latest.issued_at, votes=latest.votes, totals=latest.totals,
            units_reporting=latest.units_reporting, units_total=latest.units_total,
            declared_seats=latest.declared_seats,
            corrections=store.corrections(election, country), test=latest.test)
    return counts


def _state_key(counts: dict, lots: dict) -> str:
    state = sorted((c.country, c.sequence, c.sha256) for c in counts.values())
    return hashlib.sha256(json.dumps([state, lots], sort_keys=True, default=str).encode()).hexdigest()


def tally(election: str, *, force: bool = False) -> dict | None:
    """Tally every country from the latest accepted counts; None when nothing changed."""
    from enr.tally import CountryCache, MixedTestAndReal, build_bundle, definition_digest, is_test_version
    from historical_loader.context import election_context
    from historical_loader.errors import HistoryValidationError
    from historical_loader.previous import previous_results

    definition = load_election(election)
    store = open_store()
    counts = _counts(store, election)
    if not counts:
        return None
    lots = store.lots(election)
    key = _state_key(counts, lots)
    versions = store.versions(election)
    if versions and versions[-1]["state_key"] == key and not force:
        return None
    try:
        is_test_version(counts, election)
    except MixedTestAndReal as exc:
        _record_tally_refusal(store, election, key, str(exc))
        raise TallyRefused(str(exc)) from exc
    version = store.next_version(election)
    previous_bundle = None
    # the countries whose accepted delivery (and the definition) did not change keep their results
    cache = CountryCache(definition_digest(definition))
    if versions:
        raw = export_bucket().read(versions[-1]["bundle_path"])
        previous_bundle = json.loads(raw)
        if versions[-1].get("bundle_sha256") == hashlib.sha256(raw).hexdigest():
            cache.load(export_bucket().read_or_none(_country_cache_key(versions[-1]["bundle_path"])), previous_bundle)
        else:
            log.warning("tally %s: %s is not the bundle the store recorded; every country is allocated again",
                        election, versions[-1]["bundle_path"])
    previous = None
    if definition.previous.get("source"):
        previous = previous_results(definition.resolve(definition.previous["source"]),
                                    int(definition.election_date[:4]))
    try:
        context = election_context(definition.previous, definition.resolve,
                                   election_year=int(definition.election_date[:4]), groups=definition.group_ids())
    except HistoryValidationError as exc:  # the night goes on without the comparisons; the reason is logged
        log.error("%s: comparisons left out: %s", election, exc)
        context = None
    bundle = build_bundle(definition, counts, version=version, generated_at=_now(), lots=lots,
                          previous=previous, previous_bundle=previous_bundle, context=context, cache=cache)
    bundle_path = f"tally/{election}/{version}/bundle.json"
    payload = json.dumps(bundle, ensure_ascii=False, sort_keys=True, indent=1).encode()
    export_bucket().write(_country_cache_key(bundle_path), cache.dump())
    export_bucket().write(bundle_path, payload)
    store.add_version(election, version, bundle_path=bundle_path, state_key=key,
                      bundle_sha256=hashlib.sha256(payload).hexdigest(), test=bundle["test"])
    log.info("tally %s %s: %d countries (%d carried from the previous version), %d seats allocated, "
             "%d unresolved ties", election, version, len(counts), len(cache.carried), bundle["eu"]["seats_allocated"],
             bundle["unresolved_ties"])
    return {"election": election, "version": version, "bundle_path": bundle_path,
            "seats_allocated": bundle["eu"]["seats_allocated"], "unresolved_ties": bundle["unresolved_ties"]}


def _country_cache_key(bundle_path: str) -> str:
    """Beside a version's bundle: its per-country tally results (:class:`enr.tally.CountryCache`)."""
    return bundle_path.rsplit("/", 1)[0] + "/countries.json"


def _record_tally_refusal(store, election: str, key: str, reason: str) -> None:
    """One ``tally_refused`` audit event per refused state of the store (not one per ingest run)."""
    last = store.audit(election, event_name="tally_refused")
    if last and (last[-1].get("detail") or {}).get("state_key") == key:
        return
    store.audit_event("tally_refused", election=election, detail={"state_key": key, "reason": reason})
    log.error("tally %s refused: %s", election, reason)


# -- stage -----------------------------------------------------------------------------------------

def _history(election: str) -> dict | None:
    """History for the site's history pages, when the history tables were loaded (backfill DAG)."""
    from sqlalchemy import create_engine, inspect

    from historical_loader.site import history_for_site

    url = get_settings().store_url
    engine = create_engine(url)
    try:
        loaded = inspect(engine).has_table("hist_elections")
    finally:
        engine.dispose()
    if not loaded:
        log.warning("%s: history tables not loaded (run the historical_backfill DAG): no history pages", election)
        return None
    history = history_for_site(url)
    return history if history.get("countries") else None


def signer():
    """The publisher's signing key (only the stage/publish worker mounts it; its passphrase, if any,
    from ``ENR_SIGNING_PASSPHRASE_FILE``, read at each signature)."""
    import os

    from publish.signing import Signer

    return Signer(get_settings().signing_home, passphrase_file=os.environ.get("ENR_SIGNING_PASSPHRASE_FILE"))


def _render_index_key(election: str, version: str) -> str:
    return f"tally/{election}/{version}/render-index.json"


def _reuse(bucket, store, election: str, version: str):
    """The newest earlier staged version to copy unchanged pages from, or None.

    On an object store (:func:`publish.release.reuse_in_store`) the pages stay in the store: they are
    copied server-side from the earlier version's staged prefix at staging."""
    from publish.release import reuse_in_store, staged_manifest, staged_prefix
    from publish.site import Reuse

    earlier = sorted((v for v in store.versions(election)
                      if version_key(v["version"]) < version_key(version) and v.get("manifest_sha256")),
                     key=lambda v: version_key(v["version"]))
    for info in reversed(earlier):
        index = bucket.read_or_none(_render_index_key(election, info["version"]))
        if not bucket.is_local:
            reuse = index and reuse_in_store(bucket, election, info["version"], info["manifest_sha256"],
                                             json.loads(index))
            if reuse:
                return reuse
            continue
        manifest = index and staged_manifest(bucket, election, info["version"], info["manifest_sha256"])
        if manifest:
            files = json.loads(manifest)["files"]
            return Reuse(folder=bucket.local_path(staged_prefix(bucket, election, info["version"])),
                         fingerprints=json.loads(index), digests={e["path"]: e["sha256"] for e in files},
                         entries={e["path"]: e for e in files})
    return None


def stage(election: str, tallied: dict, *, incremental: bool = True) -> dict:
    """Render the site for a tallied version into staging/, sign its manifest.

    Incremental by default: the pages whose inputs did not change since the previous staged
    version are copied from it (see :func:`publish.site.render_site`), checked against its manifest
    on the way, and keep their manifest entries; the manifest is signed anew, and the stage reads
    every staged file back against it. ``incremental=False`` renders everything.
    """
    from publish.build import build_version
    from publish.release import MixedVersion, bundle_test_flag
    from publish.release import stage as stage_release
    from publish.release import staged_prefix

    version = tallied["version"]
    bucket = export_bucket()
    store = open_store()
    bundle = json.loads(bucket.read(tallied["bundle_path"]))
    try:
        if bundle_test_flag(bundle, f"{election}/{version}") != bool(bundle.get("test")):
            raise MixedVersion(f"{election}/{version}: the bundle's test flag disagrees with its countries'")
    except MixedVersion as exc:
        store.add_version_event(election, version, "refused", detail={"reason": str(exc)})
        raise TallyRefused(str(exc)) from exc
    reuse = _reuse(bucket, store, election, version) if incremental else None
    fingerprints: dict = {}
    try:
        with tempfile.TemporaryDirectory(prefix="enr-render-") as tmp, signer() as publisher:
            out = Path(tmp) / version
            _, digest = build_version(bundle, out, publisher, history=_history(election), reuse=reuse,
                                      fingerprints=fingerprints, public_base_url=get_settings().public_base_url)
            # on object stores the backup is staged at the same time: replication then has nothing to copy
            copies = {name: f"{reuse.source}/{name}" for name in reuse.copied} if reuse and reuse.remote else None
            manifest_sha256 = stage_release(bucket, election, version, out,
                                            backup=None if bucket.is_local else backup_bucket(), copies=copies,
                                            checked=reuse.checked if reuse and not reuse.remote else None)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        _refuse_full_staging(bucket, store, election, version, exc)
    bucket.write(_render_index_key(election, version),
                 json.dumps(fingerprints, sort_keys=True, separators=(",", ":")).encode())
    if manifest_sha256 != digest:
        raise PublicationRefused(f"{election} {version}: staged manifest {manifest_sha256} is not the built {digest}")
    store.add_version_event(election, version, "pending_approval", detail={"manifest_sha256": manifest_sha256})
    for older in store.pending_versions(election):
        if version_key(older["version"]) < version_key(version):
            store.add_version_event(election, older["version"], "superseded", detail={"by": version})
    log.info("stage %s %s: manifest %s", election, version, manifest_sha256)
    return {"election": election, "version": version, "manifest_sha256": manifest_sha256,
            "staging_path": f"{staged_prefix(bucket, election, version)}/"}


def _refuse_full_staging(bucket, store, election: str, version: str, exc: OSError) -> None:
    """Remove what a stage that ran out of space left where it stages (no manifest was written:
    nothing there could be approved) and record the refusal; raise :class:`StagingFull`."""
    from publish.release import staged_prefix

    prefix = staged_prefix(bucket, election, version)
    removed = bucket.remove_temporary(prefix)
    for key in bucket.list(prefix):
        bucket.delete(key)
        removed += 1
    reason = (f"{election} {version}: no space left on the staging area ({exc.filename or bucket.url_of(prefix)}: "
              f"{exc.strerror}); nothing was staged ({removed} partial file(s) removed). Free space, then run "
              f"stage again (Airflow: clear the failed `stage` task)")
    store.add_version_event(election, version, "refused", detail={"reason": reason})
    log.error("%s", reason)
    raise StagingFull(reason) from exc


def describe_version(election: str, version: str, *, preview_base: str | None = None) -> dict:
    """What the reviewer is shown before deciding: version, digest, TEST or REAL, the embargo, the link to
    the pre-publication site (``preview_base``: the Airflow API server's base URL), what changed."""
    from enr import preview

    store = open_store()
    if version == "latest":
        pending = store.pending_versions(election)
        if not pending:
            raise NothingPending(f"{election}: no version waits for approval")
        version = pending[-1]["version"]
    info = store.version(election, version)
    if info is None:
        raise NothingPending(f"{election}: no staged version {version}")
    bundle = json.loads(export_bucket().read(info["bundle_path"]))
    changes = bundle.get("changes", [])
    facts = preview.review(election, version, now=_now())
    url = f"{preview_base.rstrip('/')}{preview.PREFIX}/{election}/{version}/" if preview_base else None
    lines = [
        f"**Version** `{version}` of `{election}` — manifest SHA-256 `{info['manifest_sha256']}`",
        *preview.summary_lines(facts, url),
        f"EU seats allocated: {bundle['eu']['seats_allocated']} of {bundle['eu']['seats_total']}; "
        f"countries reporting: {bundle['eu']['countries_reporting']}",
        f"Unresolved ties: {bundle['unresolved_ties']}",
        "**What changed**",
    ]
    items = [f"- {c['country']}: {c['what']}" + (f" {c.get('list_id', '')} {c.get('before')} → {c.get('after')}"
                                                 if "before" in c else "") for c in changes[:40]]
    if len(changes) > 40:
        items.append(f"- … and {len(changes) - 40} more")
    # Markdown: one paragraph per fact, then the list of changes
    body = "\n\n".join(lines) + "\n\n" + "\n".join(items)
    return {"election": election, "version": version, "manifest_sha256": info["manifest_sha256"],
            "body": body, "changes": len(changes), "preview_url": url, "test": facts["test"],
            "embargo_passed": facts["embargo"].passed}


# -- publish ---------------------------------------------------------------------------------------

def _trusted_now(store, election: str) -> datetime:
    """The clock, refused when it is behind the last version event the store recorded (a clock set
    back cannot be trusted for the embargo; :class:`PublicationRefused`)."""
    now = _now()
    stamps = [e["at"] for e in store.version_events(election) if e.get("at")]
    last = max((datetime.fromisoformat(a) for a in stamps), default=None)
    if last is not None and now < last:
        raise PublicationRefused(f"{election}: the clock says {now.isoformat(timespec='seconds')}, before the last "
                                 f"event recorded in the results store ({last.isoformat(timespec='seconds')}); the "
                                 f"clock moved back and cannot be trusted for the embargo: nothing published")
    return now


def publish(election: str, version: str, manifest_sha256: str, approval: dict) -> dict:
    """Publish exactly the approved bytes, then copy them to the backup bucket and check them there.

    Once ``current.json`` flipped the version is ``published``, whatever happens to the backup: a
    failed copy is a ``backup_failed`` event (retried by :func:`retry_backups`, shown by ``enr
    status``), and the result says ``"backup": "failed"`` instead of raising.
    """
    from publish.release import PublishError, publish_version

    store = open_store()
    status = store.version_status(election, version)
    newer = [v for v in store.versions(election) if version_key(v["version"]) > version_key(version)
             and v["status"] in ("pending_approval", "approved", "published")]
    if status == "superseded" or newer:
        by = newer[-1]["version"] if newer else "a newer version"
        store.add_version_event(election, version, "superseded", detail={"by": by})
        raise Superseded(f"{election} {version} was superseded by {by}; it will not be published")
    if (approval.get("chosen_options") or [None])[0] != "Approve":
        store.add_version_event(election, version, "rejected", detail=approval)
        raise PublicationRefused(f"{election} {version} was not approved")
    definition = load_election(election)
    try:
        now = _trusted_now(store, election)
    except PublicationRefused as exc:
        store.add_version_event(election, version, "refused", detail={"reason": str(exc)})
        raise
    responder = approval.get("responded_by") or {}
    store.add_version_event(election, version, "approved", by=responder.get("name") or responder.get("id"),
                            detail=approval)
    try:
        with signer() as publisher:
            result = publish_version(export_bucket(), election, version, manifest_sha256,
                                     embargo=definition.embargo, now=now, signer=publisher,
                                     approval={"approved_by": responder.get("name") or responder.get("id"),
                                               "approved_at": approval.get("responded_at"), **approval})
    except PublishError as exc:
        store.add_version_event(election, version, "refused", detail={"reason": str(exc)})
        raise PublicationRefused(str(exc)) from exc
    store.add_version_event(election, version, "published", detail={"manifest_sha256": manifest_sha256,
                                                                    "published_at": result.published_at})
    backup = _backup(store, election, version)
    if backup == "ok":  # the backup answers again: earlier versions whose copy failed are retried now
        retry_backups(election)
    log.info("publish %s %s: manifest %s, backup %s", election, version, manifest_sha256, backup)
    return {"election": election, "version": version, "manifest_sha256": manifest_sha256,
            "public_path": f"public/{election}/{version}/", "files": result.files,
            "published_at": result.published_at, "backup": backup}


def _backup(store, election: str, version: str) -> str:
    """Copy a published version to the backup bucket and check it: ``"ok"`` or ``"failed"`` (recorded)."""
    from publish.release import replicate

    store.add_version_event(election, version, "backup_pending")
    try:
        replicated = replicate(export_bucket(), backup_bucket(), election, version)
    except Exception as exc:  # noqa: BLE001 - any failure of the backup copy is recorded and retried later
        store.add_version_event(election, version, "backup_failed", detail={"reason": f"{type(exc).__name__}: {exc}"})
        log.error("backup of %s %s failed (the version is live; retry_backups will try again): %s",
                  election, version, exc)
        return "failed"
    store.add_version_event(election, version, "backup_ok", detail=replicated)
    return "ok"


def retry_backups(election: str) -> dict:
    """Copy again every published version whose backup is pending or failed; ``{version: "ok"|"failed"}``.

    Runs after each publication whose own backup succeeded; an operator can run it at any time
    (``enr replicate --election ep2019``)."""
    store = open_store()
    todo = [v["version"] for v in store.versions(election)
            if v["status"] in ("published", "made_current") and v.get("backup") in ("backup_pending", "backup_failed")]
    return {version: _backup(store, election, version) for version in todo}


def record_rejection(election: str, version: str, by: str, detail: dict) -> None:
    """A reviewer rejected ``version``: its state becomes ``rejected`` (never published afterwards)."""
    store = open_store()
    try:
        if store.version_status(election, version) == "pending_approval":
            store.add_version_event(election, version, "rejected", by=by, detail=detail)
    finally:
        store.close()
