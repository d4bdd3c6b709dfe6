"""What the browser tests share: Debian's Chromium driven by Playwright, and a rendered site on loopback.

* :func:`chromium_browser` (module fixture): one headless Chromium per test module,
  launched from ``/usr/bin/chromium`` (``.ci/run`` installs it); Playwright never downloads a browser.
* :class:`Server`: a tiny threaded ``http.server`` on 127.0.0.1 with production's headers
  (docker/nginx/enr-site.conf): version folders immutable, a short-lived pointer, CORS for the widget.
* :func:`a11y_site` (session fixture): one TEST version rendered in the 24 languages with every page
  type (a few countries, the history pages of a few), served on loopback.
* :class:`Problems`: console errors, uncaught exceptions and failed requests of a page and its frames.
"""
from __future__ import annotations

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.publish_fixtures import build_bundle, build_history, scratch_dir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
A11Y_ELECTION = "ep2019"
A11Y_VERSION = "v0007"
# A partial night, small enough to check fast, with more than a majority of seats allocated (421 of
# 751): a multilingual ballot (BE), an estimate (IE), a hostile list name (AT), a correction (FR).
A11Y_COUNTRIES = ("AT", "BE", "DE", "ES", "FR", "IE", "IT", "PL", "UK")
A11Y_HISTORY = ("AT", "BE", "DE", "FR", "IE")


class _Handler(SimpleHTTPRequestHandler):
    """Static files with the headers of production: immutable versions, a short-lived pointer, CORS."""

    def end_headers(self) -> None:
        if self.server.results:  # type: ignore[attr-defined]
            path = urlsplit(self.path).path
            if re.search(r"/v[0-9]{4,}/", path):
                self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            else:
                self.send_header("Cache-Control", "public, max-age=5, must-revalidate")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_request(self, code: object = "-", size: object = "-") -> None:
        self.server.requests.append((urlsplit(self.path).path, str(code)))  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


class Server:
    """``root`` served on a free loopback port until :meth:`close`."""

    def __init__(self, root: Path, results: bool = True):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.httpd.results = results  # type: ignore[attr-defined]
        self.httpd.requests = []  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"http-{self.port}", daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[tuple[str, str]]:
        return self.httpd.requests  # type: ignore[attr-defined]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Problems(list):
    """Console errors, uncaught exceptions and failed requests (HTTP >= 400 or network failures) of a
    page, its frames included (Playwright reports an out-of-process iframe's console on its page)."""

    def __init__(self, page) -> None:
        super().__init__()
        page.on("console", lambda m: self.append(f"console.{m.type}: {m.text} ({m.location.get('url', '')})")
                if m.type in ("error", "assert") else None)
        page.on("pageerror", lambda e: self.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: self.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)


@pytest.fixture(scope="module")
def chromium_browser():
    """Debian's Chromium through Playwright, once per test module (not a skip when missing: CI must run it).

    Per module, not per session: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is started, which breaks later tests that run their own loop (s3fs, asyncio.run)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: .ci/run installs Debian's chromium", pytrace=False)
    manager = sync_playwright().start()
    browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()
        manager.stop()


def _a11y_history() -> dict:
    history = build_history()
    history["countries"] = {code: years for code, years in history["countries"].items() if code in A11Y_HISTORY}
    return history


@pytest.fixture(scope="session")
def a11y_site():
    """One TEST version in the 24 languages with every page type, served on loopback, once per session."""
    from publish.site import render_site

    base = scratch_dir("enr-a11y-")
    folder = base / "public" / A11Y_ELECTION / A11Y_VERSION
    bundle = build_bundle(version=A11Y_VERSION, test=True, only=set(A11Y_COUNTRIES))
    render_site(bundle, folder, history=_a11y_history())
    server = Server(base)
    try:
        yield {"folder": folder, "bundle": bundle, "server": server,
               "base_url": f"http://127.0.0.1:{server.port}/public/",
               "url": f"http://127.0.0.1:{server.port}/public/{A11Y_ELECTION}/{A11Y_VERSION}/"}
    finally:
        server.close()
