"""Deployment settings, read from the environment at call time (never at import).

See docs/CONTRACTS.md for the table of variables and their defaults.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from enr.definition import PROJECT_ROOT


@dataclass(frozen=True)
class Settings:
    home: Path
    bucket_url: str
    backup_bucket_url: str
    store_url: str
    trusted_keys: Path
    signing_home: Path
    election: str
    reviewers: tuple[str, ...] = ()
    public_base_url: str | None = None  # the URL of the bucket's public/ root (absolute og:image URLs)


def get_settings() -> Settings:
    home = Path(os.environ.get("ENR_HOME", PROJECT_ROOT / ".enr")).resolve()
    return Settings(
        home=home,
        bucket_url=os.environ.get("ENR_BUCKET_URL", f"file://{home / 'bucket'}"),
        backup_bucket_url=os.environ.get("ENR_BACKUP_BUCKET_URL", f"file://{home / 'backup'}"),
        store_url=os.environ.get("ENR_STORE_URL", f"sqlite:///{home / 'results.db'}"),
        trusted_keys=Path(os.environ.get("ENR_TRUSTED_KEYS", home / "keys" / "trusted")),
        signing_home=Path(os.environ.get("ENR_SIGNING_HOME", home / "keys" / "signing")),
        election=os.environ.get("ENR_ELECTION", "ep2019"),
        # Airflow user ids who may answer the approval request; empty: any user allowed to answer
        reviewers=tuple(u.strip() for u in os.environ.get("ENR_REVIEWERS", "reviewer").split(",") if u.strip()),
        public_base_url=os.environ.get("ENR_PUBLIC_BASE_URL") or None,
    )
