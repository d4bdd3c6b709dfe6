"""Distributed execution: the whole night on CeleryExecutor with two workers, as in docker/compose.yaml.

Every component is its own process on loopback: Debian's ``redis-server`` (the broker),
PostgreSQL from ``ENR_TEST_PG_URL`` (the metadata DB and Celery's result backend, plus the
results store, each in a fresh database), ``airflow api-server``, ``scheduler``, ``dag-processor``,
``triggerer`` and two ``airflow celery worker --concurrency 2 -H workerN@...`` (parallelism 4).

A night of signed deliveries lands in the inbox; ``election_night_ingest`` is triggered through
the REST API; the scheduler spreads the 28 mapped country tasks over the workers; the staged
version's asset event starts ``election_night_publish``, whose approval is answered through
Airflow's own HITL REST API by the ``reviewer`` user (auto-approval, for this test only); publish
succeeds and the published version verifies. Task instances' ``hostname`` (REST) shows that
both workers ran tasks: on one machine each worker reports its own name through
``[core] hostname_callable`` (in compose each worker is its own container and host).

Every wait is bounded; all processes are stopped at the end (SIGINT, then SIGKILL by PID).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest

PG_URL = os.environ.get("ENR_TEST_PG_URL")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="ENR_TEST_PG_URL is not set: no PostgreSQL server for the metadata DB "
                                          "(.ci/run starts one with scripts/pg-test-cluster.sh and sets it)"),
]

INGEST, PUBLISH = "election_night_ingest", "election_night_publish"
ELECTION = "ep2019"


def _wait(predicate, timeout: float, what: str, interval: float = 1.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


@pytest.fixture
def night_home(monkeypatch):
    home = Path(tempfile.mkdtemp(prefix="enrc", dir="/tmp"))  # short: GNUPGHOMEs live inside
    monkeypatch.setenv("ENR_HOME", str(home / "enr"))
    for var in ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME"):
        monkeypatch.delenv(var, raising=False)
    yield home
    for keyring in home.rglob("pubring.kbx"):
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(keyring.parent)},
                       capture_output=True, timeout=30)
    subprocess.run(["rm", "-rf", str(home)], timeout=60)


def _intake_reads_object_stores() -> bool:
    """Whether the intake can read an s3:// inbox yet (enr.bucketio was file:// only at first)."""
    from enr import bucketio

    try:
        bucketio.Bucket("s3://probe/")
    except ValueError:
        return False
    return True


