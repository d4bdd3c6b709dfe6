"""Attacks on the approval gate through Airflow itself: forged decisions, answers by the wrong people.

One Airflow for the module, authenticated as production is (``tests/support/production_auth.py``:
the FAB auth manager ``ReviewerFabAuthManager``, the roles of ``docker/auth/roles.json``, the users
of docs/PRODUCTION.md created with its commands and random passwords): ``admin`` (Admin), ``anna``
(Reviewer, the only name in ``ENR_REVIEWERS``), ``otto`` (Operator), ``vera`` (Viewer) and
``intruder`` (created like ``anna``, Reviewer role, but not named in ``ENR_REVIEWERS``). The API
server runs on a loopback port; ``airflow dags test`` processes run the ``election_night_publish``
runs, as the demo night runs them. The attacker uses only the REST API (or a browser session signed
in through FAB's login page), as a user of the deployment would.

Each test is one attempt. It asserts the refusal (the HTTP status and the API's reason, or the
publish task's own refusal) and that nothing public changed: every byte under ``public/`` is as
it was before the attempt (``current.json`` included).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

from enr.airflow_api import AirflowAPI, AirflowAPIError
from tests.support.production_auth import FabAirflow, remove_home, sign_in_to_fab, start_fab_airflow
from tests.support.site_browser import Problems

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "election_night_publish"
ELECTION = "ep2019"
ADMIN, REVIEWER, OPERATOR, VIEWER, INTRUDER = "admin", "anna", "otto", "vera", "intruder"
ROLE_REFUSAL = '{"detail":"Forbidden"}'  # the auth manager's refusal by role, before any respondent check
NOT_RESPONDENT = "is not a respondent for the task"  # the API server's: a role that may answer, a name not assigned


class AttackBench:
    """The module's Airflow and results home: staged versions, the API server, publish runs."""

    def __init__(self, home: Path, fab: FabAirflow):
        self.home = home
        self.fab = fab
        self.port = fab.port
        self.base_url = fab.base_url
        self.env = {**fab.env, "ENR_HOME": str(home), "ENR_REVIEWERS": REVIEWER}
        for var in ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_STORE_URL", "ENR_TRUSTED_KEYS",
                    "ENR_SIGNING_HOME"):
            self.env.pop(var, None)
        self.logs = home / "logs"
        self.airflow = fab.airflow
        self.airflow.env = dict(self.env)

    def user(self, name: str) -> AirflowAPI:
        return self.fab.api(name, timeout=20)

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
        answer = self.user(ADMIN)._request("GET", "/api/v2/dags/~/dagRuns/~/hitlDetails",
                                           query={"dag_id_pattern": DAG_ID})
        return {d["task_instance"]["dag_run_id"] for d in answer.get("hitl_details", [])}

    def start_publish(self, version: str, **env: str) -> subprocess.Popen:
        self.airflow.env = {**self.env, **env}
        self.seen = self._run_ids()  # the new run's request is the one not seen yet
        return self.airflow.start("dags", "test", DAG_ID, "-c", json.dumps({"election": ELECTION, "version": version}),
                                  log_name=f"publish-{version}-{time.monotonic_ns()}")

    def waiting_request(self, version: str, process: subprocess.Popen, timeout: float = 120) -> dict:
        """The approval request of ``version``'s run once its task is parked for input."""
        admin = self.user(ADMIN)
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
        return self.user(ADMIN)._request(
            "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(ti['dag_run_id'])}/taskInstances/{task_id}"
        )["state"]

    def publish_log(self, version: str) -> str:
        """Everything the publish runs of ``version`` wrote (``dags test`` output)."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.glob(f"publish-{version}-*.log")))

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
        self.user(REVIEWER).answer(detail, "Reject")
        self.finish(process)
        assert self.task_state(detail) == "skipped"


def _stage_wave(files: list[Path]) -> str:
    from enr import demo, pipeline

    demo.drop_into_inbox(files)
    for country in pipeline.pending_countries(ELECTION):
        summary = pipeline.ingest_country(ELECTION, country)
        assert not summary["quarantined"], summary
    tallied = pipeline.tally(ELECTION)
    return pipeline.stage(ELECTION, tallied)["version"]


@pytest.fixture(scope="module")
def airflow_attack_bench():
    """Two staged versions (v1 published legitimately by the reviewer, v2 pending), the API server up."""
    from enr import demo, operator, pipeline, replay

    home = Path(tempfile.mkdtemp(prefix="enra", dir="/tmp"))
    saved = {k: os.environ.get(k) for k in ("ENR_HOME", "ENR_REVIEWERS")}
    os.environ["ENR_HOME"] = str(home)
    os.environ["ENR_REVIEWERS"] = REVIEWER
    (home / "logs").mkdir()
    fab = None
    try:
        keys = demo.ensure_demo_keys()
        pipeline.open_store().migrate()
        operator.mark_public_areas("rehearsal")  # the replayed deliveries carry the test flag
        night = replay.write_night(home / "outbox", election=ELECTION,
                                   waves=("provisional:40", "provisional:70", "final:100"),
                                   sender_home=keys["sender_home"], seed=0, bad=0)
        versions = [_stage_wave(night.waves[0].files)]
        fab = start_fab_airflow(home / "fab", dags_folder=ROOT / "dags", reviewers=REVIEWER,
                                extra_users={INTRUDER: REVIEWER}, log_dir=home / "logs")
        bench = AttackBench(home, fab)
        bench.night, bench.versions = night, versions
        # the legitimate path first: the reviewer approves v1, it becomes current
        run = bench.start_publish(bench.versions[0])
        detail = bench.waiting_request(bench.versions[0], run)
        bench.v1_request = detail
        bench.user(REVIEWER).answer(detail, "Approve")
        assert bench.finish(run) == 0, bench.publish_log(bench.versions[0])[-4000:]
        assert bench.current_version() == bench.versions[0]
        bench.versions.append(_stage_wave(night.waves[1].files))
        yield bench
    finally:
        if fab is not None:
            fab.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for sub in ("keys/sender", "keys/trusted", "keys/signing"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home / sub)},
                           capture_output=True)
        remove_home(home)


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


def _run_path(detail: dict) -> str:
    return f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(detail['task_instance']['dag_run_id'])}"


def _hitl_path(detail: dict) -> str:
    ti = detail["task_instance"]
    return f"{_run_path(detail)}/taskInstances/{ti['task_id']}/{ti.get('map_index', -1)}/hitlDetails"


def _refused_answer(bench, detail, user: str, option: str = "Approve") -> AirflowAPIError:
    with pytest.raises(AirflowAPIError) as refused:
        bench.user(user).answer(detail, option)
    return refused.value


def _write_xcom(api: AirflowAPI, detail: dict, task_id: str, value: dict) -> str:
    """``value`` as ``task_id``'s return value in the request's run: created, else overwritten."""
    path = f"{_run_path(detail)}/taskInstances/{task_id}/xcomEntries"
    try:
        api._request("POST", path, {"key": "return_value", "value": value, "map_index": -1})
        return "written"
    except AirflowAPIError as exc:
        if exc.status != 409:  # already there (``describe``'s own XCom): overwrite it
            raise
    api._request("PATCH", f"{path}/return_value", {"value": value, "map_index": -1})
    return "overwritten"


def _assert_unanswered(bench, detail) -> None:
    assert bench.task_state(detail) == "awaiting_input"
    answered = bench.user(ADMIN)._request("GET", _hitl_path(detail))
    assert answered["response_received"] is False and answered["responded_by_user"] is None


@pytest.mark.parametrize("user, reason", [
    (ADMIN, NOT_RESPONDENT),  # Admin may answer requests, not this one: not assigned
    (INTRUDER, NOT_RESPONDENT),  # Reviewer role, not named in ENR_REVIEWERS
    (OPERATOR, ROLE_REFUSAL),  # Operator: no HITL Detail permission
    (VIEWER, ROLE_REFUSAL),
], ids=["admin", "intruder", "operator", "viewer"])
def test_approval_by_anyone_but_a_named_reviewer_is_refused(airflow_attack_pending, user, reason):
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    error = _refused_answer(bench, detail, user)
    assert error.status == 403, error
    assert reason in error.body, error.body
    _assert_unanswered(bench, detail)
    assert bench.public_snapshot() == before


def test_answer_without_logging_in_is_refused(airflow_attack_pending):
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    with pytest.raises(AirflowAPIError) as refused:
        bench.user(REVIEWER)._request("PATCH", _hitl_path(detail), {"chosen_options": ["Approve"],
                                                                    "params_input": {}}, auth=False)
    assert refused.value.status == 401
    _assert_unanswered(bench, detail)
    assert bench.public_snapshot() == before


def test_answer_with_a_wrong_password_is_refused(airflow_attack_pending):
    """The reviewer's name with a guessed password: no token, so no answer."""
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    for guess in (REVIEWER, "admin", bench.fab.passwords[OPERATOR]):
        with pytest.raises(AirflowAPIError) as refused:
            AirflowAPI(base_url=bench.base_url, username=REVIEWER, password=guess, timeout=20).answer(
                detail, "Approve")
        assert refused.value.status in (400, 401), refused.value
    _assert_unanswered(bench, detail)
    assert bench.public_snapshot() == before


