"""A LocalExecutor that drops the stale exit event of a task handed out again for the same try.

Why: when a task parks (the approval gate waits for input, a deferrable task defers) or is
rescheduled (the inbox sensor), its worker process exits cleanly and the executor reports SUCCESS
for that try. If the answer comes (a reviewer answers quickly) or the reschedule date passes before
the scheduler has read that exit event, the scheduler queues the same try again and then reads the
old event while the task instance is QUEUED or RUNNING. Airflow 3.3.2 only recognises this race
when the task is still SCHEDULED, so it logs "Executor reported that the task instance ...
finished with state success, but the task instance's state attribute is queued" and fails a task
that was working (upstream: apache/airflow#67287, #72716; fixes proposed in #72767 and #73510,
not in 3.3.2).

It also imports the heavy third-party libraries of the tasks (pandas, pyarrow, Great
Expectations, s3fs, SQLAlchemy, cairo: seconds per process, :data:`PRELOAD_MODULES`) once, in the scheduler process before it forks its worker
processes: a task process is forked from a worker (Linux) and inherits them, instead of paying the
import in each of the 28 mapped ingest tasks of a wave. Only third-party libraries, which change
only with a restart anyway: the project's own modules are imported by each task, so new code is
picked up without restarting the scheduler. ``ENR_PRELOAD_MODULES`` (comma-separated; empty: none)
overrides the list.

This executor counts how many times each task-instance key (dag, task, run, map index, try) has
been handed to the workers. A worker's finished event for a key that has been handed out again
since is the stale one: it is logged and dropped, and the newer run reports for itself. Nothing
else changes: the scheduler's own ``fail()``/``success()`` calls and all other events pass
through the normal path.

Set it with
``AIRFLOW__CORE__EXECUTOR=plugins.enr_airflow.executors.ElectionNightLocalExecutor``
(``enr.airflow_env`` does). The production layout's CeleryExecutor is not affected: it keeps only
the newest hand-out of a key (``workloads[key]``) and counts it as running, so the scheduler sees
the re-queued task as its own.
"""
from __future__ import annotations

import gc
from collections import Counter

from airflow.executors import workloads
from airflow.executors.local_executor import LocalExecutor
from airflow.utils.state import TaskInstanceState

from plugins.enr_airflow.preload import PRELOAD_MODULES, preload, preload_modules  # noqa: F401 - re-exported

_FINISHED = frozenset({TaskInstanceState.SUCCESS, TaskInstanceState.FAILED})


class ElectionNightLocalExecutor(LocalExecutor):
    """LocalExecutor that ignores a finished event superseded by a newer hand-out of the same try."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handed_out: Counter = Counter()
        self.stale_events_dropped = 0

    def start(self) -> None:
        self.preloaded, self.preloaded_locales = preload()  # before the workers are forked (see the module)
        try:
            super().start()  # with fork: the workers inherit the frozen objects
        finally:
            gc.unfreeze()  # the scheduler itself goes on collecting (also with spawn, where start() forks nothing)

    def _process_workloads(self, workload_list):
        for workload in workload_list:
            if isinstance(workload, workloads.ExecuteTask):
                self.handed_out[workload.key] += 1
        super()._process_workloads(workload_list)

    def _read_results(self):
        while not self.result_queue.empty():
            key, state, _exc = self.result_queue.get()
            if self.is_stale(key, state):
                continue
            self.change_state(key, state)

    def is_stale(self, key, state) -> bool:
        """Count a finished event for ``key``; True if a newer hand-out of the same try is out."""
        if state not in _FINISHED or key not in self.handed_out:
            return False
        outstanding = self.handed_out[key]
        if outstanding > 1:
            self.handed_out[key] = outstanding - 1
            self.stale_events_dropped += 1
            self.log.warning("Dropping the %s event of an earlier hand-out of %s: the same try was "
                             "queued again (resumed after a deferral or a reschedule)", state, key)
            return True
        del self.handed_out[key]
        return False
