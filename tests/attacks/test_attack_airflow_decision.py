"""The publication gate's rule on the answer Airflow recorded, attempt by attempt (no Airflow running).

``check_decision`` is what stands between an answer and a publication; each test is an answer
that must not publish (or, for the controls, must), with the reason the gate gives. The gate's
resume path is exercised too: a re-check before the deadline parks again, after it publishes
nothing, and a resume that lost the version it asked about refuses.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

REVIEWERS = ("anna", "reviewer")
AT = datetime(2019, 5, 26, 21, 0, tzinfo=timezone.utc)


def _event(user, chosen=("Approve",), **extra) -> dict:
    return {"chosen_options": list(chosen), "params_input": {}, "responded_at": AT, "responded_by_user": user,
            "timedout": False, **extra}


def _check(event):
    from plugins.enr_airflow.approval import check_decision

    return check_decision(event, REVIEWERS, "v0002")


def test_named_reviewer_approving_is_accepted():
    approval = _check(_event({"id": "anna", "name": "anna"}))
    assert approval == {"chosen_options": ["Approve"], "responded_by": {"id": "anna", "name": "anna"},
                        "responded_at": AT.isoformat()}


def test_fab_user_is_matched_by_user_name_not_row_id():
    assert _check(_event({"id": "7", "name": "anna"}))["responded_by"]["name"] == "anna"


@pytest.mark.parametrize("user, reason", [
    ({"id": "admin", "name": "admin"}, "not in ENR_REVIEWERS"),
    ({"id": "operator", "name": "operator"}, "not in ENR_REVIEWERS"),
    ({"id": "7", "name": "mallory"}, "not in ENR_REVIEWERS"),
    (None, "not given by a user"),  # the timeout default, or an answer written by a task
    ({"id": "", "name": "reviewer"}, "not given by a user"),
], ids=["admin", "operator", "fab-user-not-named", "no-responder", "empty-id"])
def test_answer_by_anyone_but_a_named_reviewer_is_refused(user, reason):
    from plugins.enr_airflow.approval import ApprovalRefused

    with pytest.raises(ApprovalRefused, match=reason):
        _check(_event(user))


@pytest.mark.parametrize("chosen", [("Approve", "Reject"), ("Publish",), ()], ids=["both", "unknown", "none"])
def test_anything_but_one_approve_is_refused(chosen):
    from plugins.enr_airflow.approval import ApprovalRefused

    with pytest.raises(ApprovalRefused, match="is not"):
        _check(_event({"id": "anna", "name": "anna"}, chosen))


def test_reject_by_a_reviewer_skips():
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="rejected by reviewer anna"):
        _check(_event({"id": "anna", "name": "anna"}, ("Reject",)))


def test_timeout_event_is_no_answer():
    from plugins.enr_airflow.approval import ApprovalRefused

    with pytest.raises(ApprovalRefused, match="no answer"):
        _check({"error": "timed out", "error_type": "timeout"})


def test_empty_reviewer_list_refuses_everyone():
    from plugins.enr_airflow.approval import ApprovalRefused, check_decision

    with pytest.raises(ApprovalRefused, match="empty"):
        check_decision(_event({"id": "anna", "name": "anna"}), (), "v0002")


# -- the resume path -------------------------------------------------------------------------------

def _gate():
    from plugins.enr_airflow.approval import PublicationApproval

    return PublicationApproval(task_id="publish", assigned_users=[{"id": "anna", "name": "anna"}])


def test_recheck_before_the_deadline_parks_again(monkeypatch):
    from airflow.sdk.exceptions import TaskAwaitingInput

    monkeypatch.setenv("ENR_APPROVAL_RECHECK_SECONDS", "5")
    deadline = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    asked = {"election": "ep2019", "version": "v0002", "manifest_sha256": "ab" * 32, "deadline": deadline}
    with pytest.raises(TaskAwaitingInput) as parked:
        _gate().execute_complete({}, {"error": "timeout", "error_type": "timeout"}, **asked)
    assert parked.value.kwargs == asked and parked.value.method_name == "execute_complete"
    assert parked.value.timeout == timedelta(seconds=5)


def test_no_answer_by_the_deadline_publishes_nothing(monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    monkeypatch.setenv("ENR_REVIEWERS", "anna")
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    with pytest.raises(AirflowSkipException, match="no answer before the approval deadline"):
        _gate().execute_complete({}, {"error": "timeout", "error_type": "timeout"}, election="ep2019",
                                 version="v0002", manifest_sha256="ab" * 32, deadline=past)


def test_resume_without_the_asked_version_refuses(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("ENR_REVIEWERS", "anna")
    with pytest.raises(AirflowFailException, match="without the version it asked about"):
        _gate().execute_complete({}, _event({"id": "anna", "name": "anna"}))


def test_non_reviewer_answer_fails_the_gate_before_publishing(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    import plugins.enr_airflow.tasks as tasks

    published = []
    monkeypatch.setattr(tasks, "publish_version", lambda *a: published.append(a))
    monkeypatch.setenv("ENR_REVIEWERS", "anna")
    with pytest.raises(AirflowFailException, match="publication refused: .*'operator', who is not in ENR_REVIEWERS"):
        _gate().execute_complete({}, _event({"id": "operator", "name": "operator"}), election="ep2019",
                                 version="v0002", manifest_sha256="ab" * 32,
                                 deadline=(datetime.now(timezone.utc) + timedelta(hours=1)).isoformat())
    assert published == []
