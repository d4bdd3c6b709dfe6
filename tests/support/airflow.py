"""Airflow with the CeleryExecutor on loopback, every component a process (tests and the production bench).

:class:`CeleryAirflow` runs Redis, the api-server, scheduler, dag-processor, triggerer and N Celery
workers, each worker under its own host name (:func:`worker_hostname`, as each container has one
in compose); :func:`celery_stack_problem` says why the Celery executor cannot load, if it cannot.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import ROOT, ProcessGroup, free_port, free_ports, wait_for


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the loopback workers: the name in ``ENR_WORKER_HOSTNAME``.

    In compose every worker is its own container with its own hostname; on one machine two
    workers would both report the machine's name, so each is given its own through this.
    """
    return os.environ.get("ENR_WORKER_HOSTNAME") or socket.getfqdn()


def airflow_binary() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


@dataclass
class CeleryAirflow:
    """Redis + api-server + scheduler + dag-processor + triggerer + N Celery workers on loopback.

    ``metadata_url``: a PostgreSQL SQLAlchemy URL (the metadata DB, also the Celery result backend).
    ``extra_env``: the project's settings (ENR_*) for the components.
    """

    home: Path
    metadata_url: str
    workers: int = 2
    concurrency: int = 2
    parallelism: int = 4
    dags_folder: Path = ROOT / "dags"
    extra_env: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=lambda: {"admin": "admin", "reviewer": "op"})
    passwords: dict[str, str] = field(init=False, default_factory=dict)  # a random one per user, made at start
    processes: ProcessGroup = field(init=False)
    api_port: int = field(init=False, default=0)
    redis_port: int = field(init=False, default=0)
    env: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.processes = ProcessGroup(self.home / "logs-processes")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def worker_names(self) -> list[str]:
        return [f"enr-worker-{i}" for i in range(1, self.workers + 1)]

    def _environment(self) -> dict[str, str]:
        import secrets

        from sqlalchemy.engine import make_url

        url = make_url(self.metadata_url)
        result_backend = "db+" + url.set(drivername="postgresql").render_as_string(hide_password=False)
        ports = free_ports(3)
        self.api_port = ports[0]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in self.users.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                str(self.home / "simple_auth_manager_passwords.json.generated"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports[1]),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports[2]),
            "GX_ANALYTICS_ENABLED": "false",
        })
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> "CeleryAirflow":
        self.home.mkdir(parents=True, exist_ok=True)
        redis = shutil.which("redis-server")
        if redis is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server)")
        self.redis_port = free_port()
        self.processes.start("redis", [redis, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--dir", str(self.home),
                                       "--protected-mode", "yes"])
        wait_for(lambda: self._redis_ping(), 20, "redis-server")
        self.env = self._environment()
        import secrets

        self.passwords = {user: secrets.token_urlsafe(18) for user in self.users}
        (self.home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps(self.passwords))
        migrate = subprocess.run([airflow_binary(), "db", "migrate"], env=self.env, capture_output=True,
                                 text=True, timeout=300)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {migrate.stderr[-3000:]}")
        af = airflow_binary()
        self.processes.start("api-server", [af, "api-server", "--host", "127.0.0.1", "--port", str(self.api_port)],
                             env=self.env)
        self.processes.start("scheduler", [af, "scheduler"], env=self.env)
        self.processes.start("dag-processor", [af, "dag-processor"], env=self.env)
        self.processes.start("triggerer", [af, "triggerer"], env=self.env)
        for number, name in enumerate(self.worker_names(), start=1):
            worker_env = {**self.env,
                          "ENR_WORKER_HOSTNAME": name,
                          "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.support.airflow.worker_hostname",
                          "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            self.processes.start(name, [af, "celery", "worker", "--concurrency", str(self.concurrency),
                                        "-H", f"worker{number}@{name}", "--skip-serve-logs"], env=worker_env)
        wait_for(self._healthy, timeout, "Airflow components (metadatabase, scheduler, triggerer, dag_processor)",
                 interval=1.0)
        self.processes.record_children()
        return self

    def api(self, user: str):
        """The REST client of ``user`` (one of :attr:`users`, with the password made at start)."""
        from enr.airflow_api import AirflowAPI

        return AirflowAPI(base_url=self.base_url, username=user, password=self.passwords[user])

    def wait_parsed(self, dag_ids: tuple[str, ...], timeout: float) -> None:
        """Until the dag-processor has parsed every DAG of ``dag_ids`` (TimeoutError after ``timeout`` s)."""
        admin = self.api("admin")

        def parsed() -> bool:
            try:
                return all(admin._request("GET", f"/api/v2/dags/{d}").get("dag_id") == d for d in dag_ids)
            except Exception:  # noqa: BLE001 - 404 until the dag-processor has parsed the files
                return False

        wait_for(parsed, timeout, "the DAGs parsed by the dag-processor", interval=1.0)

    def _redis_ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def _healthy(self) -> bool:
        for name, proc in self.processes.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {self.processes.log(name)[-3000:]}")
        with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as response:
            health = json.load(response)
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def stop(self) -> list[int]:
        """SIGINT to every component, SIGKILL by PID to what is left after 20 s; the PIDs still alive."""
        self.processes.stop_all(first=signal.SIGINT, grace=20)
        return self.processes.leftovers()


def celery_stack_problem(env: dict[str, str] | None = None) -> str | None:
    """Why Airflow's Celery executor cannot load in this environment, or None if it can."""
    probe = subprocess.run([sys.executable, "-c",
                            "import celery, airflow.providers.celery.executors.celery_executor_utils"],
                           env=env, capture_output=True, text=True, timeout=120)
    if probe.returncode == 0:
        return None
    version = subprocess.run([sys.executable, "-c", "import celery; print(celery.__version__)"], env=env,
                             capture_output=True, text=True, timeout=60).stdout.strip()
    return (f"apache-airflow-providers-celery cannot load with celery {version}: "
            f"{probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else 'import failed'} "
            f"(celery 5.7 removed celery.backends.database.retry; pin celery==5.6.3 in constraints.txt)")
