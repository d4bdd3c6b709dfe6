"""
### Election night: ingest, tally and stage

Each run takes the signed deliveries waiting in the export bucket's `inbox/`, one mapped task
per country (in sequence order inside a country): verify the GnuPG signature, parse strictly,
validate with the Great Expectations suites, and store the accepted counts — or quarantine the
delivery with a reason. A quarantined delivery fails its country's task (no retries) and changes
nothing downstream. A transient infrastructure error (the store's database restarted, an object
store unreachable) is retried by Airflow (`retry_policy()`: retries with exponential backoff, for
that error only); the store takes each delivery in one transaction and each digest once, so a
retried country never accepts a delivery twice. `backups` copies again, in every run, the
published versions whose copy to the backup bucket failed (the backup bucket was down).

When anything new was accepted, `tally` recomputes every country's seats under its own law and
the EU seats by group, and `stage` renders the whole site (24 languages, feeds, widget) into
`staging/<election>/<version>/` with a signed manifest. The staged version is announced on the
`staged_results` asset, which starts `election_night_publish` (the human approval gate).

Runs one at a time (`max_active_runs=1`): deliveries of a country must be taken in order.

**Which election**: the run's conf `{"election": ...}`, else the Airflow Variable `enr_election`,
else `ENR_ELECTION` — read when the run starts (task `election`), so changing the Variable
switches the next scheduled run without redeploying. A run takes only its own election's files
from the inbox and writes only its own store rows and `staging/<election>/` (see docs/NEW_ELECTION.md).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Param, TriggerRule, dag, task

from plugins.enr_airflow.assets import STAGED_RESULTS
from plugins.enr_airflow.election import configured_election
from plugins.enr_airflow.sensors import InboxSensor
from plugins.enr_airflow.tasks import retry_policy, signing_queue


@dag(
    dag_id="election_night_ingest",
    schedule="* * * * *",
    start_date=pendulum.datetime(2019, 5, 23, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["election-night"],
    default_args={"owner": "results-desk", **retry_policy()},
    params={"election": Param(configured_election(), type="string", pattern="^[a-z0-9_-]+$",
                              description="Election definition id (elections/<id>/); a scheduled run reads "
                                          "the Variable enr_election (else ENR_ELECTION) when it starts")},
)
def election_night_ingest():
    @task(retries=0)
    def election(dag_run=None) -> str:
        from plugins.enr_airflow.election import run_election

        return run_election(dag_run)

    chosen = election()
    wait = InboxSensor(task_id="wait_for_deliveries", election=chosen, timeout=50, soft_fail=True)

    @task(map_index_template="{{ country }}")
    def ingest(country: str, election_id: str) -> dict:
        from plugins.enr_airflow.tasks import ingest_country

        return ingest_country(election_id, country)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def tally(election_id: str) -> dict:
        from plugins.enr_airflow.tasks import tally_election

        return tally_election(election_id)

    @task(outlets=[STAGED_RESULTS], **signing_queue())  # signs the manifest: the signing key's worker only
    def stage(tallied: dict, election_id: str, outlet_events=None) -> dict:
        from plugins.enr_airflow.tasks import stage_version

        staged = stage_version(election_id, tallied)
        outlet_events[STAGED_RESULTS].extra = {"election": staged["election"], "version": staged["version"]}
        return staged

    @task
    def backups(election_id: str) -> dict:
        """Catch up the backup bucket (versions whose copy failed), in every run, deliveries or not."""
        from plugins.enr_airflow.tasks import catch_up_backups

        return catch_up_backups(election_id)

    backups(chosen)
    ingested = ingest.partial(election_id=chosen).expand(country=wait.output)
    tallied = tally(chosen)
    ingested >> tallied
    stage(tallied, chosen)


election_night_ingest()
