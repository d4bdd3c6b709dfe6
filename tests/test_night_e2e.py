"""The whole night through Airflow: ingest -> tally -> stage -> human approval -> publish.

The DAGs run with ``dag.test()``; the approval gate is answered through Airflow's real
``hitlDetails`` REST endpoint (the FastAPI app in-process, from a background thread), logged in as
the reviewer named in ``ENR_REVIEWERS`` (the reviewer restriction is on). Nothing skips the gate.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def airflow_db():
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env=os.environ.copy())
    yield


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def night_home(enr_home):
    from enr import demo, operator, pipeline

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    operator.mark_public_areas("rehearsal")  # the replayed deliveries carry the test flag
    return enr_home, keys


def api_client(user: str):
    """The core REST API in-process, logged in as ``user`` with the session's random password for it."""
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_app
    from enr.home import password_of

    client = TestClient(create_app(apps="core"))
    token = client.post("/auth/token", json={"username": user, "password": password_of(user)})
    assert token.status_code in (200, 201), token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return client


def respond_in_background(dag_id: str, task_id: str, chosen: list[str], timeout: float = 120,
                          user: str = "reviewer"):
    """Answer the first pending HITL request of ``dag_id`` through the REST API as ``user``, from a thread."""
    out: dict = {}

    def run():
        from sqlalchemy import select

        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState

        client = api_client(user)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with create_session() as session:
                row = session.execute(
                    select(TI.run_id, TI.map_index).join(HITLDetail, HITLDetail.ti_id == TI.id).where(
                        TI.dag_id == dag_id, TI.task_id == task_id, HITLDetail.responded_at.is_(None),
                        TI.state == TaskInstanceState.AWAITING_INPUT)).first()
            if row:
                listing = client.get("/api/v2/dags/~/dagRuns/~/hitlDetails",
                                     params={"response_received": "false", "dag_id_pattern": dag_id}).json()
                out["subjects"] = [d["subject"] for d in listing.get("hitl_details", [])]
                response = client.patch(
                    f"/api/v2/dags/{dag_id}/dagRuns/{row.run_id}/taskInstances/{task_id}/{row.map_index}/hitlDetails",
                    json={"chosen_options": chosen, "params_input": {}})
                out.update(status=response.status_code, body=response.json())
                return
            time.sleep(0.3)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _states(dag_run) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for ti in dag_run.get_task_instances():
        states.setdefault(ti.task_id, []).append(str(ti.state))
    return states


def _write_wave(home: Path, keys: dict, waves: tuple[str, ...], bad: int = 0):
    from enr import replay

    return replay.write_night(home / "outbox", election="ep2019", waves=waves, sender_home=keys["sender_home"],
                              seed=0, bad=bad)


def test_whole_night_published_after_approval(dags, night_home):
    from enr import demo, operator

    home, keys = night_home
    night = _write_wave(home, keys, ("final:100",))
    demo.drop_into_inbox(night.waves[0].files)

    run = dags["election_night_ingest"].test(run_conf={"election": "ep2019"})
    states = _states(run)
    assert set(states["ingest"]) == {"success"}, states
    assert len(states["ingest"]) == 28
    assert states["tally"] == ["success"] and states["stage"] == ["success"]
    version = operator.status("ep2019")["latest_version"]

    thread, answer = respond_in_background("election_night_publish", "publish", ["Approve"])
    run = dags["election_night_publish"].test(run_conf={"election": "ep2019", "version": version})
    thread.join(5)
    assert answer["status"] == 200, answer
    assert answer["body"]["responded_by"]["id"] == "reviewer"
    assert any(version in s and "?" in s for s in answer["subjects"]), answer["subjects"]
    assert _states(run)["publish"] == ["success"]

    status = operator.status("ep2019")
    assert status["current"]["version"] == version
    assert status["current"]["seats_allocated"] == 751
    assert sum(g["seats"] for g in status["current"]["groups"]) == 751
    report = operator.verify_current("ep2019")
    assert report["ok"], report["text"]