FORGED = {"chosen_options": ["Approve"], "params_input": {}, "responded_at": "2019-05-26T21:00:00+00:00",
          "responded_by_user": {"id": "2", "name": REVIEWER}}


def test_forged_decision_xcom_publishes_nothing(airflow_attack_pending):
    """The old gate read ``approve``'s XCom: the operator may not write one; the admin writes an
    approval on ``publish`` and over ``describe``'s, and it wakes nothing."""
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    for task_id in ("publish", "describe"):
        with pytest.raises(AirflowAPIError) as refused:
            _write_xcom(bench.user(OPERATOR), detail, task_id, FORGED)
        assert refused.value.status == 403 and ROLE_REFUSAL in refused.value.body, refused.value
    outcomes = [(task_id, _write_xcom(bench.user(ADMIN), detail, task_id, FORGED))
                for task_id in ("publish", "describe")]
    # the XComs are in Airflow (the API let the admin write them) and woke nothing
    assert outcomes == [("publish", "written"), ("describe", "overwritten")], outcomes
    assert bench.task_state(detail) == "awaiting_input", outcomes
    time.sleep(3)
    _assert_unanswered(bench, detail)
    assert bench.public_snapshot() == before


def test_publish_task_set_to_success_by_hand_publishes_nothing(airflow_attack_bench):
    """The operator (who may set task states) marks the parked gate done."""
    bench = airflow_attack_bench
    version = bench.versions[1]
    before = bench.public_snapshot()
    run = bench.start_publish(version)
    detail = bench.waiting_request(version, run)
    bench.user(OPERATOR)._request("PATCH", f"{_run_path(detail)}/taskInstances/publish", {"new_state": "success"})
    assert bench.task_state(detail) == "success"  # Airflow shows it done; nothing ran
    time.sleep(5)  # what the run does next, if anything
    bench.kill(run)
    assert bench.public_snapshot() == before
    assert bench.current_version() == bench.versions[0]
    from enr import operator

    by_version = {v["version"]: v["status"] for v in operator.status(ELECTION)["versions"]}
    assert by_version[version] == "pending_approval"


