"""Task bodies of the election-night DAGs: resolve settings, call one pipeline step, map errors.

Data errors (a refused delivery, a tie without a lot, an embargo) fail the task without retry
(``AirflowFailException``); "nothing to do" and "superseded" skip it (``AirflowSkipException``).
"""
from __future__ import annotations

import logging

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from plugins.enr_airflow.hooks import ResultsPublisherHook

log = logging.getLogger(__name__)


def _pipeline():
    ResultsPublisherHook().apply()
    from enr import pipeline

    return pipeline


def ingest_country(election: str, country: str) -> dict:
    from enr.errors import SetupRequired

    pipeline = _pipeline()
    try:
        summary = pipeline.ingest_country(election, country)
    except SetupRequired as exc:  # nothing to retry: the operator must prepare the home
        raise AirflowFailException(str(exc)) from exc
    if summary["quarantined"]:
        reasons = "; ".join(f"{q['file']}: {q['reason']}" for q in summary["quarantined"])
        raise AirflowFailException(f"{country}: {len(summary['quarantined'])} delivery(ies) quarantined: {reasons}")
    return summary


def tally_election(election: str) -> dict:
    pipeline = _pipeline()
    try:
        result = pipeline.tally(election)
    except pipeline.TallyRefused as exc:  # test and real data would mix: a data error, no retry
        raise AirflowFailException(str(exc)) from exc
    if result is None:
        raise AirflowSkipException("no newly accepted delivery since the last staged version")
    return result


def stage_version(election: str, tallied: dict) -> dict:
    pipeline = _pipeline()
    try:
        return pipeline.stage(election, tallied)
    except pipeline.TallyRefused as exc:
        raise AirflowFailException(str(exc)) from exc


def describe_version(election: str, version: str, triggering_asset_events=None) -> dict:
    """The staged version to review; an asset-triggered run reviews the event's election and version."""
    from plugins.enr_airflow.election import event_election

    pipeline = _pipeline()
    if version == "latest" and triggering_asset_events:
        event_id, event_version = event_election(triggering_asset_events)
        if event_version:
            election, version = event_id or election, event_version
    from airflow.configuration import conf

    try:
        return pipeline.describe_version(election, version, preview_base=conf.get("api", "base_url", fallback=None))
    except pipeline.NothingPending as exc:
        raise AirflowSkipException(str(exc)) from exc


def publish_version(described: dict, approval: dict) -> dict:
    """Publish ``described`` (election, version, manifest digest) on ``approval``, the answer checked by
    ``plugins.enr_airflow.approval.check_decision`` (chosen_options, responded_by, responded_at)."""
    pipeline = _pipeline()
    try:
        return pipeline.publish(described["election"], described["version"], described["manifest_sha256"], approval)
    except pipeline.Superseded as exc:
        raise AirflowSkipException(str(exc)) from exc
    except pipeline.PublicationRefused as exc:
        raise AirflowFailException(str(exc)) from exc


def signing_queue() -> dict:
    """``{"queue": ENR_SIGNING_QUEUE}`` for the tasks that use the publisher's signing key (stage,
    publish), so that under Celery only the worker listening on that queue (the one that mounts the
    key) runs them; ``{}`` when unset (the embedded LocalExecutor has no queues). Read when the DAG
    is parsed."""
    import os

    queue = os.environ.get("ENR_SIGNING_QUEUE", "").strip()
    return {"queue": queue} if queue else {}


def approval_reviewers() -> list[dict] | None:
    """The approval request's ``assigned_users`` (Airflow user ids of ``ENR_REVIEWERS``). None (an empty
    ``ENR_REVIEWERS``): the API server lets anyone allowed to answer approval requests answer, but the
    publish task then refuses every answer (``check_decision``): nobody is a reviewer."""
    from enr.settings import get_settings

    reviewers = get_settings().reviewers
    return [{"id": user, "name": user} for user in reviewers] or None


def record_rejection(election: str, version: str, event: dict) -> None:
    """Record a reviewer's Reject of ``version`` in the results store (state ``rejected``)."""
    user = event.get("responded_by_user") or {}
    responded_at = event.get("responded_at")
    _pipeline().record_rejection(election, version, by=user.get("name") or user.get("id"), detail={
        "chosen_options": list(event.get("chosen_options") or []), "responded_by": user,
        "responded_at": responded_at.isoformat() if hasattr(responded_at, "isoformat") else str(responded_at)})
