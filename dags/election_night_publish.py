"""
### Election night: approve and publish a staged version

Started by the `staged_results` asset (or by hand with a `version`). It shows the reviewer the
staged version, its manifest digest and what changed, and waits for a human decision
(human-in-the-loop **ApprovalOperator**; reviewers answer in the UI's *Required actions* or
through the REST API `PATCH .../hitlDetails`). On approval, `publish` copies exactly the approved
bytes (checked against the approved manifest digest) to `public/<election>/<version>/`, then
flips `current.json`, replicates to the backup bucket and checks the digests there.

Only the Airflow users named in `ENR_REVIEWERS` (default `reviewer`) may answer.

A newer staged version supersedes an older pending one: the older one is never published after
the newer (its `publish` ends as *superseded*). Rejection skips `publish`. Nothing reaches the
public area before the election's embargo.
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param, dag, task

from plugins.enr_airflow.assets import PUBLISHED_RESULTS, STAGED_RESULTS
from plugins.enr_airflow.election import configured_election
from plugins.enr_airflow.tasks import approval_reviewers


APPROVAL_SUBJECT = (
    "Publish {{ ti.xcom_pull(task_ids='describe')['election'] }} results "
    "{{ ti.xcom_pull(task_ids='describe')['version'] }}?"
)
APPROVAL_BODY = "{{ ti.xcom_pull(task_ids='describe')['body'] }}"


@dag(
    dag_id="election_night_publish",
    schedule=[STAGED_RESULTS],
    start_date=pendulum.datetime(2019, 5, 23, tz="UTC"),
    catchup=False,
    max_active_runs=8,
    doc_md=__doc__,
    tags=["election-night"],
    default_args={"owner": "results-desk", "retries": 0},
    params={
        "election": Param(configured_election(), type="string", pattern="^[a-z0-9_-]+$",
                          description="Election id (an asset-triggered run takes the event's)"),
        "version": Param("latest", type="string", pattern="^(latest|v[0-9]{4,})$",
                         description="Staged version to review; 'latest' = newest pending"),
    },
)
def election_night_publish():
    @task
    def describe(params=None, dag_run=None, triggering_asset_events=None) -> dict:
        from plugins.enr_airflow.election import run_election
        from plugins.enr_airflow.tasks import describe_version

        return describe_version(run_election(dag_run), params["version"], triggering_asset_events)

    approve = ApprovalOperator(
        task_id="approve",
        subject=APPROVAL_SUBJECT,
        body=APPROVAL_BODY,
        response_timeout=timedelta(hours=6),
        defaults="Reject",
        assigned_users=approval_reviewers(),  # ENR_REVIEWERS; anyone else is refused (HTTP 403)
    )

    @task(retries=0, outlets=[PUBLISHED_RESULTS])
    def publish(described: dict, ti=None) -> dict:
        from plugins.enr_airflow.tasks import publish_version

        decision = ti.xcom_pull(task_ids="approve")
        return publish_version(described, decision)

    described = describe()
    described >> approve
    approve >> publish(described)


election_night_publish()
