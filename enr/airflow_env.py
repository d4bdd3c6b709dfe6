"""Environment for running this project's DAGs under Airflow (embedded defaults).

``airflow_environment()`` returns the variables that point Airflow at this project's ``dags/``
with a SQLite metadata database under ``$ENR_HOME/airflow``. Production sets its own
(``docker/``); nothing here is read at import time.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from enr.definition import PROJECT_ROOT
from enr.settings import get_settings


# Election-night latency on the production layout (docs/PRODUCTION.md "Latency: the settings"): the
# waits between a delivery landing and its publication that are Airflow's, not the work's. Set in
# docker/compose.yaml (x-airflow-env) and by bench/bench_production_latency.py; the reasons there.
PRODUCTION_LATENCY: dict[str, str] = {
    # the scheduler sleeps this long after a loop with nothing to do (default 1 s): each hand-over
    # between two tasks (sensor -> ingest -> tally -> stage, describe -> publish, an approval answered)
    # waits for the next loop; 0.2 s costs an idle scheduler a few more light queries a second
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    # the inbox sensor looks every second, holding its worker slot (mode poke) for at most its 50 s,
    # instead of being rescheduled every 5 s (each reschedule is a scheduler loop, a Celery message
    # and a new task process: seconds on a busy worker)
    "ENR_INBOX_POKE_SECONDS": "1",
    "ENR_INBOX_SENSOR_MODE": "poke",
}


def production_latency() -> dict[str, str]:
    """The settings of :data:`PRODUCTION_LATENCY` (a copy), for a production-like Airflow."""
    return dict(PRODUCTION_LATENCY)


def airflow_executable() -> str:
    """The ``airflow`` of this project's environment (beside the running Python), whatever the PATH."""
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def _path_with_this_environment() -> str:
    """PATH with this interpreter's bin folder first: ``airflow standalone`` starts its components as
    ``airflow ...`` from PATH, which holds no virtualenv in a plain shell."""
    here = str(Path(sys.executable).parent)
    rest = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p and p != here]
    return os.pathsep.join([here, *rest])


def airflow_environment(*, all_admins: bool = False, port: int = 8080) -> dict[str, str]:
    from enr.home import EMBEDDED_USERS, jwt_secret

    settings = get_settings()
    home = Path(os.environ.get("AIRFLOW_HOME", settings.home / "airflow"))
    env = {
        "PATH": _path_with_this_environment(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # LocalExecutor without the stale-event race of deferred/rescheduled tasks (see the module)
        "AIRFLOW__CORE__EXECUTOR": "plugins.enr_airflow.executors.ElectionNightLocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # embedded users and roles; their random passwords are made by `enr init` (enr.home)
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in EMBEDDED_USERS.items()),
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret(),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "GX_ANALYTICS_ENABLED": "false",
        "ENR_HOME": str(settings.home),
    }
    if all_admins:
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    return env
