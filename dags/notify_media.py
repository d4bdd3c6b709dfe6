"""
### Push every publication to the media: signed webhooks and a WebSub ping

Started by the `published_results` asset (a publication, or a rollback announced by
`enr rollback`), or by hand with an `election` (and optionally a `version` and `kind`).
`plan` reads the publication from the public area's log and lists the subscribers it concerns
(kept in the results store, `enr subscribers add|list|disable|test`), in batches; `deliver_batch`
is mapped over the batches and sends each batch concurrently with Standard Webhooks signatures
(`webhook-id`, `webhook-timestamp`, `webhook-signature`), a short timeout per subscriber, so one
slow or dead newsroom never delays the others. A batch with subscribers that did not acknowledge
fails and is retried by Airflow with exponential backoff for about an hour; a retry re-sends only
to those. Every attempt is logged; the same publication keeps the same `webhook-id` per
subscriber, so a re-run sends nothing twice; a subscriber failing `ENR_WEBHOOK_DISABLE_AFTER`
times in a row (10) is disabled (`enr status` lists it). `ping_hub` tells the WebSub hub
(`ENR_WEBSUB_HUB`) that the Atom feed changed. docs/MEDIA.md is the newsroom's side.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from plugins.enr_airflow.assets import PUBLISHED_RESULTS
from plugins.enr_airflow.election import configured_election
from plugins.enr_airflow.media import RETRY


@dag(
    dag_id="notify_media",
    schedule=[PUBLISHED_RESULTS],
    start_date=pendulum.datetime(2019, 5, 23, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["election-night", "media"],
    default_args={"owner": "results-desk", "retries": 0},
    params={
        "election": Param(configured_election(), type="string", pattern="^[a-z0-9_-]+$",
                          description="Election id (an asset-triggered run takes the event's, if it names one)"),
        "version": Param("latest", type="string", pattern="^(latest|v[0-9]{4,})$",
                         description="Published version to announce; 'latest' = the newest publication"),
        "kind": Param("any", type="string", enum=["any", "publish", "rollback"],
                      description="Announce a publication or a rollback; 'any' = the newest of either"),
    },
)
def notify_media():
    @task
    def plan(params=None, dag_run=None, triggering_asset_events=None) -> dict:
        from plugins.enr_airflow.election import run_election
        from plugins.enr_airflow.media import plan as plan_fan_out

        return plan_fan_out(run_election(dag_run), params["version"], params["kind"], triggering_asset_events)

    @task
    def batches(planned: dict) -> list[list[str]]:
        return planned["batches"]

    @task(**RETRY)
    def deliver_batch(planned: dict, subscriber_ids: list[str]) -> dict:
        from plugins.enr_airflow.media import deliver_batch as deliver

        return deliver(planned["publication"], subscriber_ids)

    @task
    def ping_hub(planned: dict) -> dict:
        from plugins.enr_airflow.media import ping_hub as ping

        return ping(planned["publication"])

    @task(trigger_rule="all_done")
    def summary(planned: dict) -> dict:
        from plugins.enr_airflow.media import summary as sum_up

        return sum_up(planned["publication"])

    planned = plan()
    delivered = deliver_batch.partial(planned=planned).expand(subscriber_ids=batches(planned))
    ping_hub(planned)
    delivered >> summary(planned)


notify_media()
