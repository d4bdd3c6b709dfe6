"""The DAG files: each names its tasks and wires them, nothing more (docs/ARCHITECTURE.md).

``election_night_ingest``, ``election_night_publish``, ``notify_media`` and ``historical_backfill``;
every task calls one function of :mod:`plugins.enr_airflow` (or of a part below it), which the tests
call directly too. Top layer: may import Airflow, ``plugins`` and everything below; nothing imports it.
"""
