"""Task bodies of the election-night DAGs: resolve settings, call one pipeline step, map errors.

Two kinds of failure, two answers (:func:`infrastructure_errors`):

- **transient infrastructure** (the results store's database unreachable or restarted: SQLAlchemy
  ``OperationalError``/``InterfaceError``; an object store refusing connections, timing out or
  answering 5xx/``SlowDown``; a connection reset) raise :class:`TransientInfrastructureError`, which
  Airflow retries (the DAGs' ``retries``/``retry_delay``/``retry_exponential_backoff``). A retry
  is safe: the store writes one delivery per transaction and accepts a delivery digest once;
  staging and publication rewrite the same immutable keys and flip the pointer last.
- **data errors** (a refused delivery, a tie without a lot, an embargo) fail the task without retry
  (``AirflowFailException``), and so does anything unrecognised, by :func:`retry_policy` (a bug or
  a full disk does not go away by retrying); "nothing to do" and "superseded" skip the task
  (``AirflowSkipException``).
"""
from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Iterator

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from plugins.enr_airflow.hooks import ResultsPublisherHook

log = logging.getLogger(__name__)


class TransientInfrastructureError(AirflowException):
    """A database or object store did not answer; Airflow retries the task (its ``retries``)."""


_TRANSIENT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT,
                     errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPIPE}
_TRANSIENT_S3_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def transient_reason(exc: BaseException) -> str | None:
    """Why ``exc`` (or an exception it was raised from) is a transient infrastructure error, else None.

    Disk full (ENOSPC), permission and not-found errors are not transient: retrying them changes nothing.
    """
    for cause in _causes(exc):
        module = type(cause).__module__ or ""
        name = type(cause).__name__
        if module.startswith("sqlalchemy") and name in ("OperationalError", "InterfaceError", "DisconnectionError"):
            return f"the results store's database: {name}"
        if module.startswith("sqlalchemy") and getattr(cause, "connection_invalidated", False):
            return "the results store's database: connection invalidated"
        if module.startswith("psycopg2") and name in ("OperationalError", "InterfaceError"):
            return f"the results store's database: {name}"
        if module.startswith(("botocore", "aiobotocore")):
            response = getattr(cause, "response", None) or {}
            status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
            code = str((response.get("Error") or {}).get("Code") or "")
            if name in ("EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError",
                        "ConnectTimeoutError", "ConnectionError", "HTTPClientError", "ProxyConnectionError"):
                return f"the object store: {name}"
            if status >= 500 or code in _TRANSIENT_S3_CODES:
                return f"the object store answered {status or code}"
        if module.startswith("aiohttp") and ("Connect" in name or name == "ServerDisconnectedError"):
            return f"the object store: {name}"
        if isinstance(cause, (ConnectionError, TimeoutError)):
            return f"{name}: {cause}"
        if isinstance(cause, OSError) and cause.errno in _TRANSIENT_ERRNOS:
            return f"{name}: {cause}"
    return None


@contextlib.contextmanager
def infrastructure_errors(step: str) -> Iterator[None]:
    """Run a pipeline step; a transient infrastructure error becomes :class:`TransientInfrastructureError`.

    Everything else passes unchanged: the tasks' :func:`retry_policy` fails it without retry."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - classified here, once; re-raised unchanged unless transient
        reason = transient_reason(exc)
        if reason is None:
            raise
        log.warning("%s: transient infrastructure error (%s); Airflow retries the task: %s", step, reason, exc)
        raise TransientInfrastructureError(f"{step}: {reason}: {type(exc).__name__}: {exc}") from exc


def retry_policy() -> dict:
    """The retry settings of every election-night task (its ``default_args``).

    Only :class:`TransientInfrastructureError` is retried (``ExceptionRetryPolicy``; anything else
    fails at once), up to ``retries`` times, after ``retry_delay`` doubled at each try
    (``retry_exponential_backoff``) up to ``max_retry_delay``. ``ENR_TASK_RETRIES`` (default 4) and
    ``ENR_TASK_RETRY_DELAY_SECONDS`` (default 15) set them when the DAG is parsed: 15, 30, 60, 120 s
    ride out a database restart or an object store's failover.
    """
    import os
    from datetime import timedelta

    from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule

    delay = float(os.environ.get("ENR_TASK_RETRY_DELAY_SECONDS") or 15)
    return {
        "retries": int(os.environ.get("ENR_TASK_RETRIES") or 4),
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=max(delay, 300)),
        "retry_policy": ExceptionRetryPolicy(
            rules=[RetryRule(exception=f"{__name__}.TransientInfrastructureError", action=RetryAction.RETRY,
                             reason="transient infrastructure error (database or object store)")],
            default=RetryAction.FAIL),
    }


def _pipeline():
    ResultsPublisherHook().apply()
    from enr import pipeline

    return pipeline


def ingest_country(election: str, country: str) -> dict:
    from enr.errors import SetupRequired

    pipeline = _pipeline()
    try:
        with infrastructure_errors(f"ingest {election} {country}"):
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
        with infrastructure_errors(f"tally {election}"):
            result = pipeline.tally(election)
    except pipeline.TallyRefused as exc:  # test and real data would mix: a data error, no retry
        raise AirflowFailException(str(exc)) from exc
    if result is None:
        raise AirflowSkipException("no newly accepted delivery since the last staged version")
    return result


def stage_version(election: str, tallied: dict) -> dict:
    pipeline = _pipeline()
    try:
        with infrastructure_errors(f"stage {election} {tallied.get('version')}"):
            return pipeline.stage(election, tallied)
    except (pipeline.TallyRefused, pipeline.StagingFull) as exc:  # no retry: the operator frees space first
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
        with infrastructure_errors(f"publish {described['election']} {described['version']}"):
            return pipeline.publish(described["election"], described["version"], described["manifest_sha256"],
                                    approval)
    except pipeline.Superseded as exc:
        raise AirflowSkipException(str(exc)) from exc
    except pipeline.PublicationRefused as exc:
        raise AirflowFailException(str(exc)) from exc


def catch_up_backups(election: str) -> dict:
    """Copy again to the backup bucket every published version whose copy failed or never finished
    (``pipeline.retry_backups``); ``{version: "ok"|"failed"}``. Skipped when none is behind.

    Runs in every ingest run (every minute), so a backup bucket that comes back is caught up
    within a minute even when no further version is published. A copy that fails again stays
    ``backup_failed`` (shown by ``enr status``) and is tried in the next run."""
    pipeline = _pipeline()
    with infrastructure_errors(f"backup catch-up {election}"):
        caught = pipeline.retry_backups(election)
    if not caught:
        raise AirflowSkipException("every published version is on the backup bucket")
    behind = sorted(v for v, outcome in caught.items() if outcome != "ok")
    if behind:
        log.warning("backup of %s still failing for %s; the next run tries again", election, ", ".join(behind))
    return caught


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
