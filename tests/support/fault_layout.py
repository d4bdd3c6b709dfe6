"""The production layout on loopback for the fault suite (tests/faults/), with handles to break it.

* :class:`RestartablePostgres` — a private PostgreSQL cluster (scripts/pg-test-cluster.sh on its
  own port and state file), so that a test may stop and restart *this* server without touching the
  session's shared one (``ENR_TEST_PG_URL``).
* :func:`render_failover_site` — the real docker/nginx configuration (``render_nginx``) with both
  stores: the backup S3 store is the upstream's ``backup`` server and ``proxy_next_upstream error
  timeout http_502 http_503 http_504`` (docker/nginx as shipped): while the primary store is down
  nginx takes every miss from the backup store. (The two stores hold the bucket under the same
  name, as the upstream's path names one bucket.)
* :class:`Readers` — threads that read the site as a reader does (pointer, manifest, one page,
  each checked against the digests) and count every error.
* :func:`bucket_digests` / :func:`store_rows` — snapshots for "nothing lost".
* :class:`RecoveryTable` — the recovery time of each fault, written to test-artifacts/faults.md.

Only drives external programs and the project's public API; nothing here is imported by the project.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.nginx import render_nginx
from tests.support.processes import environment, free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))


# -- PostgreSQL that a test may restart -----------------------------------------------------------

@dataclass
class RestartablePostgres:
    """A throwaway cluster started by scripts/pg-test-cluster.sh on a free port; ``restart()`` it."""

    state_dir: Path
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> "RestartablePostgres":
        self.port = self.port or free_port()
        state = self.state_dir / f"pg-{self.port}.env"
        run_env = {**os.environ, "PGPORT": str(self.port), "ENR_PG_TEST_STATE": str(state)}
        out = subprocess.run([str(ROOT / "scripts" / "pg-test-cluster.sh"), "start"], env=run_env,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"pg-test-cluster.sh start failed: {out.stderr[-2000:]}")
        for line in out.stdout.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            self.env[key] = value
        self._run_env = run_env
        return self

    @property
    def url(self) -> str:
        return self.env["ENR_TEST_PG_URL"]

    @property
    def data_dir(self) -> str:
        return f"{self.env['ENR_PG_TEST_ROOT']}/data"

    def _pg_ctl(self, *args: str) -> None:
        argv = [str(PG_BIN / "pg_ctl"), "-D", self.data_dir, *args]
        if os.getuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=90)

    def stop_server(self) -> None:
        """Fast shutdown: every open connection is cut (as a crash or a failover does to clients)."""
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        root = self.env["ENR_PG_TEST_ROOT"]
        self._pg_ctl("-l", f"{root}/server.log", "-w", "-t", "60", "-o",
                     f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                     f"-c synchronous_commit=off -c full_page_writes=off", "start")

    def destroy(self) -> None:
        # its own root: `stop` prefers ENR_PG_TEST_ROOT from the environment, which .ci/run exports for
        # the session's shared cluster (stopping that one instead left this one running)
        subprocess.run([str(ROOT / "scripts" / "pg-test-cluster.sh"), "stop"],
                       env={**self._run_env, "ENR_PG_TEST_ROOT": self.env["ENR_PG_TEST_ROOT"]},
                       capture_output=True, timeout=120)


# -- the public site with the backup store behind the primary -------------------------------------------

def render_failover_site(prefix: Path, *, port: int, primary: str, backup: str, bucket: str,
                         election: str) -> Path:
    """``render_nginx`` of the public site with both stores: the backup one is the upstream's ``backup``
    server, as docker/nginx ships it."""
    conf = render_nginx(prefix, site="public", port=port, upstream=primary, bucket=bucket, election=election,
                        backup_upstream=backup)
    text = (prefix / "conf.d" / "default.conf").read_text()
    if f"server {backup} backup;" not in text or "proxy_next_upstream error timeout" not in \
            (prefix / "enr" / "enr-origin.conf").read_text():
        raise AssertionError("docker/nginx no longer fails over to the backup store")
    return conf


# -- readers ----------------------------------------------------------------------------------------

@dataclass
class Readers:
    """``threads`` readers in a loop: ``current.json`` -> the manifest it names (digest checked) ->
    one file of that version (digest checked against the manifest). Every non-200 answer, connection
    error or digest mismatch is an error, kept with its reason; versions seen are kept in order."""

    port: int
    election: str
    threads: int = 6
    sample_paths: tuple[str, ...] = ("data/eu.json", "en/index.html", "data/countries/fr.json")
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    versions_seen: list[list[str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _get(self, conn: http.client.HTTPConnection, path: str) -> bytes:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        with self._lock:
            self.requests += 1
        if response.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status}")
        return body

    def _loop(self, number: int) -> None:
        seen: list[str] = []
        self.versions_seen.append(seen)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        turn = number
        while not self._stop.is_set():
            try:
                pointer = json.loads(self._get(conn, f"/{self.election}/current.json"))
                version = pointer["version"]
                manifest_raw = self._get(conn, f"/{self.election}/{version}/manifest.json")
                if hashlib.sha256(manifest_raw).hexdigest() != pointer["manifest_sha256"]:
                    raise RuntimeError(f"{version}: manifest digest is not the pointer's")
                files = {e["path"]: e["sha256"] for e in json.loads(manifest_raw)["files"]}
                path = self.sample_paths[turn % len(self.sample_paths)]
                turn += 1
                if hashlib.sha256(self._get(conn, f"/{self.election}/{version}/{path}")).hexdigest() != files[path]:
                    raise RuntimeError(f"{version}/{path}: digest is not the manifest's")
                if not seen or seen[-1] != version:
                    seen.append(version)
            except Exception as exc:  # noqa: BLE001 - every failure a reader sees is counted
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                time.sleep(0.05)
            time.sleep(0.01)
        conn.close()

    def start(self) -> "Readers":
        for number in range(self.threads):
            worker = threading.Thread(target=self._loop, args=(number,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def went_backwards(self) -> list[list[str]]:
        """Readers who saw an older version after a newer one (version names sort by number)."""
        return [seen for seen in self.versions_seen if seen != sorted(seen)]


def fetch(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- snapshots ------------------------------------------------------------------------------------------

def bucket_digests(client, bucket: str, prefix: str) -> dict[str, str]:
    """``{key: sha256}`` of every object under ``prefix`` (read back through S3, not from a listing)."""
    out: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            out[item["Key"]] = hashlib.sha256(body).hexdigest()
    return out


def store_rows(store, election: str) -> dict:
    """What the results store holds of ``election``: deliveries by digest and outcome, result sets."""
    deliveries = store.deliveries(election)
    return {"deliveries": sorted((d["sha256"], d["outcome"]) for d in deliveries),
            "accepted_digests": sorted(d["sha256"] for d in deliveries if d["outcome"] == "accepted"),
            "result_sets": len(store.result_sets(election)),
            "results_digest": store.results_digest(election)}


# -- the recovery table -----------------------------------------------------------------------------------

@dataclass
class RecoveryTable:
    """Rows ``fault | recovered | recovery time | detail``, rewritten to ``path`` after every row."""

    path: Path
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def record(self, fault: str, seconds: float, detail: str, recovered: str = "by itself") -> None:
        self.rows.append((fault, recovered, f"{seconds:.1f} s", detail))
        print(f"\nFAULT {fault}: recovered {recovered} in {seconds:.1f} s ({detail})")
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["# Fault suite: recovery times", "",
                 "Written by tests/faults/ (`pytest tests/faults -m slow`) on the loopback production layout.", "",
                 "| fault | recovered | recovery time | detail |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows]
        self.path.write_text("\n".join(lines) + "\n")


# -- the night, step by step (what the DAG tasks call) -----------------------------------------------------

APPROVAL = {"chosen_options": ["Approve"], "responded_by": {"id": "reviewer", "name": "reviewer"}}


def ingest_all(election: str) -> dict:
    """``ingest_country`` for every country with waiting deliveries; the summaries merged."""
    from enr import pipeline

    merged = {"accepted": [], "duplicates": [], "quarantined": []}
    for _ in range(10):  # a file the intake does not take yet (its signature still arriving) is taken next pass
        pending = pipeline.pending_countries(election)
        if not pending:
            return merged
        for country in pending:
            summary = pipeline.ingest_country(election, country)
            for key in merged:
                merged[key].extend(summary[key])
        time.sleep(0.5)
    raise AssertionError(f"deliveries still waiting in the inbox: {pipeline.pending_countries(election)}")


def tally_and_stage(election: str) -> dict:
    from enr import pipeline

    tallied = pipeline.tally(election)
    assert tallied is not None, "nothing new was tallied"
    return pipeline.stage(election, tallied)


def publish_staged(election: str, staged: dict) -> dict:
    from enr import pipeline

    described = pipeline.describe_version(election, staged["version"])
    return pipeline.publish(election, staged["version"], described["manifest_sha256"], APPROVAL)


_VOLATILE = frozenset({"version", "generated_at", "changes", "since_version", "since_generated_at", "previous",
                       "as_of"})  # eu.as_of: when the EU figures were put together (publish/timeline.py)


def seat_state(bundle: dict) -> dict:
    """The results of a tally bundle without what depends on the path taken (version names, times,
    what changed since the previous version): countries' lists, votes and seats, the EU aggregate."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {"countries": strip(bundle["countries"]), "eu": strip(bundle["eu"])}


