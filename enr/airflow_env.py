"""Environment for running this project's DAGs under Airflow (embedded defaults).

``airflow_environment()`` returns the variables that point Airflow at this project's ``dags/``
with a SQLite metadata database under ``$ENR_HOME/airflow``. Production sets its own
(``docker/``); nothing here is read at import time. The embedded Airflow's users, their random
passwords and the API's JWT secret are kept here too (made by ``enr init``, :mod:`enr.home`, which
imports this module and never the other way round).
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from enr.definition import PROJECT_ROOT
from enr.settings import get_settings

# The embedded Airflow's users and their simple-auth-manager roles: reviewers answer the approval,
# operators run and re-run DAGs, viewers read. Production uses a real auth manager (docs/PRODUCTION.md).
EMBEDDED_USERS = {"admin": "admin", "reviewer": "op", "operator": "user", "viewer": "viewer"}

# -- the embedded Airflow's secrets (made by `enr init`, enr.home) ---------------------------------

def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or get_settings().home / "airflow")


def passwords_file() -> Path:
    """Airflow's simple-auth-manager password file (the api-server reads it; we fill it first)."""
    configured = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    return Path(configured) if configured else airflow_home() / "simple_auth_manager_passwords.json.generated"


def write_private(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def ensure_passwords() -> tuple[Path, list[str]]:
    """A random password for each embedded user that has none yet; returns the file and the new users."""
    path = passwords_file()
    existing = json.loads(path.read_text()) if path.is_file() else {}
    created = [user for user in EMBEDDED_USERS if not existing.get(user)]
    if created or not path.is_file():
        for user in created:
            existing[user] = secrets.token_urlsafe(18)
        write_private(path, json.dumps(existing, indent=1))
    return path, created


def password_of(user: str) -> str | None:
    path = passwords_file()
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get(user)


def jwt_secret() -> str:
    """The embedded API server's JWT signing secret: 64 random bytes, made once, kept in the home."""
    path = get_settings().home / "secrets" / "airflow-jwt-secret"
    if not path.is_file():
        write_private(path, secrets.token_urlsafe(64))
    return path.read_text().strip()


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
    # Celery workers import the tasks' third-party libraries once, before forking their pool, so that
    # no task process pays pandas/pyarrow/... again (plugins/enr_airflow/celery_config.py)
    "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "plugins.enr_airflow.celery_config.CELERY_CONFIG",
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
