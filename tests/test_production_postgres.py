"""PostgreSQL as Airflow's metadata database AND as the results store (the production layout).

The server comes from ``ENR_TEST_PG_URL`` (``.ci/run`` starts a throwaway cluster on loopback and
sets it). Each run creates its own two databases, ``airflow_<random>`` and ``results_<random>``,
on that server, and drops them at the end, so it never touches anything else there.

* ``airflow db migrate`` and ``airflow db check`` on the metadata database;
* the results store's migrations on the results database (twice: they are idempotent);
* the whole night through Airflow with both on PostgreSQL: signed deliveries in the inbox,
  ``election_night_ingest`` (28 mapped country tasks, tally, stage), ``election_night_publish``
  with its approval answered through Airflow's REST API, a verified publication; then the
  metadata and the results are read back from PostgreSQL, and no SQLite file was created.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PG_URL = os.environ.get("ENR_TEST_PG_URL")
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="ENR_TEST_PG_URL is not set: no PostgreSQL server to test against "
                                          "(.ci/run starts one with scripts/pg-test-cluster.sh and sets it)"),
]


@pytest.fixture(scope="module")
def databases():
    """Two fresh databases on the test server; dropped afterwards whatever happened."""
    from tests.support.databases import TempDatabases

    temp = TempDatabases(PG_URL, kinds=("airflow", "results"))
    try:
        yield temp.create()
    finally:
        temp.drop()


def _query(url: str, sql: str) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _airflow_env(airflow_url: str, home: Path) -> dict[str, str]:
    env = {**os.environ}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_url,
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    })
    return env


def test_airflow_db_migrate_on_postgres(databases, tmp_path):
    env = _airflow_env(databases["airflow"], tmp_path / "af")
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    check = subprocess.run([sys.executable, "-m", "airflow", "db", "check"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0, check.stderr[-3000:]
    tables = {row[0] for row in _query(databases["airflow"],
                                       "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"alembic_version", "dag", "dag_run", "task_instance", "hitl_detail"} <= tables
    assert _query(databases["airflow"], "SELECT version_num FROM alembic_version")[0][0]
    assert not (tmp_path / "af" / "airflow.db").exists()


def test_results_store_migrates_on_postgres(databases):
    from enr.store import Store

    Store(databases["results"]).migrate()
    Store(databases["results"]).migrate()  # idempotent: a restarted init service runs it again
    tables = {row[0] for row in _query(databases["results"],
                                       "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert "alembic_version" in tables and len(tables) > 3, tables
    store = Store(databases["results"])
    assert store.next_version("ep2019") == "v0001"
    assert store.versions("ep2019") == []


NIGHT = r"""
import json, sys
from enr.night import run_demo_night
summary = run_demo_night(election="ep2019", waves=("final:100",), bad=0, echo=lambda line: print(line, flush=True))
print("SUMMARY " + json.dumps(summary, default=str))
"""


@pytest.mark.slow
def test_whole_night_with_metadata_and_results_on_postgres(databases):
    home = Path(tempfile.mkdtemp(prefix="enrpg", dir="/tmp"))  # short: GNUPGHOMEs live inside
    env = _airflow_env(databases["airflow"], home / "airflow")
    env.update({"ENR_HOME": str(home / "enr"), "ENR_STORE_URL": databases["results"]})
    for var in ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME"):
        env.pop(var, None)
    try:
        night = subprocess.run([sys.executable, "-c", NIGHT], env=env, cwd=ROOT, capture_output=True, text=True,
                               timeout=600)
        logs = home / "enr" / "logs"
        detail = night.stdout[-4000:] + night.stderr[-4000:]
        assert night.returncode == 0, detail
        summary = json.loads(night.stdout.split("SUMMARY ", 1)[1])
        assert summary["published"] and summary["published"]["version"], detail
        version = summary["published"]["version"]

        # Airflow's metadata on PostgreSQL: both DAGs ran there, the approval was answered there.
        runs = dict(_query(databases["airflow"], "SELECT dag_id, state FROM dag_run"))
        assert runs.get("election_night_ingest") == "success", (runs, logs)
        assert runs.get("election_night_publish") == "success", runs
        ingest = _query(databases["airflow"], "SELECT count(*), count(*) FILTER (WHERE state = 'success') "
                                              "FROM task_instance WHERE dag_id = 'election_night_ingest' "
                                              "AND task_id = 'ingest'")[0]
        assert ingest == (28, 28), ingest
        answers = _query(databases["airflow"], "SELECT chosen_options::text FROM hitl_detail "
                                               "WHERE responded_at IS NOT NULL")
        assert answers and "Approve" in answers[0][0], answers

        # The results store on PostgreSQL: the deliveries and the published version are there.
        from enr.store import Store

        store = Store(databases["results"])
        by_version = {v["version"]: v["status"] for v in store.versions("ep2019")}
        assert by_version.get(version) == "published", by_version
        accepted = [d for d in store.deliveries("ep2019") if d["outcome"] == "accepted"]
        assert len(accepted) == 28

        # Nothing fell back to the embedded SQLite defaults.
        assert not list(home.rglob("*.db")), list(home.rglob("*.db"))
        pointer = json.loads((home / "enr" / "bucket" / "public" / "ep2019" / "current.json").read_text())
        assert pointer["version"] == version
    finally:
        for gnupghome in home.rglob("pubring.kbx"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(gnupghome.parent)},
                           capture_output=True, timeout=30)
        subprocess.run(["rm", "-rf", str(home)], timeout=60)
