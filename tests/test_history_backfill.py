"""The history backfill through Airflow itself: ``airflow backfill create`` run by a real scheduler.

A private AIRFLOW_HOME (SQLite metadata DB) and a DAGs folder holding only ``historical_backfill``;
``airflow db migrate``, ``airflow dags reserialize``, ``airflow backfill create`` for 1979-01-01 ..
1984-12-31 (two runs, side by side: 1979, and 1984 with EL 1981 and its pre-election delegation), then an
``airflow scheduler`` (LocalExecutor) and an ``airflow api-server`` on a free loopback port (the
workers reach the task execution API there). The store must then hold exactly those elections'
rows. ``airflow tasks clear`` re-runs both runs: the store must be byte-for-byte the same
(nothing added, nothing rewritten: ``loaded_at`` and ``loaded_by_run`` unchanged).

Both servers are stopped by their PIDs: SIGINT, then SIGKILL for whatever is left of the process
trees recorded at start after 20 s.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from historical_loader.source import read_historical
from historical_loader.store import HistoryStore
from tests.support.processes import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 75



@pytest.fixture
def airflow_env(tmp_path):
    home = tmp_path
    dags = home / "dags"
    dags.mkdir()
    (dags / "historical_backfill.py").symlink_to(ROOT / "dags" / "historical_backfill.py")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "ENR_"))}
    env.update({
        "AIRFLOW_HOME": str(home / "af"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # tasks of a paused DAG are never queued
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": "history-backfill-test",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
        "ENR_HOME": str(home / "enr"),
        "ENR_STORE_URL": f"sqlite:///{home / 'store.db'}",
    })
    yield home, env


def _airflow(env: dict, *args: str, log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{log.read_text()[-3000:]}"


class _Servers:
    """The scheduler and the api-server, started in their own sessions and stopped by PID."""

    def __init__(self, env: dict, home: Path):
        self.procs: list[subprocess.Popen] = []
        self.logs = {name: home / f"{name}.log" for name in ("scheduler", "api-server")}
        for name, log in self.logs.items():
            out = log.open("wb")
            self.procs.append(subprocess.Popen([sys.executable, "-m", "airflow", name], env=env, stdout=out,
                                               stderr=subprocess.STDOUT, start_new_session=True))
            out.close()

    def tail(self) -> str:
        return "\n".join(f"--- {name}\n{log.read_text(errors='replace')[-2500:]}" for name, log in self.logs.items())

    def stop(self) -> float:
        started = time.monotonic()
        tree: list[psutil.Process] = []
        for proc in self.procs:
            try:
                parent = psutil.Process(proc.pid)
                tree += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        _, alive = psutil.wait_procs(tree, timeout=20)
        for leftover in alive:  # e.g. a LocalExecutor worker that ignores SIGTERM (apache/airflow#67870)
            try:
                leftover.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
        for proc in self.procs:
            proc.wait(timeout=5)
        return time.monotonic() - started


def _task_states(db: Path) -> list[tuple[str, str, str, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute("SELECT run_id, task_id, state, try_number FROM task_instance "
                            "WHERE dag_id = 'historical_backfill' ORDER BY run_id, task_id").fetchall()


def _wait_for(db: Path, servers: _Servers, try_number: int, expected: int) -> list:
    deadline = time.monotonic() + RUN_TIMEOUT
    states: list = []
    while time.monotonic() < deadline:
        try:
            states = _task_states(db)
        except sqlite3.OperationalError:  # locked for a moment by the scheduler
            time.sleep(0.5)
            continue
        if len(states) == expected and all(s[3] == try_number and s[2] in ("success", "failed", "upstream_failed")
                                           for s in states):
            break
        time.sleep(1)
    assert len(states) == expected and all(s[2] == "success" and s[3] == try_number for s in states), (
        f"task instances: {states}\n{servers.tail()}")
    return states


def test_backfill_through_the_scheduler_loads_exactly_its_elections_once(airflow_env):
    home, env = airflow_env
    started = time.monotonic()
    cli_log = home / "cli.log"
    _airflow(env, "db", "migrate", log=cli_log)
    _airflow(env, "dags", "reserialize", log=cli_log)
    _airflow(env, "backfill", "create", "--dag-id", "historical_backfill", "--from-date", "1979-01-01",
             "--to-date", "1984-12-31", "--max-active-runs", "2", log=cli_log)
    db = home / "af" / "airflow.db"
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT run_id, run_type FROM dag_run WHERE dag_id = 'historical_backfill' "
                            "ORDER BY logical_date").fetchall()
    assert runs == [("backfill__1979-06-10T00:00:00+00:00", "backfill"),
                    ("backfill__1984-06-17T00:00:00+00:00", "backfill")]

    servers = _Servers(env, home)
    try:
        first = _wait_for(db, servers, try_number=1, expected=8)
        assert {s[1] for s in first} == {"migrate_store", "validate", "load", "verify"}
        first_done = time.monotonic()

        store = HistoryStore(env["ENR_STORE_URL"])
        data = read_historical()
        years = [1979, 1981, 1984]
        expected_elections = sorted((e.year, e.country) for e in data.elections if e.year in years)
        assert len(expected_elections) == 9 + 1 + 10
        assert sorted((e["election_year"], e["country"]) for e in store.elections()) == expected_elections
        expected_rows = sorted((e.year, e.country, *row) for e in data.elections if e.year in years
                               for row in e.content())
        snapshot = store.snapshot()
        assert snapshot["results"] == expected_rows  # exactly these rows, nothing from other years
        assert len(snapshot["results"]) == 77 + 90
        assert [(d[0], d[1]) for d in snapshot["delegations"]] == [("1981-01-01", "EL")] * 4
        runs_by_year = {e["election_year"]: e["loaded_by_run"] for e in store.elections()}
        assert runs_by_year == {1979: "backfill__1979-06-10T00:00:00+00:00",
                                1981: "backfill__1984-06-17T00:00:00+00:00",
                                1984: "backfill__1984-06-17T00:00:00+00:00"}

        # re-run both runs: same rows, nothing added, nothing rewritten
        _airflow(env, "tasks", "clear", "historical_backfill", "--yes", log=cli_log)
        _wait_for(db, servers, try_number=2, expected=8)
        assert store.snapshot() == snapshot
        store.dispose()
    finally:
        stop_seconds = servers.stop()
    print(f"\nhistory backfill: first two runs {first_done - started:.1f} s after start, "
          f"total {time.monotonic() - started:.1f} s, stop {stop_seconds:.1f} s")
    for proc in servers.procs:
        assert proc.returncode is not None
