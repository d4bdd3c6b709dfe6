"""Attacks on the approval gate through Airflow itself: forged decisions, answers by the wrong people.

One Airflow for the module: the real API server on a loopback port (the simple auth manager with
the session's users: ``admin``, ``reviewer`` (the only name in ``ENR_REVIEWERS``), ``operator``,
``viewer``, ``intruder`` (role op, not a reviewer)), and ``airflow dags test`` processes for the
``election_night_publish`` runs, as the demo night runs them. The attacker uses only the REST API
(or a logged-in browser session), as a user of the deployment would.

Each test is one attempt. It asserts the refusal (the HTTP status and the API's reason, or the
publish task's own refusal) and that nothing public changed: every byte under ``public/`` is as
it was before the attempt (``current.json`` included).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

from enr.airflow_api import AirflowAPI, AirflowAPIError
from enr.night import AirflowProcesses, _free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "election_night_publish"
ELECTION = "ep2019"


class AttackBench:
    """The module's Airflow and results home: staged versions, the API server, publish runs."""

    def __init__(self, home: Path, port: int):
        self.home = home
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "ENR_HOME": str(home), "ENR_REVIEWERS": "reviewer",
                    "AIRFLOW__API__BASE_URL": self.base_url, "AIRFLOW__API__PORT": str(port)}
        for var in ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_STORE_URL", "ENR_TRUSTED_KEYS",
                    "ENR_SIGNING_HOME"):
            self.env.pop(var, None)
        self.logs = home / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.airflow = AirflowProcesses(env=self.env, port=port, log_dir=self.logs)

    def user(self, name: str) -> AirflowAPI:
        return AirflowAPI(base_url=self.base_url, username=name, password=name, timeout=20)

    # -- the public area -----------------------------------------------------------------------
    def public_snapshot(self) -> dict[str, str]:
        """SHA-256 of every file under the export and backup buckets' ``public/``."""
        files = {}
        for bucket in ("bucket", "backup"):
            root = self.home / bucket / "public"
            if root.exists():
                for path in sorted(p for p in root.rglob("*") if p.is_file()):
                    files[f"{bucket}/{path.relative_to(root)}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        return files

    def current_version(self) -> str | None:
        path = self.home / "bucket" / "public" / ELECTION / "current.json"
        return json.loads(path.read_text())["version"] if path.exists() else None

    # -- publish runs ----------------------------------------------------------------------------
    def _run_ids(self) -> set[str]:
        answer = self.user("admin")._request("GET", "/api/v2/dags/~/dagRuns/~/hitlDetails",
                                             query={"dag_id_pattern": DAG_ID})
        return {d["task_instance"]["dag_run_id"] for d in answer.get("hitl_details", [])}

    def start_publish(self, version: str, **env: str) -> subprocess.Popen:
        self.airflow.env = {**self.env, **env}
        self.seen = self._run_ids()  # the new run's request is the one not seen yet
        return self.airflow.start("dags", "test", DAG_ID, "-c", json.dumps({"election": ELECTION, "version": version}),
                                  log_name=f"publish-{version}-{time.monotonic_ns()}")

    def waiting_request(self, version: str, process: subprocess.Popen, timeout: float = 120) -> dict:
        """The approval request of ``version``'s run once its task is parked for input."""
        admin = self.user("admin")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            waiting = [d for d in admin.approvals_for(version)
                       if admin.is_waiting(d) and d["task_instance"]["dag_run_id"] not in self.seen]
            if waiting:
                return waiting[0]
            assert process.poll() is None, f"the run of {version} ended before asking (exit {process.returncode})"
            time.sleep(0.5)
        raise TimeoutError(f"no approval request for {version}")

    def task_state(self, detail: dict, task_id: str = "publish") -> str:
        ti = detail["task_instance"]
        return self.user("admin")._request(
            "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/{task_id}"
        )["state"]

    def finish(self, process: subprocess.Popen, timeout: float = 120) -> int:
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            raise

    def kill(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()

    def reject(self, detail: dict, process: subprocess.Popen) -> None:
        """End an attacked run the legitimate way: the reviewer rejects it."""
        self.user("reviewer").answer(detail, "Reject")
        self.finish(process)
        assert self.task_state(detail) == "skipped"

    def stop(self) -> None:
        self.airflow.stop()


def _stage_wave(files: list[Path]) -> str:
    from enr import pipeline

    pipeline.drop_into_inbox(files)
    for country in pipeline.pending_countries(ELECTION):
        summary = pipeline.ingest_country(ELECTION, country)
        assert not summary["quarantined"], summary
    tallied = pipeline.tally(ELECTION)
    return pipeline.stage(ELECTION, tallied)["version"]


@pytest.fixture(scope="module")
def airflow_attack_bench():
    """Two staged versions (v1 published legitimately by the reviewer, v2 pending), the API server up."""
    from enr import pipeline, replay

    home = Path(tempfile.mkdtemp(prefix="enra", dir="/tmp"))
    saved = {k: os.environ.get(k) for k in ("ENR_HOME", "ENR_REVIEWERS")}
    os.environ["ENR_HOME"] = str(home)
    os.environ["ENR_REVIEWERS"] = "reviewer"
    bench = AttackBench(home, _free_port())
    try:
        keys = pipeline.ensure_demo_keys()
        pipeline.open_store().migrate()
        night = replay.write_night(home / "outbox", election=ELECTION,
                                   waves=("provisional:40", "provisional:70", "final:100"),
                                   sender_home=keys["sender_home"], seed=0, bad=0)
        bench.night = night
        bench.versions = [_stage_wave(night.waves[0].files)]
        bench.airflow.migrate()
        bench.airflow.run("dags", "reserialize", log_name="reserialize")
        bench.airflow.start_api_server()
        # the legitimate path first: the reviewer approves v1, it becomes current
        run = bench.start_publish(bench.versions[0])
        detail = bench.waiting_request(bench.versions[0], run)
        bench.v1_request = detail
        bench.user("reviewer").answer(detail, "Approve")
        assert bench.finish(run) == 0
        assert bench.current_version() == bench.versions[0]
        bench.versions.append(_stage_wave(night.waves[1].files))
        yield bench
    finally:
        bench.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for sub in ("keys/sender", "keys/trusted", "keys/signing"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home / sub)},
                           capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def airflow_attack_pending(airflow_attack_bench):
    """v2's publish run, parked for the reviewer's answer, shared by the answer attacks."""
    bench = airflow_attack_bench
    version = bench.versions[1]
    run = bench.start_publish(version)
    detail = bench.waiting_request(version, run)
    yield bench, version, detail, run
    if run.poll() is None:
        bench.reject(detail, run)


def _hitl_path(detail: dict) -> str:
    ti = detail["task_instance"]
    return (f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/"
            f"{ti['task_id']}/{ti.get('map_index', -1)}/hitlDetails")


def _refused_answer(bench, detail, user: str, option: str = "Approve") -> AirflowAPIError:
    with pytest.raises(AirflowAPIError) as refused:
        bench.user(user).answer(detail, option)
    return refused.value


@pytest.mark.parametrize("user, role", [("admin", "admin"), ("operator", "user"), ("viewer", "viewer"),
                                        ("intruder", "op, not in ENR_REVIEWERS")])
def test_approval_by_anyone_but_a_named_reviewer_is_refused(airflow_attack_pending, user, role):
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    error = _refused_answer(bench, detail, user)
    assert error.status == 403, (role, error)
    if user != "viewer":  # the viewer is stopped before the respondent check, by its role
        assert "is not a respondent for the task" in error.body
    assert bench.task_state(detail) == "awaiting_input"
    answered = bench.user("admin")._request("GET", _hitl_path(detail))
    assert answered["response_received"] is False and answered["responded_by_user"] is None
    assert bench.public_snapshot() == before


def test_answer_without_logging_in_is_refused(airflow_attack_pending):
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    with pytest.raises(AirflowAPIError) as refused:
        bench.user("reviewer")._request("PATCH", _hitl_path(detail), {"chosen_options": ["Approve"],
                                                                      "params_input": {}}, auth=False)
    assert refused.value.status == 401
    assert bench.task_state(detail) == "awaiting_input"
    assert bench.public_snapshot() == before


def test_forged_decision_xcom_by_an_operator_publishes_nothing(airflow_attack_pending):
    """The old gate read ``approve``'s XCom: an operator writes an approval there and on ``publish``."""
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    forged = {"chosen_options": ["Approve"], "params_input": {}, "responded_at": "2019-05-26T21:00:00+00:00",
              "responded_by_user": {"id": "reviewer", "name": "reviewer"}}
    ti = detail["task_instance"]
    operator = bench.user("operator")
    outcomes = []
    for task_id in ("publish", "describe"):
        path = (f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/"
                f"{task_id}/xcomEntries")
        try:
            operator._request("POST", path, {"key": "return_value", "value": forged, "map_index": -1})
            outcomes.append((task_id, "written"))
        except AirflowAPIError as exc:
            outcomes.append((task_id, exc.status))
            operator._request("PATCH", f"{path}/return_value", {"value": forged, "map_index": -1})
            outcomes.append((task_id, "overwritten"))
    # the XComs are in Airflow (the API let the operator write them) and woke nothing
    assert bench.task_state(detail) == "awaiting_input", outcomes
    time.sleep(3)
    assert bench.task_state(detail) == "awaiting_input", outcomes
    assert bench.public_snapshot() == before


def test_publish_task_set_to_success_by_hand_publishes_nothing(airflow_attack_bench):
    bench = airflow_attack_bench
    version = bench.versions[1]
    before = bench.public_snapshot()
    run = bench.start_publish(version)
    detail = bench.waiting_request(version, run)
    ti = detail["task_instance"]
    bench.user("admin")._request(
        "PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/publish",
        {"new_state": "success"})
    assert bench.task_state(detail) == "success"  # Airflow shows it done; nothing ran
    time.sleep(5)  # what the run does next, if anything
    bench.kill(run)
    assert bench.public_snapshot() == before
    assert bench.current_version() == bench.versions[0]
    from enr import pipeline

    by_version = {v["version"]: v["status"] for v in pipeline.status(ELECTION)["versions"]}
    assert by_version[version] == "pending_approval"


def test_viewer_cannot_set_the_gate_to_success(airflow_attack_pending):
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    ti = detail["task_instance"]
    try:
        bench.user("viewer")._request(
            "PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/publish",
            {"new_state": "success"})
        raise AssertionError("a viewer changed a task's state")
    except AirflowAPIError as exc:
        assert exc.status == 403
    assert bench.task_state(detail) == "awaiting_input"
    assert bench.public_snapshot() == before


def test_old_approval_replayed_for_the_new_manifest_publishes_nothing(airflow_attack_pending):
    """v1's request was approved by the reviewer; an operator copies that recorded answer into v2's
    run (the decision XComs) and marks v2's gate done: v2's request names v2's digest, and stays open."""
    from enr import pipeline

    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    admin, operator = bench.user("admin"), bench.user("operator")
    old = admin._request("GET", _hitl_path(bench.v1_request))
    assert old["response_received"] and old["chosen_options"] == ["Approve"]
    assert old["responded_by_user"]["id"] == "reviewer"
    replayed = {key: old[key] for key in ("chosen_options", "params_input", "responded_at", "responded_by_user")}
    ti = detail["task_instance"]
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/publish/xcomEntries"
    try:
        operator._request("POST", path, {"key": "return_value", "value": replayed, "map_index": -1})
    except AirflowAPIError:
        operator._request("PATCH", f"{path}/return_value", {"value": replayed, "map_index": -1})
    # the only way to record an answer on v2's request is to answer it: refused to the operator
    assert _refused_answer(bench, detail, "operator").status == 403
    digests = {v["version"]: v["manifest_sha256"] for v in pipeline.status(ELECTION)["versions"]}
    request = admin._request("GET", _hitl_path(detail))
    assert digests[version] in request["body"] and digests[bench.versions[0]] not in request["body"]
    assert request["response_received"] is False
    assert bench.task_state(detail) == "awaiting_input"
    assert bench.current_version() == bench.versions[0]
    assert bench.public_snapshot() == before


def test_empty_reviewer_list_lets_nobody_publish(airflow_attack_bench):
    """A deployment without ENR_REVIEWERS: the API server lets any op/user answer, the gate refuses."""
    bench = airflow_attack_bench
    version = bench.versions[1]
    before = bench.public_snapshot()
    run = bench.start_publish(version, ENR_REVIEWERS="")
    detail = bench.waiting_request(version, run)
    assert not detail.get("assigned_users")
    answer = bench.user("operator").answer(detail, "Approve")
    assert answer["responded_by"]["id"] == "operator"  # Airflow accepted it ...
    bench.finish(run)
    assert bench.task_state(detail) == "failed"  # ... the gate did not
    logs = "".join(p.read_text(errors="replace") for p in bench.logs.glob(f"publish-{version}-*.log"))
    assert "is not in ENR_REVIEWERS" in logs
    assert bench.public_snapshot() == before


def test_viewer_cannot_start_a_publish_run(airflow_attack_bench):
    bench = airflow_attack_bench
    before = bench.public_snapshot()
    with pytest.raises(AirflowAPIError) as refused:
        bench.user("viewer").trigger(DAG_ID, {"election": ELECTION, "version": bench.versions[1]})
    assert refused.value.status == 403
    assert bench.public_snapshot() == before


@pytest.mark.parametrize("user", ["operator", "admin"])
def test_approve_clicked_in_the_ui_by_a_non_reviewer_is_refused(airflow_attack_pending, user):
    """The user logs in to the Airflow UI, opens the run's required action and clicks Approve."""
    from browser import Browser, chromium_executable

    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    ti = detail["task_instance"]
    with Browser(chromium_executable()) as browser:
        page = browser.new_page(fresh=True)
        page.goto(f"{bench.base_url}/auth/login/", timeout=60)
        page.wait_for("document.querySelector('input[type=password]') !== null", timeout=60)
        for field, text in (("username", user), ("password", user)):  # typed, as a person would
            page.evaluate(f"document.querySelector('input[name={field}]').focus()")
            page.send("Input.insertText", {"text": text})
        page.evaluate("document.querySelector('button[type=submit]').click()")
        page.wait_for("document.cookie.includes('_token=')", timeout=60)
        page.goto(f"{bench.base_url}/dags/{DAG_ID}/runs/{urllib.parse.quote(ti['dag_run_id'])}/tasks/publish/"
                  "required_actions", timeout=60)
        click = ("(() => { const b = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === "
                 "'Approve'); if (!b) return false; b.click(); return true; })()")
        try:
            page.wait_for(click, timeout=60)
        except TimeoutError as exc:
            raise AssertionError(f"no Approve button: {page.evaluate('document.body.innerText')[:1500]}") from exc
        page.wait_for("true", timeout=1)
        end = time.monotonic() + 30
        while time.monotonic() < end and not [p for p in page.problems if "hitlDetails" in p and p.startswith("HTTP ")]:
            time.sleep(0.3)
        answers = [p for p in page.problems if "hitlDetails" in p and p.startswith("HTTP ")]
    assert answers and all(p.startswith("HTTP 403") for p in answers), page.problems
    assert bench.task_state(detail) == "awaiting_input"
    answered = bench.user("admin")._request("GET", _hitl_path(detail))
    assert answered["response_received"] is False
    assert bench.public_snapshot() == before


def test_reviewer_approval_of_the_new_manifest_publishes_it(airflow_attack_pending):
    """The control: the same request, answered by the named reviewer, publishes v2 (last in the module)."""
    bench, version, detail, run = airflow_attack_pending
    answer = bench.user("reviewer").answer(detail, "Approve")
    assert answer["responded_by"]["id"] == "reviewer"
    assert bench.finish(run) == 0
    assert bench.task_state(detail) == "success"
    assert bench.current_version() == version


def _record_answer_without_waking(detail: dict, user: str, option: str) -> None:
    """The state the 3.3.2 race leaves behind: the answer written into the HITL record as the API
    server writes it, while nothing wakes the parked task."""
    from sqlalchemy import select

    from airflow._shared.timezones import timezone
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session

    ti = detail["task_instance"]
    with create_session() as session:
        row = session.scalar(select(HITLDetail).join(TI, HITLDetail.ti_id == TI.id).where(
            TI.dag_id == DAG_ID, TI.run_id == ti["dag_run_id"], TI.task_id == ti["task_id"]))
        row.responded_by = {"id": user, "name": user}
        row.responded_at = timezone.utcnow()
        row.chosen_options = [option]
        row.params_input = {}


def test_answer_recorded_while_the_gate_parks_is_not_lost(airflow_attack_bench):
    """Under the scheduler: an answer recorded but never woken (the SQLite race) still publishes,
    one re-check later, instead of the task waiting 6 h and publishing nothing."""
    bench = airflow_attack_bench
    version = _stage_wave(bench.night.waves[2].files)
    env = {**bench.env, "AIRFLOW__CORE__PARALLELISM": "2",
           "AIRFLOW__CORE__EXECUTOR": "plugins.enr_airflow.executors.ElectionNightLocalExecutor",
           "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "2", "ENR_APPROVAL_RECHECK_SECONDS": "5"}
    bench.airflow.env = env
    bench.seen = bench._run_ids()
    scheduler = bench.airflow.start("scheduler", log_name="scheduler")
    try:
        operator = bench.user("operator")
        operator.unpause(DAG_ID)
        run_id = operator.trigger(DAG_ID, {"election": ELECTION, "version": version})
        detail = bench.waiting_request(version, scheduler, timeout=180)
        assert detail["task_instance"]["dag_run_id"] == run_id
        # nothing wakes the task but its own re-check (the stock operator would sleep its 6 h here)
        _record_answer_without_waking(detail, "reviewer", "Approve")
        end = time.monotonic() + 120
        while time.monotonic() < end and bench.user("admin").run_state(DAG_ID, run_id) in ("queued", "running"):
            time.sleep(1)
        assert bench.task_state(detail) == "success"
        assert bench.current_version() == version
    finally:
        bench.user("admin")._request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": True})
        bench.kill(scheduler)