def reference_night(workdir: Path, election: str, waves: list[list[Path]], trusted_keys: Path) -> dict:
    """:func:`seat_state` of the same deliveries taken without any fault, on a private SQLite store
    and local-folder bucket (the settings swapped for the duration, then restored)."""
    from enr import demo, pipeline

    with environment({"ENR_HOME": str(workdir), "ENR_STORE_URL": f"sqlite:///{workdir / 'results.db'}",
                      "ENR_BUCKET_URL": f"file://{workdir / 'bucket'}",
                      "ENR_BACKUP_BUCKET_URL": f"file://{workdir / 'backup'}", "ENR_TRUSTED_KEYS": str(trusted_keys)}):
        pipeline.open_store().migrate()
        for files in waves:
            demo.drop_into_inbox(files)
            taken = ingest_all(election)
            assert taken["accepted"] and not taken["quarantined"], taken
        tallied = pipeline.tally(election)
        return seat_state(json.loads(pipeline.export_bucket().read(tallied["bundle_path"])))


def current_seat_state(election: str) -> dict:
    """:func:`seat_state` of the version the export bucket's pointer names."""
    from enr import pipeline

    pointer = json.loads(pipeline.export_bucket().read(f"public/{election}/current.json"))
    info = pipeline.open_store().version(election, pointer["version"])
    return seat_state(json.loads(pipeline.export_bucket().read(info["bundle_path"])))
