"""Delivery landed -> published through the production layout (not a test).

    .venv/bin/python bench/bench_production_latency.py [--samples 3] [--country AT]

What runs, all on loopback, as in docker/compose.yaml: a throwaway PostgreSQL cluster
(scripts/pg-test-cluster.sh on a free port) holding Airflow's metadata database and the results
store (fresh databases), SeaweedFS (``weed mini``) with the export and backup buckets, and
Airflow on the CeleryExecutor (tests/support/airflow.py ``CeleryAirflow``: redis, api-server,
scheduler, dag-processor, triggerer, two Celery workers of concurrency 2, parallelism 4).

For each sample one signed delivery (the next wave of ``--country``) is dropped into the S3 inbox
(the clock starts) and an ``election_night_ingest`` run is triggered through the REST API; the
``staged_results`` asset starts ``election_night_publish``; a bench-only approver answers the
approval through the REST API as the ``reviewer`` user as soon as it waits; the clock stops when
the export bucket's ``current.json`` names the new version. One warm-up delivery is not counted.
For every sample the task instances of both runs are read back from the REST API (queued, start,
end), so the report says where the time goes: waiting for a worker, running, or between tasks.

Writes bench/results/production-latency.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
ELECTION = "ep2019"
INGEST, PUBLISH = "election_night_ingest", "election_night_publish"


def _pg_cluster(action: str, env: dict[str, str]) -> dict[str, str]:
    """scripts/pg-test-cluster.sh ``action`` with this bench's own port and state file."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "pg-test-cluster.sh"), action], env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"pg-test-cluster.sh {action}: {done.stderr[-2000:]}")
    found = {}
    for word in done.stdout.replace("\n", " ").split():
        if "=" in word:
            key, _, value = word.partition("=")
            found[key] = value.strip("'\"")
    return found


def _seconds(stamp: str | None, origin: datetime) -> float | None:
    if not stamp:
        return None
    return round((datetime.fromisoformat(stamp.replace("Z", "+00:00")) - origin).total_seconds(), 2)


