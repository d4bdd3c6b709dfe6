"""Which election a run is for, and two elections side by side in one deployment (one inbox, one
store, one bucket): a run for one never takes or changes the other's deliveries, rows or areas."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from enr.cli import main


def test_the_variable_wins_over_the_environment(monkeypatch):
    from plugins.enr_airflow.election import configured_election, run_election

    monkeypatch.delenv("AIRFLOW_VAR_ENR_ELECTION", raising=False)
    monkeypatch.delenv("ENR_ELECTION", raising=False)
    assert configured_election() == "ep2019"
    monkeypatch.setenv("ENR_ELECTION", "ep2024")
    assert configured_election() == "ep2024"
    monkeypatch.setenv("AIRFLOW_VAR_ENR_ELECTION", "xx2029")
    assert configured_election() == "xx2029"
    assert run_election(SimpleNamespace(conf={})) == "xx2029"
    assert run_election(SimpleNamespace(conf={"election": "ep2019"})) == "ep2019"  # the run's own conf first
    assert run_election(None) == "xx2029"


def test_a_bad_configured_id_fails_the_run(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from plugins.enr_airflow.election import run_election

    monkeypatch.setenv("AIRFLOW_VAR_ENR_ELECTION", "../ep2019")
    with pytest.raises(AirflowFailException, match=r"Variable enr_election / ENR_ELECTION: election id '\.\./ep2019'"):
        run_election(SimpleNamespace(conf={}))
    with pytest.raises(AirflowFailException, match="the run's conf"):
        run_election(SimpleNamespace(conf={"election": "EP 2024"}))


def test_event_election_takes_the_newest_event_that_names_a_version():
    from plugins.enr_airflow.election import event_election

    events = {"staged_results": [SimpleNamespace(extra={"election": "ep2019", "version": "v0003"}),
                                 SimpleNamespace(extra={}),
                                 SimpleNamespace(extra={"election": "ep2024", "version": "v0001"})]}
    assert event_election(events) == ("ep2024", "v0001")
    assert event_election({}) == (None, None)
    assert event_election(None) == (None, None)


def test_the_dags_param_default_follows_the_configuration(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from test_night_e2e import ROOT

    monkeypatch.setenv("AIRFLOW_VAR_ENR_ELECTION", "ep2024")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    for dag_id in ("election_night_ingest", "election_night_publish"):
        assert bag.dags[dag_id].params["election"] == "ep2024", dag_id


@pytest.fixture
def two_elections(enr_home):
    from enr import demo, replay

    assert main(["init", "--election", "ep2024", "--purpose", "rehearsal", "--demo-keys", "--no-airflow"]) == 0
    keys = demo.ensure_demo_keys()
    files = []
    for election, countries in (("ep2019", ["AT", "LU"]), ("ep2024", ["AT", "MT"])):
        files += replay.write_night(enr_home / "out" / election, election=election, waves=("final:100",),
                                    sender_home=keys["sender_home"], countries=countries)
    demo.drop_into_inbox(files)
    return enr_home


def _inbox() -> list[str]:
    from enr import pipeline

    return sorted(k.rsplit("/", 1)[-1] for k in pipeline.export_bucket().list("inbox") if not k.endswith(".asc"))


def test_one_inbox_two_elections(two_elections, capsys):
    from enr import operator, pipeline

    assert pipeline.pending_countries("ep2019") == ["AT", "LU"]
    assert pipeline.pending_countries("ep2024") == ["AT", "MT"]

    summary = pipeline.ingest_country("ep2024", "AT")
    assert [a["file"] for a in summary["accepted"]] == ["ep2024-AT-0001.csv"]
    assert _inbox() == ["ep2019-AT-0001.csv", "ep2019-LU-0001.csv", "ep2024-MT-0001.csv"]
    assert pipeline.ingest_country("ep2024", "LU") == {"country": "LU", "accepted": [], "duplicates": [],
                                                       "quarantined": [], "warnings": []}
    assert "ep2019-LU-0001.csv" in _inbox()
    pipeline.ingest_country("ep2024", "MT")
    tallied = pipeline.tally("ep2024")
    assert tallied["version"] == "v0001"
    assert operator.status("ep2019")["deliveries"] == []

    for country in ("AT", "LU"):
        pipeline.ingest_country("ep2019", country)
    assert _inbox() == []
    assert pipeline.tally("ep2019")["version"] == "v0001"  # each election numbers its own versions
    assert pipeline.tally("ep2024") is None  # nothing new for 2024: the 2019 deliveries changed nothing there

    assert main(["status", "--election", "ep2024", "--json"]) == 0
    status24 = json.loads(capsys.readouterr().out)
    assert main(["status", "--election", "ep2019", "--json"]) == 0
    status19 = json.loads(capsys.readouterr().out)
    assert sorted(d["file_name"] if "file_name" in d else d["file"] for d in status24["deliveries"]) == \
        ["ep2024-AT-0001.csv", "ep2024-MT-0001.csv"]
    assert sorted(d["file_name"] if "file_name" in d else d["file"] for d in status19["deliveries"]) == \
        ["ep2019-AT-0001.csv", "ep2019-LU-0001.csv"]
    keys = [k for k in pipeline.export_bucket().list("tally") if k.endswith("/bundle.json")]  # beside: countries.json
    assert keys == ["tally/ep2019/v0001/bundle.json", "tally/ep2024/v0001/bundle.json"]


def test_enr_approve_election_keeps_only_that_elections_requests():
    from enr.cli import _of_election

    pending = [{"subject": "Publish ep2019 results v0001?"}, {"subject": "Publish ep2024 results v0001?"},
               {"subject": "Publish ep20245 results v0002?"}]
    assert _of_election(pending, "ep2024") == [pending[1]]
    assert _of_election(pending, None) == pending
