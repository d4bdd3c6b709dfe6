"""The publication gate: one task asks a named reviewer, and only their Approve of this digest publishes.

Why one task. A task reads nothing but what Airflow itself hands it back: an XCom can be written
by any user allowed to edit XComs through the REST API, and a task instance can be set to
*success* by hand, so a separate ``publish`` task reading an ``approve`` task's XCom would publish
on a forged decision. Here the task that writes the human-in-the-loop request is the task that
publishes, and it publishes only from the resume event Airflow builds from its own HITL record
(``HITLDetail.as_resume_event_payload``: who answered, which option, when), stored in the task
instance's ``next_kwargs``, which no REST endpoint writes. The election, version and manifest
digest named in the request's body travel in the same ``next_kwargs``: an answer approves exactly
the digest the reviewer was shown, never the one of another version. Setting the task to success
by hand runs nothing; clearing it writes a new request and drops the old answer (Airflow's upsert).

Rules (:func:`check_decision`), each refused with its own reason:

- an answer must exist (no timeout default, no answer written by a task: ``responded_by_user``);
- the responder's Airflow user name (or id) must be in ``ENR_REVIEWERS`` (read when the answer is checked,
  on top of the request's ``assigned_users``, which the API server enforces with HTTP 403);
- the one chosen option must be ``Approve``; ``Reject`` skips the task and publishes nothing.

Why a re-check. Airflow 3.3.2 parks an ``ApprovalOperator`` in ``awaiting_input``; the API server
wakes a parked task when the answer comes, and the park itself resumes at once when the answer is
already recorded. On PostgreSQL both take the task instance's row lock; on SQLite nothing
serialises them, and an answer written while the task is parking is recorded but wakes nothing:
the stock operator would then wait its 6 h and default to Reject. This gate parks for at most
``recheck`` at a time (60 s; ``ENR_APPROVAL_RECHECK_SECONDS`` at run time), with no default
answer: the scheduler's timeout sweep resumes it with the recorded answer if there is one, else
with a timeout, on which it parks again (and the park resumes at once if an answer came
meanwhile) until ``response_timeout`` has passed, when it publishes nothing. An answer is
therefore never lost: at worst it is seen one ``recheck`` (plus one sweep interval) later.
(``airflow dags test`` has no timeout sweep; there the re-check does not run.)
"""
from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskAwaitingInput
from airflow.sdk.timezone import utcnow

log = logging.getLogger(__name__)

APPROVE = "Approve"
REJECT = "Reject"
DEFAULT_TIMEOUT = timedelta(hours=6)


class ApprovalRefused(Exception):
    """The recorded answer does not allow publication; the message names the rule."""


def check_decision(event: dict, reviewers: tuple[str, ...], version: str) -> dict:
    """The approval to publish ``version`` from Airflow's resume ``event``, or ``ApprovalRefused``.

    Returns ``{"chosen_options", "responded_by", "responded_at"}`` (the publication's record).
    Raises :class:`AirflowSkipException` for an explicit ``Reject`` by a reviewer.
    """
    if "error" in event:
        raise ApprovalRefused(f"{version}: no answer ({event.get('error_type')}: {event.get('error')})")
    user = event.get("responded_by_user") or None
    if not user or not user.get("id"):
        raise ApprovalRefused(f"{version}: the answer {event.get('chosen_options')} was not given by a user "
                              f"(timeout default or written by a task); nothing is published")
    # a reviewer is named by Airflow user name (the FAB auth manager's ids are row numbers) or id
    if user["id"] not in reviewers and (user.get("name") or "") not in reviewers:
        raise ApprovalRefused(f"{version}: answered by {user.get('name') or user['id']!r}, who is not in "
                              f"ENR_REVIEWERS ({', '.join(reviewers) or 'empty'})")
    chosen = list(event.get("chosen_options") or [])
    if chosen == [REJECT]:
        raise AirflowSkipException(f"{version}: rejected by reviewer {user['id']}")
    if chosen != [APPROVE]:
        raise ApprovalRefused(f"{version}: the answer {chosen} is not [{APPROVE!r}]")
    responded_at = event.get("responded_at")
    return {"chosen_options": chosen, "responded_by": {"id": user["id"], "name": user.get("name") or user["id"]},
            "responded_at": responded_at.isoformat() if hasattr(responded_at, "isoformat") else str(responded_at)}


