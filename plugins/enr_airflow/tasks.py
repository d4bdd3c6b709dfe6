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
    result = pipeline.tally(election)
    if result is None:
        raise AirflowSkipException("no newly accepted delivery since the last staged version")
    return result


def stage_version(election: str, tallied: dict) -> dict:
    return _pipeline().stage(election, tallied)


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


def publish_version(described: dict, decision: dict | None) -> dict:
    pipeline = _pipeline()
    approval = {
        "chosen_options": (decision or {}).get("chosen_options"),
        "responded_by": (decision or {}).get("responded_by_user"),
        "responded_at": str((decision or {}).get("responded_at") or ""),
    }
    try:
        return pipeline.publish(described["election"], described["version"], described["manifest_sha256"], approval)
    except pipeline.Superseded as exc:
        raise AirflowSkipException(str(exc)) from exc
    except pipeline.PublicationRefused as exc:
        raise AirflowFailException(str(exc)) from exc


def approval_reviewers() -> list[dict] | None:
    """The approval request's ``assigned_users`` (Airflow user ids of ``ENR_REVIEWERS``); None: anyone
    allowed to answer approval requests may answer (an empty ``ENR_REVIEWERS``)."""
    from enr.settings import get_settings

    reviewers = get_settings().reviewers
    return [{"id": user, "name": user} for user in reviewers] or None
