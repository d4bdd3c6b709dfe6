"""Headless Chromium for the browser tests, driven over the DevTools protocol (CDP).

No browser-automation package: Debian's ``chromium`` is started with ``--remote-debugging-port=0``,
the port is read from ``DevToolsActivePort`` in its (new, empty) profile folder, and the tests talk
CDP over one WebSocket (the ``websockets`` package, already a pinned dependency) with the flat
session protocol. A reader thread routes command results to their callers and events to pages.

Each :class:`Page` records every *problem* the way a developer would see it in DevTools:

* ``Runtime.consoleAPICalled`` of type ``error``/``assert`` (``console.error(...)``),
* ``Runtime.exceptionThrown`` (uncaught exceptions, unhandled rejections),
* ``Log.entryAdded`` at level ``error`` (CSP violations, "Failed to load resource", CORS refusals...),
* ``Network.loadingFailed`` (not the requests cancelled by a navigation) and HTTP responses >= 400,

in the page and in every frame of it, cross-origin iframes included: those live in other
renderer processes (site isolation), so ``Target.setAutoAttach`` attaches them as child sessions
that are paused until their domains are enabled (nothing they log is lost).

Chromium runs in its own process group (``start_new_session``); :meth:`Browser.close` asks it to
quit over CDP and then kills that group (only the processes it started), and removes the profile.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

# Flags the machine's Chromium needs: without the background-networking ones it tries to reach
# Google at start-up. --disable-dev-shm-usage: containers often have a 64 MB /dev/shm (Debian's
# wrapper adds it only when it can measure /dev/shm).
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-proxy-server", "--no-default-browser-check", "--disable-extensions",
    "--hide-scrollbars", "--mute-audio", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
)

INSTALL_HINT = ("headless Chromium is needed by the browser tests and was not found: install Debian's "
                "`chromium` package (`.ci/run` does: apt-get install chromium), or set ENR_CHROMIUM to a "
                "Chromium/Chrome executable")


class ChromiumMissing(RuntimeError):
    pass


class CDPError(RuntimeError):
    pass


def chromium_executable() -> str:
    """The Chromium to run: ``$ENR_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on PATH."""
    wanted = os.environ.get("ENR_CHROMIUM")
    if wanted:
        found = shutil.which(wanted)
        if not found:
            raise ChromiumMissing(f"ENR_CHROMIUM={wanted!r} is not an executable; {INSTALL_HINT}")
        return found
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumMissing(INSTALL_HINT)


class Browser:
    """One headless Chromium process and the CDP connection to it."""

    def __init__(self, executable: str | None = None, start_timeout: float = 30.0):
        self.executable = executable or chromium_executable()
        self.profile = Path(tempfile.mkdtemp(prefix="enr-chromium-", dir="/tmp"))
        self.log_path = self.profile.parent / (self.profile.name + ".log")
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[threading.Event, list]] = {}
        self._send_lock = threading.Lock()
        self._sessions: dict[str, Page] = {}  # session id (page's own or a child frame's) -> page
        self.pages: list[Page] = []
        self._closed = False
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen([self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            url = self._wait_for_port(start_timeout)
            self.ws = connect(url, max_size=None, compression=None, proxy=None, open_timeout=10,
                              ping_interval=None, close_timeout=2)
        except BaseException:
            self._kill()
            raise
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()
        self.version = self.send("Browser.getVersion")

    # --- process ----------------------------------------------------------------------------------
    def _wait_for_port(self, timeout: float) -> str:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CDPError(f"{self.executable} exited with {self.proc.returncode} at start-up:\n{self.log_tail()}")
            try:
                lines = marker.read_text().split("\n")
                if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                    return f"ws://127.0.0.1:{int(lines[0])}{lines[1].strip()}"
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        raise CDPError(f"{self.executable} did not open its DevTools port within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(line for line in text[-lines:])

    def _kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group start_new_session made: our Chromium only
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        else:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # helpers (zygote, renderers) left behind, if any
            except (ProcessLookupError, PermissionError):
                pass
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
        try:
            self.log_path.unlink()
        except OSError:
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.ws.close()
        except Exception:
            pass
        self._kill()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- protocol ---------------------------------------------------------------------------------
    def post(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        """Send a command without waiting for its result (safe from the reader thread)."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        with self._send_lock:
            self.ws.send(json.dumps(message))
        return ident

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 15.0) -> dict:
        """Send a command and wait for its result; a protocol error raises :class:`CDPError`."""
        done = threading.Event()
        slot: list = []
        ident = next(self._ids)
        self._pending[ident] = (done, slot)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            with self._send_lock:
                self.ws.send(json.dumps(message))
            if not done.wait(timeout):
                raise CDPError(f"{method}: no answer from Chromium within {timeout:.0f} s")
        finally:
            self._pending.pop(ident, None)
        reply = slot[0]
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error'].get('message')} {reply['error'].get('data', '')}".strip())
        return reply.get("result", {})

    def _read(self) -> None:
        try:
            for raw in self.ws:
                message = json.loads(raw)
                if "id" in message:
                    waiter = self._pending.get(message["id"])
                    if waiter:
                        waiter[1].append(message)
                        waiter[0].set()
                    continue
                page = self._sessions.get(message.get("sessionId", ""))
                if page is not None:
                    try:
                        page._event(message["sessionId"], message["method"], message.get("params", {}))
                    except Exception as exc:  # never let one odd event stop the reader
                        page.problems.append(f"[test harness] event {message.get('method')}: {exc!r}")
        except ConnectionClosed:
            pass
        finally:
            for done, slot in list(self._pending.values()):
                slot.append({"error": {"message": "connection to Chromium closed"}})
                done.set()

    # --- pages ------------------------------------------------------------------------------------
    def new_page(self, width: int = 1280, height: int = 900, mobile: bool = False, fresh: bool = False) -> "Page":
        """A new tab; ``fresh``: in its own browser context (an empty profile: no cache, no favicon memory)."""
        params: dict[str, Any] = {"url": "about:blank"}
        context = None
        if fresh:
            context = self.send("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
            params["browserContextId"] = context
        target = self.send("Target.createTarget", params)["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session, context)
        self._sessions[session] = page
        self.pages.append(page)
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.send(method, session=session)
        self.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
                  session=session)
        page.set_viewport(width, height, mobile)
        return page


class Page:
    """One tab. ``problems`` lists what DevTools would show in red, for the page and all its frames."""

    def __init__(self, browser: Browser, target_id: str, session: str, context: str | None = None):
        self.browser = browser
        self.context = context
        self.target_id = target_id
        self.session = session
        self.frames: dict[str, str] = {}   # child session id -> URL of the cross-origin frame it runs
        self.problems: list[str] = []
        self.requests: dict[str, str] = {}
        self.responses: list[tuple[int, str]] = []
        self._loaded = threading.Event()
        self.width = self.height = 0
        self.mobile = False

    # events arrive on the reader thread: only post() from here, never send()
    def _event(self, session: str, method: str, params: dict) -> None:
        if method == "Target.attachedToTarget":
            child = params["sessionId"]
            self.frames[child] = params.get("targetInfo", {}).get("url", "")
            self.browser._sessions[child] = self
            for name in ("Runtime.enable", "Log.enable", "Network.enable"):
                self.browser.post(name, session=child)
            self.browser.post("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True,
                                                       "flatten": True}, session=child)
            self.browser.post("Runtime.runIfWaitingForDebugger", session=child)
        elif method == "Target.detachedFromTarget":
            self.frames.pop(params.get("sessionId", ""), None)
        elif method == "Target.targetInfoChanged":
            pass
        elif method == "Page.loadEventFired" and session == self.session:
            self._loaded.set()
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", a.get("type")))) for a in params.get("args", []))
            frame = (params.get("stackTrace") or {}).get("callFrames") or [{}]
            self.problems.append(f"console.{params['type']}: {args} ({frame[0].get('url', '')}:"
                                 f"{frame[0].get('lineNumber', '')})")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = (details.get("exception") or {}).get("description") or details.get("text", "")
            self.problems.append(f"uncaught exception: {text} ({details.get('url', '')}:{details.get('lineNumber', '')})")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                self.problems.append(f"console [{entry.get('source')}]: {entry.get('text')} ({entry.get('url', '')})")
        elif method == "Network.requestWillBeSent":
            self.requests[params["requestId"]] = params.get("request", {}).get("url", "")
        elif method == "Network.responseReceived":
            response = params.get("response", {})
            status = int(response.get("status") or 0)
            self.responses.append((status, response.get("url", "")))
            if status >= 400:
                self.problems.append(f"HTTP {status}: {response.get('url', '')}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            reason = params.get("errorText", "")
            if params.get("blockedReason"):
                reason += f" blocked: {params['blockedReason']}"
            if params.get("corsErrorStatus"):
                reason += f" CORS: {params['corsErrorStatus'].get('corsError')}"
            self.problems.append(f"request failed: {self.requests.get(params.get('requestId'), '?')} {reason}")

    # --- commands ---------------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, timeout: float = 15.0) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def set_viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.width, self.height, self.mobile = width, height, mobile
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                          "mobile": mobile, "screenWidth": width,
                                                          "screenHeight": height})
        self.send("Emulation.setTouchEmulationEnabled", {"enabled": mobile})

    def goto(self, url: str, timeout: float = 20.0) -> None:
        """Navigate and wait for the load event (scripts run, images and iframes started)."""
        self._loaded.clear()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        if not self._loaded.wait(timeout):
            raise CDPError(f"{url}: no load event within {timeout:.0f} s")

    def evaluate(self, expression: str, session: str | None = None, timeout: float = 15.0) -> Any:
        """The JSON value of ``expression`` (promises awaited) in the page, or in a child frame's session."""
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                         "awaitPromise": True, "userGesture": False},
                                   session=session or self.session, timeout=timeout)
        if result.get("exceptionDetails"):
            details = result["exceptionDetails"]
            raise CDPError(f"evaluate failed: {(details.get('exception') or {}).get('description') or details.get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 10.0, interval: float = 0.1,
                 session: str | None = None, what: str | None = None) -> Any:
        """Poll ``expression`` until it is truthy; return that value. Times out with the last value seen."""
        deadline = time.monotonic() + timeout
        value = None
        while True:
            try:
                value = self.evaluate(expression, session=session)
            except CDPError as exc:
                value = f"<{exc}>"
            if value and not (isinstance(value, str) and value.startswith("<evaluate failed")):
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what or expression!r} not true within {timeout:.0f} s (last: {value!r})")
            time.sleep(interval)

    def frame_session(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The child session of a cross-origin frame whose URL matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for session in list(self.frames):
                try:  # attached before it navigated: ask the frame where it is now
                    self.frames[session] = self.evaluate("location.href", session=session, timeout=2) or ""
                except (CDPError, KeyError):
                    continue
                if predicate(self.frames[session]):
                    return session
            time.sleep(0.05)
        raise TimeoutError(f"no cross-origin frame matched; frames: {sorted(self.frames.values())}")

    def settle(self) -> None:
        """Two animation frames and the fonts: layout is done before measuring or taking a picture."""
        self.evaluate("document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => "
                      "requestAnimationFrame(() => r(true)))))")

    def screenshot(self, path: Path, full_page: bool = True, max_height: int = 16000) -> Path:
        """A PNG of the page (the whole scroll height when ``full_page``), written to ``path``."""
        self.settle()
        viewport = (self.width, self.height, self.mobile)
        if full_page:  # grow the viewport to the page (captureBeyondViewport leaves cross-site iframes blank)
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            height = min(max_height, int(size["height"]))
            if height > self.height:
                self.set_viewport(self.width, height, self.mobile)
                self.settle()
        try:
            data = self.send("Page.captureScreenshot", {"format": "png"}, timeout=30)["data"]
        finally:
            if (self.width, self.height, self.mobile) != viewport:
                self.set_viewport(*viewport)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.browser.send("Target.closeTarget", {"targetId": self.target_id}, timeout=5)
        except CDPError:
            pass
        if self.context:
            try:
                self.browser.send("Target.disposeBrowserContext", {"browserContextId": self.context}, timeout=5)
            except CDPError:
                pass
        for session in [s for s, p in self.browser._sessions.items() if p is self]:
            self.browser._sessions.pop(session, None)
