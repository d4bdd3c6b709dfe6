"""A synthetic 2024 night through Airflow, beside a 2019 one in the same deployment.

The election is configuration read when a run starts (the Airflow Variable ``enr_election``, here
through ``AIRFLOW_VAR_ENR_ELECTION``): the runs below get no election in their conf. The 2024
counts are synthetic (``enr.synthetic``), test-flagged, and marked synthetic in the bundle, the
JSON feeds and on every page. The DAGs run with ``dag.test()``; the approval is answered through
the real REST endpoint (helpers of tests/test_night_e2e.py).
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from test_night_e2e import _states, airflow_db, dags, night_home, respond_in_background  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

SYNTHETIC_EN = "SYNTHETIC: invented numbers, not real results"
SYNTHETIC_DE = "SYNTHETISCHE DATEN: erfundene Zahlen, keine echten Ergebnisse"


def _inbox(bucket) -> set[str]:
    return {key.rsplit("/", 1)[-1] for key in bucket.list("inbox")}


def test_ep2024_synthetic_night_beside_ep2019(dags, night_home, monkeypatch):  # noqa: F811
    from enr import demo, operator, pipeline, replay
    from plugins.enr_airflow.assets import STAGED_RESULTS
    from plugins.enr_airflow.tasks import describe_version

    home, keys = night_home
    night24 = replay.write_night(home / "out24", election="ep2024", waves=("final:100",),
                                 sender_home=keys["sender_home"], seed=0)
    night19 = replay.write_night(home / "out19", election="ep2019", waves=("final:100",),
                                 sender_home=keys["sender_home"], seed=0, countries=["AT", "MT"])
    assert len(night24) == 27
    demo.drop_into_inbox(list(night24) + list(night19))
    operator.load_history(run_id="test-ep2024")  # what the historical_backfill DAG loads: 1979-2019
    bucket = pipeline.export_bucket()

    # the deployment is set to ep2024 (a Variable, read when the run starts): the run takes only 2024 files
    monkeypatch.setenv("AIRFLOW_VAR_ENR_ELECTION", "ep2024")
    monkeypatch.setenv("ENR_ELECTION", "ep2019")  # the Variable wins over the environment
    run = dags["election_night_ingest"].test()
    states = _states(run)
    assert states["election"] == ["success"]
    assert set(states["ingest"]) == {"success"} and len(states["ingest"]) == 27, states
    assert states["tally"] == ["success"] and states["stage"] == ["success"]
    assert _inbox(bucket) == {"ep2019-AT-0001.csv", "ep2019-AT-0001.csv.asc",
                              "ep2019-MT-0001.csv", "ep2019-MT-0001.csv.asc"}
    assert operator.status("ep2019")["deliveries"] == [] and operator.status("ep2019")["versions"] == []
    version = operator.status("ep2024")["latest_version"]
    assert bucket.list(f"staging/ep2024/{version}")
    assert not bucket.list("staging/ep2019")

    # an asset-triggered review takes the election and the version from the event, not from the Param
    described = describe_version("ep2019", "latest", {STAGED_RESULTS: [
        SimpleNamespace(extra={"election": "ep2024", "version": version})]})
    assert (described["election"], described["version"]) == ("ep2024", version)

    thread, answer = respond_in_background("election_night_publish", "publish", ["Approve"])
    run = dags["election_night_publish"].test(run_conf={"version": version})
    thread.join(5)
    assert answer["status"] == 200, answer
    assert any("ep2024" in s and version in s for s in answer["subjects"]), answer["subjects"]
    assert _states(run)["publish"] == ["success"]

    status = operator.status("ep2024")
    assert status["current"]["version"] == version
    assert status["current"]["seats_allocated"] == 720 == status["current"]["seats_total"]
    assert sum(g["seats"] for g in status["current"]["groups"]) == 720
    assert {g["id"] for g in status["current"]["groups"]} >= {"EPP", "S&D", "PfE", "ECR", "RE", "Greens/EFA",
                                                               "GUE/NGL", "ESN", "NI"}
    report = operator.verify_current("ep2024")
    assert report["ok"], report["text"]

    bundle = json.loads(bucket.read(pipeline.open_store().version("ep2024", version)["bundle_path"]))
    assert bundle["test"] is True and bundle["synthetic"] is True
    assert bundle["eu"]["previous"]["countries_gone"] == ["UK"]
    assert "UK" not in bundle["eu"]["previous"]["seats_by_country"]
    assert bundle["eu"]["previous"]["seats_by_country"]["AT"] == 18  # 2019 seats; 20 in 2024
    assert {c["code"]: c["seats_total"] for c in bundle["countries"]}["AT"] == 20

    public = bucket.local_path(f"public/ep2024/{version}")
    pages = list(public.rglob("*.html"))
    history = [p for p in pages if "history" in p.parts]
    widget_shells = [p for p in pages if "widget" in p.parts]  # static hosts; the widget draws its banners
    results_pages = [p for p in pages if p not in history and p not in widget_shells]
    assert len(results_pages) > 24 * 27
    missing = [p for p in results_pages if "banner test synthetic" not in p.read_text(encoding="utf-8")]
    assert missing == []
    assert SYNTHETIC_EN in (public / "en" / "index.html").read_text(encoding="utf-8")
    assert SYNTHETIC_DE in (public / "de" / "index.html").read_text(encoding="utf-8")
    assert SYNTHETIC_EN in (public / "index.html").read_text(encoding="utf-8")
    feeds = [p for p in public.rglob("*.json") if p.name not in ("manifest.json",)]
    headed = [json.loads(p.read_text(encoding="utf-8")) for p in feeds]
    headed = [d for d in headed if isinstance(d, dict) and "schema" in d and "test" in d]
    assert headed and all(d["synthetic"] is True for d in headed)
    area = bucket.local_path("public/ep2024")
    assert SYNTHETIC_EN in (area / "index.html").read_text(encoding="utf-8")
    assert f"{version} (publish) [TEST] [SYNTHETIC]" in (area / "publications.atom").read_text(encoding="utf-8")
    assert json.loads((public / "manifest.json").read_text(encoding="utf-8"))["synthetic"] is True
    tables = list(public.rglob("*.csv"))
    assert tables
    for table in tables:
        lines = table.read_text(encoding="utf-8").splitlines()
        assert lines[0].endswith(",synthetic") and all(line.endswith(",true") for line in lines[1:]), table
    widget_labels = json.loads((public / "widget" / "i18n" / "de.json").read_text(encoding="utf-8"))
    assert widget_labels["s"]["synthetic"] == SYNTHETIC_DE
    assert "d.synthetic" in (public / "widget" / "widget.js").read_text(encoding="utf-8")
    # the history pages (EP elections up to 2019) come with the 2024 site
    assert any(p.name == "index.html" for p in history), "no history pages"
    assert any("2019" in p.read_text(encoding="utf-8") for p in history)

    # now the deployment switches to ep2019: the next run takes the 2019 files, 2024 stays as published
    monkeypatch.setenv("AIRFLOW_VAR_ENR_ELECTION", "ep2019")
    run = dags["election_night_ingest"].test()
    assert sorted(_states(run)["ingest"]) == ["success", "success"]
    assert _inbox(bucket) == set()
    assert operator.status("ep2019")["accepted_total"] == 2
    after = operator.status("ep2024")
    assert after["accepted_total"] == 27 and after["current"]["version"] == version
    assert [v["version"] for v in after["versions"]] == [version]
    bundle19 = json.loads(bucket.read(pipeline.open_store().version(
        "ep2019", operator.status("ep2019")["latest_version"])["bundle_path"]))
    assert bundle19["test"] is True and bundle19["synthetic"] is False
