"""The third-party libraries of the tasks, imported once in a worker before it forks its task processes.

A task process is forked from its worker (Linux: the LocalExecutor's workers, the Celery pool's
children, then the task supervisor's fork) and inherits what the worker imported. The project's
LocalExecutor (:mod:`plugins.enr_airflow.executors`) and the Celery workers
(:mod:`plugins.enr_airflow.celery_config`) call :func:`preload` before forking; so does
``bench/bench_night.py`` before it starts a step's clock. Only third-party libraries, which change
only with a restart anyway: the project's own modules are imported by each task, so new code is
picked up without restarting a worker. Nothing here imports Airflow.

Babel's CLDR data of the EU's 24 official languages (``ENR_PRELOAD_LOCALES``, comma-separated;
empty: none) is loaded too: it is the library's own data, which changes only with the library, and
a stage that renders every language otherwise reads and unpickles it again in each task process
(~0.12 s for the 24, before the render can fork).
"""
from __future__ import annotations

import gc
import importlib
import logging
import os

# Every task of a night opens the bucket (s3fs/aiobotocore on an object store: ~0.6 s to import on a
# quiet machine), most open the results store (SQLAlchemy, psycopg2) and check its schema revision
# first (alembic's migration context: ~0.1 s to import), the stage renders (Jinja2, Babel, cairo); GX
# is imported only when a suite must run (a failing delivery), but a worker pays it once.
PRELOAD_MODULES = ("pandas", "pyarrow", "pyarrow.csv", "great_expectations", "s3fs", "sqlalchemy", "psycopg2",
                   "alembic.runtime.migration", "jinja2", "babel.numbers", "babel.dates", "cairocffi", "cairosvg",
                   "gnupg")


# The official languages of the EU (CLDR codes), whose Babel data every full render loads.
PRELOAD_LOCALES = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv",
                   "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv")


def _each(setting: str, default: tuple[str, ...], load, what: str) -> list[str]:
    """``load`` each name of the comma-separated ``setting`` (unset: ``default``); the names loaded.
    A failure is only logged: a task loads what it needs itself anyway."""
    wanted = os.environ.get(setting)
    names = default if wanted is None else tuple(n.strip() for n in wanted.split(",") if n.strip())
    loaded = []
    for name in names:
        try:
            load(name)
            loaded.append(name)
        except Exception as exc:  # noqa: BLE001 - see above
            logging.getLogger(__name__).warning("preloading %s%s failed (tasks will load it): %s", what, name, exc)
    return loaded


def preload_modules() -> list[str]:
    """Import ``ENR_PRELOAD_MODULES`` (default :data:`PRELOAD_MODULES`); the names imported."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before Great Expectations is imported
    return _each("ENR_PRELOAD_MODULES", PRELOAD_MODULES, importlib.import_module, "")


def preload_locales() -> list[str]:
    """Load Babel's data of ``ENR_PRELOAD_LOCALES`` (default :data:`PRELOAD_LOCALES`) into its cache;
    the codes loaded (an unknown code is logged and skipped)."""
    def load(code: str) -> None:
        from babel import localedata

        localedata.load(code)
    return _each("ENR_PRELOAD_LOCALES", PRELOAD_LOCALES, load, "the locale data of ")


def preload() -> tuple[list[str], list[str]]:
    """What a worker does before it forks: :func:`preload_modules`, :func:`preload_locales`, then
    ``gc.freeze()``: what was loaded moves to the garbage collector's permanent generation, so the
    forked task processes do not walk those millions of objects again at each full collection
    (~0.1 s each in a task that allocates much, e.g. the tally decoding the previous version) nor
    copy their pages by touching them. Airflow does the same before it forks: the LocalExecutor
    around spawning its workers, the Celery worker at Celery's ``import_modules`` signal. The
    process that froze unfreezes itself once its children are forked: our LocalExecutor after its
    ``start()`` (whatever the start method), the Celery worker in Airflow's ``worker_ready`` handler;
    the forked processes keep the objects frozen."""
    loaded = preload_modules(), preload_locales()
    gc.freeze()
    return loaded
