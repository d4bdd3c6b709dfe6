"""WebSub: the Atom feed advertises the hub and its own address; a publication pings the hub (a
loopback stub); the `enr subscribers` command and `enr status` show the subscribers' state."""
from __future__ import annotations

import json
from urllib.parse import parse_qs
from xml.etree import ElementTree as ET

from enr.media import websub
from tests.support.media import Newsrooms, dead_url
from publish import feeds, release
from publish.bucket import Bucket

ATOM = {"a": "http://www.w3.org/2005/Atom"}
ENTRY = {"version": "v0001", "published_at": "2019-05-26T21:00:00+00:00", "manifest_sha256": "a" * 64}


def _links(data: bytes) -> dict:
    return {link.get("rel"): link.get("href") for link in ET.fromstring(data).findall("a:link", ATOM)}


def test_the_feed_names_the_hub_and_itself_only_when_a_hub_is_configured(monkeypatch, tmp_path):
    assert _links(feeds.atom_feed({"id": "ep2019"}, [ENTRY])) == {"self": "publications.atom"}
    data = feeds.atom_feed({"id": "ep2019"}, [ENTRY], hub="https://hub.example/", self_url="https://r.example/a.atom")
    assert _links(data) == {"self": "https://r.example/a.atom", "hub": "https://hub.example/"}

    monkeypatch.delenv("ENR_WEBSUB_HUB", raising=False)
    assert feeds.websub_links("ep2019") == {}
    monkeypatch.setenv("ENR_WEBSUB_HUB", "https://pubsubhubbub.appspot.com/")
    monkeypatch.setenv("ENR_PUBLIC_BASE_URL", "https://results.example.eu/public/")
    assert feeds.websub_links("ep2019") == {"hub": "https://pubsubhubbub.appspot.com/",
                                            "self_url": "https://results.example.eu/public/ep2019/publications.atom"}
    # the publication log's feed, as release writes it on every flip
    bucket = Bucket(tmp_path)
    release._flip(bucket, "ep2019", "v0001", "a" * 64, "2019-05-26T21:00:00+00:00", True, None, "publish", [])
    assert _links(bucket.read("public/ep2019/publications.atom")) == {
        "self": "https://results.example.eu/public/ep2019/publications.atom", "hub": "https://pubsubhubbub.appspot.com/"}


def test_the_hub_is_pinged_with_a_form_post_and_a_dead_hub_is_reported():
    hub = Newsrooms()
    try:
        result = websub.ping(f"{hub.base}/ok/hub", websub.topic_url("https://r.example/public/", "ep2019"))
        assert result["ok"] and result["status"] == 204
        [request] = hub.received
        assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
        assert parse_qs(request["body"].decode()) == {"hub.mode": ["publish"],
                                                      "hub.url": ["https://r.example/public/ep2019/publications.atom"]}
        failed = websub.ping(f"{hub.base}/fail/hub", "https://r.example/x.atom")
        assert not failed["ok"] and failed["status"] == 500
    finally:
        hub.close()
    assert not websub.ping(dead_url(), "https://r.example/x.atom")["ok"]


def test_subscribers_command_and_status(enr_home, capsys):
    from enr import operator, pipeline
    from enr.cli import main

    pipeline.open_store().migrate()
    (enr_home / "init.json").write_text(json.dumps({"election": "ep2019", "purpose": "rehearsal"}))
    newsrooms = Newsrooms()
    try:
        assert main(["subscribers", "add", f"{newsrooms.base}/ok/1", "--id", "afp", "--countries", "fr,DE"]) == 0
        added = capsys.readouterr().out
        secret = added.split("secret (give it to the newsroom; it is not shown again in full): ")[1].strip()
        assert secret.startswith("whsec_")
        assert main(["subscribers", "add", dead_url(), "--id", "gone"]) == 0
        assert main(["subscribers", "test", "afp"]) == 0
        assert main(["subscribers", "test", "gone"]) == 1
        assert main(["subscribers", "disable", "afp", "--reason", "on holiday"]) == 0
        capsys.readouterr()
        assert main(["subscribers", "list"]) == 0
        listed = capsys.readouterr().out
        assert secret not in listed and secret[:10] in listed and "DISABLED (on holiday)" in listed
        assert "FAILING x1" in listed and "countries=DE,FR" in listed
        assert main(["subscribers", "add", "ftp://x", "--id", "bad"]) == 2
        assert newsrooms.received[0]["headers"]["webhook-id"].startswith("msg_test_")
    finally:
        newsrooms.close()
    text = operator.format_status(operator.status("ep2019"))
    assert "media subscribers: 1 active of 2" in text
    assert "SUBSCRIBER DISABLED afp" in text and "on holiday" in text and "SUBSCRIBER FAILING gone" in text


def test_a_rollback_starts_notify_media_through_the_rest_api_or_says_what_to_do(monkeypatch):
    """`enr rollback` announces the rollback by starting notify_media with the version and kind (a
    loopback stub of Airflow's API); without an API it prints the run to start by hand."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from enr.subscribers_command import announce_rollback

    calls = []

    class Api(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self._json({"metadatabase": {"status": "healthy"}})

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            calls.append((self.path, body, self.headers.get("authorization")))
            self._json({"access_token": "t0k"} if self.path == "/auth/token" else {"dag_run_id": "manual__1"})

        def _json(self, doc):
            data = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ENR_AIRFLOW_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("ENR_AIRFLOW_PASSWORD", "pw")
        assert announce_rollback("ep2019", "v0001") == "media: notify_media run manual__1 started for the rollback " \
                                                       "to v0001"
        assert calls[0][1] == {"username": "operator", "password": "pw"}
        assert calls[1][0] == "/api/v2/dags/notify_media/dagRuns" and calls[1][2] == "Bearer t0k"
        assert calls[1][1]["conf"] == {"election": "ep2019", "version": "v0001", "kind": "rollback"}
    finally:
        server.shutdown()
        server.server_close()
    monkeypatch.setenv("ENR_AIRFLOW_URL", dead_url().rsplit("/", 1)[0])
    said = announce_rollback("ep2019", "v0001")
    assert said.startswith("media NOT notified") and '"kind": "rollback"' in said
