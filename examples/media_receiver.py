#!/usr/bin/env python3
"""A newsroom's webhook receiver for enr's results webhooks: Python standard library only.

Run it behind your HTTPS front end (the sender signs, it does not encrypt):

    MEDIA_WEBHOOK_SECRET=whsec_... python3 media_receiver.py --port 8000

For each POST it:

1. checks the Standard Webhooks signature (``webhook-signature``: HMAC-SHA256 of
   ``"{webhook-id}.{webhook-timestamp}.{body}"`` with the secret) -> 401 if it does not match;
2. checks ``webhook-timestamp`` is within 5 minutes of its clock -> 401 (a captured request
   cannot be replayed later);
3. refuses a ``webhook-id`` it has already accepted: answers 208 (a 2xx, so the sender stops
   retrying a message whose first answer it lost) and does nothing again;
4. answers 204 at once, then, in a worker thread, fetches the manifest named in the message,
   checks its SHA-256 against the signed ``manifest_sha256``, fetches the changed countries' JSON
   feeds and checks each against the manifest's digest. A feed is used only if it matches.

Replace :meth:`MediaReceiver.use` with what your newsroom does with fresh results.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("media_receiver")
TOLERANCE = 5 * 60
MAX_BODY = 1 << 20


class Refused(ValueError):
    """A webhook that must not be trusted."""


def verify(secret: str, headers, body: bytes, tolerance: int = TOLERANCE) -> str:
    """The Standard Webhooks check; returns the webhook-id or raises :class:`Refused`."""
    msg_id, stamp, signatures = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and signatures):
        raise Refused("missing webhook headers")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise Refused("bad webhook-timestamp") from None
    if abs(time.time() - timestamp) > tolerance:
        raise Refused("webhook-timestamp outside the tolerance: stale or replayed")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    if not any(hmac.compare_digest(s, expected) for s in signatures.split() if s.startswith("v1,")):
        raise Refused("bad signature")
    return msg_id


def fetch(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read()


class MediaReceiver:
    """The HTTP server, the set of accepted ids and the worker that fetches the feeds."""

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 8000, tolerance: int = TOLERANCE):
        self.secret, self.tolerance = secret, tolerance
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.jobs: queue.Queue = queue.Queue()
        self.results: list[dict] = []  # what the worker did, per message (for logs and tests)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    return self._answer(413)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    msg_id = verify(receiver.secret, headers, body, receiver.tolerance)
                except Refused as exc:
                    log.warning("refused a webhook: %s", exc)
                    return self._answer(401)
                try:
                    message = json.loads(body)
                except ValueError:
                    return self._answer(400)
                with receiver.lock:
                    receiver._forget_old()
                    if msg_id in receiver.seen:
                        log.info("webhook %s already received: ignored", msg_id)
                        return self._answer(208)
                    receiver.seen[msg_id] = time.time()
                self._answer(204)
                receiver.jobs.put((msg_id, message))

            def _answer(self, code: int):
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        self._threads = [threading.Thread(target=self.server.serve_forever, daemon=True),
                         threading.Thread(target=self._work, daemon=True)]

    def _forget_old(self) -> None:
        """Ids older than twice the tolerance cannot come back (their timestamp would be refused)."""
        limit = time.time() - 2 * self.tolerance
        for msg_id in [m for m, at in self.seen.items() if at < limit]:
            del self.seen[msg_id]

    def start(self) -> "MediaReceiver":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.jobs.put(None)

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            msg_id, message = job
            try:
                result = self.process(msg_id, message)
            except Exception as exc:  # noqa: BLE001 - one bad message never stops the receiver
                result = {"webhook_id": msg_id, "error": f"{type(exc).__name__}: {exc}"}
            self.results.append(result)

    def process(self, msg_id: str, message: dict) -> dict:
        """Fetch the manifest and the changed countries' JSON feeds; keep those matching their digests."""
        data = message["data"]
        manifest_bytes = fetch(data["feeds"]["manifest"])
        if hashlib.sha256(manifest_bytes).hexdigest() != data["manifest_sha256"]:
            return {"webhook_id": msg_id, "version": data["version"], "error": "manifest does not match the digest"}
        digests = {f["path"]: f["sha256"] for f in json.loads(manifest_bytes)["files"]}
        feeds = {}
        for country, urls in data["feeds"]["countries"].items():
            raw = fetch(urls["json"])
            path = f"data/countries/{country.lower()}.json"
            feeds[country] = "ok" if hashlib.sha256(raw).hexdigest() == digests.get(path) else "MISMATCH"
            if feeds[country] == "ok":
                self.use(data, country, json.loads(raw))
        log.info("%s %s (%s): %s", data["election"], data["version"], data["kind"], feeds)
        return {"webhook_id": msg_id, "version": data["version"], "kind": data["kind"], "feeds": feeds}

    def use(self, data: dict, country: str, feed: dict) -> None:
        """Your newsroom's part: fresh, verified results of ``country``."""
        log.info("fresh results for %s: version %s, %d lists", country, data["version"], len(feed.get("rows", [])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    secret = os.environ.get("MEDIA_WEBHOOK_SECRET")
    if not secret:
        parser.error("set MEDIA_WEBHOOK_SECRET to the whsec_... secret the publisher gave you")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    receiver = MediaReceiver(secret, args.host, args.port).start()
    print(f"listening on {receiver.url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
