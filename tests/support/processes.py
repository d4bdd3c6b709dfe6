"""Processes, ports and environment for the loopback stand-ins of production (tests and the load bench).

* :func:`environment` — set or unset environment variables for a block and restore them after
  (Airflow's cached object stores dropped when ``AIRFLOW_CONN_*`` change).
* :func:`free_port`, :func:`free_ports`, :func:`wait_for`, :func:`http_ok` — loopback ports and
  bounded waits.
* :class:`ProcessGroup` — start processes in their own session, remember every PID (children
  too), stop with SIGINT/SIGTERM and fall back to SIGKILL by PID; every wait is bounded.
  :func:`stop_process` does the same for one process.

Nothing in the project imports this; it only drives external programs.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


def stop_process(proc: subprocess.Popen, *, first: int = signal.SIGTERM, grace: float = 3.0,
                 known: set[int] | frozenset[int] = frozenset(), reap: float = 5.0) -> set[int]:
    """Stop ``proc`` and its descendants: the ``first`` signal, up to ``grace`` s for it to exit, then
    SIGKILL by PID to every descendant (and ``known`` PID) still alive; returns the PIDs it saw."""
    pids = {proc.pid, *known, *_descendants(proc.pid)}
    if proc.poll() is None:
        try:
            proc.send_signal(first)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    for pid in sorted(pids):
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    try:
        proc.wait(timeout=reap)
    except subprocess.TimeoutExpired:
        pass
    return pids


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
        self.known_pids[name].update(stop_process(proc, first=first, grace=grace, known=self.known_pids[name],
                                                  reap=10))

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