def _task_times(api, dag_id: str, run_id: str, origin: datetime) -> list[dict]:
    """Queued / started / ended of every task instance of a run, in seconds after ``origin``."""
    listing = api._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", query={"limit": 200})
    out = []
    for ti in listing.get("task_instances", []):
        out.append({"dag": dag_id, "task": ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0
                                                          else ""),
                    "state": ti.get("state"), "queued": _seconds(ti.get("queued_when"), origin),
                    "start": _seconds(ti.get("start_date"), origin), "end": _seconds(ti.get("end_date"), origin),
                    "tries": ti.get("try_number")})
    return sorted(out, key=lambda t: (t["start"] is None, t["start"] or 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--country", default="AT")
    parser.add_argument("--airflow-defaults", action="store_true",
                        help="without the latency settings of enr.airflow_env.PRODUCTION_LATENCY")
    args = parser.parse_args()

    from tests.support.airflow import CeleryAirflow, celery_stack_problem
    from tests.support.databases import TempDatabases
    from tests.support.processes import free_port
    from tests.support.s3 import SeaweedS3

    problem = celery_stack_problem()
    if problem or shutil.which("redis-server") is None:
        print(problem or "redis-server not found (apt-get install redis-server)", file=sys.stderr)
        return 2
    base = Path(tempfile.mkdtemp(prefix="enrpl", dir="/tmp"))  # short: GNUPGHOMEs live inside
    pg_env = {**os.environ, "PGPORT": str(free_port()), "ENR_PG_TEST_STATE": str(base / "pg.env"),
              "ENR_PG_TEST_ROOT": ""}  # never another cluster than the one this bench starts
    started = time.monotonic()
    s3 = cluster = temp = None
    samples: list[dict] = []
    tuning: dict[str, str] = {}
    stop = threading.Event()
    try:
        pg = _pg_cluster("start", pg_env)
        temp = TempDatabases(pg["ENR_TEST_PG_URL"], kinds=("airflow", "results"))
        urls = temp.create()
        s3 = SeaweedS3(base / "s3").start()
        settings = {"ENR_HOME": str(base / "enr"), "ENR_STORE_URL": urls["results"], "ENR_ELECTION": ELECTION,
                    "ENR_BUCKET_URL": "s3://enr_export_bucket@enr-export/",
                    "ENR_BACKUP_BUCKET_URL": "s3://enr_backup_bucket@enr-backup/",
                    "AIRFLOW_CONN_ENR_EXPORT_BUCKET": s3.connection(),
                    "AIRFLOW_CONN_ENR_BACKUP_BUCKET": s3.connection(), "GX_ANALYTICS_ENABLED": "false"}
        os.environ.update(settings)
        for var in ("ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME"):
            os.environ.pop(var, None)
        from enr import demo, operator, pipeline, replay

        keys = demo.ensure_demo_keys()
        pipeline.open_store().migrate()
        operator.mark_public_areas("rehearsal")  # replayed deliveries carry the test flag
        operator.load_history(run_id="bench")
        waves = tuple(f"provisional:{p}" for p in (20, 40, 60, 80)[: args.samples]) + ("final:100",)
        night = replay.write_night(base / "outbox", election=ELECTION, waves=waves, countries=[args.country],
                                   sender_home=keys["sender_home"])
        from enr.airflow_env import production_latency

        # the production configuration's latency settings (docker/compose.yaml), unless --airflow-defaults
        tuning = {} if args.airflow_defaults else production_latency()
        cluster = CeleryAirflow(home=base / "airflow", metadata_url=urls["airflow"], workers=2, concurrency=2,
                                parallelism=4, extra_env={**settings, **tuning})
        cluster.start(timeout=240)
        healthy_s = time.monotonic() - started
        api, reviewer = cluster.api("admin"), cluster.api("reviewer")
        cluster.wait_parsed((INGEST, PUBLISH), 600)
        for dag in (INGEST, PUBLISH):
            api.unpause(dag)
        print(f"cluster healthy after {healthy_s:.0f} s, DAGs parsed after {time.monotonic() - started:.0f} s",
              flush=True)

        def approver() -> None:
            while not stop.is_set():
                try:
                    for detail in reviewer.pending_approvals(PUBLISH):
                        if reviewer.is_waiting(detail):
                            reviewer.answer(detail, "Approve")
                except Exception:  # noqa: BLE001 - the API may be busy; try again
                    pass
                stop.wait(0.5)

        threading.Thread(target=approver, daemon=True).start()
        bucket = pipeline.export_bucket()

        def current_version() -> str | None:
            data = bucket.read_or_none(f"public/{ELECTION}/current.json")
            return json.loads(data)["version"] if data else None

        for number, wave in enumerate(night.waves):
            before = current_version()
            origin = datetime.now(timezone.utc)
            landed = time.monotonic()
            demo.drop_into_inbox(wave.files)
            run_id = api.trigger(INGEST, {"election": ELECTION})
            while current_version() == before:
                if time.monotonic() - landed > 300:
                    raise TimeoutError(f"wave {wave.label} not published after 300 s; see {base}")
                time.sleep(0.2)
            latency = time.monotonic() - landed
            publish_runs = api._request("GET", f"/api/v2/dags/{PUBLISH}/dagRuns",
                                        query={"limit": 1, "order_by": "-run_after"})["dag_runs"]
            tasks = []
            if publish_runs:
                run = publish_runs[0]
                # the ingest run that staged the version (the triggered one, or a scheduled run whose
                # sensor took the delivery first): the source of the asset event that started publish
                events = api._request("GET", f"/api/v2/dags/{PUBLISH}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
                sources = sorted({e.get("source_run_id") for e in events.get("asset_events", [])
                                  if e.get("source_run_id")})
                for source in sources or [run_id]:
                    tasks += _task_times(api, INGEST, source, origin)
                tasks += [{"dag": PUBLISH, "task": "(run created)", "queued": _seconds(run.get("queued_at"), origin),
                           "start": _seconds(run.get("start_date"), origin), "end": None, "state": run.get("state")}]
                tasks += _task_times(api, PUBLISH, run["dag_run_id"], origin)
            entry = {"wave": wave.label, "version": current_version(), "latency_s": round(latency, 2),
                     "triggered_run": run_id,
                     "warmup": number == 0, "load": round(os.getloadavg()[0], 2), "tasks": tasks}
            samples.append(entry)
            print(json.dumps({k: v for k, v in entry.items() if k != "tasks"}), flush=True)
    finally:
        stop.set()
        if cluster is not None:
            cluster.stop()
        if s3 is not None:
            s3.stop()
        if temp is not None:
            try:
                temp.drop()
            except Exception:  # noqa: BLE001 - the cluster goes next anyway
                pass
        try:
            _pg_cluster("stop", pg_env)
        except Exception as exc:  # noqa: BLE001
            print(f"stopping the PostgreSQL cluster: {exc}", file=sys.stderr)
        for keyring in base.rglob("pubring.kbx"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(keyring.parent)},
                           capture_output=True, timeout=30)
        shutil.rmtree(base, ignore_errors=True)
    counted = [s["latency_s"] for s in samples if not s["warmup"]]
    result = {"samples": samples, "median_s": statistics.median(counted) if counted else None,
              "max_s": max(counted) if counted else None, "country": args.country, "healthy_s": round(healthy_s, 1),
              "airflow_settings": tuning, "load_at_end": round(os.getloadavg()[0], 2),
              "command": "bench/bench_production_latency.py " + " ".join(sys.argv[1:])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "production-latency.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
