"""Delivery landed -> published latency through the real Airflow scheduler (not a test).

    .venv/bin/python bench/bench_latency.py [--samples 3] [--country AT] [--scale 1]

Starts ``airflow standalone`` (SQLite, LocalExecutor, ``AIRFLOW__CORE__PARALLELISM=4``, API on a
loopback port) in a throwaway home, with this project's DAGs unpaused. ``election_night_ingest``
runs every minute on its cron schedule; its ``InboxSensor`` pokes the inbox every 5 s (reschedule
mode). For each sample one signed delivery (the next wave of ``--country``) is dropped into the
inbox — the clock starts then — and an ingest run is triggered through the REST API at the same
moment (if a cron run is already waiting on the sensor, that run takes the delivery and the
triggered one finds nothing: whichever is first). The ``staged_results`` asset starts
``election_night_publish``; a bench-only auto-approver answers its human-in-the-loop request
through the REST API (``PATCH .../hitlDetails``) as soon as it appears. The clock stops when the
export bucket's ``public/<election>/current.json`` names the new version (published, replicated to
the backup and checked there). One warm-up delivery is published first and not counted.

Airflow 3.3.2 fails a task whose worker exit event is read after the same try was queued again
("Executor reported that the task instance finished with state success, but the task instance's
state attribute is queued"; the approval task answered quickly, the reschedule-mode sensor). The
project's executor (plugins/enr_airflow/executors.py) drops such stale events; the bench counts
them from the scheduler log. Should the newest ``election_night_publish`` run still fail, the bench
starts it again through the REST API (what the operator would do) and counts the retry; the
latency includes it.

Writes bench/results/latency.json; ``bench/run_all.py`` puts the figures in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
ELECTION = "ep2019"


def health(api) -> dict:
    try:
        return api._request("GET", "/api/v2/monitor/health", auth=False)
    except Exception:  # noqa: BLE001 - not up yet
        return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--country", default="AT")
    parser.add_argument("--scale", default="1")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="enr-lat-", dir="/tmp"))
    os.environ["ENR_HOME"] = str(home)
    os.environ["ENR_UNITS_SCALE"] = args.scale
    for var in ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_STORE_URL", "ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME",
                "AIRFLOW_HOME"):
        os.environ.pop(var, None)
    from enr import demo, operator, pipeline, replay
    from enr.airflow_api import AirflowAPI
    from enr.airflow_env import airflow_environment
    from enr.home import ensure_passwords, init_home, password_of
    from enr.night import _free_port
    from enr.settings import get_settings

    init_home(ELECTION, "rehearsal", demo_keys=True, airflow=False)  # replayed data is test data
    keys = demo.ensure_demo_keys()
    operator.load_history(run_id="bench")
    waves = tuple(f"provisional:{p}" for p in (20, 40, 60, 80)[: args.samples]) + ("final:100",)
    night = replay.write_night(home / "outbox", election=ELECTION, waves=waves, countries=[args.country],
                               sender_home=keys["sender_home"])
    port = _free_port()
    env = {**os.environ, **airflow_environment(port=port), "AIRFLOW__CORE__PARALLELISM": "4",
           "ENR_DEMO_SENDER_HOME": str(keys["sender_home"])}
    ensure_passwords()
    log = (home / "standalone.log").open("wb")
    airflow_bin = str(Path(sys.executable).with_name("airflow"))
    started = time.monotonic()
    standalone = subprocess.Popen([airflow_bin, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    api = AirflowAPI(base_url=f"http://127.0.0.1:{port}", username="admin", password=password_of("admin"))
    reviewer = (get_settings().reviewers or ("admin",))[0]  # only ENR_REVIEWERS may answer the approval
    reviewer_api = AirflowAPI(base_url=f"http://127.0.0.1:{port}", username=reviewer, password=password_of(reviewer))
    samples: list[dict] = []
    stop = threading.Event()
    approvals: list[dict] = []

    def approver() -> None:  # bench only: approve every pending request at once, through the REST API
        while not stop.is_set():
            try:
                for detail in api.pending_approvals():
                    if not api.is_waiting(detail):  # see AirflowAPI.is_waiting
                        continue
                    answer = reviewer_api.answer(detail, "Approve")
                    approvals.append({"subject": detail.get("subject"), "at": time.monotonic(),
                                      "by": (answer.get("responded_by") or {}).get("id")})
            except Exception:  # noqa: BLE001 - the API may be busy; try again
                pass
            stop.wait(0.5)

    try:
        while True:
            state = health(api)
            if state and all(state.get(k, {}).get("status") == "healthy"
                             for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")):
                break
            if standalone.poll() is not None or time.monotonic() - started > 180:
                raise RuntimeError(f"airflow standalone did not become healthy; see {home / 'standalone.log'}")
            time.sleep(1)
        healthy_s = time.monotonic() - started
        while True:
            try:
                api._request("GET", "/api/v2/dags/election_night_ingest")
                api._request("GET", "/api/v2/dags/election_night_publish")
                break
            except Exception:  # noqa: BLE001 - not parsed yet
                if time.monotonic() - started > 400:
                    raise
                time.sleep(2)
        for dag in ("election_night_ingest", "election_night_publish"):
            api.unpause(dag)
        print(f"standalone healthy after {healthy_s:.1f} s; DAGs parsed after {time.monotonic() - started:.1f} s",
              flush=True)
        threading.Thread(target=approver, daemon=True).start()
        bucket = pipeline.export_bucket()

        def current_version() -> str | None:
            data = bucket.read_or_none(f"public/{ELECTION}/current.json")
            return json.loads(data)["version"] if data else None

        for number, wave in enumerate(night.waves):
            before = current_version()
            landed = time.monotonic()
            demo.drop_into_inbox(wave.files)
            try:
                run_id = api.trigger("election_night_ingest", {"election": ELECTION})
            except Exception as exc:  # noqa: BLE001
                run_id = f"(trigger refused: {exc})"
            retries = 0
            checked = time.monotonic()
            while current_version() == before:
                if time.monotonic() - landed > 300:
                    raise TimeoutError(f"wave {wave.label} not published after 300 s; see {home}")
                if time.monotonic() - checked > 5:  # the operator's move when a publish run failed: start it again
                    checked = time.monotonic()
                    try:
                        runs = api._request("GET", "/api/v2/dags/election_night_publish/dagRuns",
                                            query={"limit": 1, "order_by": "-run_after"})["dag_runs"]
                        if runs and runs[0]["state"] == "failed":
                            api.trigger("election_night_publish", {"election": ELECTION, "version": "latest"})
                            retries += 1
                            print(f"  publish run {runs[0]['dag_run_id']} failed; started it again", flush=True)
                    except Exception:  # noqa: BLE001 - the API may be busy
                        pass
                time.sleep(0.2)
            latency = time.monotonic() - landed
            published = current_version()
            entry = {"wave": wave.label, "version": published, "latency_s": round(latency, 2), "run": run_id,
                     "warmup": number == 0, "publish_retries": retries}
            samples.append(entry)
            print(json.dumps(entry), flush=True)
    finally:
        stop.set()
        if standalone.poll() is None:
            os.killpg(standalone.pid, signal.SIGINT)
            try:
                standalone.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(standalone.pid, signal.SIGKILL)  # airflow#67870: LocalExecutor.end() can hang
                standalone.wait(timeout=10)
        log.close()
        stale_dropped = (home / "standalone.log").read_text(errors="replace").count("Dropping the ")
        for sub in ("keys/sender", "keys/trusted", "keys/signing"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home / sub)},
                           capture_output=True)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    counted = [s["latency_s"] for s in samples if not s["warmup"]]
    result = {"samples": samples, "median_s": statistics.median(counted) if counted else None,
              "max_s": max(counted) if counted else None, "country": args.country, "scale": args.scale,
              "approvals": len(approvals), "healthy_s": round(healthy_s, 1),
              "stale_events_dropped": stale_dropped,
              "command": "bench/bench_latency.py " + " ".join(sys.argv[1:])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
