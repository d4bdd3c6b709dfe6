"""A publisher's home: what must exist before a night can run, prepared once by ``enr init``.

An ``ENR_HOME`` (with the deployment settings of :mod:`enr.settings`) is ready when:

* the results store and the history tables are migrated to the code's schema;
* the export and backup buckets' public areas are **declared** (``AREA.json``): an *election*
  area takes only real versions and only after the embargo; a *rehearsal* area only test
  versions. The declaration is the operator's deliberate choice and never changes;
* the trusted senders' keyring holds at least one key and the signing keyring exactly one
  secret key (``--demo-keys`` makes throwaway ones for a rehearsal on this machine; a real night
  imports the contractor's public key and the publisher's key);
* for the embedded Airflow (``enr airflow``): its metadata database is migrated, each Airflow
  user has a random password (in Airflow's own password file, readable by the owner only), and
  the API's JWT secret is a random 64-byte value kept in the home.

:func:`init_home` does all of this idempotently and returns what it did, one line per step;
:func:`require_initialised` is how every other command says in one line what to run first.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path

# the embedded Airflow's users and secrets live in enr.airflow_env (below this module); `enr.home.password_of`
# and `passwords_file` stay importable from here, as the commands and the tests use them
from enr.airflow_env import (EMBEDDED_USERS, airflow_environment, airflow_executable, airflow_home,  # noqa: F401
                             ensure_passwords, jwt_secret, password_of, passwords_file, write_private)
from enr.definition import DefinitionError, load_election
from enr.errors import SetupRequired, UsageError
from enr.settings import get_settings

# The store, the buckets, the keyrings and the pipeline are imported inside the steps that use them:
# every `enr` command asks require_initialised() first and must not pay for SQLAlchemy and gpg.

log = logging.getLogger(__name__)

MARKER = "init.json"
PURPOSES = ("election", "rehearsal")


def marker_path() -> Path:
    return get_settings().home / MARKER


def is_initialised() -> bool:
    return marker_path().is_file()


def init_command(election: str | None = None) -> str:
    election = election or get_settings().election
    return f"enr init --election {election} --purpose election|rehearsal"


def require_initialised(what: str = "this command") -> dict:
    """The home's init record, or :class:`SetupRequired` naming the command to run first."""
    path = marker_path()
    if not path.is_file():
        raise SetupRequired(f"{get_settings().home} is not prepared for {what}: run `{init_command()}` first")
    return json.loads(path.read_text())


