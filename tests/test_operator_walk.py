"""The operator's night as the README tells it, on a fresh home, from a plain shell.

Nothing here prepares what the operator's path must prepare itself: the commands run as
subprocesses with a PATH that does not hold the virtualenv, a new ENR_HOME and no AIRFLOW_*
variables; each command is one of the README's operator section (checked below). Then, as the
reviewer, in headless Chromium: sign in to the Airflow UI, open the approval request in
*Required actions*, follow its link to the pre-publication site (the staged version and its
digest), and click **Approve**: the public pointer flips to that version and it verifies. The next
version is **Rejected** in the UI: the public site stays as it was. The pre-publication site
refuses anonymous (401) and forged (403) callers and a staged file changed after staging (409).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.support.processes import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.sys.executable).parent
ELECTION = "ep2019"
# The README's operator sequence, in its order (each must appear there verbatim).
INIT = ".venv/bin/enr init --election ep2019 --purpose rehearsal --demo-keys"
AIRFLOW = ".venv/bin/enr airflow &"
REPLAY = ".venv/bin/enr replay --out night --countries AT,DK,MT --waves provisional:40,final:100"
DROP_1 = ".venv/bin/enr drop night/*-0001.csv"
STATUS = ".venv/bin/enr status"
DROP_2 = ".venv/bin/enr drop night/*-0002.csv"



def _operator_env(home: Path, port: int) -> dict[str, str]:
    """A plain shell: no virtualenv on PATH, no Airflow or ENR settings but the new home and a port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ENR_", "VIRTUAL_ENV", "PYTEST"))}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["HOME"] = str(home.parent)
    env["XDG_CACHE_HOME"] = str(home.parent / ".cache")  # the walk's caches (cards, templates), not the user's
    env["ENR_HOME"] = str(home)
    env["ENR_AIRFLOW_PORT"] = str(port)
    return env


def _sh(command: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", "-c", command], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(predicate, timeout: float, what: str, step: float = 0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_the_readme_names_these_commands_in_this_order() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## How an operator runs an election night"):]
    section = section[:section.index("\n## ", 10)]
    positions = [section.find(c) for c in (INIT, AIRFLOW, REPLAY, DROP_1, STATUS, DROP_2)]
    assert all(p >= 0 for p in positions), positions
    assert positions == sorted(positions)


@pytest.fixture(scope="module")
def operator_night():
    """The README's sequence up to a running Airflow, in a fresh home; stopped at the end."""
    base = Path(tempfile.mkdtemp(prefix="enrw", dir="/tmp"))
    home = base / "home"
    port = free_port()
    env = _operator_env(home, port)
    work = base / "cwd"
    work.mkdir()
    (work / ".venv").symlink_to(VENV_BIN.parent)  # the commands are run as written, from a project checkout
    init = _sh(INIT, env, work)
    # `exec`: the shell becomes `enr airflow`, so the Popen's PID is the operator's background job
    airflow = subprocess.Popen(["bash", "-c", "exec " + AIRFLOW.removesuffix(" &")], env=env, cwd=work,
                               stdout=(base / "airflow.log").open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    walk = {"home": home, "env": env, "work": work, "base_url": base_url, "init": None, "log": base / "airflow.log",
            "pid": airflow.pid, "stop": lambda: _stop_like_kill(airflow)}
    try:
        _wait(lambda: _health(base_url), 180, "Airflow's four components healthy")
        passwords = json.loads((home / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
        _sh(REPLAY, env, work)
        walk.update(passwords=passwords, init=init.stdout)
        yield walk
    finally:
        walk["stop"]()
        for sub in ("keys/sender", "keys/trusted", "keys/signing"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home / sub)},
                           capture_output=True)


def _stop_like_kill(airflow: subprocess.Popen) -> list[str]:
    """`kill %1`: SIGTERM to the `enr airflow` job alone; the processes of its tree still alive 60 s later."""
    if airflow.poll() is not None:
        return []
    tree = [airflow.pid] + [c.pid for c in psutil.Process(airflow.pid).children(recursive=True)]
    procs = [psutil.Process(pid) for pid in tree if psutil.pid_exists(pid)]
    airflow.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=60)
    left = []
    for proc in alive:
        try:
            left.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
            proc.kill()
        except psutil.Error:
            pass
    try:
        airflow.wait(timeout=10)
    except subprocess.TimeoutExpired:
        airflow.kill()
    return left