def test_viewer_cannot_set_the_gate_to_success(airflow_attack_pending):
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    with pytest.raises(AirflowAPIError) as refused:
        bench.user(VIEWER)._request("PATCH", f"{_run_path(detail)}/taskInstances/publish", {"new_state": "success"})
    assert refused.value.status == 403 and ROLE_REFUSAL in refused.value.body, refused.value
    assert bench.task_state(detail) == "awaiting_input"
    assert bench.public_snapshot() == before


def test_old_approval_replayed_for_the_new_manifest_publishes_nothing(airflow_attack_pending):
    """v1's request was approved by the reviewer; the admin copies that recorded answer into v2's
    run (the decision XCom): v2's request names v2's digest, and stays open; answering it is refused."""
    from enr import operator

    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    admin = bench.user(ADMIN)
    old = admin._request("GET", _hitl_path(bench.v1_request))
    assert old["response_received"] and old["chosen_options"] == ["Approve"]
    assert old["responded_by_user"]["name"] == REVIEWER
    replayed = {key: old[key] for key in ("chosen_options", "params_input", "responded_at", "responded_by_user")}
    _write_xcom(admin, detail, "publish", replayed)
    # the only way to record an answer on v2's request is to answer it: refused to both
    assert NOT_RESPONDENT in _refused_answer(bench, detail, ADMIN).body
    assert ROLE_REFUSAL in _refused_answer(bench, detail, OPERATOR).body
    digests = {v["version"]: v["manifest_sha256"] for v in operator.status(ELECTION)["versions"]}
    request = admin._request("GET", _hitl_path(detail))
    assert digests[version] in request["body"] and digests[bench.versions[0]] not in request["body"]
    _assert_unanswered(bench, detail)
    assert bench.current_version() == bench.versions[0]
    assert bench.public_snapshot() == before


