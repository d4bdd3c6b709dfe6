"""The fan-out to the media on loopback: 250 newsrooms notified within 5 s of the flip while 10
others are dead or slow; signatures valid; a re-run sends nothing twice; failures in a row
disable a subscriber; the state lives in append-only tables."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from enr.media import notification, signature
from enr.media.delivery import deliver_batch, plan
from enr.media.subscribers import SubscriberError, SubscriberRegistry
from tests.support.media import Newsrooms, dead_url, fake_publication


@pytest.fixture
def media(enr_home):
    from enr import pipeline

    store = pipeline.open_store()
    store.migrate()
    bucket = pipeline.export_bucket()
    newsrooms = Newsrooms(slow_seconds=5.0)
    yield store, bucket, SubscriberRegistry(store), newsrooms
    newsrooms.close()
    store.close()


def _fan_out(store, bucket, planned, timeout=3.0, disable_after=10):
    """Every batch of the plan at once, as Airflow's mapped tasks run."""
    with ThreadPoolExecutor(max_workers=max(1, len(planned["batches"]))) as pool:
        return list(pool.map(lambda ids: deliver_batch(store, planned["publication"], ids, base_url="https://r.example/public",
                                                       timeout=timeout, disable_after=disable_after),
                             planned["batches"]))


def test_250_subscribers_within_5_s_of_the_flip_while_10_are_dead_or_slow(media):
    store, bucket, registry, newsrooms = media
    for n in range(250):
        registry.add(f"{newsrooms.base}/ok/{n}", subscriber_id=f"ok{n:03d}")
    for n in range(5):
        registry.add(dead_url(), subscriber_id=f"dead{n}")
        registry.add(f"{newsrooms.base}/slow/{n}", subscriber_id=f"slow{n}")
    secrets = {s.id: s.secret for s in registry.all()}

    flip = time.monotonic()
    fake_publication(bucket, countries=("FR",))
    planned = plan(store, bucket, "ep2019", batch_size=50)
    summaries = _fan_out(store, bucket, planned)

    healthy = newsrooms.paths("/ok/")
    assert len(healthy) == 250 and len({r["path"] for r in healthy}) == 250
    latest = max(r["at"] for r in healthy) - flip
    assert latest < 5.0, f"last healthy newsroom notified {latest:.2f} s after the flip"
    for request in healthy:
        sid = f"ok{int(request['path'].rsplit('/', 1)[1]):03d}"
        assert signature.verify(secrets[sid], request["headers"], request["body"]) == \
            notification.webhook_id(sid, "ep2019", "v0001", "publish")
        data = json.loads(request["body"])["data"]
        assert data["version"] == "v0001" and data["kind"] == "publish" and data["countries"] == ["FR"]
        assert data["feeds"]["countries"]["FR"]["json"] == "https://r.example/public/ep2019/v0001/data/countries/fr.json"
    failed = {sid for s in summaries for sid in s["failed"]}
    assert failed == {f"dead{n}" for n in range(5)} | {f"slow{n}" for n in range(5)}
    assert sum(s["acknowledged"] for s in summaries) == 250

    # a re-run (new plan, retry of every batch) sends nothing to those that acknowledged
    before = len(newsrooms.received)
    again = plan(store, bucket, "ep2019", batch_size=50)
    assert again["already_acknowledged"] == 250
    assert sorted(i for b in again["batches"] for i in b) == sorted(failed)
    for ids in planned["batches"]:
        deliver_batch(store, planned["publication"], ids, base_url="https://r.example/public", timeout=0.5)
    assert len(newsrooms.paths("/ok/")) == 250
    assert len(newsrooms.received) - before == 5  # the slow ones only, again (the dead are refused)


