"""The third-party libraries of the tasks, imported once in a worker before it forks its task processes.

A task process is forked from its worker (Linux: the LocalExecutor's workers, the Celery pool's
children, then the task supervisor's fork) and inherits what the worker imported. The project's
LocalExecutor (:mod:`plugins.enr_airflow.executors`) and the Celery workers
(:mod:`plugins.enr_airflow.celery_config`) call :func:`preload_modules` before forking; so does
``bench/bench_night.py`` before it starts a step's clock. Only third-party libraries, which change
only with a restart anyway: the project's own modules are imported by each task, so new code is
picked up without restarting a worker. Nothing here imports Airflow.
"""
from __future__ import annotations

import importlib
import logging
import os

# Every task of a night opens the bucket (s3fs/aiobotocore on an object store: ~0.6 s to import on a
# quiet machine), most open the results store (SQLAlchemy, psycopg2), the stage renders (Jinja2, Babel,
# cairo); GX is imported only when a suite must run (a failing delivery), but a worker pays it once.
PRELOAD_MODULES = ("pandas", "pyarrow", "pyarrow.csv", "great_expectations", "s3fs", "sqlalchemy", "psycopg2",
                   "jinja2", "babel.numbers", "babel.dates", "cairocffi", "cairosvg", "gnupg")


def preload_modules() -> list[str]:
    """Import ``ENR_PRELOAD_MODULES`` (default :data:`PRELOAD_MODULES`); the names imported."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before Great Expectations is imported
    wanted = os.environ.get("ENR_PRELOAD_MODULES")
    names = PRELOAD_MODULES if wanted is None else tuple(n.strip() for n in wanted.split(",") if n.strip())
    loaded = []
    for name in names:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as exc:  # noqa: BLE001 - a task imports what it needs itself anyway
            logging.getLogger(__name__).warning("preloading %s failed (tasks will import it): %s", name, exc)
    return loaded
