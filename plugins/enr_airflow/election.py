"""Which election a run is for: configuration read at run time, never a constant of the DAGs.

A deployment may hold several elections side by side (a rehearsal of one, the real night of
another); each run works for exactly one, chosen in this order:

1. the run's own ``conf`` (``{"election": "ep2024"}``: a manual run, ``dag.test(run_conf=...)``);
2. for the publish DAG, the ``election`` of the triggering ``staged_results`` asset event;
3. the Airflow Variable ``enr_election`` (UI *Admin > Variables*, ``airflow variables set``, or
   ``AIRFLOW_VAR_ENR_ELECTION``);
4. the environment variable ``ENR_ELECTION`` (``docker/compose.yaml`` sets it);
5. ``ep2019``.

The ``election`` Param's default shown in the UI follows 3-5 as they are when the DAG file is
parsed; a scheduled run does not rely on it: it reads 3-5 when it starts (:func:`run_election`),
once, in its first task, and hands the id to the others, so one run never mixes two elections.
"""
from __future__ import annotations

import logging
import os
import re

log = logging.getLogger(__name__)

VARIABLE = "enr_election"
DEFAULT = "ep2019"
ELECTION_ID = re.compile(r"^[a-z0-9_-]+$")


def configured_election() -> str:
    """The deployment's election: Variable ``enr_election``, else ``ENR_ELECTION``, else ``ep2019``."""
    value = None
    try:
        from airflow.sdk import Variable

        value = Variable.get(VARIABLE, default=None)
    except Exception as exc:  # noqa: BLE001 - no metadata database reachable (e.g. a bare parse): the env decides
        log.debug("Variable %s not readable (%s); using ENR_ELECTION", VARIABLE, exc)
    value = (value or os.environ.get("ENR_ELECTION") or DEFAULT).strip()
    return _checked(value, f"Variable {VARIABLE} / ENR_ELECTION")


def run_election(dag_run=None) -> str:
    """The election of this run: its conf's ``election``, else :func:`configured_election`."""
    conf = getattr(dag_run, "conf", None) or {}
    if conf.get("election"):
        return _checked(str(conf["election"]), "the run's conf")
    return configured_election()


def event_election(triggering_asset_events) -> tuple[str | None, str | None]:
    """(election, version) of the newest triggering ``staged_results`` event that names them."""
    found: tuple[str | None, str | None] = (None, None)
    for events in (triggering_asset_events or {}).values():
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if extra.get("version"):
                found = (extra.get("election"), extra["version"])
    return found


def _checked(value: str, where: str) -> str:
    if not ELECTION_ID.fullmatch(value):
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{where}: election id {value!r} must match {ELECTION_ID.pattern}")
    return value
