"""The newsroom's example receiver (examples/media_receiver.py) against the real sender's messages:
a valid webhook is accepted and its feeds fetched and checked against the signed manifest digest; a
forged, a replayed and a stale one are refused; a tampered feed is not used."""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from enr.media import notification, signature
from enr.media.delivery import post
from enr.media.subscribers import Subscriber

ROOT = Path(__file__).resolve().parent.parent


def _receiver_module():
    spec = importlib.util.spec_from_file_location("media_receiver", ROOT / "examples" / "media_receiver.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def setup(tmp_path):
    version = tmp_path / "ep2019" / "v0001"
    (version / "data" / "countries").mkdir(parents=True)
    feeds = {cc: json.dumps({"code": cc, "rows": [{"list_id": "a", "votes": 1}]}).encode() for cc in ("FR", "DE")}
    for cc, data in feeds.items():
        (version / "data" / "countries" / f"{cc.lower()}.json").write_bytes(data)
    manifest = json.dumps({"files": [{"path": f"data/countries/{cc.lower()}.json",
                                      "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                                     for cc, d in feeds.items()]}).encode()
    (version / "manifest.json").write_bytes(manifest)
    files = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    secret = signature.generate_secret()
    receiver = _receiver_module().MediaReceiver(secret, port=0).start()
    publication = notification.Publication(election="ep2019", version="v0001", kind="publish",
                                           manifest_sha256=hashlib.sha256(manifest).hexdigest(),
                                           published_at="2019-05-26T21:00:00+00:00", test=True, countries=("DE", "FR"))
    subscriber = Subscriber(id="afp", url=receiver.url, secret=secret, countries=None, languages=None, created_at="")
    body = notification.message(publication, subscriber, f"http://127.0.0.1:{files.server_address[1]}")
    yield {"receiver": receiver, "secret": secret, "body": body, "root": version}
    receiver.stop()
    files.shutdown()
    files.server_close()


def _wait_for(receiver, count, timeout=10.0):
    end = time.monotonic() + timeout
    while len(receiver.results) < count and time.monotonic() < end:
        time.sleep(0.02)
    return receiver.results


def _send(setup, headers, body=None):
    return post(setup["receiver"].url, body or setup["body"], headers, 3.0)[1]


def test_a_valid_webhook_is_accepted_and_its_feeds_fetched_and_checked(setup):
    headers = signature.headers(setup["secret"], "msg_1", setup["body"])
    assert _send(setup, headers) == 204
    [result] = _wait_for(setup["receiver"], 1)
    assert result == {"webhook_id": "msg_1", "version": "v0001", "kind": "publish", "feeds": {"DE": "ok", "FR": "ok"}}


def test_a_replayed_webhook_id_is_not_processed_again(setup):
    headers = signature.headers(setup["secret"], "msg_1", setup["body"])
    assert _send(setup, headers) == 204
    assert _send(setup, headers) == 208  # the very same request, within the 5 minutes
    assert _send(setup, signature.headers(setup["secret"], "msg_1", setup["body"])) == 208  # re-signed, same id
    time.sleep(0.3)
    assert len(_wait_for(setup["receiver"], 1)) == 1


@pytest.mark.parametrize("forgery", ["other secret", "changed body", "no signature", "stale", "future"])
def test_forged_and_stale_webhooks_are_refused(setup, forgery):
    secret, body = setup["secret"], setup["body"]
    stamp = None
    if forgery == "other secret":
        secret = signature.generate_secret()
    elif forgery == "stale":
        stamp = int(time.time()) - 301
    elif forgery == "future":
        stamp = int(time.time()) + 301
    headers = signature.headers(secret, "msg_x", body, stamp)
    if forgery == "changed body":
        body = body.replace(b'"v0001"', b'"v0009"', 1)
    if forgery == "no signature":
        del headers["webhook-signature"]
    assert _send(setup, headers, body) == 401
    time.sleep(0.2)
    assert setup["receiver"].results == [] and setup["receiver"].seen == {}


def test_a_tampered_feed_is_not_used(setup):
    (setup["root"] / "data" / "countries" / "fr.json").write_bytes(b'{"code": "FR", "rows": []}')
    assert _send(setup, signature.headers(setup["secret"], "msg_2", setup["body"])) == 204
    [result] = _wait_for(setup["receiver"], 1)
    assert result["feeds"] == {"DE": "ok", "FR": "MISMATCH"}


def test_a_signed_body_that_is_not_json_is_refused_without_being_remembered(setup):
    body = b"not json"
    assert _send(setup, signature.headers(setup["secret"], "msg_3", body), body) == 400
    assert setup["receiver"].seen == {}
