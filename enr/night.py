"""Replay an election night through Airflow: the demo of the README's first command.

It plays the role of the results contractor and of the reviewer, and lets Airflow do the rest:

1. makes throwaway demo keys (a sender key the inbox trusts, a publisher signing key);
2. turns the real 2019 results into signed deliveries, wave after wave (``enr.replay``);
3. for each wave: drops the files into the bucket's ``inbox/``, runs the ``election_night_ingest``
   DAG (verify, parse, validate, store, tally, stage), then the ``election_night_publish`` DAG,
   whose human-in-the-loop approval it answers **through Airflow's REST API** as a reviewer would;
4. shows supersession: two versions are staged before the older one is approved; the older one
   ends as superseded and only the newer reaches the public area.

Airflow runs as its own processes (``airflow api-server`` and ``airflow dags test``); this module
only talks to them through the command line and the REST API. :func:`airflow_running` and
:func:`run_waves` are the driver shared by the demo and the rehearsal (:mod:`enr.rehearsal`).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from enr.airflow_api import AirflowAPI
from enr.airflow_env import airflow_environment, airflow_executable
from enr.home import ensure_passwords, init_home, is_initialised, password_of
from enr.settings import get_settings

log = logging.getLogger(__name__)

INGEST_DAG = "election_night_ingest"
PUBLISH_DAG = "election_night_publish"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AirflowProcesses:
    """The Airflow processes of a demo night: an API server on loopback, and `dags test` runs."""

    env: dict[str, str]
    port: int
    log_dir: Path
    api_server: subprocess.Popen | None = None
    api: AirflowAPI = field(init=False)
    reviewer: AirflowAPI = field(init=False)

    def __post_init__(self) -> None:
        base_url = f"http://127.0.0.1:{self.port}"
        self.api = AirflowAPI(base_url=base_url, username="admin", password=password_of("admin") or "")
        # the approval is answered by a reviewer named in ENR_REVIEWERS, with the password `enr init` made
        reviewer = (get_settings().reviewers or ("admin",))[0]
        self.reviewer = AirflowAPI(base_url=base_url, username=reviewer, password=password_of(reviewer) or "")

    def run(self, *args: str, check: bool = True, log_name: str | None = None) -> subprocess.CompletedProcess:
        out = (self.log_dir / (log_name or args[0])).with_suffix(".log").open("ab")
        return subprocess.run([airflow_executable(), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                              check=check)

    def start(self, *args: str, log_name: str) -> subprocess.Popen:
        out = (self.log_dir / log_name).with_suffix(".log").open("ab")
        return subprocess.Popen([airflow_executable(), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def migrate(self) -> None:
        self.run("db", "migrate", log_name="db-migrate")

    def start_api_server(self) -> None:
        self.api_server = self.start("api-server", "--host", "127.0.0.1", "--port", str(self.port),
                                     "--apps", "core,execution", log_name="api-server")
        self.api.wait_healthy()

    def stop(self) -> None:
        if self.api_server and self.api_server.poll() is None:
            os.killpg(self.api_server.pid, 15)
            try:
                self.api_server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.api_server.pid, 9)


@contextmanager
def airflow_running(echo=print, *, extra_env: dict[str, str] | None = None) -> Iterator[AirflowProcesses]:
    """Airflow for a night: metadata DB migrated, DAGs serialised, the API server on a loopback port.

    Shared by the demo and the rehearsal; the API server is stopped on exit.
    """
    settings = get_settings()
    port = _free_port()
    env = {**os.environ, **airflow_environment(port=port), **(extra_env or {})}
    ensure_passwords()
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    airflow = AirflowProcesses(env=env, port=port, log_dir=log_dir)
    echo(f"Airflow home {env['AIRFLOW_HOME']}; migrating its metadata database ...")
    airflow.migrate()
    airflow.run("dags", "reserialize", log_name="reserialize")
    echo(f"starting the Airflow API server on 127.0.0.1:{port} (log {log_dir / 'api-server.log'})")
    airflow.start_api_server()
    try:
        yield airflow
    finally:
        airflow.stop()


def run_waves(airflow: AirflowProcesses, election: str, waves: list, echo=print, *,
              hold_before_last: bool = True, wait_until=None) -> list[dict]:
    """Play ``waves`` (:class:`enr.replay.NightWave`) through Airflow, the contractor's and reviewer's part.

    For each wave: drop its deliveries into the inbox (``wait_until(wave_index, wave)`` is called
    first: the rehearsal's clock), run ``election_night_ingest``, start ``election_night_publish``
    for the staged version, and approve it through the REST API. With ``hold_before_last`` the
    next-to-last version waits while the last wave arrives (supersession). Returns one entry per wave.
    """
    from enr import pipeline

    played: list[dict] = []
    staged_waiting: list[tuple[str, subprocess.Popen]] = []
    previous_version = pipeline.status(election)["latest_version"]
    for number, wave in enumerate(waves, start=1):
        if wait_until is not None:
            wait_until(number - 1, wave)
        landed = time.monotonic()
        pipeline.drop_into_inbox(wave.files)
        echo(f"wave {number}/{len(waves)} ({wave.label}): {len(wave.files)} deliveries in the inbox; "
             f"running {INGEST_DAG} ...")
        airflow.run("dags", "test", INGEST_DAG, "-c", json.dumps({"election": election}),
                    check=False, log_name=f"ingest-wave{number}")
        status = pipeline.status(election)
        version = status["latest_version"]
        entry = {"wave": wave.label, "version": version, "accepted": status["accepted_total"],
                 "quarantined": status["quarantined_total"], "staged_s": round(time.monotonic() - landed, 1)}
        played.append(entry)
        if version is None or version == previous_version:
            echo(f"  nothing new staged ({status['accepted_total']} accepted, {status['quarantined_total']} "
                 f"quarantined so far)")
            continue
        previous_version = version
        echo(f"  staged {version}: manifest {status['versions'][-1]['manifest_sha256'][:16]}..., "
             f"{status['accepted_total']} accepted, {status['quarantined_total']} quarantined so far")
        publish_run = airflow.start("dags", "test", PUBLISH_DAG, "-c",
                                    json.dumps({"election": election, "version": version}),
                                    log_name=f"publish-{version}")
        staged_waiting.append((version, publish_run))
        if hold_before_last and number == len(waves) - 1 and len(waves) > 1:
            echo(f"  {version} waits for approval while the next wave arrives")
            continue
        for pending_version, process in staged_waiting:
            _approve_through_api(airflow.reviewer, pending_version, process, echo)
        staged_waiting.clear()
        entry["published_s"] = round(time.monotonic() - landed, 1)
    for pending_version, process in staged_waiting:
        _approve_through_api(airflow.reviewer, pending_version, process, echo)
    return played


def run_demo_night(*, election: str = "ep2019", waves: tuple[str, ...] = ("provisional:40", "provisional:85", "final:100"),
                   bad: int = 1, echo=print) -> dict:
    """Replay ``election``'s night through Airflow and return a summary of what was published."""
    from enr import pipeline, replay

    settings = get_settings()
    started = time.monotonic()
    settings.home.mkdir(parents=True, exist_ok=True)
    # the demo prepares its home as `enr init --purpose rehearsal --demo-keys` would: its deliveries are
    # test data, so its public area is a rehearsal area
    for line in init_home(election, None if is_initialised() else "rehearsal", demo_keys=True, airflow=False):
        log.info("init: %s", line)
    keys = pipeline.ensure_demo_keys()
    echo(f"demo keys: sender {keys['sender_fingerprint'][-16:]}, publisher {keys['signing_fingerprint'][-16:]}")
    loaded = pipeline.load_history(run_id="demo")
    echo(f"history 1979-2019 in the store: {loaded['inserted']} elections loaded, {loaded['unchanged']} already there "
         f"(the historical_backfill DAG does the same, one election day per run)")

    outbox = settings.home / "outbox" / election
    if outbox.exists():
        shutil.rmtree(outbox)
    night = replay.write_night(outbox, election=election, waves=waves, sender_home=keys["sender_home"],
                               seed=0, bad=bad)
    summary: dict = {"election": election, "waves": [], "published": None}
    with airflow_running(echo, extra_env={"ENR_DEMO_SENDER_HOME": str(keys["sender_home"])}) as airflow:
        summary["waves"] = run_waves(airflow, election, night.waves, echo)
        final = pipeline.status(election)
        summary["published"] = final["current"]
        summary["versions"] = final["versions"]
    summary["elapsed_s"] = round(time.monotonic() - started, 1)
    return summary


def _approve_through_api(api: AirflowAPI, version: str, process: subprocess.Popen, echo, timeout: float = 180) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pending = [d for d in api.approvals_for(version) if api.is_waiting(d)]
        if pending:
            answer = api.answer(pending[0], "Approve")
            echo(f"  reviewer approved {version} through the REST API "
                 f"(responded_by {answer.get('responded_by', {}).get('name')})")
            break
        if process.poll() is not None:
            echo(f"  {version}: the publish run ended before asking for approval (exit {process.returncode})")
            return
        time.sleep(0.5)
    else:
        raise TimeoutError(f"no approval request for {version} appeared within {timeout:.0f} s")
    process.wait(timeout=timeout)
