"""The ``notify_media`` DAG through Airflow (``dag.test()``): mapped batches, signed webhooks, the
WebSub ping to a loopback hub stub, and a second run that sends nothing twice."""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import pytest

from enr.media import signature
from enr.media.subscribers import SubscriberRegistry
from tests.support.media import Newsrooms, fake_publication
from test_night_e2e import _states, airflow_db, dags  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def test_the_delivery_task_retries_with_exponential_backoff_for_about_an_hour(dags):  # noqa: F811
    task = dags["notify_media"].get_task("deliver_batch")
    assert task.retries == 7 and task.retry_exponential_backoff == 2.0
    assert task.retry_delay == timedelta(seconds=30) and task.max_retry_delay == timedelta(minutes=15)
    # the n-th retry waits between 30 s x 2^(n-1) and twice that, capped at 15 min
    shortest = sum(min(30 * 2 ** n, 900) for n in range(7))
    longest = sum(min(60 * 2 ** n, 900) for n in range(7))
    assert 40 * 60 <= shortest and longest <= 65 * 60


def test_notify_media_through_airflow(dags, enr_home, monkeypatch):  # noqa: F811
    from enr import pipeline

    newsrooms = Newsrooms()
    try:
        store = pipeline.open_store()
        store.migrate()
        registry = SubscriberRegistry(store)
        for n in range(120):
            registry.add(f"{newsrooms.base}/ok/{n}", subscriber_id=f"n{n:03d}")
        registry.add(f"{newsrooms.base}/ok/off", subscriber_id="off")
        registry.disable("off", by="desk", reason="asked to stop")
        monkeypatch.setenv("ENR_PUBLIC_BASE_URL", "https://results.example.eu/public")
        monkeypatch.setenv("ENR_WEBSUB_HUB", f"{newsrooms.base}/ok/hub")
        monkeypatch.setenv("ENR_WEBHOOK_BATCH_SIZE", "50")
        fake_publication(pipeline.export_bucket(), countries=("FR", "DE"))

        run = dags["notify_media"].test(run_conf={"election": "ep2019"})
        states = _states(run)
        assert str(run.state) == "success", states
        assert states["deliver_batch"] == ["success"] * 3 and states["summary"] == ["success"]
        secrets = {s.id: s.secret for s in registry.all()}
        hooks = [r for r in newsrooms.paths("/ok/") if r["path"] not in ("/ok/hub", "/ok/off")]
        assert len(hooks) == 120 and not newsrooms.paths("/ok/off")
        for request in hooks:
            sid = f"n{int(request['path'].rsplit('/', 1)[1]):03d}"
            signature.verify(secrets[sid], request["headers"], request["body"])
            data = json.loads(request["body"])["data"]
            assert data["countries"] == ["DE", "FR"] and data["feeds"]["current"] == \
                "https://results.example.eu/public/ep2019/current.json"
        hub = newsrooms.paths("/ok/hub")
        assert len(hub) == 1 and parse_qs(hub[0]["body"].decode()) == {
            "hub.mode": ["publish"], "hub.url": ["https://results.example.eu/public/ep2019/publications.atom"]}

        again = dags["notify_media"].test(run_conf={"election": "ep2019"})
        assert str(again.state) == "success"
        assert len([r for r in newsrooms.paths("/ok/") if r["path"] != "/ok/hub"]) == 120  # nothing twice
        assert all(len(registry.attempts(f"n{n:03d}")) == 1 for n in range(120))

        # a rollback, announced as `enr rollback` does (a run with the version and kind in its conf),
        # even though a newer publication followed it in the log
        fake_publication(pipeline.export_bucket(), version="v0001", event="rollback")
        fake_publication(pipeline.export_bucket(), version="v0002", published_at="2019-05-26T22:00:00+00:00")
        before = len(newsrooms.received)
        rolled = dags["notify_media"].test(run_conf={"election": "ep2019", "version": "v0001", "kind": "rollback"})
        assert str(rolled.state) == "success"
        bodies = [json.loads(r["body"]) for r in newsrooms.received[before:] if r["path"] != "/ok/hub"]
        assert len(bodies) == 120 and {(b["type"], b["data"]["version"]) for b in bodies} == \
            {("results.rolled_back", "v0001")}
    finally:
        newsrooms.close()
