"""The project's LocalExecutor drops the stale exit event of a task handed out again for the same try.

The race (Airflow 3.3.2, apache/airflow#67287): a deferred or rescheduled task's worker exits with
SUCCESS; if the same try is queued and handed out again before the scheduler reads that event,
the scheduler sees "finished with state success" for a QUEUED/RUNNING task and fails it. These
tests drive the executor's real ``trigger_tasks`` / ``sync`` with the worker side replaced by the
result queue the workers write to.
"""
from __future__ import annotations

import ctypes
import multiprocessing
from queue import SimpleQueue

import pytest
from airflow.executors.local_executor import LocalExecutor
from airflow.executors.workloads.task import ExecuteTask, TaskInstanceDTO
from airflow.utils.state import TaskInstanceState

from enr.airflow_env import airflow_environment
from plugins.enr_airflow.executors import ElectionNightLocalExecutor

SUCCESS, FAILED = TaskInstanceState.SUCCESS, TaskInstanceState.FAILED


def _workload(task_id="approve", try_number=1) -> ExecuteTask:
    ti = TaskInstanceDTO.model_construct(dag_id="election_night_publish", task_id=task_id, run_id="r1",
                                         try_number=try_number, map_index=-1, priority_weight=1, pool_slots=1)
    return ExecuteTask.model_construct(ti=ti)


def _executor(cls, monkeypatch) -> LocalExecutor:
    executor = cls(parallelism=2)
    executor.activity_queue = SimpleQueue()        # what start() opens, without spawning workers
    executor.result_queue = SimpleQueue()
    executor.workers = {}
    executor._unread_messages = multiprocessing.Value(ctypes.c_uint)
    monkeypatch.setattr(executor, "_check_workers", lambda: None)
    return executor


def _hand_out(executor, workload):
    executor.queue_workload(workload, session=None)
    executor.trigger_tasks(open_slots=2)
    assert executor.activity_queue.get() is workload      # it reached the workers' queue


def _worker_reports(executor, workload, state):
    executor.result_queue.put((workload.key, state, None))


def _events(executor) -> dict:
    executor.sync()
    return executor.get_event_buffer()


@pytest.mark.parametrize("cls", [LocalExecutor, ElectionNightLocalExecutor])
def test_the_race_needs_guarding(cls, monkeypatch):
    """Defer exit not read yet, same try handed out again: the stock executor passes the stale event."""
    executor, work = _executor(cls, monkeypatch), _workload()
    _hand_out(executor, work)
    _worker_reports(executor, work, SUCCESS)        # the worker exits after defer()
    _hand_out(executor, work)                       # trigger fired, same try queued again
    events = _events(executor)
    if cls is LocalExecutor:
        assert events == {work.key: (SUCCESS, None)}     # what the scheduler fails the task on
    else:
        assert events == {}
        assert executor.stale_events_dropped == 1
    _worker_reports(executor, work, SUCCESS)        # the resumed run finishes
    assert _events(executor) == {work.key: (SUCCESS, None)}
    if cls is ElectionNightLocalExecutor:
        assert work.key not in executor.handed_out


def test_events_in_the_usual_order_all_pass(monkeypatch):
    executor, work = _executor(ElectionNightLocalExecutor, monkeypatch), _workload()
    _hand_out(executor, work)
    _worker_reports(executor, work, SUCCESS)
    assert _events(executor) == {work.key: (SUCCESS, None)}   # defer exit read before the resume
    _hand_out(executor, work)
    _worker_reports(executor, work, FAILED)
    assert _events(executor) == {work.key: (FAILED, None)}    # a real failure is never hidden
    assert executor.stale_events_dropped == 0 and not executor.handed_out


def test_other_tasks_and_tries_are_not_affected(monkeypatch):
    executor = _executor(ElectionNightLocalExecutor, monkeypatch)
    first, retry, other = _workload(try_number=1), _workload(try_number=2), _workload(task_id="publish")
    for work in (first, retry, other):
        _hand_out(executor, work)
    for work, state in ((first, FAILED), (retry, SUCCESS), (other, SUCCESS)):
        _worker_reports(executor, work, state)
    assert _events(executor) == {first.key: (FAILED, None), retry.key: (SUCCESS, None),
                                 other.key: (SUCCESS, None)}


def test_the_project_environment_selects_it():
    from airflow.executors.executor_loader import ExecutorLoader, ExecutorName

    path = airflow_environment()["AIRFLOW__CORE__EXECUTOR"]
    cls, _ = ExecutorLoader.import_executor_cls(ExecutorName(module_path=path))
    assert cls is ElectionNightLocalExecutor and cls.is_local   # `airflow standalone` keeps a local one


def test_heavy_libraries_are_imported_before_the_workers_are_forked(monkeypatch):
    """start() imports the preload list before LocalExecutor.start() forks the workers; a module that
    cannot be imported is only logged (the task imports what it needs itself)."""
    import sys

    import gc

    from babel import localedata

    seen = {}

    def fake_start(self):
        seen["already imported when forking"] = {name: name in sys.modules for name in ("colorsys", "wave")}
        seen["locale data loaded when forking"] = {code: code in localedata._cache for code in ("ga", "mt")}
        seen["objects frozen when forking"] = gc.get_freeze_count()

    monkeypatch.setattr(LocalExecutor, "start", fake_start)
    for name in ("colorsys", "wave"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    for code in ("ga", "mt"):
        monkeypatch.delitem(localedata._cache, code, raising=False)
    monkeypatch.setenv("ENR_PRELOAD_MODULES", "colorsys, no_such_module_here, wave")
    monkeypatch.setenv("ENR_PRELOAD_LOCALES", "ga, no-such-locale, mt")
    executor = ElectionNightLocalExecutor(parallelism=1)
    gc.unfreeze()
    try:
        executor.start()  # LocalExecutor.start() replaced by one that forks nothing and unfreezes nothing (spawn)
        frozen_after = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # the test process goes on collecting its garbage, whatever happened
    assert seen["objects frozen when forking"] > 10_000  # the interpreter's objects and the preload's
    assert frozen_after == 0  # the scheduler itself is not left frozen
    assert seen["already imported when forking"] == {"colorsys": True, "wave": True}
    assert seen["locale data loaded when forking"] == {"ga": True, "mt": True}
    assert executor.preloaded == ["colorsys", "wave"]
    assert executor.preloaded_locales == ["ga", "mt"]


def test_the_default_locale_preload_is_every_language_of_the_site():
    from plugins.enr_airflow.preload import PRELOAD_LOCALES
    from publish.i18n import LANGUAGES

    assert sorted(PRELOAD_LOCALES) == sorted(LANGUAGES)


def test_the_default_preload_is_third_party_only():
    from plugins.enr_airflow.executors import PRELOAD_MODULES

    project = {"enr", "publish", "transforms", "expectations", "historical_loader", "plugins", "dags"}
    assert PRELOAD_MODULES and not {name.split(".")[0] for name in PRELOAD_MODULES} & project
