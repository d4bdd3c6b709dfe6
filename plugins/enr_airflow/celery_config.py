"""Celery settings of the production layout: Airflow's own, plus the tasks' libraries preloaded.

A Celery worker runs a task in a process forked twice from its main process (the prefork pool's
child, then the task supervisor's fork, on Linux). Each task process of a night (the sensor, every
mapped ingest, tally, stage, describe, publish) would otherwise import pandas, pyarrow and the other
third-party libraries of the tasks again. The ``worker_init`` signal, sent in the worker's main
process before its pool is forked, imports them once there
(:func:`plugins.enr_airflow.executors.preload_modules`, the same list and ``ENR_PRELOAD_MODULES``
override as the project's LocalExecutor): every task process inherits them.

Set with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=plugins.enr_airflow.celery_config.CELERY_CONFIG``
(``enr.airflow_env.PRODUCTION_LATENCY``, docker/compose.yaml). The scheduler and the API server
import this module too (the executor reads the Celery config), but only a worker receives the signal.
"""
from __future__ import annotations

import logging

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

log = logging.getLogger(__name__)

CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)


@worker_init.connect
def preload_in_worker(**_) -> list[str]:
    """Import the preload list in the worker's main process (before its pool is forked)."""
    from plugins.enr_airflow.preload import preload

    loaded, locales = preload()
    log.info("preloaded in the Celery worker before forking its pool: %s; locale data: %s",
             ", ".join(loaded) or "nothing", ", ".join(locales) or "none")
    return loaded