def test_a_subscriber_failing_n_times_in_a_row_is_disabled_and_not_called_again(media):
    store, bucket, registry, newsrooms = media
    registry.add(f"{newsrooms.base}/fail/1", subscriber_id="broken")
    registry.add(f"{newsrooms.base}/redirect/1", subscriber_id="moved")
    registry.add(f"{newsrooms.base}/ok/1", subscriber_id="fine")
    fake_publication(bucket)
    planned = plan(store, bucket, "ep2019")
    for _ in range(3):
        summary = deliver_batch(store, planned["publication"], planned["batches"][0], base_url="https://r",
                                disable_after=3)
    assert summary["disabled"] == ["broken", "moved"]
    states = {s.id: s for s in registry.all()}
    assert not states["broken"].active and "3 failed attempts in a row" in states["broken"].disabled_reason
    assert states["moved"].last_error == "HTTP 307"
    assert states["fine"].active and states["fine"].consecutive_failures == 0
    calls = len(newsrooms.received)
    fake_publication(bucket, version="v0002")
    nxt = plan(store, bucket, "ep2019")
    assert nxt["batches"] == [["fine"]] and nxt["inactive"] == 2
    deliver_batch(store, nxt["publication"], ["broken", "fine"], base_url="https://r")
    assert [r["path"] for r in newsrooms.received[calls:]] == ["/ok/1"]
    registry.enable("broken", by="desk")
    assert registry.get("broken").active and registry.get("broken").consecutive_failures == 0


def test_filters_and_rollback(media):
    store, bucket, registry, newsrooms = media
    registry.add(f"{newsrooms.base}/ok/at", subscriber_id="at", countries=["at"], languages=["de"])
    registry.add(f"{newsrooms.base}/ok/fr", subscriber_id="fr", countries=["FR"])
    fake_publication(bucket, countries=("FR",))
    assert plan(store, bucket, "ep2019")["batches"] == [["fr"]]
    fake_publication(bucket, version="v0001", event="rollback", countries=())
    planned = plan(store, bucket, "ep2019")
    assert planned["publication"]["kind"] == "rollback" and planned["publication"]["countries"] == ["AT", "DE", "FR"]
    deliver_batch(store, planned["publication"], planned["batches"][0], base_url="https://r")
    body = json.loads(newsrooms.paths("/ok/at")[0]["body"])
    assert body["type"] == "results.rolled_back" and body["data"]["countries"] == ["AT"]
    assert body["data"]["feeds"]["pages"] == {"de": "https://r/ep2019/v0001/de/index.html"}
    assert newsrooms.paths("/ok/at")[0]["headers"]["webhook-id"] != notification.webhook_id("at", "ep2019", "v0001",
                                                                                             "publish")


def test_bad_subscribers_are_refused(media):
    _, _, registry, _ = media
    for url in ("ftp://x/y", "/relative", "http://user:pw@host/x"):
        with pytest.raises(SubscriberError):
            registry.add(url)
    with pytest.raises(SubscriberError):
        registry.add("https://x/y", secret="whsec_not base64!")
    with pytest.raises(SubscriberError):
        registry.add("https://x/y", countries=["France"])
    registry.add("https://x/y", subscriber_id="afp")
    with pytest.raises(SubscriberError, match="exists"):
        registry.add("https://x/z", subscriber_id="afp")
    listed = registry.get("afp").public()
    assert registry.get("afp").secret not in json.dumps(listed) and listed["secret"].startswith("whsec_")


def test_an_answer_trickling_forever_cannot_hold_the_batch(media):
    store, bucket, registry, newsrooms = media
    registry.add(f"{newsrooms.base}/trickle/1", subscriber_id="trickle")
    registry.add(f"{newsrooms.base}/ok/1", subscriber_id="fine")
    fake_publication(bucket)
    planned = plan(store, bucket, "ep2019")
    started = time.monotonic()
    summary = deliver_batch(store, planned["publication"], planned["batches"][0], base_url="https://r", timeout=0.5)
    assert time.monotonic() - started < 4.5  # the deadline: 2 x timeout + 2 s
    assert summary["acknowledged"] == 1 and summary["failed"] == {"trickle": "no complete answer within 3 s"}
