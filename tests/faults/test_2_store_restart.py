"""Fault: the results store's PostgreSQL restarts while the deliveries of a wave are taken in.

The ingest task bodies (``plugins.enr_airflow.tasks.ingest_country``, what the mapped Airflow task
runs) take the wave's countries one by one while another thread stops PostgreSQL (fast shutdown:
every connection cut, the transaction in flight rolled back) and starts it again. A country whose
intake meets the stopped server fails with ``TransientInfrastructureError`` — the error the DAGs'
retry policy retries — and is run again, as Airflow's retry does (here after 1 s; the DAGs'
``retry_delay`` is 15 s, doubling).

Checked: every delivery of the wave is accepted exactly once (one row per digest, no duplicate
accepted), every accepted delivery has its result set (all-or-nothing per delivery), nothing is
quarantined, the inbox is empty, and the earlier waves' rows are untouched.
"""
from __future__ import annotations

import threading
import time

import pytest

from conftest import ELECTION, next_wave

pytestmark = pytest.mark.slow


def test_a_postgresql_restart_during_intake_loses_and_duplicates_nothing(layout, night, recovery_table):
    from enr import demo, pipeline
    from plugins.enr_airflow.tasks import TransientInfrastructureError, ingest_country
    from tests.support.fault_layout import store_rows

    postgres = layout["postgres"]
    before = store_rows(pipeline.open_store(), ELECTION)
    files = next_wave(night)
    demo.drop_into_inbox(files)
    countries = pipeline.pending_countries(ELECTION)
    assert len(countries) == 28

    timeline: dict[str, float] = {}

    def restart() -> None:
        time.sleep(1.0)
        postgres.stop_server()
        timeline["down"] = time.monotonic()
        time.sleep(4.0)
        postgres.start_server()
        timeline["up"] = time.monotonic()

    failed: list[tuple[str, str]] = []
    summaries: dict[str, dict] = {}
    fault = threading.Thread(target=restart, daemon=True)
    fault.start()
    todo = list(countries)
    tries = 0
    while todo:
        tries += 1
        assert tries <= 4 * len(countries), f"intake did not complete: {failed[-3:]}"
        country = todo.pop(0)
        try:
            summaries[country] = ingest_country(ELECTION, country)
            if "up" in timeline and "recovered" not in timeline:
                timeline["recovered"] = time.monotonic()
        except TransientInfrastructureError as exc:  # what the retry policy retries
            failed.append((country, str(exc)))
            todo.append(country)  # retried after the others (Airflow: after retry_delay)
            time.sleep(1.0)
    done_at = time.monotonic()
    fault.join(timeout=60)
    assert "down" in timeline and "up" in timeline
    assert failed, "the restart did not hit the intake (it finished before PostgreSQL went down)"
    assert all("results store" in reason for _, reason in failed), failed[:3]

    store = pipeline.open_store()
    after = store_rows(store, ELECTION)
    wave_accepted = {item["sha256"] for s in summaries.values() for item in s["accepted"] + s["duplicates"]}
    assert len(wave_accepted) == 28
    accepted = after["accepted_digests"]
    assert len(accepted) == len(set(accepted)) == len(before["accepted_digests"]) + 28, "a delivery accepted twice"
    assert set(before["deliveries"]) <= set(after["deliveries"]), "rows of earlier waves changed"
    assert after["result_sets"] == len(accepted), "a delivery recorded without its result set (or the reverse)"
    assert not [d for d in after["deliveries"] if d[1] == "quarantined"]
    assert pipeline.pending_countries(ELECTION) == []
    staged = pipeline.stage(ELECTION, pipeline.tally(ELECTION))
    assert staged["version"]
    night["staged"] = staged  # published by the next fault's test (the primary bucket down)
    recovery_table.record("PostgreSQL restarted during intake", timeline["recovered"] - timeline["up"],
                          f"first intake done after the server was back (+ Airflow's retry_delay, 15 s); "
                          f"{len(failed)} country task(s) failed with a transient error and were retried; "
                          f"28 deliveries accepted once; server down {timeline['up'] - timeline['down']:.0f} s; "
                          f"whole wave {done_at - timeline['down']:.0f} s after the stop",
                          recovered="by task retry")
