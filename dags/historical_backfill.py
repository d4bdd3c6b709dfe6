"""
### Historical backfill: EP elections 1979-2019 into the results store

Loads the ParlGov history (`data/historical/`, see its SOURCES.md) into the `hist_*` tables of
the results store (`ENR_STORE_URL`): elections, parties, votes, exact vote shares, seats, their
source and known gaps; pre-election delegations go to their own table, never among the results.

**Schedule: one run per regular EP election day** (an events timetable: 1979-06-10,
1984-06-17, 1989-06-18, 1994-06-12, 1999-06-13, 2004-06-13, 2009-06-07, 2014-05-25,
2019-05-26). The run of day *D* loads every election and delegation dated in
*(previous election day, D]*: out-of-cycle elections go with the next regular one (EL 1981 with
1984, ES/PT 1987 with 1989, SE 1995 and AT/FI 1996 with 1999, BG/RO 2007 with 2009, HR 2013
with 2014). All days are in the past and `catchup` is off, so the DAG never runs by itself;
fill it with a backfill (the scheduler runs it):

    airflow backfill create --dag-id historical_backfill --from-date 1979-01-01 --to-date 2019-12-31

Tasks: `migrate_store` (alembic, own version table) and `validate` (every rule; known gaps are
logged as warnings with their reason), then `load` (one transaction per year), then `verify`
(the store holds exactly the source's rows for the run's years), which ends by rendering the
history pages as now loaded into the render cache (`publish.render_cache`; a failure there is
logged and the night's stage renders them).

**Idempotent**: re-running a run (`--reprocess-behavior completed`) writes nothing when the
source is unchanged. If the source changed for an already loaded election, `load` fails naming
the rows and writes nothing; re-run with the `replace` param (`--dag-run-conf '{"replace": true}'`)
to overwrite. Validation failures name the election, the rule and the source lines; data errors
fail without retry.

Concurrency: manual runs go one at a time (`max_active_runs=1`); a backfill runs up to its own
`--max-active-runs` (default 10) at once. That is safe: runs load disjoint years, each year in
its own transaction, and `migrate_store` tolerates a concurrent migration (all nine runs in
parallel on SQLite: 45 s, no retry).
"""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.events import EventsTimetable

from historical_loader.election_days import EP_ELECTION_DAYS

# The core EventsTimetable, not ``airflow.sdk.EventsTimetable``: in Airflow 3.3.2 a DAG scheduled with
# the SDK one cannot be serialized ("Failed to serialize DAG ...: '_summary'", apache/airflow#69401,
# open): the SDK encoder omits ``_summary`` and the core ``deserialize`` requires it. Core
# timetables are serialized by their own ``serialize()``, which writes it.
ELECTION_DAYS = EventsTimetable(
    event_dates=[pendulum.datetime(d.year, d.month, d.day, tz="UTC") for d in EP_ELECTION_DAYS],
    restrict_to_events=True,
    presorted=True,
    description="EP election days 1979-2019",
)


def _election_day(data_interval_end, logical_date):
    day = data_interval_end or logical_date
    if day is None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("this run has no logical date: trigger it for an EP election day "
                                   "(or use `airflow backfill create`)")
    return day


@dag(
    dag_id="historical_backfill",
    schedule=ELECTION_DAYS,
    start_date=pendulum.datetime(1979, 6, 10, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["history"],
    default_args={"owner": "results-desk", "retries": 0},
    params={"replace": Param(False, type="boolean",
                             description="Overwrite elections whose stored rows differ from the source "
                                         "(otherwise such a difference fails the run and nothing is written)")},
)
def historical_backfill():
    @task(retries=2, retry_delay=timedelta(seconds=15), multiple_outputs=False)
    def migrate_store() -> dict:
        from historical_loader.backfill import migrate_store

        return migrate_store()

    @task(multiple_outputs=False)
    def validate(data_interval_end=None, logical_date=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from historical_loader.backfill import validate_window
        from historical_loader.errors import HistoryValidationError

        try:
            return validate_window(_election_day(data_interval_end, logical_date))
        except HistoryValidationError as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(multiple_outputs=False)
    def load(data_interval_end=None, logical_date=None, run_id=None, params=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from historical_loader.backfill import load_window
        from historical_loader.errors import HistoryConflictError, HistoryValidationError

        try:
            return load_window(_election_day(data_interval_end, logical_date), run_id=run_id,
                               replace=bool(params["replace"]))
        except (HistoryValidationError, HistoryConflictError) as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(multiple_outputs=False)
    def verify(data_interval_end=None, logical_date=None) -> dict:
        from enr.operator import warm_history_pages
        from historical_loader.backfill import verify_window

        verified = verify_window(_election_day(data_interval_end, logical_date))
        warm_history_pages()  # the history pages into the render cache (never fails the run; logged)
        return verified

    [migrate_store(), validate()] >> load() >> verify()


historical_backfill()
