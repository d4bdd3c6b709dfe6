"""
### Election night: ingest, tally and stage

Each run takes the signed deliveries waiting in the export bucket's `inbox/`, one mapped task
per country (in sequence order inside a country): verify the GnuPG signature, parse strictly,
validate with the Great Expectations suites, and store the accepted counts — or quarantine the
delivery with a reason. A quarantined delivery fails its country's task (no retries) and changes
nothing downstream.

When anything new was accepted, `tally` recomputes every country's seats under its own law and
the EU seats by group, and `stage` renders the whole site (24 languages, feeds, widget) into
`staging/<election>/<version>/` with a signed manifest. The staged version is announced on the
`staged_results` asset, which starts `election_night_publish` (the human approval gate).

Runs one at a time (`max_active_runs=1`): deliveries of a country must be taken in order.
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Param, TriggerRule, dag, task

from plugins.enr_airflow.assets import STAGED_RESULTS
from plugins.enr_airflow.sensors import InboxSensor
from plugins.enr_airflow.tasks import signing_queue



@dag(
    dag_id="election_night_ingest",
    schedule="* * * * *",
    start_date=pendulum.datetime(2019, 5, 23, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["election-night"],
    default_args={"owner": "results-desk", "retries": 0},
    params={"election": Param("ep2019", type="string", pattern="^[a-z0-9_-]+$",
                              description="Election definition id (elections/<id>/)")},
)
def election_night_ingest():
    wait = InboxSensor(task_id="wait_for_deliveries", election="{{ params.election }}",
                       timeout=50, soft_fail=True)

    @task(map_index_template="{{ country }}", retries=0)
    def ingest(country: str, params=None) -> dict:
        from plugins.enr_airflow.tasks import ingest_country

        return ingest_country(params["election"], country)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def tally(params=None) -> dict:
        from plugins.enr_airflow.tasks import tally_election

        return tally_election(params["election"])

    @task(outlets=[STAGED_RESULTS], **signing_queue())  # signs the manifest: the signing key's worker only
    def stage(tallied: dict, params=None, outlet_events=None) -> dict:
        from plugins.enr_airflow.tasks import stage_version

        staged = stage_version(params["election"], tallied)
        outlet_events[STAGED_RESULTS].extra = {"election": staged["election"], "version": staged["version"]}
        return staged

    ingested = ingest.expand(country=wait.output)
    tallied = tally()
    ingested >> tallied
    stage(tallied)


election_night_ingest()
