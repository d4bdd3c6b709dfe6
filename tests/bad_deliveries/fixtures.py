"""Pytest fixtures shared by the intake, store and expectations tests (import them into a module).

* ``store_url`` — a fresh, empty results store per test: SQLite always, and PostgreSQL when
  ``ENR_TEST_PG_URL`` is set (a new schema per test, dropped afterwards);
* ``gpg_keys`` — a session's GnuPG homes: a trusted sender, an unknown sender, an expired key, a
  revoked key, a key in the keyring but not listed, a key trusted for FR only;
* ``make_env`` — builds an :class:`IntakeEnv` (bucket, store, settings) in a fresh short directory.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from enr.bucketio import Bucket
from enr.settings import Settings

PG_ENV = "ENR_TEST_PG_URL"


def _backends() -> list:
    params = ["sqlite"]
    if os.environ.get(PG_ENV):
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


_TEMPLATE: dict[str, Path] = {}


def _sqlite_template(tmp_path_factory) -> Path:
    """A results store migrated once per session; each test gets a copy (alembic runs once)."""
    if "path" not in _TEMPLATE:
        from enr.store import Store

        path = tmp_path_factory.mktemp("store-template") / "results.db"
        store = Store(f"sqlite:///{path}")
        store.migrate()
        store.close()  # the last connection closed checkpoints the WAL into the file
        assert not path.with_name(path.name + "-wal").exists()
        _TEMPLATE["path"] = path
    return _TEMPLATE["path"]


@pytest.fixture(params=_backends())
def store_url(request, tmp_path, tmp_path_factory):
    """A SQLAlchemy URL of an empty, migrated database (SQLite file, or PostgreSQL schema).

    PostgreSQL schemas start empty: ``Store.migrate()`` (idempotent) brings them to head."""
    yield from backend_url(request.param, tmp_path, tmp_path_factory)


def backend_url(backend: str, tmp_path: Path, tmp_path_factory):
    """Yield a store URL on ``backend`` ("sqlite" or "postgresql"), and drop it afterwards."""
    if backend == "sqlite":
        path = tmp_path / "results.db"
        shutil.copyfile(_sqlite_template(tmp_path_factory), path)
        yield f"sqlite:///{path}"
        return
    from sqlalchemy import create_engine, text

    base = os.environ[PG_ENV]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@dataclass
class GpgKeys:
    root: Path
    trusted: Path
    sender: Path
    other: Path
    expired: Path
    revoked: Path
    unlisted: Path
    fr_only: Path
    sender_fpr: str


def _make_keys() -> GpgKeys:
    from enr.signatures import (SENDERS_FILE, ensure_demo_sender_key, export_public_key, generate_key, gnupg_home,
                                trust_sender, trusted_senders, _write_senders)

    root = Path(tempfile.mkdtemp(prefix="enrk", dir="/tmp"))
    homes = {n: root / n for n in ("trusted", "sender", "other", "expired", "revoked", "unlisted", "fr_only")}
    for home in homes.values():
        home.mkdir(mode=0o700)
    sender_fpr = ensure_demo_sender_key(homes["sender"], homes["trusted"])
    generate_key(homes["other"], name="Unknown sender", email="other@example.invalid")
    past = ["--faked-system-time", "20200101T000000!"]
    expired_fpr = generate_key(homes["expired"], name="Expired sender", email="expired@example.invalid",
                               expire="1d", options=past)
    trust_sender(homes["trusted"], export_public_key(homes["expired"], expired_fpr), name="expired")
    revoked_fpr = generate_key(homes["revoked"], name="Revoked sender", email="revoked@example.invalid")
    trust_sender(homes["trusted"], export_public_key(homes["revoked"], revoked_fpr), name="revoked")
    certificate = next((homes["revoked"] / "openpgp-revocs.d").glob("*.rev")).read_text()
    with gnupg_home(homes["trusted"], writable=True) as gpg:
        result = gpg.import_keys(certificate.replace("\n:-----BEGIN", "\n-----BEGIN"))
        assert result.count == 1, result.stderr
    unlisted_fpr = generate_key(homes["unlisted"], name="Unlisted sender", email="unlisted@example.invalid")
    trust_sender(homes["trusted"], export_public_key(homes["unlisted"], unlisted_fpr), name="unlisted")
    senders = trusted_senders(homes["trusted"])
    senders.pop(unlisted_fpr.upper())
    _write_senders(homes["trusted"], senders)
    fr_fpr = generate_key(homes["fr_only"], name="French contractor", email="fr@example.invalid")
    trust_sender(homes["trusted"], export_public_key(homes["fr_only"], fr_fpr), name="fr", countries=("FR",))
    assert (homes["trusted"] / SENDERS_FILE).exists()
    return GpgKeys(root=root, sender_fpr=sender_fpr, **homes)


@pytest.fixture(scope="session")
def gpg_keys():
    from enr.gpghome import kill_agent

    keys = _make_keys()
    yield keys
    for home in keys.root.iterdir():
        kill_agent(home)
    shutil.rmtree(keys.root, ignore_errors=True)


@dataclass
class IntakeEnv:
    root: Path
    settings: Settings
    bucket: Bucket
    store: object
    keys: GpgKeys
    election: str = "ep2019"
    _hashes: dict = field(default_factory=dict)

    def drop(self, name: str, data: bytes | None, signature: bytes | None = None) -> None:
        inbox = self.bucket.root / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        if data is not None:
            (inbox / name).write_bytes(data)
        if signature is not None:
            (inbox / (name + ".asc")).write_bytes(signature)

    def sign(self, data: bytes, home: Path | None = None, options=None) -> bytes:
        from enr.signatures import sign_bytes

        return sign_bytes(data, home or self.keys.sender, options=options)

    def deliver(self, name: str, data: bytes, *, home: Path | None = None, signature: bytes | None = None):
        from enr.intake import process_delivery

        self.drop(name, data, signature if signature is not None else self.sign(data, home))
        return process_delivery(name, self.settings, self.election, store=self.store, bucket=self.bucket)

    def files(self, prefix: str) -> dict[str, str]:
        """SHA-256 of every file under ``prefix`` (re-hashed only when its size or mtime changed)."""
        import hashlib

        folder = self.bucket.root / prefix
        if not folder.exists():
            return {}
        out = {}
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            stat = path.stat()
            key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            cached = self._hashes.get(path)
            if cached is None or cached[0] != key:
                cached = (key, hashlib.sha256(path.read_bytes()).hexdigest())
                self._hashes[path] = cached
            out[path.relative_to(self.bucket.root).as_posix()] = cached[1]
        return out


def make_intake_env(keys: GpgKeys, store_url: str | None = None) -> IntakeEnv:
    from enr.store import Store

    root = Path(tempfile.mkdtemp(prefix="enri", dir="/tmp"))
    url = store_url or f"sqlite:///{root / 'results.db'}"
    settings = Settings(home=root, bucket_url=f"file://{root / 'bucket'}", backup_bucket_url=f"file://{root / 'backup'}",
                        store_url=url, trusted_keys=keys.trusted, signing_home=root / "signing", election="ep2019")
    (root / "bucket").mkdir()
    store = Store(url)
    store.migrate()
    return IntakeEnv(root=root, settings=settings, bucket=Bucket(settings.bucket_url), store=store, keys=keys)


@pytest.fixture
def intake_env(gpg_keys, store_url):
    env = make_intake_env(gpg_keys, store_url)
    yield env
    env.store.close()
    shutil.rmtree(env.root, ignore_errors=True)
