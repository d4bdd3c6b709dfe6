"""Faults of Airflow's own components, on the Airflow of docker/compose.yaml on loopback.

``CeleryAirflow`` (Redis, api-server, scheduler, dag-processor, triggerer, two Celery workers;
the metadata DB on the suite's PostgreSQL) runs the night over a wave of 28 signed deliveries,
with its own results store and bucket prefix (it does not mix with the other faults' versions).

1. **A Celery worker SIGKILLed in the middle of the mapped ingest.** While worker 1 runs a
   country's ingest task, the worker and every process under it are SIGKILLed. What takes over is
   Airflow's and Celery's configuration, no code of ours: the killed task instance stops
   heartbeating; the scheduler fails it after ``[scheduler] task_instance_heartbeat_timeout``
   (20 s here; 120 s in docker/compose.yaml) and, as it has ``retries`` left, queues it again for
   the surviving worker. Messages the dead worker had taken but not finished (Celery
   ``task_acks_late``) go back to the queue after the Redis ``visibility_timeout`` (30 s here,
   1800 s in compose), and ``task_queued_timeout`` re-queues anything stuck in *queued*. Checked:
   the run succeeds, every delivery accepted once (the store's idempotency by delivery digest),
   a retried try ran on the surviving worker, the version is staged.
2. **The scheduler SIGKILLed and restarted, then the API server restarted, while the approval
   waits.** The HITL request lives in the metadata database: after both restarts the reviewer
   answers it through the REST API and the version is published, once.
"""
from __future__ import annotations

import os
import shutil
import signal
import time
from urllib.parse import quote

import pytest

from conftest import BUCKET, ELECTION

pytestmark = pytest.mark.slow

INGEST, PUBLISH = "election_night_ingest", "election_night_publish"
HEARTBEAT_TIMEOUT = 20


