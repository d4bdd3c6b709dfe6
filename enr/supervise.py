"""Run a long-lived program (``airflow standalone``) so that stopping ``enr`` stops all of it.

``airflow standalone`` stops its components on SIGINT (Ctrl-C), but on SIGTERM (``kill %1``, a closed
terminal's SIGHUP, a service manager) it dies alone and leaves its API server, scheduler, triggerer and
DAG processor running, still holding the port and the SQLite database. So ``enr airflow`` does not
become standalone: it starts it in a session of its own and, on SIGINT, SIGTERM or SIGHUP, stops the
whole tree in order:

1. SIGINT to standalone (its own orderly stop), ``grace`` seconds for it to finish;
2. SIGTERM, then SIGKILL, to every process that is still alive among those that belonged to the tree
   when the stop began (its process group, and descendants that left it: a task runner may start a
   session of its own; apache/airflow#67870: a worker may ignore SIGTERM).

Every wait is bounded. The exit status is standalone's own, or 128 + the signal that stopped it.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

import psutil

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants, and whatever else is in its process group."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(pid)
        found[pid] = root
        for child in root.children(recursive=True):
            found[child.pid] = child
    except psutil.NoSuchProcess:
        pass
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pid:
                found.setdefault(proc.pid, proc)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return list(found.values())


def _signal_all(procs: list[psutil.Process], signum: int) -> None:
    for proc in procs:
        try:
            proc.send_signal(signum)
        except psutil.Error:
            pass


def stop_tree(pid: int, *, grace: float = 30.0, term_grace: float = 10.0) -> list[int]:
    """Stop ``pid`` and all it started (see the module docstring); returns the PIDs that had to be killed."""
    members = _tree(pid)
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    _, alive = psutil.wait_procs(members, timeout=grace)
    if alive:
        alive = [p for p in alive if p.is_running()]
        _signal_all(alive, signal.SIGTERM)
        _, alive = psutil.wait_procs(alive, timeout=term_grace)
    killed = [p.pid for p in alive]
    if alive:
        log.warning("killing %d processes that ignored SIGINT and SIGTERM: %s", len(alive), killed)
        _signal_all(alive, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
    return killed


def run_supervised(argv: list[str], env: dict[str, str], *, grace: float = 30.0) -> int:
    """Run ``argv`` until it ends or this process gets SIGINT/SIGTERM/SIGHUP; then stop the whole tree."""
    received: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: received.append(signum)) for s in STOP_SIGNALS}
    try:
        child = subprocess.Popen(argv, env=env, start_new_session=True)
        while child.poll() is None and not received:
            time.sleep(0.2)
        if received:
            print(f"stopping Airflow (signal {signal.Signals(received[0]).name})...", flush=True)
        stop_tree(child.pid, grace=grace)
        child.wait(timeout=5)
        return 128 + received[0] if received else child.returncode
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