def test_night_on_celery_with_two_workers(night_home, monkeypatch):
    from tests.support.airflow import CeleryAirflow, celery_stack_problem
    from tests.support.databases import TempDatabases

    problem = celery_stack_problem()
    assert problem is None, problem
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("Debian's redis-server is not installed (.ci/run installs it)")

    from enr import demo, operator, pipeline, replay
    from enr.airflow_api import AirflowAPIError

    started = time.monotonic()
    temp = TempDatabases(PG_URL, kinds=("airflow", "results"))
    urls = temp.create()
    monkeypatch.setenv("ENR_STORE_URL", urls["results"])
    cluster = None
    stack: list = []
    try:
        # The buckets: on a real S3 server, as in docker/compose.yaml, once the intake reads object
        # stores; until then local folders (one machine: the workers share the file system).
        bucket_env: dict[str, str] = {}
        if _intake_reads_object_stores():
            from tests.support.s3 import SeaweedS3

            s3 = SeaweedS3(night_home / "s3").start()
            stack.append(s3.stop)
            bucket_env = {"ENR_BUCKET_URL": "s3://enr_export_bucket@enr-export/",
                          "ENR_BACKUP_BUCKET_URL": "s3://enr_backup_bucket@enr-backup/",
                          "AIRFLOW_CONN_ENR_EXPORT_BUCKET": s3.connection(),
                          "AIRFLOW_CONN_ENR_BACKUP_BUCKET": s3.connection()}
            for key, value in bucket_env.items():
                monkeypatch.setenv(key, value)
        keys = demo.ensure_demo_keys()
        pipeline.open_store().migrate()
        operator.mark_public_areas("rehearsal")  # the replayed deliveries carry the test flag
        # DAGs start paused, so that the run triggered through the REST API is the one that takes the
        # deliveries (unpaused, the every-minute schedule would create a run of its own first).
        cluster = CeleryAirflow(
            home=night_home / "airflow", metadata_url=urls["airflow"], workers=2, concurrency=2, parallelism=4,
            extra_env={"ENR_HOME": os.environ["ENR_HOME"], "ENR_STORE_URL": urls["results"],
                       "ENR_ELECTION": ELECTION, "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                       **bucket_env})
        cluster.start(timeout=150)
        stamps = {"cluster healthy": time.monotonic() - started}
        admin, reviewer = cluster.api("admin"), cluster.api("reviewer")
        cluster.wait_parsed((INGEST, PUBLISH), 90)
        stamps["DAGs parsed"] = time.monotonic() - started

        night = replay.write_night(night_home / "outbox", election=ELECTION, waves=("final:100",),
                                   sender_home=keys["sender_home"], seed=0, bad=0)
        demo.drop_into_inbox(night.waves[0].files)
        admin.unpause(PUBLISH)
        # run_after in the past: the scheduler starts queued runs oldest run_after first, so this run
        # goes before the scheduled one that unpausing creates (max_active_runs=1).
        triggered = admin._request("POST", f"/api/v2/dags/{INGEST}/dagRuns",
                                   {"logical_date": None, "run_after": "2019-05-26T21:00:00+00:00",
                                    "conf": {"election": ELECTION}})["dag_run_id"]
        admin.unpause(INGEST)
        stamps["deliveries dropped, ingest triggered"] = time.monotonic() - started

        # The asset-triggered publish run asks for approval; the reviewer answers through the REST API.
        # (answered once the task is parked: Airflow 3.3.2 does not wake a task answered before that)
        pending = _wait(lambda: [d for d in reviewer.pending_approvals(PUBLISH)
                                 if reviewer.is_waiting(d)], 180,
                        "an approval request of the publish run", interval=2.0)
        detail = pending[0]
        version = operator.status(ELECTION)["latest_version"]
        assert version and f" {version}?" in detail["subject"], (version, detail["subject"])
        assert [u["id"] for u in detail["assigned_users"]] == ["reviewer"]
        stamps["approval requested"] = time.monotonic() - started
        with pytest.raises(AirflowAPIError) as refused:   # ENR_REVIEWERS: not even the admin may answer
            admin.answer(detail, "Approve")
        assert refused.value.status == 403, refused.value
        answer = reviewer.answer(detail, "Approve")
        assert answer["chosen_options"] == ["Approve"] and answer["responded_by"]["name"] == "reviewer"
        publish_run = detail["task_instance"]["dag_run_id"]
        publish_state = _wait(lambda: (s := admin.run_state(PUBLISH, publish_run)) in ("success", "failed") and s,
                              90, "the publish run to finish")
        assert publish_state == "success", cluster.processes.log("scheduler")[-3000:]
        stamps["published"] = time.monotonic() - started
        ingest_state = _wait(lambda: (s := admin.run_state(INGEST, triggered)) in ("success", "failed") and s,
                             60, "the REST-triggered ingest run to finish")
        assert ingest_state == "success"
        # The version was staged by the run triggered through the REST API.
        events = admin._request("GET", "/api/v2/assets/events",
                                query={"source_dag_id": INGEST, "limit": 20})["asset_events"]
        assert [e["source_run_id"] for e in events] == [triggered], events

        runs = admin._request("GET", f"/api/v2/dags/{PUBLISH}/dagRuns")["dag_runs"]
        run = next(r for r in runs if r["dag_run_id"] == publish_run)
        assert run["run_type"] == "asset_triggered", run

        status = operator.status(ELECTION)
        assert status["current"]["version"] == version
        assert status["current"]["seats_allocated"] == 751
        assert status["accepted_total"] == 28
        from enr.settings import get_settings
        from publish.bucket import Bucket
        from publish.verify import verify_version

        settings = get_settings()
        for url in (settings.bucket_url, settings.backup_bucket_url):
            check = verify_version(Bucket(url).sub(f"public/{ELECTION}/{version}"), keys["signing_home"])
            assert check.ok, (url, check.summary())

        # Who ran what: every task instance of the night, by the worker that reported it.
        hosts: Counter = Counter()
        by_task: dict[str, set[str]] = {}
        for dag_id in (INGEST, PUBLISH):
            listing = admin._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances",
                                     query={"limit": 200})["task_instances"]
            for ti in listing:
                if ti.get("hostname") and ti["state"] in ("success", "failed"):
                    hosts[ti["hostname"]] += 1
                    by_task.setdefault(f"{dag_id}.{ti['task_id']}", set()).add(ti["hostname"])
        workers = set(cluster.worker_names())
        assert set(hosts) <= workers, hosts
        assert set(hosts) == workers, f"tasks ran on {dict(hosts)}; expected both workers"
        assert len(by_task[f"{INGEST}.ingest"]) == 2, by_task
        print(f"\nnight on Celery ({'S3' if bucket_env else 'local-folder'} buckets): {version} published by ingest run {urllib.parse.unquote(triggered)}; "
              f"task instances per worker {dict(hosts)}; "
              + ", ".join(f"{k} at {v:.0f} s" for k, v in stamps.items()))
    finally:
        leftovers = cluster.stop() if cluster else []
        temp.drop()
        for stop in stack:
            stop()
    assert leftovers == [], f"processes still alive after the stop: {leftovers}"
