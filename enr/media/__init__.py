"""Push to the media: every publication announced by signed webhooks and a WebSub ping.

Parts: :mod:`~enr.media.signature` (Standard Webhooks signing and verification),
:mod:`~enr.media.subscribers` (subscribers as append-only data in the results store),
:mod:`~enr.media.notification` (what a webhook says, its deterministic id),
:mod:`~enr.media.delivery` (plan the batches, deliver one batch concurrently),
:mod:`~enr.media.websub` (hub ping). The functions below are what the ``notify_media`` DAG's
tasks (``plugins/enr_airflow/media.py``), the ``enr subscribers`` command and ``enr status`` call:
each resolves the settings at call time and returns a small JSON-able summary. No Airflow here.

Layer: enr operations (docs/ARCHITECTURE.md): may import the parts (publish) and enr core.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _store():
    from enr.settings import get_settings
    from enr.store import Store

    return Store(get_settings().store_url)


def registry():
    from enr.media.subscribers import SubscriberRegistry

    return SubscriberRegistry(_store())


def plan_notifications(election: str, version: str | None = None, kind: str | None = None) -> dict:
    """Batches of subscribers to notify of ``election``'s latest publication (or of ``version``/``kind``)."""
    from enr.media.delivery import plan
    from enr.media.settings import export_bucket, get_media_settings

    settings = get_media_settings()
    store = _store()
    try:
        return plan(store, export_bucket(), election, version=version, kind=kind, batch_size=settings.batch_size)
    finally:
        store.close()


def deliver(publication: dict, subscriber_ids: list[str]) -> dict:
    """Deliver one planned batch (only to those that have not acknowledged it yet)."""
    from enr.media.delivery import deliver_batch
    from enr.media.settings import get_media_settings

    settings = get_media_settings()
    store = _store()
    try:
        return deliver_batch(store, publication, subscriber_ids, base_url=settings.public_base_url,
                             timeout=settings.timeout, disable_after=settings.disable_after)
    finally:
        store.close()


def ping_hub(election: str) -> dict | None:
    """Ping the configured WebSub hub (``ENR_WEBSUB_HUB``) for ``election``'s Atom feed; None if no hub."""
    from enr.media.settings import get_media_settings
    from enr.media.websub import ping, topic_url

    settings = get_media_settings()
    if not settings.websub_hub:
        return None
    return ping(settings.websub_hub, topic_url(settings.public_base_url, election), settings.timeout)


def send_test(subscriber_id: str) -> dict:
    """``enr subscribers test ID``: one signed ``enr.test`` message now (recorded as an attempt of
    version ``test``; it counts for the failure streak as any attempt does)."""
    import json
    import secrets
    import time
    from datetime import datetime, timezone

    from enr.media import signature
    from enr.media.delivery import post
    from enr.media.settings import get_media_settings
    from enr.media.subscribers import Attempt

    settings = get_media_settings()
    reg = registry()
    subscriber = reg.get(subscriber_id)
    msg_id = f"msg_test_{secrets.token_hex(12)}"
    body = json.dumps({"type": "enr.test", "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "data": {"subscriber": subscriber.id}}, sort_keys=True, separators=(",", ":")).encode()
    start = time.monotonic()
    at = datetime.now(timezone.utc)
    ok, status, error = post(subscriber.url, body, signature.headers(subscriber.secret, msg_id, body),
                             settings.timeout)
    attempt = Attempt(subscriber_id=subscriber.id, webhook_id=msg_id, ok=ok, status_code=status, error=error,
                      elapsed_ms=int((time.monotonic() - start) * 1000), at=at)
    reg.record([attempt], election="-", version="test", kind="test", disable_after=settings.disable_after)
    return {"id": subscriber.id, "url": subscriber.url, "webhook_id": msg_id, "ok": ok, "status": status,
            "error": error, "elapsed_ms": attempt.elapsed_ms}


def subscriber_trouble() -> dict:
    """For ``enr status``: how many subscribers, and those disabled or failing (never a secret)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    reg = registry()
    try:
        everyone = reg.all()
    except (OperationalError, ProgrammingError):  # a store migrated before revision 0003
        return {"total": 0, "active": 0, "disabled": [], "failing": []}
    finally:
        reg.store.close()
    return {"total": len(everyone), "active": sum(1 for s in everyone if s.active),
            "disabled": [{"id": s.id, "url": s.url, "reason": s.disabled_reason} for s in everyone if not s.active],
            "failing": [{"id": s.id, "url": s.url, "failures": s.consecutive_failures, "last_error": s.last_error}
                        for s in everyone if s.active and s.consecutive_failures]}


def notification_summary(publication: dict) -> dict:
    """What the subscribers concerned by ``publication`` acknowledged, from the attempts log."""
    from enr.media.notification import webhook_id

    reg = registry()
    everyone = reg.all()
    concerned = [s for s in everyone if s.wants(publication["countries"])]
    ids = {s.id: webhook_id(s.id, publication["election"], publication["version"], publication["kind"])
           for s in concerned}
    acknowledged = reg.acknowledged(ids.values())
    missing = sorted(sid for sid, msg in ids.items() if msg not in acknowledged)
    out = {"election": publication["election"], "version": publication["version"], "kind": publication["kind"],
           "concerned": len(concerned), "acknowledged": len(concerned) - len(missing), "not_acknowledged": missing,
           "disabled": sorted(s.id for s in everyone if not s.active)}
    log.info("notify %s %s (%s): %d of %d concerned subscribers acknowledged; %d disabled", out["election"],
             out["version"], out["kind"], out["acknowledged"], out["concerned"], len(out["disabled"]))
    return out