def migrate_airflow(env: dict[str, str]) -> None:
    """``airflow db migrate`` for the embedded metadata database (idempotent)."""
    logs = get_settings().home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "airflow-db-migrate.log").open("ab") as out:
        done = subprocess.run([airflow_executable(), "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SetupRequired(f"`airflow db migrate` failed (exit {done.returncode}); see {logs / 'airflow-db-migrate.log'}")


# -- stores, areas, keys ----------------------------------------------------------------------------

def migrate_stores() -> list[str]:
    """The results store and the history tables, migrated to the code's schema (idempotent); on
    PostgreSQL as the owner role (``ENR_STORE_OWNER_URL``), the application role left SELECT and INSERT."""
    from enr import operator
    from enr.store import Store
    from historical_loader.backfill import migrate_store as migrate_history

    settings = get_settings()
    roles = operator.migrate_store()
    history = migrate_history(os.environ.get("ENR_STORE_OWNER_URL", "").strip() or None)
    store = Store(settings.store_url)
    try:
        revision = store.schema_revision()
    finally:
        store.close()
    shown = _hide_password(settings.store_url)
    owner = (f", migrated as {roles['owner']}; {roles['app_role']} may only SELECT and INSERT"
             if roles.get("owner") else "")
    return [f"results store {shown}: schema at {revision}{owner}",
            f"history tables in {shown}: schema at {history['revision']}"]


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a database URL: show it as it is
        return url


def declare_areas(purpose: str | None) -> list[str]:
    """Mark the export and backup buckets' public areas; an undeclared area needs ``purpose``."""
    from publish.bucket import Bucket
    from publish.release import area_purpose, mark_area

    settings = get_settings()
    lines = []
    for label, url in (("export bucket", settings.bucket_url), ("backup bucket", settings.backup_bucket_url)):
        bucket = Bucket(url)
        area = area_purpose(bucket)
        if area["marked"]:
            if purpose and purpose != area["purpose"]:
                raise UsageError(f"the {label} {url} is declared a {area['purpose']} area; it cannot become a "
                                 f"{purpose} area (use other buckets for a {purpose})")
            lines.append(f"{label} {url}: {area['purpose']} area (already declared)")
            continue
        if purpose is None:
            raise UsageError(f"the {label} {url} is not declared yet: add --purpose election (a real night: "
                             f"real results, after the embargo) or --purpose rehearsal (test data only)")
        mark_area(bucket, purpose)
        lines.append(f"{label} {url}: declared a {purpose} area")
    return lines


def check_keys(*, demo_keys: bool) -> list[str]:
    """The trusted senders and the publisher's signing key: present, or made (``demo_keys``)."""
    from enr.signatures import trusted_senders
    from publish.signing import GpgHome

    settings = get_settings()
    lines = []
    if demo_keys:
        from enr import demo

        keys = demo.ensure_demo_keys()
        lines.append(f"throwaway demo keys: sender {keys['sender_fingerprint']} (private key in "
                     f"{keys['sender_home']}), publisher {keys['signing_fingerprint']} — never for a real night")
    senders = trusted_senders(settings.trusted_keys)
    if not senders:
        raise SetupRequired(f"no trusted sender key in {settings.trusted_keys}: import the contractor's public key "
                            f"(docs/DELIVERY.md, 'Signatures'), or add --demo-keys for a rehearsal on this machine")
    for fingerprint, sender in sorted(senders.items()):
        countries = ",".join(sender.get("countries") or ["*"]) if isinstance(sender, dict) else "*"
        lines.append(f"trusted sender {fingerprint} for countries {countries} ({settings.trusted_keys})")
    with GpgHome(settings.signing_home) as home:
        secret = home.gpg.list_keys(secret=True)
    if len(secret) != 1:
        raise SetupRequired(f"{settings.signing_home} holds {len(secret)} secret keys; the publisher signs with exactly "
                            f"one: import the publisher's key (docs/PRODUCTION.md, 'Keys'), or add --demo-keys")
    lines.append(f"publisher signing key {secret[0]['fingerprint']} ({settings.signing_home}); readers pin it with "
                 f"`enr verify --fingerprint`")
    return lines


def describe_settings() -> list[str]:
    settings = get_settings()
    return [f"home {settings.home}",
            f"election {settings.election} (ENR_ELECTION)",
            f"results store {_hide_password(settings.store_url)} (ENR_STORE_URL)",
            f"export bucket {settings.bucket_url} (ENR_BUCKET_URL)",
            f"backup bucket {settings.backup_bucket_url} (ENR_BACKUP_BUCKET_URL)",
            f"reviewers allowed to approve: {', '.join(settings.reviewers) or 'any user who may answer'} "
            f"(ENR_REVIEWERS)"]


def init_home(election: str, purpose: str | None, *, demo_keys: bool = False, airflow: bool = True) -> list[str]:
    """Prepare this home for ``election``; idempotent. Returns one line per thing checked or done."""
    if purpose is not None and purpose not in PURPOSES:
        raise UsageError(f"--purpose {purpose!r}: one of {', '.join(PURPOSES)}")
    try:
        definition = load_election(election)
    except DefinitionError as exc:
        raise UsageError(f"--election {election}: {exc}") from exc
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    lines = [f"election {election}: {definition.name}, embargo {definition.embargo.isoformat()}"]
    lines += describe_settings()[2:]
    lines += migrate_stores()
    lines += declare_areas(purpose)
    lines += check_keys(demo_keys=demo_keys)
    if airflow:
        path, created = ensure_passwords()
        jwt_secret()
        migrate_airflow({**os.environ, **airflow_environment()})
        lines.append(f"Airflow metadata database in {airflow_home()} migrated")
        lines.append(f"Airflow users {', '.join(EMBEDDED_USERS)}: "
                     + (f"new random passwords for {', '.join(created)}" if created else "passwords kept")
                     + f", in {path} (owner-only)")
    record = {"election": election, "initialised_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "purpose": purpose or "as declared"}
    if is_initialised():
        record = {**json.loads(marker_path().read_text()), "last_checked_at": record["initialised_at"]}
    write_private(marker_path(), json.dumps(record, indent=1))
    return lines
