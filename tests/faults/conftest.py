"""One production layout on loopback for the whole fault suite (the machine has 2 cores).

``layout`` (session): a private PostgreSQL cluster (the results store; restartable), two SeaweedFS
servers (the export bucket and its backup, on separate stores with separate credentials, as ``s3``
and ``s3-backup`` in docker/compose.yaml), nginx with the real site configuration and the backup
store as failover origin, the demo keys, and the project's settings in the environment
(``ENR_STORE_URL``, ``ENR_BUCKET_URL``, ``ENR_BACKUP_BUCKET_URL``, ``AIRFLOW_CONN_*``).

``night``: the replayed night's deliveries in three waves; the tests take them in order (a published
version first, then each fault on the way to the final wave). ``reference_seats``: the same night's
final seats computed without any fault, which the end state is compared with.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ELECTION = "ep2019"
BUCKET = "enr-export"  # the same bucket name on both stores: nginx's upstream path names one bucket
EXPORT_URL = f"s3://enr_export_bucket@{BUCKET}/"
BACKUP_URL = f"s3://enr_backup_bucket@{BUCKET}/"
WAVES = ("provisional:40", "provisional:85", "final:100")


def _missing() -> str | None:
    from tests.support import nginx, s3
    from tests.support.fault_layout import PG_BIN

    if s3.weed_binary() is None:
        return s3.MISSING
    if nginx.nginx_binary() is None:
        return nginx.MISSING
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL server binaries not found in {PG_BIN} (.ci/run installs postgresql-15)"
    return None


@pytest.fixture(scope="session")
def recovery_table():
    from tests.support.fault_layout import RecoveryTable

    return RecoveryTable(ROOT / "test-artifacts" / "faults.md")


@pytest.fixture(scope="session")
def layout(tmp_path_factory):
    missing = _missing()
    if missing:
        pytest.skip(missing)
    from tests.support.fault_layout import RestartablePostgres, render_failover_site
    from tests.support.nginx import Nginx, nginx_check
    from tests.support.processes import environment, free_port
    from tests.support.s3 import SeaweedS3

    home = Path(tempfile.mkdtemp(prefix="enrf", dir="/tmp"))  # short: GNUPGHOMEs live inside
    stops = []
    try:
        postgres = RestartablePostgres(home).start()
        stops.append(postgres.destroy)
        primary = SeaweedS3(home / "s3", buckets=(BUCKET,), public_buckets=(BUCKET,),
                            access_key="export-key", secret_key="export-secret-0123456789").start()
        stops.append(primary.stop)
        backup = SeaweedS3(home / "s3b", buckets=(BUCKET,), public_buckets=(BUCKET,),
                           access_key="backup-key", secret_key="backup-secret-0123456789").start()
        stops.append(backup.stop)
        port = free_port()
        conf = render_failover_site(home / "nginx", port=port, primary=f"127.0.0.1:{primary.s3_port}",
                                    backup=f"127.0.0.1:{backup.s3_port}", bucket=BUCKET, election=ELECTION)
        check = nginx_check(conf)
        assert check.returncode == 0, check.stderr
        site = Nginx(conf, port).start()
        stops.append(site.stop)
        settings = {"ENR_HOME": str(home / "enr"), "ENR_STORE_URL": postgres.url, "ENR_ELECTION": ELECTION,
                    "ENR_BUCKET_URL": EXPORT_URL, "ENR_BACKUP_BUCKET_URL": BACKUP_URL,
                    "AIRFLOW_CONN_ENR_EXPORT_BUCKET": primary.connection(),
                    "AIRFLOW_CONN_ENR_BACKUP_BUCKET": backup.connection(),
                    "ENR_TRUSTED_KEYS": None, "ENR_SIGNING_HOME": None}
        with environment(settings):
            from enr import demo, operator, pipeline

            keys = demo.ensure_demo_keys()
            pipeline.open_store().migrate()
            operator.mark_public_areas("rehearsal")  # the replayed deliveries carry the test flag
            yield {"home": home, "postgres": postgres, "primary": primary, "backup": backup, "site": site,
                   "port": port, "keys": keys, "settings": settings}
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - stop the rest whatever one of them does
                print(f"fault layout: stop failed: {exc}")
        for keyring in home.rglob("pubring.kbx"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(keyring.parent)},
                           capture_output=True, timeout=30)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def night(layout):
    """The replayed night's signed deliveries, by wave (written once; each test takes the next wave)."""
    from enr import replay

    written = replay.write_night(layout["home"] / "outbox", election=ELECTION, waves=WAVES,
                                 sender_home=layout["keys"]["sender_home"], seed=0, bad=0)
    return {"waves": [wave.files for wave in written.waves], "taken": 0}


def next_wave(night) -> list:
    """The next wave's files (in order: the night's waves are taken one by one across the suite)."""
    assert night["taken"] < len(night["waves"]), "the fault suite takes more waves than the night has"
    files = night["waves"][night["taken"]]
    night["taken"] += 1
    return files


@pytest.fixture(scope="session")
def reference_seats(layout, night):
    """The seats (and votes) after the final wave, computed without any fault."""
    from tests.support.fault_layout import reference_night

    return reference_night(layout["home"] / "reference", ELECTION, night["waves"],
                           layout["home"] / "enr" / "keys" / "trusted")
