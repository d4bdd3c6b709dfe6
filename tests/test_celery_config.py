"""The production layout's Celery config: Airflow's settings, and the tasks' libraries preloaded in a
worker's main process (plugins/enr_airflow/celery_config.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WORKER = """
import sys
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init
from plugins.enr_airflow import celery_config
assert celery_config.CELERY_CONFIG == dict(DEFAULT_CELERY_CONFIG)
from babel import localedata
before = {name: name in sys.modules for name in ("tabnanny", "wave")}
assert "hr" not in localedata._cache
import gc
frozen = gc.get_freeze_count()
worker_init.send(sender=None)          # what a Celery worker's main process sends before forking its pool
after = {name: name in sys.modules for name in ("tabnanny", "wave")}
assert "hr" in localedata._cache, sorted(localedata._cache)
assert gc.get_freeze_count() > frozen, (frozen, gc.get_freeze_count())  # what it loaded is frozen too
print(before, after)
"""


def test_a_worker_imports_the_preload_list_before_forking_its_pool(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "ENR_PRELOAD_MODULES": "tabnanny, no_such_module_here, wave",
           "AIRFLOW_HOME": str(tmp_path / "airflow")}
    done = subprocess.run([sys.executable, "-c", _WORKER], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == ("{'tabnanny': False, 'wave': False} "
                                                    "{'tabnanny': True, 'wave': True}")
    assert "preloading no_such_module_here failed" in done.stderr + done.stdout


def test_the_production_settings_name_this_config():
    from enr.airflow_env import PRODUCTION_LATENCY

    path = PRODUCTION_LATENCY["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"]
    module, _, name = path.rpartition(".")
    assert (module, name) == ("plugins.enr_airflow.celery_config", "CELERY_CONFIG")