def test_rejection_publishes_nothing(dags, night_home):
    from enr import demo, operator

    home, keys = night_home
    night = _write_wave(home, keys, ("provisional:50",))
    demo.drop_into_inbox(night.waves[0].files)
    dags["election_night_ingest"].test(run_conf={"election": "ep2019"})
    version = operator.status("ep2019")["latest_version"]

    thread, answer = respond_in_background("election_night_publish", "publish", ["Reject"])
    run = dags["election_night_publish"].test(run_conf={"election": "ep2019", "version": version})
    thread.join(5)
    assert answer["status"] == 200
    assert _states(run)["publish"] == ["skipped"]
    status = operator.status("ep2019")
    assert status["current"] is None
    assert status["versions"][-1]["status"] == "rejected" and status["pending"] == []
    bucket_public = Path(home / "bucket" / "public")
    assert not bucket_public.exists() or not any(bucket_public.rglob("manifest.json"))


def test_newer_version_supersedes_pending_one(dags, night_home):
    from enr import demo, operator

    home, keys = night_home
    night = _write_wave(home, keys, ("provisional:40", "final:100"))
    demo.drop_into_inbox(night.waves[0].files)
    dags["election_night_ingest"].test(run_conf={"election": "ep2019"})
    older = operator.status("ep2019")["latest_version"]
    demo.drop_into_inbox(night.waves[1].files)
    dags["election_night_ingest"].test(run_conf={"election": "ep2019"})
    newer = operator.status("ep2019")["latest_version"]
    assert newer > older
    assert operator.status("ep2019")["pending"] == [newer]

    # The reviewer approves the older version late: it must not be published.
    thread, answer = respond_in_background("election_night_publish", "publish", ["Approve"])
    run = dags["election_night_publish"].test(run_conf={"election": "ep2019", "version": older})
    thread.join(5)
    assert answer["status"] == 200
    assert _states(run)["publish"] == ["skipped"]
    thread, answer = respond_in_background("election_night_publish", "publish", ["Approve"])
    run = dags["election_night_publish"].test(run_conf={"election": "ep2019", "version": newer})
    thread.join(5)
    assert _states(run)["publish"] == ["success"]
    status = operator.status("ep2019")
    assert status["current"]["version"] == newer
    by_version = {v["version"]: v["status"] for v in status["versions"]}
    assert by_version[older] == "superseded" and by_version[newer] == "published"


def test_bad_delivery_fails_its_task_and_changes_nothing(dags, night_home):
    from enr import demo, operator

    home, keys = night_home
    night = _write_wave(home, keys, ("final:100",))
    good = [f for f in night.waves[0].files if "-AT-" not in f.name]
    demo.drop_into_inbox(good)
    dags["election_night_ingest"].test(run_conf={"election": "ep2019"})
    before = operator.status("ep2019")

    at = [f for f in night.waves[0].files if "-AT-" in f.name and f.suffix == ".csv"][0]
    tampered = home / "tampered" / at.name
    tampered.parent.mkdir()
    tampered.write_bytes(at.read_bytes().replace(b"oevp,1", b"oevp,9", 1)
                         if b"oevp,1" in at.read_bytes() else at.read_bytes() + b"\n")
    (tampered.parent / (at.name + ".asc")).write_bytes(at.with_name(at.name + ".asc").read_bytes())
    demo.drop_into_inbox([tampered])
    run = dags["election_night_ingest"].test(run_conf={"election": "ep2019"})
    states = _states(run)
    assert states["ingest"] == ["failed"], states
    assert states["stage"] != ["success"]
    after = operator.status("ep2019")
    assert after["versions"] == before["versions"]
    assert after["quarantined_total"] == before["quarantined_total"] + 1
    quarantine = list((home / "bucket" / "quarantine").rglob("*.reason.json"))
    assert quarantine and "signature" in json.loads(quarantine[0].read_text())["rule"]
