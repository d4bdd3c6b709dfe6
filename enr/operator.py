"""The operator's commands beside the night's steps: set up, watch, settle, undo, check.

:mod:`enr.pipeline` holds the steps the DAGs run (one function per task); this module holds what
the person on duty runs through the ``enr`` command (the operator of the night, not an Airflow
operator): migrating the stores and declaring the public areas (``enr init``), loading the history,
``enr status``, recording a drawn lot, rolling back to an earlier version, and verifying a
published version against its signed manifest. Each function resolves the settings and opens
the store and buckets as the steps do (:func:`enr.pipeline.open_store`,
:func:`enr.pipeline.export_bucket`); what it returns is JSON-able (``enr status --json`` prints it).
"""
from __future__ import annotations

import json
import logging
import tempfile
from datetime import datetime
from pathlib import Path

from enr.pipeline import backup_bucket, export_bucket, open_store
from enr.settings import get_settings

log = logging.getLogger(__name__)


# -- setup -----------------------------------------------------------------------------------------

def migrate_store() -> dict:
    """Migrate the results store (and its history tables) as the owner role.

    ``ENR_STORE_OWNER_URL`` (PostgreSQL in production) runs the migrations, then the user of
    ``ENR_STORE_URL`` is granted SELECT and INSERT only (:mod:`enr.store.roles`). Without it, the
    migrations run as ``ENR_STORE_URL`` (the embedded SQLite default has no roles).
    """
    import os

    from sqlalchemy.engine import make_url

    from enr.store import Store
    from enr.store.roles import grant_application_role
    from historical_loader.backfill import migrate_store as migrate_history

    owner_url = os.environ.get("ENR_STORE_OWNER_URL", "").strip()
    if not owner_url:
        open_store().migrate()
        return {"owner": None, "app_role": None}
    app_role = make_url(get_settings().store_url).username
    owner = Store(owner_url)
    try:
        owner.migrate()
        migrate_history(owner_url)
        with owner.engine.begin() as connection:
            granted = grant_application_role(connection, app_role)
    finally:
        owner.close()
    return {"owner": make_url(owner_url).username, "app_role": app_role, "tables": granted["tables"]}


def mark_public_areas(purpose: str) -> dict:
    """Declare the export and backup buckets an ``election`` or a ``rehearsal`` area (``AREA.json``);
    publication refuses an undeclared area. ``enr init`` does this; the demo and the tests too."""
    from publish.release import mark_area

    return {"export": mark_area(export_bucket(), purpose), "backup": mark_area(backup_bucket(), purpose)}


def load_history(run_id: str = "enr") -> dict:
    """Load EP results 1979-2019 into the store (what the historical_backfill DAG does run by run),
    then render the history pages into the render cache (:func:`warm_history_pages`)."""
    from historical_loader.backfill import load_all, migrate_store

    migrate_store()
    result = load_all(run_id=run_id)
    warm_history_pages()
    return result


def warm_history_pages(election: str | None = None) -> dict | None:
    """Render the history pages of ``election`` (default ``ENR_ELECTION``) in its languages into
    the render cache (:mod:`publish.render_cache`), so that the night's renders take them instead
    of rendering them. Never raises: a failure is logged and the stage renders the pages itself."""
    try:
        from enr.definition import load_election
        from enr.pipeline import _history
        from publish.render_cache import warm_history

        election = election or get_settings().election
        history = _history(election)
        if history is None:
            return None
        warmed = warm_history(history, list(load_election(election).languages))
        log.info("history pages of %s in the render cache: entry %s, %d pages (%s)", election, warmed["key"][:12],
                 warmed["pages"], "rendered" if warmed["rendered"] else "already there")
        return warmed
    except Exception:  # noqa: BLE001 -- the load succeeded; the stage renders the pages without the cache
        log.exception("history pages not rendered into the render cache; the stage will render them")
        return None


# -- decisions -------------------------------------------------------------------------------------

def rollback(election: str, version: str, by: str) -> dict:
    from publish.release import rollback as rollback_release

    store = open_store()
    rollback_release(export_bucket(), election, version)
    rollback_release(backup_bucket(), election, version)
    store.add_version_event(election, version, "made_current", by=by, detail={"rollback": True})
    return {"version": version}


def record_lot(election: str, country: str, tie: str, winner: str, by: str) -> None:
    """Record the lot drawn for a tie of the newest tallied version (the tie and the winner must be in it)."""
    from enr.errors import UsageError

    store = open_store()
    versions = store.versions(election)
    bundle = json.loads(export_bucket().read(versions[-1]["bundle_path"])) if versions else {}
    ties = [t for c in bundle.get("countries", []) if c["code"] == country for t in c.get("ties", [])]
    found = next((t for t in ties if t.get("key") == tie), None)
    if found is None:
        open_ties = ", ".join(t.get("key", "?") for t in ties if not t.get("resolved")) or "none"
        raise UsageError(f"{election} {country}: no tie {tie!r} in the newest version "
                         f"{versions[-1]['version'] if versions else '(none)'} (open ties: {open_ties})")
    lists = found["lists"] if isinstance(found["lists"], list) else str(found["lists"]).split(",")
    if winner not in lists:
        raise UsageError(f"{election} {country} tie {tie}: the winner must be one of {', '.join(lists)}")
    store.record_lot(election, country, tie, winner, by=by, constituency=found.get("constituency"),
                     seat=found.get("seat"), lists=lists)


# -- reading ---------------------------------------------------------------------------------------