def _health(base_url: str) -> bool:
    try:
        status, body = _get(base_url + "/api/v2/monitor/health")
    except OSError:  # not listening yet
        return False
    if status != 200:
        return False
    health = json.loads(body)
    return all(health.get(k, {}).get("status") == "healthy"
               for k in ("metadatabase", "scheduler", "triggerer", "dag_processor"))


def _api(night, user: str):
    from enr.airflow_api import AirflowAPI

    return AirflowAPI(base_url=night["base_url"], username=user, password=night["passwords"][user])


def _pointer(home: Path) -> dict | None:
    path = home / "bucket" / "public" / ELECTION / "current.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _status(night) -> dict:
    done = _sh(STATUS + " --json", night["env"], night["work"])
    return json.loads(done.stdout)


def _offered(night, version: str) -> dict | None:
    waiting = [d for d in _api(night, "reviewer").approvals_for(version) if d["task_instance"]["state"] == "awaiting_input"]
    return waiting[0] if waiting else None


def _sign_in(page, base_url: str, user: str, password: str) -> None:
    page.goto(base_url + "/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)


def _open_request(page, base_url: str, version: str) -> None:
    page.goto(base_url + "/required_actions")
    page.get_by_text(f"Publish {ELECTION} results {version}?").first.click(timeout=60_000)
    page.get_by_role("button", name="Approve").wait_for(timeout=60_000)


def test_a_night_from_the_readme_approved_and_rejected_in_the_ui(operator_night, chromium_browser,
                                                                record_property) -> None:
    night = operator_night
    home, base_url = night["home"], night["base_url"]
    assert "declared a rehearsal area" in night["init"] and "Airflow metadata database" in night["init"]
    assert _pointer(home) is None

    # wave 1: the contractor's files land; the scheduled ingest stages v0001 and asks for approval
    landed = time.monotonic()
    _sh(DROP_1, night["env"], night["work"])
    detail = _wait(lambda: _offered(night, "v0001"), 240, "the approval request for v0001")
    offered_s = time.monotonic() - landed
    staged = next(v for v in _status(night)["versions"] if v["version"] == "v0001")
    digest = staged["manifest_sha256"]
    preview_url = f"{base_url}/enr-preview/{ELECTION}/v0001/"
    assert digest in detail["body"] and preview_url in detail["body"]
    assert "TEST data" in detail["body"] and "embargo passed" in detail["body"]

    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        _sign_in(page, base_url, "reviewer", night["passwords"]["reviewer"])
        _open_request(page, base_url, "v0001")
        # the request links to the pre-publication site: follow it as the reviewer does
        link = page.get_by_role("link", name=preview_url)
        assert link.get_attribute("href") == preview_url
        review = context.new_page()  # the same signed-in session, as a new tab
        response = review.goto(preview_url)
        assert response.status == 200
        assert review.locator("#manifest-sha256").inner_text() == digest
        assert "TEST data" in review.content() and "v0001" in review.title()
        review.get_by_role("link", name="fr", exact=True).click()
        assert review.url == f"{preview_url}site/fr/index.html" and review.locator("html").get_attribute("lang") == "fr"
        staged_bytes = (home / "bucket" / "staging" / ELECTION / "v0001" / "fr" / "index.html").read_bytes()
        status, served = _get(review.url, {"Cookie": f"_token={_cookie(page)}"})
        assert status == 200 and served == staged_bytes

        # click Approve in the UI; the public pointer flips to exactly that version
        clicked = time.monotonic()
        page.get_by_role("button", name="Approve").click()
        pointer = _wait(lambda: _pointer(home), 120, "the public pointer")
        flip_s = time.monotonic() - clicked
        assert pointer["version"] == "v0001" and pointer["manifest_sha256"] == digest
        verify = _sh(f".venv/bin/enr verify {home}/bucket/public/{ELECTION}/v0001", night["env"], night["work"])
        assert "OK" in verify.stdout
        # the backup copy is checked after the flip; then the version is recorded as published
        answered = _wait(lambda: next((v for v in _status(night)["versions"] if v["version"] == "v0001"
                                       and v["status"] == "published"), None), 60, "v0001 recorded as published")
        assert any(e["status"] == "approved" and e["by"] == "reviewer" for e in answered["events"])

        # wave 2: v0002 is staged; the reviewer rejects it in the UI; nothing public changes
        public_before = _tree_digest(home / "bucket" / "public")
        _sh(DROP_2, night["env"], night["work"])
        second = _wait(lambda: _offered(night, "v0002"), 240, "the approval request for v0002")
        _open_request(page, base_url, "v0002")
        page.get_by_role("button", name="Reject").click()
        run = second["task_instance"]["dag_run_id"]
        # the task that asked ends skipped: it publishes only on an Approve
        assert _wait(lambda: _task_state(night, run, "publish") in ("skipped", "success", "failed")
                     and _task_state(night, run, "publish"), 120, "v0002's publish task to end") == "skipped"
        answer = _api(night, "reviewer")._request(
            "GET", f"/api/v2/dags/election_night_publish/dagRuns/{urllib.parse.quote(run)}/taskInstances/publish/-1"
                   f"/hitlDetails")
        assert answer["chosen_options"] == ["Reject"] and answer["responded_by_user"]["id"] == "reviewer"
        rejected = next(v for v in _status(night)["versions"] if v["version"] == "v0002")
        assert rejected["status"] == "rejected" and rejected["events"][-1]["by"] == "reviewer"
        assert _pointer(home)["version"] == "v0001"
        assert _tree_digest(home / "bucket" / "public") == public_before
        browser_token = _cookie(page)
    finally:
        context.close()

    # the pre-publication site's door: anonymous 401, forged 403, changed staging 409
    assert _get(preview_url)[0] == 401
    assert _get(preview_url, {"Authorization": f"Bearer {_forged_token(browser_token)}"})[0] == 403
    assert _get(preview_url, {"Cookie": f"_token={browser_token}"})[0] == 200
    tampered = home / "bucket" / "staging" / ELECTION / "v0002" / "en" / "index.html"
    tampered.write_bytes(tampered.read_bytes().replace(b"</body>", b"<p>not what was staged</p></body>"))
    status, body = _get(f"{base_url}/enr-preview/{ELECTION}/v0002/site/en/index.html",
                        {"Cookie": f"_token={browser_token}"})
    assert status == 409 and b"do not approve" in body

    record_property("landed_to_offered_s", round(offered_s, 1))
    record_property("click_to_public_s", round(flip_s, 1))
    print(f"\noperator walk: deliveries landed -> approval offered {offered_s:.1f} s; "
          f"Approve clicked -> public flip {flip_s:.1f} s")


def _task_state(night, run_id: str, task_id: str) -> str | None:
    ti = _api(night, "admin")._request(
        "GET", f"/api/v2/dags/election_night_publish/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/{task_id}")
    return ti.get("state")


def _cookie(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "_token")


def _forged_token(real: str) -> str:
    """The same claims as a real token, signed with a key Airflow does not know."""
    import jwt

    claims = jwt.decode(real, options={"verify_signature": False})
    header = jwt.get_unverified_header(real)
    return jwt.encode(claims, "not-the-api-secret-" * 4, algorithm=header.get("alg", "HS512"))


def _tree_digest(folder: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_kill_stops_every_airflow_process(operator_night):
    """`kill %1` (SIGTERM) on `enr airflow &` stops standalone and all its components, not standalone alone."""
    tree = psutil.Process(int(operator_night["pid"])).children(recursive=True)
    assert len(tree) >= 4, [p.cmdline() for p in tree]  # api server, scheduler, triggerer, dag processor at least
    left = operator_night["stop"]()
    assert left == [], f"left running after SIGTERM: {left}"
    assert not _health(operator_night["base_url"])
