"""Test session set-up: a private ENR_HOME and AIRFLOW_HOME under /tmp, set before anything imports
Airflow (Airflow reads its configuration at import). Paths are short because gpg-agent's socket
lives inside GNUPGHOME."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="enrt", dir="/tmp"))
os.environ.setdefault("ENR_TEST_SESSION_DIR", str(_SESSION_DIR))
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "af")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(_SESSION_DIR / "af" / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# The reviewer restriction is on: approvals are answered as a user named in ENR_REVIEWERS.
# Test users of the simple auth manager (in-process and loopback only), each with a random password
# made for this session, in Airflow's own password file (owner-only); tests that log in read it with
# enr.home.password_of(user). The approval gate's attacks run the production auth set-up instead
# (FAB auth manager, tests/support/production_auth.py).
AIRFLOW_TEST_USERS = {"admin": "admin", "reviewer": "op", "operator": "user", "viewer": "viewer",
                      "intruder": "op"}
os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = ",".join(f"{u}:{r}" for u, r in AIRFLOW_TEST_USERS.items())
os.environ.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", None)
os.environ.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", None)  # the file under AIRFLOW_HOME
os.environ.setdefault("ENR_REVIEWERS", "reviewer")
import json as _json  # noqa: E402
import secrets as _secrets  # noqa: E402

os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", _secrets.token_urlsafe(64))  # >= 64 bytes, per session
(_SESSION_DIR / "af").mkdir(parents=True, exist_ok=True)
_PASSWORDS = _SESSION_DIR / "af" / "simple_auth_manager_passwords.json.generated"
_PASSWORDS.touch(mode=0o600)
_PASSWORDS.write_text(_json.dumps({user: _secrets.token_urlsafe(18) for user in AIRFLOW_TEST_USERS}))
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("ENR_HOME", str(_SESSION_DIR / "home"))
# drawn social cards are kept for the session (publish/cards.py), never in the user's ~/.cache
os.environ.setdefault("ENR_CARD_CACHE", str(_SESSION_DIR / "card-cache"))
# and so are compiled templates (publish/template_cache.py)
os.environ["ENR_TEMPLATE_CACHE"] = str(_SESSION_DIR / "template-cache")  # never a developer's own


import shutil as _shutil
import subprocess as _subprocess

import pytest as _pytest

from tests.support.site_browser import a11y_site, chromium_browser  # noqa: F401  (session fixtures: one site, one Chromium)

_ENR_PATH_VARS = ("ENR_BUCKET_URL", "ENR_BACKUP_BUCKET_URL", "ENR_STORE_URL", "ENR_TRUSTED_KEYS", "ENR_SIGNING_HOME")


@_pytest.fixture
def enr_home(monkeypatch):
    """A fresh, short ENR_HOME (store, buckets, keys under it) for one test; gpg agents stopped after."""
    path = Path(tempfile.mkdtemp(prefix="enrh", dir="/tmp"))
    monkeypatch.setenv("ENR_HOME", str(path))
    for var in _ENR_PATH_VARS:
        monkeypatch.delenv(var, raising=False)
    yield path
    for sub in ("keys/sender", "keys/trusted", "keys/signing"):
        _subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(path / sub)},
                        capture_output=True)
    _shutil.rmtree(path, ignore_errors=True)
