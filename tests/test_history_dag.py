"""The ``historical_backfill`` DAG: house policy, one run per EP election day, serializable."""
from __future__ import annotations

from pathlib import Path

import pendulum
import pytest

from historical_loader.election_days import EP_ELECTION_DAYS

DAGS = Path(__file__).resolve().parent.parent / "dags"


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "historical_backfill.py"))
    assert bag.import_errors == {}
    return bag.dags["historical_backfill"]


def test_policy(dag):
    assert dag.doc_md and "backfill create" in dag.doc_md
    assert dag.tags == {"history"} or list(dag.tags) == ["history"]
    assert Path(dag.fileloc).stem == dag.dag_id
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow"
    assert {t.task_id for t in dag.tasks} == {"migrate_store", "validate", "load", "verify"}
    assert dag.get_task("load").upstream_task_ids == {"migrate_store", "validate"}
    assert dag.get_task("verify").upstream_task_ids == {"load"}
    assert dag.get_task("validate").retries == 0 and dag.get_task("load").retries == 0


def test_schedule_is_the_ep_election_days(dag):
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.events import EventsTimetable

    timetable = dag.timetable
    assert isinstance(timetable, EventsTimetable)
    restriction = TimeRestriction(earliest=pendulum.datetime(1979, 1, 1, tz="UTC"),
                                  latest=pendulum.datetime(2019, 12, 31, tz="UTC"), catchup=True)
    runs, last = [], None
    while (info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)):
        runs.append(info.logical_date.date())
        last = info.data_interval
    assert runs == list(EP_ELECTION_DAYS)  # `backfill create 1979-01-01..2019-12-31`: one run per election
    assert info is None
    # a manual run is placed on the most recent election day
    manual = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2016, 3, 1, tz="UTC"))
    assert manual.end.date().isoformat() == "2014-05-25"


def test_dag_serializes_and_deserializes(dag):
    """Airflow 3.3.2 cannot serialize a DAG using ``airflow.sdk.EventsTimetable`` (KeyError
    '_summary', apache/airflow#69401); the DAG uses the core timetable, which round-trips."""
    from airflow.serialization.serialized_objects import DagSerialization

    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert [d.date() for d in restored.timetable.event_dates] == list(EP_ELECTION_DAYS)
    assert restored.timetable.summary == "EP election days 1979-2019"


def test_tasks_fail_without_retry_naming_election_and_rule(dag, tmp_path, monkeypatch):
    import csv
    import shutil

    from airflow.sdk.exceptions import AirflowFailException

    folder = tmp_path / "historical"
    shutil.copytree(Path(__file__).resolve().parent.parent / "data" / "historical", folder)
    path = folder / "ep_1979_2019.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    for row in rows:
        if (row["country"], row["election_year"], row["party_abbrev"]) == ("DE", "1984", "SPD"):
            row["seats"] = "34"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    monkeypatch.setenv("ENR_HISTORICAL_DIR", str(folder))
    monkeypatch.setenv("ENR_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    validate = dag.get_task("validate").python_callable
    with pytest.raises(AirflowFailException, match=r"EP 1984 DE: rule seats_sum"):
        validate(data_interval_end=pendulum.datetime(1984, 6, 17, tz="UTC"))
    load = dag.get_task("load").python_callable
    with pytest.raises(AirflowFailException, match=r"EP 1984 DE: rule seats_sum"):
        load(data_interval_end=pendulum.datetime(1984, 6, 17, tz="UTC"), run_id="t", params={"replace": False})
    # the run of 1979 does not contain 1984: it validates
    assert validate(data_interval_end=pendulum.datetime(1979, 6, 10, tz="UTC"))["years"] == [1979]
    with pytest.raises(AirflowFailException, match="no logical date"):
        validate(data_interval_end=None, logical_date=None)
