"""The site and the media widget in a real headless Chromium (Debian's ``chromium``, installed by ``.ci/run``).

* The EU page and a country page (France) in English, Greek and Bulgarian, on a desktop and on a
  phone-sized viewport: no console errors, uncaught exceptions or failed requests; the right
  ``<html lang>``; the hemicycle drawn; the seat table visible; the text in the page's script; no
  horizontal overflow on the phone.
* The widget pasted, with the documented snippets, into a "newsroom" page served from another
  site (cross-origin, so the iframe runs in its own renderer process): EU seats by group and one
  country in the chosen language, in script mode (shadow root) and in iframe mode; it follows the
  width of its container and the iframe's height follows its content; when ``current.json`` is
  flipped to a new version with other seats, the widget shows them within its refresh interval.

The results are served as production serves them (docker/nginx/enr-site.conf): a version folder
under ``/public/<election>/`` cached as immutable, a short-lived ``current.json`` pointer, and
``Access-Control-Allow-Origin: *`` (script mode fetches JSON cross-origin). Everything is on
loopback. Screenshots go to ``test-artifacts/screenshots/`` at the repository root.

Chromium is Debian's, driven by Playwright for Python (``tests.support.site_browser.chromium_browser``, one per
test session; Playwright never downloads a browser).
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

from tests.support.publish_fixtures import build_bundle, scratch_dir
from tests.support.site_browser import Problems, Server
from publish.i18n import Formatter
from publish.site import render_site
from publish.widget import iframe_snippet, labels, script_snippet

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"
ELECTION = "ep2019"
LANGUAGES = ["en", "el", "bg"]
DEMO_LANGUAGES = ["de", "fr"]  # widget/demo.html shows the widget in German and French as well
COUNTRY = "FR"
PHONE = (390, 844)
DESKTOP = (1280, 900)
REFRESH = 15  # seconds: the smallest data-enr-refresh the widget accepts (widget.js clamps to >= 15)
SCRIPTS = {"el": r"[\u0370-\u03ff\u1f00-\u1fff]", "bg": r"[\u0400-\u04ff]", "en": r"[A-Za-z]"}
FOREIGN_HOST = "news.localhost"  # Chromium resolves *.localhost to loopback: another site than 127.0.0.1


# --- the published data: v0003 (as on the night), then v0004 with other seats ---------------------

def later_bundle() -> dict:
    """v0004: Italy, the UK, Ireland and Malta final, and two Italian seats moved from Lega (ID) to PD (S&D)."""
    bundle = build_bundle(version="v0004", generated_at="2019-05-26T23:40:00+00:00",
                          statuses={"IT": "final", "UK": "final", "IE": "final", "MT": "final"})
    italy = next(c for c in bundle["countries"] if c["code"] == "IT")
    lists = {entry["list_id"]: entry for entry in italy["lists"]}
    lists["lega"]["seats"] -= 2
    lists["pd"]["seats"] += 2
    groups = {g["id"]: g for g in bundle["eu"]["groups"]}
    for gid, delta in (("ID", -2), ("S&D", +2)):
        groups[gid]["seats"] += delta
        groups[gid]["by_country"]["IT"] += delta
    bundle["changes"] = [{"country": "IT", "what": "status provisional -> final"}]
    return bundle


def write_pointer(election_dir: Path, version: str) -> None:
    """Flip ``current.json`` as the publisher does (one atomic replace), with a newer Last-Modified."""
    path = election_dir / "current.json"
    before = path.stat().st_mtime if path.exists() else 0
    tmp = election_dir / ".current.json.tmp"
    tmp.write_text(json.dumps({"election": ELECTION, "version": version, "manifest_sha256": "",
                               "published_at": "2019-05-26T23:45:00Z", "test": False}))
    stamp = max(time.time(), before + 2)
    os.utime(tmp, (stamp, stamp))
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def published() -> dict:
    """Two versions rendered under public/ep2019/, current.json pointing at v0003; two servers."""
    base = scratch_dir("enr-browser-")
    election_dir = base / "results" / "public" / ELECTION
    render_site(build_bundle(), election_dir / "v0003", languages=LANGUAGES + DEMO_LANGUAGES)
    render_site(later_bundle(), election_dir / "v0004", languages=LANGUAGES)
    write_pointer(election_dir, "v0003")
    foreign_root = base / "newsroom"
    foreign_root.mkdir()
    results = Server(base / "results", results=True)
    foreign = Server(foreign_root, results=False)
    try:
        yield {"election_dir": election_dir, "results": results, "foreign": foreign, "foreign_root": foreign_root,
               "base_url": f"http://127.0.0.1:{results.port}/public/",
               "site": f"http://127.0.0.1:{results.port}/public/{ELECTION}/v0003/",
               "foreign_url": f"http://{FOREIGN_HOST}:{foreign.port}/"}
    finally:
        results.close()
        foreign.close()


class Tab:
    """A page in a context of its own (viewport, phone emulation), with the problems it reports."""

    def __init__(self, browser, width: int = DESKTOP[0], height: int = DESKTOP[1], mobile: bool = False):
        self.context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile,
                                           has_touch=mobile)
        self.page = self.context.new_page()
        self.problems = Problems(self.page)

    def goto(self, url: str) -> None:
        self.page.goto(url, wait_until="load")

    def settle(self) -> None:
        """Two animation frames and the fonts: layout is done before measuring or taking a picture."""
        self.page.evaluate("document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => "
                           "requestAnimationFrame(() => r(true)))))")

    def evaluate(self, expression: str, frame=None):
        return (frame or self.page).evaluate(expression)

    def wait_for(self, expression: str, timeout: float = 10.0, frame=None, what: str = "", interval: float = 0.1):
        """Poll ``expression`` until it is truthy; return its JSON value."""
        try:
            handle = (frame or self.page).wait_for_function(expression, timeout=timeout * 1000,
                                                             polling=int(interval * 1000))
        except Exception as exc:  # playwright's TimeoutError: say what was awaited
            raise TimeoutError(f"{what or expression!r} not true within {timeout:.0f} s: {exc}") from exc
        return handle.json_value()

    def frame(self, predicate, timeout: float = 10.0):
        """The frame (cross-origin ones run in their own renderer process) whose URL matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.page.frames:
                if frame is not self.page.main_frame and predicate(frame.url):
                    return frame
            self.page.wait_for_timeout(50)
        raise TimeoutError(f"no frame matched; frames: {[f.url for f in self.page.frames]}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def browser(chromium_browser):
    return chromium_browser


def shot(tab: Tab, name: str, full_page: bool = True) -> Path:
    tab.settle()
    path = SHOTS / f"{name}.png"
    tab.page.screenshot(path=str(path), full_page=full_page)
    return path


def site_problems(tab: Tab) -> list[str]:
    """Problems, except the request for /favicon.ico (tested on its own, see test_pages_declare_an_icon)."""
    return [p for p in tab.problems if "/favicon.ico" not in p]


# --- the harness catches what it must ---------------------------------------------------------------

BROKEN = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>broken</title></head><body><p>broken on purpose</p><img src="missing.png" alt="">
<iframe src="http://127.0.0.1:{port}/broken-frame.html"></iframe>
<script>console.error("boom in the page"); fetch("http://127.0.0.1:{closed}/nothing").catch(() => {{}});
setTimeout(() => {{ throw new Error("uncaught in the page"); }}, 0);</script></body></html>"""
BROKEN_FRAME = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>frame</title></head>
<body><script>console.error("boom in the cross-site frame");</script></body></html>"""


def test_harness_reports_console_errors_exceptions_and_failed_requests(browser, published: dict) -> None:
    root, port = published["foreign_root"], published["foreign"].port
    with socket.socket() as probe:  # a loopback port nobody listens on: the fetch is refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    (root / "broken.html").write_text(BROKEN.format(port=port, closed=closed))
    (root / "broken-frame.html").write_text(BROKEN_FRAME)
    page = Tab(browser)
    try:
        page.goto(f"http://{FOREIGN_HOST}:{port}/broken.html")
        deadline = time.monotonic() + 10
        wanted = ("boom in the page", "uncaught in the page", "missing.png", f"127.0.0.1:{closed}/nothing",
                  "boom in the cross-site frame")
        while time.monotonic() < deadline and not all(any(w in p for p in page.problems) for w in wanted):
            page.page.wait_for_timeout(50)
        text = "\n".join(page.problems)
        for needle in wanted:
            assert needle in text, f"{needle!r} not reported; problems: {page.problems}"
        frame = page.frame(lambda url: url.endswith("/broken-frame.html"))
        assert frame.evaluate("document.title") == "frame", "the cross-site iframe is not reachable as a frame"
    finally:
        page.close()


# --- the site ---------------------------------------------------------------------------------------

PAGES = {"eu": "index.html", "country": f"country/{COUNTRY.lower()}.html"}

PAGE_STATE = """(() => {
  const visible = (el) => { if (!el) return null; const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return {width: r.width, height: r.height, shown: s.display !== 'none' && s.visibility !== 'hidden' &&
            +s.opacity > 0 && el.offsetParent !== null}; };
  const svg = document.querySelector('svg.hemicycle');
  const table = document.querySelector(%s);
  const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
      && !e.closest('.table-wrap, details:not([open]), .skip, .sr-only'))
      .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? '.' + e.className : '')
      + ' right=' + Math.round(e.getBoundingClientRect().right));
  return {lang: document.documentElement.lang, h1: document.querySelector('h1').textContent.trim(),
          text: document.body.innerText, hemicycle: visible(svg),
          seats: svg ? svg.querySelectorAll('use').length : 0,
          table: visible(table), rows: table ? table.querySelectorAll('tbody tr').length : 0,
          scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth, wide: wide};
})()"""


@pytest.fixture(scope="module")
def site_page(browser):
    """A desktop page and a phone page (a mobile viewport with touch), reused by the site tests."""
    tabs = {"desktop": Tab(browser, *DESKTOP), "phone": Tab(browser, *PHONE, mobile=True)}
    yield tabs
    for tab in tabs.values():
        tab.close()


@pytest.mark.parametrize("kind", sorted(PAGES))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_page_renders_without_errors_on_desktop_and_phone(site_page: dict, published: dict, lang: str,
                                                          kind: str) -> None:
    fmt = Formatter(lang)
    bundle = build_bundle()
    url = published["site"] + f"{lang}/{PAGES[kind]}"
    selector = "section[aria-labelledby=groups] table" if kind == "eu" else "table.results"
    expected_h1 = fmt.gettext("European Parliament election %(year)s", year="2019") if kind == "eu" \
        else fmt.country_name(COUNTRY)
    expected_rows = len(bundle["eu"]["groups"]) if kind == "eu" else \
        len(next(c for c in bundle["countries"] if c["code"] == COUNTRY)["lists"])
    for device, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        tab = site_page[device]
        tab.problems.clear()
        tab.goto(url)
        tab.settle()
        state = tab.evaluate(PAGE_STATE % json.dumps(selector))
        shot(tab, f"site-{lang}-{kind}-{device}")
        where = f"{lang}/{PAGES[kind]} ({device} {width}x{height})"
        assert site_problems(tab) == [], f"{where}: {site_problems(tab)}"
        assert state["lang"] == lang, where
        assert state["h1"] == expected_h1, where
        assert state["table"] and state["table"]["shown"] and state["table"]["width"] > 0 \
            and state["table"]["height"] > 0, f"{where}: seat table not visible: {state['table']}"
        assert state["rows"] == expected_rows, where
        if kind == "eu":
            hemicycle = state["hemicycle"]
            assert hemicycle and hemicycle["shown"] and hemicycle["width"] > 0 and hemicycle["height"] > 0, \
                f"{where}: hemicycle not drawn: {hemicycle}"
            assert hemicycle["width"] <= width and state["seats"] == 751, where
        letters = len(re.findall(SCRIPTS[lang], state["text"]))
        assert letters > 300, f"{where}: only {letters} letters of the {lang} script in the page"
        if device == "phone":
            assert state["scrollWidth"] <= width and state["innerWidth"] == width, \
                f"{where}: horizontal overflow: scrollWidth {state['scrollWidth']} > {width}; widest: {state['wide']}"


COMPARISON_STATE = """(() => {
  const chart = document.querySelector('svg.turnout-chart'), r = chart ? chart.getBoundingClientRect() : null;
  const row = (table, key) => [...document.querySelectorAll(table + ' tbody tr')].map(tr => [...tr.children]
    .map(c => c.textContent.replace(/\\s+/g, ' ').trim())).find(cells => cells[0].includes('(' + key));
  return {chart: r && {width: r.width, height: r.height, points: chart.querySelectorAll('[data-value]').length},
          epp: row('#groups-table', 'EPP') || row('table', 'EPP'), id: row('#groups-table', 'ID') || row('table', 'ID'),
          scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
})()"""


@pytest.mark.parametrize("lang", ["en", "el"])
def test_eu_and_comparison_pages_show_the_previous_parliament_and_turnout_since_1979(
        site_page: dict, published: dict, lang: str) -> None:
    """Screenshots for the closing note of issue 20: the EU page's 2014 column, the comparison page
    with the EU turnout chart, a country page with its line against the EU's, on desktop and phone."""
    fmt = Formatter(lang)
    for device, (width, _) in (("desktop", DESKTOP), ("phone", PHONE)):
        tab = site_page[device]
        for name, rel in (("eu", "index.html"), ("comparison", "comparison.html"),
                          ("country-turnout", f"country/{COUNTRY.lower()}.html")):
            tab.problems.clear()
            tab.goto(published["site"] + f"{lang}/{rel}")
            tab.settle()
            state = tab.evaluate(COMPARISON_STATE)
            if name == "country-turnout":
                tab.page.locator("#turnout-history").scroll_into_view_if_needed()
                shot(tab, f"comparison-{lang}-{name}-{device}", full_page=False)
            else:
                shot(tab, f"comparison-{lang}-{name}-{device}")
            where = f"{lang}/{rel} ({device})"
            assert site_problems(tab) == [], f"{where}: {site_problems(tab)}"
            assert state["scrollWidth"] <= state["innerWidth"], f"{where}: horizontal overflow {state}"
            if name == "eu":
                assert state["epp"][3] == "221" and state["id"][3] == fmt.gettext("new"), f"{where}: {state}"
            else:
                assert state["chart"] and state["chart"]["width"] > 200 and state["chart"]["height"] > 80, where
                assert state["chart"]["width"] <= width, where
                assert state["chart"]["points"] == (9 if name == "comparison" else 17), f"{where}: {state['chart']}"
            if name == "comparison":
                assert state["epp"][1] == "221" and state["id"][1] == fmt.gettext("new"), f"{where}: {state}"


def test_majority_label_does_not_cover_seats(site_page: dict, published: dict) -> None:
    """The label in the middle of the hemicycle must not be drawn over seat markers (any language)."""
    tab = site_page["desktop"]
    covered = {}
    for lang in LANGUAGES:
        tab.goto(published["site"] + f"{lang}/index.html")
        covered[lang] = tab.evaluate("""(() => {
          const svg = document.querySelector('svg.hemicycle'), label = svg.querySelector('text').getBBox();
          return [...svg.querySelectorAll('use')].filter(u => { const b = u.getBBox();  // includes x, y
            return b.x + b.width > label.x && b.x < label.x + label.width && b.y + b.height > label.y
                   && b.y < label.y + label.height; }).length; })()""")
    assert covered == {lang: 0 for lang in LANGUAGES}, f"seat markers under the majority label: {covered}"


def test_pages_declare_an_icon_so_browsers_do_not_request_favicon_ico(browser, published: dict) -> None:
    """Without <link rel="icon">, Chromium asks the origin for /favicon.ico; production answers 404
    there (only /<election>/... exists), which DevTools shows as a console error on every page."""
    found = {}
    for number, rel in enumerate(("index.html", "en/index.html", f"el/{PAGES['country']}")):
        # Chromium asks an origin for its icon once per browser run: each page on an origin of its own
        url = published["site"].replace("//127.0.0.1:", f"//icon{number}.localhost:") + rel
        page = Tab(browser, *DESKTOP)  # a fresh context: no icon cached
        try:
            requested = []
            page.page.on("request", lambda r: requested.append(r.url))
            page.goto(url)
            page.settle()
            page.page.wait_for_timeout(500)  # the icon is fetched after the load event
            icon = page.evaluate("(() => { const l = document.head.querySelector('link[rel=icon]');"
                                 " return l && l.getAttribute('href'); })()")
            found[rel] = list(page.problems) + [u for u in requested if u.endswith("/favicon.ico")] + \
                ([] if icon == "data:," else [f"icon {icon!r}"])
        finally:
            page.close()
    assert found == {rel: [] for rel in found}, found


# --- the widget in a foreign page ---------------------------------------------------------------------

NEWSROOM = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>The Daily Example: election night live blog</title>
<style>body{{font:16px Georgia,serif;margin:0 16px}} .col{{outline:1px dashed #999;margin:12px 0}}</style>
</head>
<body>
<h1>The Daily Example</h1>
<p>Election night live blog. The results below are the publisher's widget, pasted from its Downloads page.</p>
<div class="col" id="eu-script" style="width:640px">
{eu_script}
</div>
<div class="col" id="country-script" style="width:640px">
{country_script}
</div>
<div class="col" id="eu-frame" style="width:640px">
{eu_frame}
</div>
<div class="col" id="country-frame" style="width:300px">
{country_frame}
</div>
</body>
</html>
"""

# script-mode widgets: (column id, view, country, language); iframe-mode widgets likewise
SCRIPT_WIDGETS = {"eu-script": ("eu", None, "el"), "country-script": ("country", COUNTRY, "bg")}
FRAME_WIDGETS = {"eu-frame": ("eu", None, "en"), "country-frame": ("country", "DE", "el")}

SHADOW = """(() => {{
  const col = document.getElementById({col}); const host = col && [...col.children].find(e => e.tagName === 'DIV');
  const box = host && host.shadowRoot && host.shadowRoot.querySelector('.enr');
  if (!box) return null;
  return {{text: box.innerText, lang: box.getAttribute('lang'), col: col.getBoundingClientRect().width,
          host: host.getBoundingClientRect().width, box: box.getBoundingClientRect().width,
          scroll: box.scrollWidth, client: box.clientWidth,
          rows: [...box.querySelectorAll('tr')].map(tr => [...tr.children].map(td => td.textContent.trim()))}};
}})()"""

FRAME_STATE = """(() => { const box = document.querySelector('.enr'); if (!box) return null;
  return {text: box.innerText, lang: box.getAttribute('lang'), docLang: document.documentElement.lang,
          height: Math.ceil(document.documentElement.getBoundingClientRect().height),
          scroll: document.documentElement.scrollWidth, width: innerWidth,
          rows: [...box.querySelectorAll('tr')].map(tr => [...tr.children].map(td => td.textContent.trim()))}; })()"""


def squash(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def served(published: dict, version: str, rel: str) -> dict:
    return json.loads((published["election_dir"] / version / rel).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def newsroom(browser, published: dict):
    """The foreign page, opened once: the widget tests share it (the last one flips the pointer)."""
    base = published["base_url"]
    eu_script = script_snippet(base, ELECTION, "v0003", "el")
    assert eu_script.endswith(" async></script>")
    eu_script = eu_script.replace(" async></script>", f' data-enr-refresh="{REFRESH}" async></script>')
    html = NEWSROOM.format(
        eu_script=eu_script,
        country_script=script_snippet(base, ELECTION, "v0003", "bg", "country", COUNTRY),
        eu_frame=iframe_snippet(base, ELECTION, "v0003", "en"),
        country_frame=iframe_snippet(base, ELECTION, "v0003", "el", "country", "DE"))
    (published["foreign_root"] / "index.html").write_text(html, encoding="utf-8")
    page = Tab(browser, 1280, 1800)
    page.goto(published["foreign_url"] + "index.html")
    loaded = time.monotonic()
    for col in SCRIPT_WIDGETS:
        page.wait_for(SHADOW.format(col=json.dumps(col)), timeout=15, what=f"script widget in #{col}")
    frames = {}
    for col, (view, country, lang) in FRAME_WIDGETS.items():
        needle = f"view={view}" + (f"&country={country}" if country else "") + f"&lang={lang}"
        frames[col] = page.frame(lambda url, needle=needle: needle in url, timeout=15)
        page.wait_for(FRAME_STATE, frame=frames[col], timeout=15, what=f"iframe widget in #{col}")
        page.wait_for(f"document.querySelector('#{col} iframe').style.height !== '420px'", timeout=10,
                      what=f"#{col} iframe resized to its content")
    yield {"page": page, "frames": frames, "loaded": loaded}
    page.close()


def test_widget_renders_in_a_foreign_page_in_the_chosen_language(newsroom: dict, published: dict) -> None:
    page: Tab = newsroom["page"]
    shot(page, "widget-newsroom-v0003")
    assert page.problems == [], page.problems
    # script mode, EU seats by group, in Greek
    eu = served(published, "v0003", "data/eu.json")
    el = labels(build_bundle(), "el")
    state = page.evaluate(SHADOW.format(col=json.dumps("eu-script")))
    text = squash(state["text"])
    assert state["lang"] == "el"
    assert el["s"]["title_eu"] in text and squash(el["s"]["majority"] % {"majority": "376", "total": "751"}) in text
    assert el["s"]["not_final"] in text and "v0003" in text
    shown = {row[0].split(" \u2013 ")[0]: row[1] for row in state["rows"]}
    assert shown == {row["group"]: str(row["seats"]) for row in eu["rows"]}
    for row in eu["rows"]:
        assert el["g"][row["group"]] in text
    assert len(re.findall(SCRIPTS["el"], text)) > 200
    # script mode, one country (France), in Bulgarian
    bg = labels(build_bundle(), "bg")
    fr = served(published, "v0003", f"data/countries/{COUNTRY.lower()}.json")
    state = page.evaluate(SHADOW.format(col=json.dumps("country-script")))
    text = squash(state["text"])
    assert state["lang"] == "bg" and bg["c"][COUNTRY] in text and bg["st"]["final"] in text
    header, *rows = state["rows"]
    assert header == [bg["s"]["list"], bg["s"]["votes"], bg["s"]["share"], bg["s"]["seats"]]
    expected = fr["rows"][:max(12, sum(1 for r in fr["rows"] if r["seats"]))]
    assert [(r[0], digits(r[1]), r[3]) for r in rows] == \
        [(r["party_abbrev"] or r["list_name"], str(r["votes"]), str(r["seats"])) for r in expected]
    assert "23,34" in rows[0][2]  # RN's share, with the Bulgarian decimal comma
    # iframe mode: EU in English, Germany in Greek
    en_state = page.evaluate(FRAME_STATE, frame=newsroom["frames"]["eu-frame"])
    assert en_state["docLang"] == "en" and "Seats by political group" in en_state["text"]
    assert {row[0].split(" \u2013 ")[0]: row[1] for row in en_state["rows"]} == \
        {row["group"]: str(row["seats"]) for row in eu["rows"]}
    de = served(published, "v0003", "data/countries/de.json")
    el_state = page.evaluate(FRAME_STATE, frame=newsroom["frames"]["country-frame"])
    assert el_state["docLang"] == "el" and el["c"]["DE"] in el_state["text"] and el["st"]["official"] in el_state["text"]
    assert digits(el_state["rows"][1][1]) == str(de["rows"][0]["votes"])


def test_widget_follows_the_width_of_its_container(newsroom: dict) -> None:
    page: Tab = newsroom["page"]
    try:
        for width in (640, 320):
            for col in (*SCRIPT_WIDGETS, "eu-frame"):
                page.evaluate(f"document.getElementById('{col}').style.width = '{width}px'")
            page.settle()
            for col in SCRIPT_WIDGETS:
                state = page.evaluate(SHADOW.format(col=json.dumps(col)))
                assert abs(state["host"] - width) <= 1 and abs(state["box"] - width) <= 1, (col, width, state)
                assert state["scroll"] <= state["client"] + 1, f"#{col} overflows its box at {width}px: {state}"
            frame = newsroom["frames"]["eu-frame"]
            # the iframe follows the column; its height then follows its content (posted to the page)
            inner = page.wait_for(f"(() => {{ const s = {FRAME_STATE}; return s && s.width === {width} && s; }})()",
                                  frame=frame, timeout=5, what=f"iframe at {width}px")
            assert inner["scroll"] <= width, f"iframe content overflows at {width}px: {inner['scroll']}"
            expected = inner["height"] + 2
            outer = page.wait_for(
                f"(() => {{ const h = document.querySelector('#eu-frame iframe').getBoundingClientRect().height;"
                f" return Math.abs(h - {expected}) <= 1 && h; }})()", timeout=5,
                what=f"iframe height {expected}px at {width}px")
            assert outer != 420
            shot(page, f"widget-newsroom-{width}px")
            if width == 640:
                tall_at_640 = inner["height"]
        assert inner["height"] > tall_at_640, "the iframe's content did not get taller in a narrower column"
    finally:
        for col in (*SCRIPT_WIDGETS, "eu-frame"):
            page.evaluate(f"document.getElementById('{col}').style.width = '640px'")
    assert page.problems == [], page.problems


def test_widget_country_view_fits_a_300px_column(newsroom: dict) -> None:
    """The demo's narrow case (a 300 px sidebar), with a country: every column must be visible."""
    page: Tab = newsroom["page"]
    assert page.evaluate("document.querySelector('#country-frame iframe').getBoundingClientRect().width") == 300
    inner = page.evaluate("""(() => { const t = document.querySelector('.enr table');
        const seats = [...t.querySelectorAll('tr > :last-child')].map(c => Math.round(c.getBoundingClientRect().right));
        return {width: innerWidth, scroll: document.documentElement.scrollWidth,
                table: Math.round(t.getBoundingClientRect().width), seatsRight: Math.max(...seats)}; })()""",
                          frame=newsroom["frames"]["country-frame"])
    assert inner["scroll"] <= inner["width"] and inner["seatsRight"] <= inner["width"], \
        f"the country widget is wider than its 300 px iframe, the seats column is cut off: {inner}"


def test_widget_follows_current_json_to_a_new_version(newsroom: dict, published: dict) -> None:
    page: Tab = newsroom["page"]
    old = {r["group"]: r["seats"] for r in served(published, "v0003", "data/eu.json")["rows"]}
    new = {r["group"]: r["seats"] for r in served(published, "v0004", "data/eu.json")["rows"]}
    assert old != new and new["S&D"] == old["S&D"] + 2 and new["ID"] == old["ID"] - 2
    write_pointer(published["election_dir"], "v0004")
    flipped = time.monotonic()
    # the next poll is at most REFRESH s away (the pointer's max-age, 5 s, is shorter); allow some slack
    state = page.wait_for(f"(() => {{ const s = {SHADOW.format(col=json.dumps('eu-script'))};"
                          f" return s && s.text.includes('v0004') && s; }})()",
                          timeout=REFRESH + 10, interval=0.25,
                          what=f"the widget (data-enr-refresh={REFRESH}) showing v0004 after the pointer flip")
    print(f"the widget followed the pointer after {time.monotonic() - flipped:.1f} s")
    shown = {row[0].split(" \u2013 ")[0]: int(row[1]) for row in state["rows"]}
    assert shown == new
    el = labels(build_bundle(), "el")
    assert el["s"]["not_final"] not in squash(state["text"])  # every country final in v0004
    requested = [path for path, status in published["results"].requests if status == "200"]
    assert f"/public/{ELECTION}/v0004/data/eu.json" in requested
    assert page.problems == [], page.problems
    shot(page, "widget-newsroom-v0004")


def test_publisher_demo_page(browser, published: dict) -> None:
    """The publisher's own widget/demo.html (same origin as the data) renders its four widgets."""
    page = Tab(browser, 1280, 2400)
    try:
        page.goto(published["site"] + "widget/demo.html")
        page.wait_for("""(() => { const hosts = [...document.querySelectorAll('article > div')].filter(d => d.shadowRoot);
            return hosts.length === 2 && hosts.every(d => d.shadowRoot.querySelector('.enr')); })()""",
                      timeout=15, what="the two script widgets of demo.html")
        # its iframes are same-origin (no session of their own): their height is posted once they rendered
        page.wait_for("[...document.querySelectorAll('iframe[data-enr-widget]')].every(f => f.style.height !== '420px')",
                      timeout=15, what="demo iframes resized to their content")
        shot(page, "widget-demo")
        assert site_problems(page) == [], site_problems(page)
    finally:
        page.close()