def test_empty_reviewer_list_lets_nobody_publish(airflow_attack_bench):
    """A deployment without ENR_REVIEWERS: the API server lets any Reviewer-role user answer, the gate refuses."""
    bench = airflow_attack_bench
    version = bench.versions[1]
    before = bench.public_snapshot()
    run = bench.start_publish(version, ENR_REVIEWERS="")
    detail = bench.waiting_request(version, run)
    assert not detail.get("assigned_users")
    assert ROLE_REFUSAL in _refused_answer(bench, detail, OPERATOR).body  # still no answer by role
    answer = bench.user(INTRUDER).answer(detail, "Approve")
    assert answer["responded_by"]["name"] == INTRUDER  # Airflow accepted it ...
    bench.finish(run)
    assert bench.task_state(detail) == "failed"  # ... the gate did not
    logs = bench.publish_log(version)
    assert f"answered by '{INTRUDER}', who is not in ENR_REVIEWERS (empty)" in logs
    assert bench.public_snapshot() == before


def test_viewer_cannot_start_a_publish_run(airflow_attack_bench):
    bench = airflow_attack_bench
    before = bench.public_snapshot()
    with pytest.raises(AirflowAPIError) as refused:
        bench.user(VIEWER).trigger(DAG_ID, {"election": ELECTION, "version": bench.versions[1]})
    assert refused.value.status == 403 and ROLE_REFUSAL in refused.value.body, refused.value
    assert bench.public_snapshot() == before


def _ui_page(chromium_browser, bench, user: str):
    """A fresh browser context signed in as ``user`` through FAB's login page; its problems recorded."""
    context = chromium_browser.new_context()
    page = context.new_page()
    problems = Problems(page)
    sign_in_to_fab(page, bench.base_url, user, bench.fab.passwords[user])
    return context, page, problems


