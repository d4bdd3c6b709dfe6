"""Hooks: where the results store, buckets and keyrings are, read at run time.

In production the deployment facts come from Airflow connections and variables
(``enr_results_store``, ``enr_export_bucket``, ``enr_backup_bucket``, variable ``enr_election``);
on the embedded defaults they come from the ``ENR_*`` environment (see docs/CONTRACTS.md).
"""
from __future__ import annotations

import os

from airflow.sdk import BaseHook


class ResultsPublisherHook(BaseHook):
    """Resolve the publisher's settings from Airflow connections, falling back to ENR_* env."""

    conn_name_attr = "enr_conn_id"
    hook_name = "Election results publisher"

    CONNECTIONS = {
        "ENR_STORE_URL": "enr_results_store",
        "ENR_BUCKET_URL": "enr_export_bucket",
        "ENR_BACKUP_BUCKET_URL": "enr_backup_bucket",
    }

    def apply(self) -> None:
        """Put the connections' URLs into the ENR_* environment of this task process, when defined.

        A bucket connection names its bucket in the extra field ``url`` (``s3://bucket/prefix/``);
        the results store connection is a database connection (its URI, or ``url`` in extra)."""
        for env_name, conn_id in self.CONNECTIONS.items():
            if os.environ.get(env_name):
                continue
            try:
                conn = self.get_connection(conn_id)
            except Exception:  # noqa: BLE001 - an undefined connection means: use the embedded default
                continue
            url = (conn.extra_dejson or {}).get("url")
            if not url and env_name == "ENR_STORE_URL":
                url = conn.get_uri().replace("postgres://", "postgresql+psycopg2://", 1)
            if url:
                os.environ[env_name] = url
