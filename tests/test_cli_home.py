"""`enr init` and the command line's errors, run as the operator runs them (subprocesses, a new home).

Bad arguments and missing set-up print one line naming what is wrong and what to do, exit 2,
and show no traceback unless `-v`; `enr init` is idempotent, declares the public areas once,
refuses to change a declaration, and writes owner-only secrets.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ENR = str(Path(sys.executable).with_name("enr"))


@pytest.fixture
def new_home():
    path = Path(tempfile.mkdtemp(prefix="enrc", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ENR_"))}
    env.update(ENR_HOME=str(path / "home"), PATH="/usr/bin:/bin")
    yield path / "home", env
    for sub in ("keys/sender", "keys/trusted", "keys/signing"):
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(path / "home" / sub)},
                       capture_output=True)


def enr(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ENR, *args], env=env, capture_output=True, text=True, timeout=300)


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args, needles", [
    (("replay", "--waves", "2", "--out", "/tmp/x"), ("--waves '2'", "provisional:40")),
    (("replay", "--countries", "XX", "--out", "/tmp/x"), ("--countries", "XX")),
    (("rehearse", "--waves", "final:50"), ("--waves 'final:50'", "100 %")),
    (("verify", "/nope/public/ep2019/v0001"), ("/nope/public/ep2019/v0001", "no such folder")),
    (("bogus",), ("invalid choice", "enr --help")),
    (("init", "--purpose", "party"), ("--purpose", "invalid choice")),
    (("init", "--election", "ep1066", "--purpose", "rehearsal"), ("ep1066", "no such election")),
    (("seats", "--election", "ep2019", "--results", "/nope.csv", "--turnout", "/nope.csv", "--out", "/tmp/s.csv"),
     ("/nope.csv",)),
    (("status",), ("enr init --election ep2019",)),
    (("airflow",), ("enr init --election ep2019",)),
    (("lot", "MT", "t1", "pl"), ("enr init",)),
    (("drop", "/nope.csv"), ("enr init",)),
])
def test_bad_arguments_and_missing_setup_print_one_line_and_exit_2(new_home, args, needles):
    _, env = new_home
    assert_one_line_error(enr(env, *args), *needles)


def test_verbose_shows_the_traceback(new_home):
    _, env = new_home
    done = enr(env, "-v", "replay", "--waves", "2", "--out", "/tmp/x")
    assert done.returncode == 2 and "Traceback" in done.stderr and "UsageError" in done.stderr


def test_init_prepares_a_new_home_once_and_keeps_its_declaration(new_home):
    home, env = new_home
    first = enr(env, "init", "--election", "ep2019")
    assert_one_line_error(first, "--purpose election", "--purpose rehearsal")

    done = enr(env, "init", "--election", "ep2019", "--purpose", "rehearsal", "--demo-keys")
    assert done.returncode == 0, done.stderr
    assert "declared a rehearsal area" in done.stdout and "Airflow metadata database" in done.stdout
    for bucket in ("bucket", "backup"):
        assert json.loads((home / bucket / "AREA.json").read_text())["purpose"] == "rehearsal"
    passwords = home / "airflow" / "simple_auth_manager_passwords.json.generated"
    secret = home / "secrets" / "airflow-jwt-secret"
    for path in (passwords, secret, home / "init.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    users = json.loads(passwords.read_text())
    assert set(users) == {"admin", "reviewer", "operator", "viewer"}
    assert all(len(p) >= 20 and p != user for user, p in users.items())
    assert len(secret.read_text().strip()) >= 64

    again = enr(env, "init")
    assert again.returncode == 0 and "rehearsal area (already declared)" in again.stdout
    assert "passwords kept" in again.stdout and json.loads(passwords.read_text()) == users

    changed = enr(env, "init", "--purpose", "election")
    assert_one_line_error(changed, "declared a rehearsal area", "cannot become")
    assert json.loads((home / "bucket" / "AREA.json").read_text())["purpose"] == "rehearsal"

    status = enr(env, "status")
    assert status.returncode == 0 and "current public version: (none)" in status.stdout
    # a lot for a tie that no tallied version has is refused, not recorded
    assert_one_line_error(enr(env, "lot", "MT", "MT||seats|pl+pn", "pl"), "no tie", "open ties: none")


def test_init_without_keys_says_what_to_import(new_home):
    home, env = new_home
    done = enr(env, "init", "--purpose", "election", "--no-airflow")
    assert_one_line_error(done, "no trusted sender key", "--demo-keys")
    assert not (home / "init.json").exists()


def test_ingest_on_a_store_never_migrated_says_to_run_init(enr_home):
    from enr import pipeline
    from enr.errors import SetupRequired

    with pytest.raises(SetupRequired, match="run `enr init`"):
        pipeline.ingest_country("ep2019", "MT")
