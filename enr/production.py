"""The production layout's one-time set-up (docker/compose.yaml, docs/PRODUCTION.md):
``enr production secrets`` before the first start, ``enr production init`` as its `init` service.

**Secrets** (:func:`write_secrets`): the env file (``docker/.env``) is created from the example when
it does not exist. Every value still set to a placeholder (``change-me…``) or empty is replaced by a
fresh random one; values already set are kept, so running it again changes nothing (rotate a secret
by blanking it first). Nothing is printed but the names of the variables written. The file is
written with mode 0600.

- ``AIRFLOW_FERNET_KEY``: a Fernet key (encrypts the connections stored in Airflow's database);
- ``AIRFLOW_JWT_SECRET``: 64 random bytes, URL-safe base64 (86 characters): the HMAC key of the
  API's and the execution API's tokens (PyJWT warns below 64 bytes for HS512);
- ``AIRFLOW_API_SECRET_KEY`` and every other ``change-me`` (database, Redis, S3 passwords):
  32 random bytes, URL-safe base64.

There is no default user password: the Airflow users are created with the commands of
docs/PRODUCTION.md (*Users and roles*), each with a password its owner types.

**Initialisation** (:func:`initialise`; idempotent; every other Airflow service starts only after
it exited 0):

1. ``airflow db migrate`` on the metadata database (PostgreSQL), then the roles of
   ``docker/auth/roles.json`` (Reviewer, Operator) imported with ``airflow roles import`` when the
   FAB auth manager is configured (existing roles are kept as they are);
2. the results store's migrations as the owner role (``enr.operator.migrate_store()``: ``ENR_STORE_OWNER_URL``),
   the application role of ``ENR_STORE_URL`` granted SELECT and INSERT only;
3. the export and backup buckets on their S3 endpoints (from the Airflow connections
   ``AIRFLOW_CONN_ENR_EXPORT_BUCKET`` / ``AIRFLOW_CONN_ENR_BACKUP_BUCKET``), each with the bucket
   policy that lets anonymous readers (the nginx sites) GET the election's pointer files and
   nothing else until the publisher grants each published version (:func:`public_read_policy`);
4. a check that the senders' trusted keyring is mounted (a warning only: keys may be imported later).

Users are not created here (no default password): docs/PRODUCTION.md, "Users and roles".
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import time
from pathlib import Path

from enr.definition import PROJECT_ROOT

log = logging.getLogger(__name__)

ROLES_FILE = PROJECT_ROOT / "docker" / "auth" / "roles.json"
ENV_FILE = PROJECT_ROOT / "docker" / ".env"
ENV_EXAMPLE = PROJECT_ROOT / "docker" / ".env.example"
PLACEHOLDER = "change-me"


def fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def jwt_secret() -> str:
    return secrets.token_urlsafe(64)


def generic_secret() -> str:
    return secrets.token_urlsafe(32)


GENERATORS = {"AIRFLOW_FERNET_KEY": fernet_key, "AIRFLOW_JWT_SECRET": jwt_secret}


def fill_secrets(text: str) -> tuple[str, list[str]]:
    """``text`` of an env file with every placeholder or empty secret replaced; the names replaced."""
    lines, written = [], []
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        key = name.strip()
        if sep and key and not key.startswith("#") and (value.strip().startswith(PLACEHOLDER) or
                                                        (not value.strip() and key in GENERATORS)):
            line = f"{key}={GENERATORS.get(key, generic_secret)()}"
            written.append(key)
        lines.append(line)
    return "\n".join(lines) + "\n", written


def public_read_policy(bucket: str, elections: tuple[str, ...] | None = None, key_prefix: str = "") -> dict:
    """The bucket policy a new bucket starts with: anonymous readers may GET the pointer files of
    each election (``public/<election>/current.json``, ``index.html``, ``publications.json``,
    ``publications.atom``) and nothing else. Versions are staged in place under ``public/`` and stay
    unreadable until the publisher grants each published version (``public/<election>/<version>/*``)
    in the same statement (publish/read_policy.py); never ``public/*``, which would let anyone read a
    staged version before its approval. ``elections``: by default ``ENR_ELECTION`` (``ep2019``);
    ``key_prefix``: the path of the bucket URL (``s3://bucket/<key_prefix>``)."""
    from publish import read_policy
    from publish.release import ATOM, CURRENT, INDEX, PUBLICATIONS

    elections = elections or (os.environ.get("ENR_ELECTION") or "ep2019",)
    prefix = key_prefix.strip("/") + "/" if key_prefix.strip("/") else ""
    resources = [f"arn:aws:s3:::{bucket}/{prefix}public/{election}/{name}"
                 for election in elections for name in (CURRENT, INDEX, PUBLICATIONS, ATOM)]
    return {"Version": read_policy.VERSION, "Statement": [read_policy.statement(resources)]}


def _retry(what: str, func, attempts: int = 30, delay: float = 2.0):
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except Exception as exc:  # noqa: BLE001 - services may still be starting
            if attempt == attempts:
                raise
            log.info("%s not ready (%s); retry %d/%d in %.0f s", what, exc, attempt, attempts, delay)
            time.sleep(delay)
    return None


def migrate_airflow_db() -> None:
    _retry("airflow db migrate", lambda: subprocess.run(["airflow", "db", "migrate"], check=True, timeout=600))
    log.info("airflow metadata database migrated")


def import_roles() -> None:
    """The project's roles, for the FAB auth manager only (the simple auth manager has fixed roles)."""
    manager = os.environ.get("AIRFLOW__CORE__AUTH_MANAGER", "")
    if "fab" not in manager.lower():
        log.info("auth manager %s: no roles to import", manager or "(default)")
        return
    subprocess.run(["airflow", "roles", "import", str(ROLES_FILE)], check=True, timeout=300)
    log.info("roles of %s imported", ROLES_FILE)


def migrate_results_store() -> None:
    from enr import operator

    _retry("results store", operator.migrate_store)  # as ENR_STORE_OWNER_URL; the app role: SELECT, INSERT
    log.info("results store migrated")


def _bucket_name(url: str) -> str:
    """``s3://conn_id@bucket/`` or ``s3://bucket/`` -> ``bucket``."""
    rest = url.split("://", 1)[1]
    return rest.split("@", 1)[-1].split("/", 1)[0]


def _key_prefix(url: str) -> str:
    """``s3://conn_id@bucket/night/`` -> ``night/`` (the keys' common prefix)."""
    rest = url.split("://", 1)[1].split("@", 1)[-1]
    return rest.split("/", 1)[1] if "/" in rest else ""


def ensure_bucket(conn_env: str, bucket: str, key_prefix: str = "") -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    conn = json.loads(os.environ[conn_env])
    extra = conn.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    client = boto3.client("s3", endpoint_url=extra.get("endpoint_url"), region_name=extra.get("region_name"),
                          aws_access_key_id=conn.get("login"), aws_secret_access_key=conn.get("password"),
                          config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}))

    def create() -> None:
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError:
            client.create_bucket(Bucket=bucket)
        # a policy the publisher already extended (published versions) is kept: only a missing one,
        # or the old blanket grant of public/* (staged versions readable), is replaced
        try:
            existing = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError:
            existing = None
        blanket = any(r.endswith("/public/*") for item in (existing or {}).get("Statement", [])
                      for r in ([item.get("Resource")] if isinstance(item.get("Resource"), str)
                                else item.get("Resource", [])))
        if existing is None or blanket:
            client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read_policy(bucket, key_prefix=key_prefix)))

    _retry(f"bucket {bucket}", create)
    log.info("bucket %s ready (anonymous GET of the pointer files and of published versions only)", bucket)


def check_keyrings() -> None:
    # the signing key is mounted into airflow-worker-signing only (docs/PRODUCTION.md): not checked here
    for name in ("ENR_TRUSTED_KEYS",):
        home = Path(os.environ.get(name, ""))
        if not home.is_dir() or not any(home.glob("pubring.kbx")):
            log.warning("%s=%s holds no keyring yet: import the keys before the night (docs/PRODUCTION.md)",
                        name, home)


def write_secrets(env_file: Path = ENV_FILE, example: Path = ENV_EXAMPLE) -> list[str]:
    """Fill ``env_file`` (from ``example`` when it does not exist) with fresh secrets, mode 0600;
    the names of the variables written."""
    source = env_file if env_file.exists() else example
    text, written = fill_secrets(source.read_text())
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(env_file, 0o600)
    return written


def initialise(*, airflow_db: bool = True, store: bool = True, buckets: bool = True) -> None:
    """Steps 1-4 of the module docstring (each but the keyring check can be left out)."""
    if airflow_db:
        migrate_airflow_db()
        import_roles()
    if store:
        migrate_results_store()
    if buckets:
        for conn_env, url in (("AIRFLOW_CONN_ENR_EXPORT_BUCKET", os.environ["ENR_BUCKET_URL"]),
                              ("AIRFLOW_CONN_ENR_BACKUP_BUCKET", os.environ["ENR_BACKUP_BUCKET_URL"])):
            ensure_bucket(conn_env, _bucket_name(url), _key_prefix(url))
    check_keyrings()
    log.info("production layout initialised")