@pytest.mark.parametrize("user, reason", [
    (OPERATOR, ROLE_REFUSAL),  # Viewer + Operator: reads the request, may not answer any
    (ADMIN, NOT_RESPONDENT),  # may answer requests, but is not assigned this one
], ids=["operator", "admin"])
def test_approve_clicked_in_the_ui_by_a_non_reviewer_is_refused(airflow_attack_pending, chromium_browser, user,
                                                                reason):
    """The user signs in to the Airflow UI (FAB's login page), opens the run's required action and
    clicks Approve; the answer the UI sends is refused."""
    bench, version, detail, run = airflow_attack_pending
    before = bench.public_snapshot()
    context, page, problems = _ui_page(chromium_browser, bench, user)
    try:
        page.goto(f"{bench.base_url}/dags/{DAG_ID}/runs/{urllib.parse.quote(detail['task_instance']['dag_run_id'])}"
                  "/tasks/publish/required_actions", timeout=60_000)
        approve = page.get_by_role("button", name="Approve", exact=True)
        try:
            approve.wait_for(timeout=60_000)
        except Exception as exc:  # noqa: BLE001 - say what the page showed instead
            raise AssertionError(f"no Approve button: {page.inner_text('body')[:1500]}; {problems}") from exc
        with page.expect_response(lambda r: "hitlDetails" in r.url and r.request.method == "PATCH",
                                  timeout=30_000) as answered:
            approve.click()
        status, body = answered.value.status, answered.value.text()
    finally:
        context.close()
    assert status == 403 and reason in body, (status, body, problems)
    _assert_unanswered(bench, detail)
    assert bench.public_snapshot() == before


def test_reviewer_approval_of_the_new_manifest_publishes_it(airflow_attack_pending):
    """The control: the same request, answered by the named reviewer, publishes v2 (last in the module)."""
    bench, version, detail, run = airflow_attack_pending
    answer = bench.user(REVIEWER).answer(detail, "Approve")
    assert answer["responded_by"]["name"] == REVIEWER
    assert bench.finish(run) == 0
    assert bench.task_state(detail) == "success"
    assert bench.current_version() == version


RECORD_ANSWER = """
import json, sys
from sqlalchemy import select, text
from airflow._shared.timezones import timezone
from airflow.models.hitl import HITLDetail
from airflow.models.taskinstance import TaskInstance as TI
from airflow.utils.session import create_session

dag_id, run_id, task_id, user, option = sys.argv[1:]
with create_session() as session:
    user_id = session.execute(text("SELECT id FROM ab_user WHERE username = :u"), {"u": user}).scalar_one()
    row = session.scalar(select(HITLDetail).join(TI, HITLDetail.ti_id == TI.id).where(
        TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id))
    row.responded_by = {"id": str(user_id), "name": user}
    row.responded_at = timezone.utcnow()
    row.chosen_options = [option]
    row.params_input = {}
"""


def _record_answer_without_waking(bench, detail: dict, user: str, option: str) -> None:
    """The state the 3.3.2 race leaves behind: the answer written into the HITL record as the API
    server writes it (FAB: the user's row id and name), while nothing wakes the parked task. Done
    in this Airflow's own environment (its metadata database), not the test session's."""
    ti = detail["task_instance"]
    done = bench.fab.python(RECORD_ANSWER, DAG_ID, ti["dag_run_id"], ti["task_id"], user, option)
    assert done.returncode == 0, done.stderr[-3000:]


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
        operator = bench.user(OPERATOR)
        operator.unpause(DAG_ID)
        run_id = operator.trigger(DAG_ID, {"election": ELECTION, "version": version})
        detail = bench.waiting_request(version, scheduler, timeout=180)
        assert detail["task_instance"]["dag_run_id"] == run_id
        # nothing wakes the task but its own re-check (the stock operator would sleep its 6 h here)
        _record_answer_without_waking(bench, detail, REVIEWER, "Approve")
        end = time.monotonic() + 120
        while time.monotonic() < end and bench.user(ADMIN).run_state(DAG_ID, run_id) in ("queued", "running"):
            time.sleep(1)
        assert bench.task_state(detail) == "success"
        assert bench.current_version() == version
    finally:
        bench.user(ADMIN)._request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": True})
        bench.kill(scheduler)
