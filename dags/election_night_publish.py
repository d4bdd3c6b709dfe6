"""
### Election night: approve and publish a staged version

Started by the `staged_results` asset (or by hand with a `version`). `describe` finds the staged
version; `publish` shows the reviewer that version, its manifest digest (from the results store)
and what changed, and waits for a human decision (human-in-the-loop approval; reviewers answer in
the UI's *Required actions* or through the REST API `PATCH .../taskInstances/publish/-1/hitlDetails`).
On an approval it copies exactly the approved bytes (checked against the digest the request
named) to `public/<election>/<version>/`, then flips `current.json`, replicates to the backup
bucket and checks the digests there.

The decision is the one Airflow recorded for this request: answered by a user named in
`ENR_REVIEWERS` (default `reviewer`), option *Approve*. Anything else publishes nothing: an
answer by anyone else (refused by the API server with HTTP 403, and again by the task), an XCom
written by hand, the task set to success by hand, an approval given to another version's request.

A newer staged version supersedes an older pending one: the older one is never published after
the newer (its `publish` ends as *skipped*, the version as *superseded*). Rejection skips
`publish`. Nothing reaches the public area before the election's embargo.

An export bucket that does not answer while an approved version is published fails that try with
a transient error; Airflow retries `publish` (`retry_policy()`), and the retry asks the reviewer
again (an answer belongs to the request of one try: Airflow's HITL record). Readers stay on the
previous version meanwhile: the pointer is flipped last.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from plugins.enr_airflow.approval import PublicationApproval
from plugins.enr_airflow.assets import PUBLISHED_RESULTS, STAGED_RESULTS
from plugins.enr_airflow.election import configured_election
from plugins.enr_airflow.tasks import approval_reviewers, retry_policy, signing_queue


@dag(
    dag_id="election_night_publish",
    schedule=[STAGED_RESULTS],
    start_date=pendulum.datetime(2019, 5, 23, tz="UTC"),
    catchup=False,
    max_active_runs=8,
    doc_md=__doc__,
    tags=["election-night"],
    default_args={"owner": "results-desk", **retry_policy()},
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

    publish = PublicationApproval(
        task_id="publish",
        describe_task_id="describe",
        assigned_users=approval_reviewers(),  # ENR_REVIEWERS; anyone else is refused (HTTP 403)
        outlets=[PUBLISHED_RESULTS],
        **signing_queue(),  # it publishes and signs: the signing key's worker only (ENR_SIGNING_QUEUE)
    )

    describe() >> publish


election_night_publish()