class PublicationApproval(ApprovalOperator):
    """Ask ``ENR_REVIEWERS`` to approve the staged version ``describe`` found, then publish it.

    The request names the version and its manifest digest as recorded in the results store (not as
    an upstream XCom says); the answer is checked by :func:`check_decision` and the version
    published by ``plugins.enr_airflow.tasks.publish_version``.
    """

    def __init__(self, *, describe_task_id: str = "describe", recheck: timedelta = timedelta(seconds=60),
                 **kwargs: Any) -> None:
        kwargs.setdefault("subject", "Publish a staged version?")
        kwargs.setdefault("response_timeout", DEFAULT_TIMEOUT)
        kwargs["defaults"] = None  # no answer is ever written for the reviewer: a timeout publishes nothing
        super().__init__(**kwargs)
        self.describe_task_id = describe_task_id
        self.recheck = recheck

    def execute(self, context):
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        from plugins.enr_airflow.tasks import describe_version

        described = context["ti"].xcom_pull(task_ids=self.describe_task_id) or {}
        if not described.get("version"):
            raise AirflowSkipException("nothing was described for approval")
        # the store's record of this version, not the upstream XCom's copy of it
        truth = describe_version(described["election"], described["version"])
        self.subject = f"Publish {truth['election']} results {truth['version']}?"
        self.body = truth["body"]
        ti_id = context["task_instance"].id
        upsert_hitl_detail(ti_id=ti_id, options=self.options, subject=self.subject, body=self.body,
                           defaults=self.defaults, multiple=self.multiple, params=self.serialized_params,
                           assigned_users=self.assigned_users)
        deadline = utcnow() + self.response_timeout
        log.info("approval of %s %s (manifest %s) requested", truth["election"], truth["version"],
                 truth["manifest_sha256"])
        self._park({"election": truth["election"], "version": truth["version"],
                    "manifest_sha256": truth["manifest_sha256"], "deadline": deadline.isoformat()})

    def _park(self, asked: dict) -> None:
        """Wait for the answer for at most ``recheck`` (the park resumes at once on a recorded answer)."""
        from datetime import datetime

        remaining = datetime.fromisoformat(asked["deadline"]) - utcnow()
        recheck = timedelta(seconds=float(os.environ.get("ENR_APPROVAL_RECHECK_SECONDS") or 0)) or self.recheck
        raise TaskAwaitingInput(method_name="execute_complete", kwargs=asked,
                                timeout=max(min(recheck, remaining), timedelta(seconds=1)))

    def execute_complete(self, context, event: dict[str, Any], election: str = "", version: str = "",
                         manifest_sha256: str = "", deadline: str = "", **_: Any):
        from enr.settings import get_settings

        from plugins.enr_airflow.tasks import publish_version

        if not (election and version and manifest_sha256):
            raise AirflowFailException("the approval was resumed without the version it asked about; "
                                       "nothing is published")
        if event.get("error_type") == "timeout" and deadline:
            from datetime import datetime

            if utcnow() < datetime.fromisoformat(deadline):
                self._park({"election": election, "version": version, "manifest_sha256": manifest_sha256,
                            "deadline": deadline})
            raise AirflowSkipException(f"{election} {version}: no answer before the approval deadline {deadline}; "
                                       f"nothing is published")
        try:
            approval = check_decision(event, get_settings().reviewers, version)
        except AirflowSkipException:  # a named reviewer's Reject: the store says so too
            from plugins.enr_airflow.tasks import record_rejection

            record_rejection(election, version, event)
            raise
        except ApprovalRefused as exc:
            raise AirflowFailException(f"publication refused: {exc}") from exc
        log.info("%s %s approved by %s at %s", election, version, approval["responded_by"]["id"],
                 approval["responded_at"])
        published = publish_version({"election": election, "version": version, "manifest_sha256": manifest_sha256},
                                    approval)
        outlet_events = context.get("outlet_events")
        for asset in (self.outlets if outlet_events is not None else ()):  # notify_media announces this version
            outlet_events[asset].extra = {"election": election, "version": version, "kind": "publish"}
        return published

