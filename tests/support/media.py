"""Loopback newsrooms for the media tests: one threaded HTTP server answering many webhook paths."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Newsrooms:
    """``/ok/<n>`` answers 204, ``/slow/<n>`` sleeps ``slow_seconds`` first, ``/fail/<n>`` answers 500,
    ``/redirect/<n>`` answers 307, ``/trickle/<n>`` sends its headers a byte every 0.2 s; every request is recorded with its arrival time (monotonic)."""

    def __init__(self, slow_seconds: float = 5.0) -> None:
        self.received: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                arrived = time.monotonic()
                with outer.lock:
                    outer.received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                           "at": arrived})
                if self.path.startswith("/slow/"):
                    time.sleep(slow_seconds)
                if self.path.startswith("/trickle/"):  # an answer that never ends, one byte at a time
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    for _ in range(40):
                        time.sleep(0.2)
                        try:
                            self.wfile.write(b"a")
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                code = 500 if self.path.startswith("/fail/") else 307 if self.path.startswith("/redirect/") else 204
                self.send_response(code)
                if code == 307:
                    self.send_header("location", "/ok/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self, prefix: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["path"].startswith(prefix)]


def dead_url() -> str:
    """A loopback URL whose port nobody listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hook"


def fake_publication(bucket, election: str = "ep2019", version: str = "v0001", *, event: str = "publish",
                     countries: tuple[str, ...] = ("FR", "DE"), published_at: str = "2019-05-26T21:00:00+00:00"):
    """Append a publication to ``public/<election>/publications.json`` and write its manifest (as
    :mod:`publish.release` does after the flip; the rest of the version is not needed here)."""
    key = f"public/{election}/publications.json"
    raw = bucket.read_or_none(key)
    log = json.loads(raw) if raw else []
    manifest = {"election": election, "version": version,
                "files": [{"path": f"data/countries/{c.lower()}.json", "sha256": "0" * 64, "size": 1}
                          for c in ("AT", "DE", "FR")]}
    manifest_bytes = json.dumps(manifest).encode()
    bucket.write(f"public/{election}/{version}/manifest.json", manifest_bytes)
    import hashlib

    log.append({"event": event, "version": version, "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                "published_at": published_at, "test": True,
                "changes": [{"country": c, "what": "status none -> provisional"} for c in countries]})
    bucket.write(key, json.dumps(log).encode())
    bucket.write(f"public/{election}/current.json", json.dumps({"version": version}).encode())