@pytest.fixture(scope="module")
def airflow_night(layout):
    from tests.support.airflow import CeleryAirflow, celery_stack_problem
    from tests.support.databases import TempDatabases
    from tests.support.processes import wait_for

    if shutil.which("redis-server") is None:
        pytest.skip("Debian's redis-server is not installed (.ci/run installs it)")
    problem = celery_stack_problem()
    assert problem is None, problem
    from enr import operator, pipeline
    from tests.support.processes import environment

    temp = TempDatabases(layout["postgres"].url, kinds=("airflow", "results"))
    urls = temp.create()
    settings = {"ENR_STORE_URL": urls["results"],
                "ENR_BUCKET_URL": f"s3://enr_export_bucket@{BUCKET}/celery/",
                "ENR_BACKUP_BUCKET_URL": f"s3://enr_backup_bucket@{BUCKET}/celery/"}
    cluster = None
    leftovers: list[int] = []
    try:
        with environment(settings):
            pipeline.open_store().migrate()
            operator.mark_public_areas("rehearsal")
            cluster = CeleryAirflow(
                home=layout["home"] / "airflow", metadata_url=urls["airflow"], workers=2, concurrency=2,
                parallelism=4,
                extra_env={**{k: os.environ[k] for k in ("ENR_HOME", "ENR_ELECTION", "AIRFLOW_CONN_ENR_EXPORT_BUCKET",
                                                          "AIRFLOW_CONN_ENR_BACKUP_BUCKET")},
                           **settings,
                           "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                           "ENR_TASK_RETRY_DELAY_SECONDS": "2",
                           "ENR_APPROVAL_RECHECK_SECONDS": "15",
                           "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
                           "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                           "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
                           "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
                           "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "30"})
            cluster.start(timeout=240)
            cluster.wait_parsed((INGEST, PUBLISH), 180)
            yield {"cluster": cluster, "admin": cluster.api("admin"), "reviewer": cluster.api("reviewer"),
                   "wait_for": wait_for}
    finally:
        if cluster is not None:
            leftovers = cluster.stop()
        temp.drop()
    assert leftovers == [], f"processes still alive after the stop: {leftovers}"


def test_a_worker_killed_mid_ingest_is_taken_over_by_the_other(airflow_night, night, recovery_table):
    from enr import demo, operator, pipeline
    from tests.support.fault_layout import store_rows

    cluster, admin, wait_for = airflow_night["cluster"], airflow_night["admin"], airflow_night["wait_for"]
    demo.drop_into_inbox(night["waves"][0])
    run_id = admin._request("POST", f"/api/v2/dags/{INGEST}/dagRuns",
                            {"logical_date": None, "run_after": "2019-05-26T21:00:00+00:00",
                             "conf": {"election": ELECTION}})["dag_run_id"]
    admin.unpause(INGEST)

    def instances() -> list[dict]:
        return admin._request("GET", f"/api/v2/dags/{INGEST}/dagRuns/{quote(run_id)}/taskInstances",
                              query={"limit": 200})["task_instances"]

    wait_for(lambda: [ti for ti in instances() if ti["task_id"] == "ingest" and ti["state"] == "running"
                      and ti.get("hostname") == "enr-worker-1"],
             300, "an ingest task running on worker 1", interval=0.5)
    cluster.processes.stop("enr-worker-1", first=signal.SIGKILL, grace=2)
    killed_at = time.monotonic()
    # What the dead worker was running when it died: never finished, so never acknowledged.
    victims = [ti for ti in instances() if ti["task_id"] == "ingest" and ti["state"] == "running"
               and ti.get("hostname") == "enr-worker-1"]
    assert victims, "every task of worker 1 finished before the kill; nothing to take over"
    victim = victims[0]

    def retried() -> dict | None:
        for ti in instances():
            if ti["task_id"] == "ingest" and ti["map_index"] == victim["map_index"] \
                    and ti["try_number"] > victim["try_number"] and ti["state"] == "success":
                return ti
        return None

    taken_over = wait_for(retried, 300, f"the killed ingest task (map index {victim['map_index']}) retried")
    recovered_at = time.monotonic()
    state = wait_for(lambda: (s := admin.run_state(INGEST, run_id)) in ("success", "failed") and s, 420,
                     "the ingest run to finish", interval=2.0)
    assert state == "success", [(t["task_id"], t["map_index"], t["state"]) for t in instances()
                                if t["state"] != "success"]
    assert taken_over["hostname"] == "enr-worker-2", taken_over
    rows = store_rows(pipeline.open_store(), ELECTION)
    assert len(rows["accepted_digests"]) == len(set(rows["accepted_digests"])) == 28
    assert rows["result_sets"] == 28
    assert pipeline.pending_countries(ELECTION) == []
    status = operator.status(ELECTION)
    assert status["pending"] == [status["latest_version"]], status["pending"]
    recovery_table.record("Celery worker SIGKILLed during a mapped ingest", recovered_at - killed_at,
                          f"task {victim.get('rendered_map_index') or victim['map_index']} retried on enr-worker-2 "
                          f"(try {taken_over['try_number']}) after the heartbeat timeout ({HEARTBEAT_TIMEOUT} s here, "
                          f"120 s in compose); 28 deliveries accepted once; version staged",
                          recovered="by Airflow (heartbeat timeout + retry)")


def test_scheduler_and_api_server_restarted_while_an_approval_waits(airflow_night, recovery_table):
    from enr import operator, pipeline
    from enr.airflow_api import AirflowAPIError

    cluster, admin, reviewer = airflow_night["cluster"], airflow_night["admin"], airflow_night["reviewer"]
    wait_for = airflow_night["wait_for"]
    version = operator.status(ELECTION)["latest_version"]
    assert version, "needs the version staged by the worker-kill test"
    # Paused while the version was staged (no asset-triggered run): a run for it by hand, as an operator does.
    admin._request("POST", f"/api/v2/dags/{PUBLISH}/dagRuns",
                   {"logical_date": None, "conf": {"election": ELECTION, "version": version}})
    admin.unpause(PUBLISH)
    pending = wait_for(lambda: [d for d in reviewer.pending_approvals(PUBLISH) if reviewer.is_waiting(d)], 240,
                       "the approval request", interval=2.0)
    assert f" {version}?" in pending[0]["subject"], pending[0]["subject"]

    processes, env = cluster.processes, cluster.env
    restart_at = time.monotonic()
    processes.stop("scheduler", first=signal.SIGKILL, grace=2)
    processes.start("scheduler", [cluster_binary(), "scheduler"], env=env)
    processes.stop("api-server", first=signal.SIGTERM, grace=20)
    with pytest.raises((AirflowAPIError, OSError)):  # the API server is really down
        reviewer.pending_approvals(PUBLISH)
    processes.start("api-server", [cluster_binary(), "api-server", "--host", "127.0.0.1", "--port",
                                   str(cluster.api_port)], env=env)
    def healthy() -> bool:  # worker 1 stays dead (killed by the previous test): only the components asked
        health = admin._request("GET", "/api/v2/monitor/health", auth=False)
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    wait_for(healthy, 180, "Airflow healthy again after the restarts", interval=1.0)
    processes.record_children()
    # The request survived both restarts and is answered through the REST API.
    survived = wait_for(lambda: [d for d in reviewer.pending_approvals(PUBLISH) if reviewer.is_waiting(d)], 120,
                        "the approval request after the restarts", interval=2.0)
    assert survived[0]["task_instance"]["dag_run_id"] == pending[0]["task_instance"]["dag_run_id"]
    answered = reviewer.answer(survived[0], "Approve")
    answered_at = time.monotonic()
    assert answered["chosen_options"] == ["Approve"]
    run_id = survived[0]["task_instance"]["dag_run_id"]
    state = wait_for(lambda: (s := admin.run_state(PUBLISH, run_id)) in ("success", "failed") and s, 600,
                     "the publish run to finish", interval=2.0)
    assert state == "success", processes.log("scheduler")[-3000:]
    status = operator.status(ELECTION)
    assert status["current"]["version"] == version
    assert [v["version"] for v in status["versions"] if v["status"] == "published"] == [version]
    log = pipeline.export_bucket().read(f"public/{ELECTION}/publications.json")
    import json

    assert [e["version"] for e in json.loads(log) if e["event"] == "publish"] == [version]
    recovery_table.record("scheduler SIGKILLed + API server restarted while an approval waits",
                          answered_at - restart_at,
                          f"both restarted, Airflow healthy, the same HITL request answered through REST; "
                          f"{version} published once ({time.monotonic() - answered_at:.0f} s after the answer)",
                          recovered="by restarting the components (the request is in the metadata DB)")


def cluster_binary() -> str:
    from tests.support.airflow import airflow_binary

    return airflow_binary()
