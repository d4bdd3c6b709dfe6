"""Task bodies of the ``notify_media`` DAG: plan the fan-out, deliver a batch, ping the hub, sum up.

A batch whose subscribers did not all acknowledge raises (``AirflowException``) so that Airflow
retries the mapped task with exponential backoff (:data:`RETRY`); each retry re-sends only to the
subscribers of the batch that have not acknowledged (:func:`enr.media.deliver`). A publication
that cannot be found (nothing published yet) fails without retry.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from plugins.enr_airflow.hooks import ResultsPublisherHook

log = logging.getLogger(__name__)

# Failed subscribers of a batch are retried for about an hour: 7 retries, the n-th between
# 30 s x 2^(n-1) and twice that, each capped at 15 minutes (Airflow's exponential backoff),
# i.e. the last retry 45 to 60 minutes after the first attempt.
RETRY = {"retries": 7, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": 2.0,
         "max_retry_delay": timedelta(minutes=15)}


def _media():
    ResultsPublisherHook().apply()
    from enr import media

    return media


def event_publication(triggering_asset_events) -> dict:
    """(election, version, kind) named by the newest triggering ``published_results`` event, if any
    (a rollback announced through the REST API names them; the publish task's event may not)."""
    found: dict = {}
    for events in (triggering_asset_events or {}).values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if extra.get("version"):
                found = {k: extra.get(k) for k in ("election", "version", "kind") if extra.get(k)}
    return found


def plan(election: str, version: str, kind: str, triggering_asset_events=None) -> dict:
    from enr.media.notification import NoPublication

    media = _media()
    named = event_publication(triggering_asset_events)
    election = named.get("election") or election
    version = named.get("version") or (None if version == "latest" else version)
    kind = named.get("kind") or (None if kind == "any" else kind)
    try:
        planned = media.plan_notifications(election, version, kind)
    except NoPublication as exc:
        raise AirflowFailException(str(exc)) from exc
    return {"publication": planned["publication"], "batches": planned["batches"],
            "counts": {k: v for k, v in planned.items() if k not in ("publication", "batches")}}


def deliver_batch(publication: dict, subscriber_ids: list[str]) -> dict:
    summary = _media().deliver(publication, subscriber_ids)
    failed = {sid: err for sid, err in summary["failed"].items() if sid not in summary["disabled"]}
    if failed:
        listed = "; ".join(f"{sid}: {err}" for sid, err in sorted(failed.items())[:10])
        raise AirflowException(f"{len(failed)} subscriber(s) of this batch did not acknowledge (retried with "
                               f"backoff): {listed}")
    return summary


def ping_hub(publication: dict) -> dict:
    result = _media().ping_hub(publication["election"])
    if result is None:
        raise AirflowSkipException("no WebSub hub configured (ENR_WEBSUB_HUB)")
    return result


def summary(publication: dict) -> dict:
    return _media().notification_summary(publication)