def status(election: str) -> dict:
    store = open_store()
    versions = store.versions(election)
    deliveries = store.deliveries(election)
    current = None
    try:
        pointer = json.loads(export_bucket().read(f"public/{election}/current.json"))
        info = store.version(election, pointer["version"])
        bundle = json.loads(export_bucket().read(info["bundle_path"])) if info else {}
        current = {**pointer, "groups": bundle.get("eu", {}).get("groups", []),
                   "seats_allocated": bundle.get("eu", {}).get("seats_allocated"),
                   "seats_total": bundle.get("eu", {}).get("seats_total")}
    except FileNotFoundError:
        pass
    refusals = store.audit(election, event_name="tally_refused")
    last_version_at = versions[-1]["created_at"] if versions else None
    tally_refused = None
    if refusals and (last_version_at is None or datetime.fromisoformat(refusals[-1]["at"])
                     > datetime.fromisoformat(last_version_at)):
        tally_refused = refusals[-1]["detail"]["reason"]
    return {
        "election": election,
        "versions": versions,
        "tally_refused": tally_refused,
        "backup_trouble": [v["version"] for v in versions if v.get("backup") in ("backup_pending", "backup_failed")],
        "latest_version": versions[-1]["version"] if versions else None,
        "pending": [v["version"] for v in versions if v["status"] == "pending_approval"],
        "current": current,
        "accepted_total": sum(1 for d in deliveries if d["outcome"] == "accepted"),
        "quarantined_total": sum(1 for d in deliveries if d["outcome"] == "quarantined"),
        "duplicates_total": sum(1 for d in deliveries if d["outcome"] == "duplicate"),
        "deliveries": deliveries,
        "corrections": store.corrections(election),
        "media": _media_trouble(),
    }


def _media_trouble() -> dict:
    from enr.media import subscriber_trouble

    return subscriber_trouble()


def format_status(status: dict) -> str:
    lines = [f"election {status['election']}"]
    current = status.get("current")
    lines.append(f"current public version: {current['version'] if current else '(none)'}")
    lines.append(f"pending approval: {', '.join(status['pending']) or '(none)'}")
    if status.get("tally_refused"):
        lines.append(f"TALLY REFUSED: {status['tally_refused']}")
    lines.append("versions:")
    for v in status["versions"]:
        backup = v.get("backup")
        why = ((v.get("backup_detail") or {}).get("reason") or "") if backup == "backup_failed" else ""
        lines.append(f"  {v['version']}  {v['status']:<17} manifest {(v.get('manifest_sha256') or '')[:16]}"
                     + (f"  {backup.upper().replace('_', ' ')}" if backup and backup != "backup_ok" else "")
                     + (f": {why}" if why else ""))
    lines.append(f"deliveries: {status['accepted_total']} accepted, {status['duplicates_total']} duplicate, "
                 f"{status['quarantined_total']} quarantined")
    for d in status["deliveries"]:
        if d["outcome"] == "quarantined":
            lines.append(f"  QUARANTINED {d['file_name']}: {d.get('reason_text', '')}")
    if status["corrections"]:
        lines.append(f"corrections: {len(status['corrections'])}")
        for c in status["corrections"][:20]:
            where = " ".join(str(x) for x in (c.get("unit_id"), c.get("list_id")) if x) or "national"
            lines.append(f"  CORRECTION {c.get('country')} seq {c.get('sequence')} (corrects {c.get('corrects')}): "
                         f"{where} {c.get('field')} {c.get('before')} -> {c.get('after')}"
                         + (f" ({c['reason']})" if c.get("reason") else ""))
        if len(status["corrections"]) > 20:
            lines.append(f"  ... and {len(status['corrections']) - 20} more")
    media = status.get("media") or {}
    if media.get("total"):
        lines.append(f"media subscribers: {media['active']} active of {media['total']}")
        lines += [f"  SUBSCRIBER DISABLED {d['id']} ({d['url']}): {d['reason']}" for d in media["disabled"]]
        lines += [f"  SUBSCRIBER FAILING {f['id']} ({f['url']}): {f['failures']} failure(s) in a row, last: "
                  f"{f['last_error']}" for f in media["failing"]]
    return "\n".join(lines)


def verify_path(path, keyring: str | None = None, fingerprints: list[str] | None = None) -> dict:
    """Verify a version folder: a local path, a bucket URL, or a :class:`publish.bucket.Bucket`.

    ``fingerprints`` pin the publisher's primary key (obtained out of band): a valid signature by
    any other key is refused. Pinned and without ``keyring``, the folder's own
    ``publisher-key.asc`` is imported into a scratch keyring (the pin is what makes that safe).
    """
    from publish.bucket import Bucket
    from publish.manifest import PUBLIC_KEY
    from publish.signing import import_public_key
    from publish.verify import verify_version

    with tempfile.TemporaryDirectory(prefix="enrv", dir="/tmp") as scratch:
        if keyring:
            keyring_home = Path(keyring)
        elif fingerprints:
            keyring_home = Path(scratch) / "k"
            source = path if isinstance(path, Bucket) else Bucket(path)
            key = source.read_or_none(PUBLIC_KEY)
            if key is not None:
                import_public_key(keyring_home, key)
        else:
            keyring_home = get_settings().signing_home
        report = verify_version(path, keyring_home, fingerprints or None)
    return {"ok": report.ok, "text": report.summary(), "path": str(getattr(path, "url", path)),
            "files": report.files_checked, "signer": report.signer_fingerprint}


def verify_current(election: str) -> dict:
    """Verify the current public version in the export bucket and its copy in the backup bucket."""
    pointer = json.loads(export_bucket().read(f"public/{election}/current.json"))
    folder = f"public/{election}/{pointer['version']}"
    report = verify_path(export_bucket().sub(folder))
    backup = verify_path(backup_bucket().sub(folder))
    local = export_bucket().local_root
    return {**report, "ok": report["ok"] and backup["ok"], "backup_ok": backup["ok"],
            "path": str(local / folder) if local is not None else report["path"], "backup_path": backup["path"]}
