"""Accessibility (EN 301 549 / WCAG 2.1 AA) of the published site, tested with the field's own tools.

* axe-core (``axe-playwright-python`` ships it) with the WCAG 2.0 and 2.1 A and AA rules on every
  page type in all 24 languages: EU, country, group, comparison, methodology, corrections,
  downloads, accessibility statement, history (index and country), and the widget in script mode
  (in a foreign page, in its shadow root) and in iframe mode: 0 violations. The number of pages
  checked is printed.
* What axe cannot see, in the same Chromium: keyboard-only use of the majority calculator and the
  language switcher (focus visible, tab order = reading order); text alternatives of the hemicycle
  and the history charts and the tables that say the same; ``lang`` on every page and on names in
  another language; reflow at 320 px and at 200 % zoom without horizontal scrolling;
  ``prefers-reduced-motion``; the TEST banner announced to screen readers; a weight budget
  (each page with everything the browser loads <= 100 KB gzipped); every result readable without
  JavaScript; the statement in 24 languages, linked from every page, equal to docs/ACCESSIBILITY.md.

One version is rendered and served once per session (``tests.support.site_browser.a11y_site``); one Chromium is
shared (``tests.support.site_browser.chromium_browser``); the axe test reuses one page and injects axe once per
document (an init script).
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from axe_playwright_python.base import AXE_SCRIPT, AxeResults

from publish import accessibility
from publish.i18n import LANGUAGES, Formatter
from publish.widget import iframe_snippet, script_snippet
from tests.support.site_browser import A11Y_ELECTION, A11Y_VERSION, Problems

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
               "resultTypes": ["violations"]}
# page type -> path under <lang>/ ("{lang}" filled in); the widget types are built by the test
PAGE_TYPES = {
    "eu": "index.html", "country": "country/fr.html", "group": "group/epp.html",
    "comparison": "comparison.html", "methodology": "methodology.html", "corrections": "corrections.html",
    "downloads": "downloads.html", "accessibility": "accessibility.html",
    "history": "history/index.html", "history-country": "history/de.html",
}
WIDGET_TYPES = ("widget-script", "widget-iframe")
BUDGET = 100 * 1024  # bytes, gzipped, per page with everything it loads
TEST_TEXT = "TEST: rehearsal data, not real results"

NEWSROOM = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>Newsroom live blog ({lang})</title></head>
<body><main><h1>Election night live blog</h1>
<section aria-label="EU"><h2>EU</h2>{eu}</section>
<section aria-label="FR"><h2>FR</h2>{country}</section>
<section aria-label="iframe"><h2>iframe</h2>{frame}</section>
</main></body></html>
"""


def newsroom_pages(site: dict) -> None:
    """A foreign page per language that pastes the documented script snippets (and one iframe)."""
    folder = site["folder"].parent.parent.parent / "newsroom"
    folder.mkdir(exist_ok=True)
    for lang in LANGUAGES:
        (folder / f"{lang}.html").write_text(NEWSROOM.format(
            lang=lang,
            eu=script_snippet(site["base_url"], A11Y_ELECTION, A11Y_VERSION, lang),
            country=script_snippet(site["base_url"], A11Y_ELECTION, A11Y_VERSION, lang, "country", "FR"),
            frame=iframe_snippet(site["base_url"], A11Y_ELECTION, A11Y_VERSION, lang, "country", "DE")),
            encoding="utf-8")


def page_urls(site: dict, lang: str) -> dict[str, str]:
    urls = {kind: f"{site['url']}{lang}/{rel}" for kind, rel in PAGE_TYPES.items()}
    urls["widget-script"] = site["url"].replace(f"public/{A11Y_ELECTION}/{A11Y_VERSION}/", f"newsroom/{lang}.html")
    urls["widget-iframe"] = f"{site['url']}widget/embed.html?view=eu&lang={lang}"
    return urls


WIDGETS_READY = """() => { const hosts = [...document.querySelectorAll('section > div')].filter(d => d.shadowRoot);
  return hosts.length === 2 && hosts.every(d => d.shadowRoot.querySelector('.enr')); }"""

# lang of the page, the TEST banner (text and how it is announced), the statement link in the footer
PAGE_FACTS = """() => {
  const hosts = [...document.querySelectorAll('div')].filter(d => d.shadowRoot).map(d => d.shadowRoot);
  const scopes = [document, ...hosts];
  const banners = scopes.flatMap(s => [...s.querySelectorAll('.banner.test, .enr .t')]).map(b => ({
    text: b.textContent.trim(), role: b.getAttribute('role'), live: b.getAttribute('aria-live'),
    lang: (b.closest('[lang]') || document.documentElement).getAttribute('lang')}));
  const footer = document.querySelector('footer a[href$="accessibility.html"]');
  return {lang: document.documentElement.lang, banners,
          widgetLangs: hosts.map(h => h.querySelector('.enr').getAttribute('lang')),
          statement: footer ? footer.href : null};
}"""


@pytest.fixture(scope="module")
def site(a11y_site: dict) -> dict:
    newsroom_pages(a11y_site)
    return a11y_site


@pytest.fixture(scope="module")
def axe_page(chromium_browser):
    """One page whose every document gets axe-core injected once, before its own scripts."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(AXE_SCRIPT)
    page = context.new_page()
    yield page
    context.close()


def run_axe(page, iframes: bool = True) -> dict:
    return page.evaluate("(options) => axe.run(document, options)", {**AXE_OPTIONS, "iframes": iframes})


# --- the harness: axe finds what it must -------------------------------------------------------------

BROKEN = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head><body>
<img src="data:," width="10" height="10"><p style="color:#bbb;background:#fff">low contrast</p>
<pre style="overflow:auto;width:100px;white-space:pre">{wide}</pre><input type="checkbox"></body></html>"""


def test_axe_reports_violations_on_a_broken_page(axe_page, site: dict) -> None:
    """The checker is live: a page without lang, alt, contrast, label or focusable scroll region fails."""
    broken = site["folder"].parent.parent.parent / "newsroom" / "broken.html"
    broken.write_text(BROKEN.format(wide="x" * 300), encoding="utf-8")
    axe_page.goto(site["url"].replace(f"public/{A11Y_ELECTION}/{A11Y_VERSION}/", "newsroom/broken.html"))
    found = {v["id"] for v in run_axe(axe_page)["violations"]}
    assert {"html-has-lang", "image-alt", "color-contrast", "label", "scrollable-region-focusable"} <= found, found


# --- axe on every page type in the 24 languages ----------------------------------------------------

def test_axe_finds_no_violation_on_every_page_type_in_24_languages(axe_page, site: dict, capsys) -> None:
    failures: list[str] = []
    facts_wrong: list[str] = []
    checked = 0
    for lang in LANGUAGES:
        fmt = Formatter(lang)
        test_text = fmt.gettext(TEST_TEXT)
        for kind, url in page_urls(site, lang).items():
            axe_page.goto(url)
            if kind == "widget-script":
                axe_page.wait_for_function(WIDGETS_READY, timeout=15000)
                axe_page.frame_locator("iframe").locator(".enr").wait_for(timeout=15000)
            elif kind == "widget-iframe":
                axe_page.locator(".enr").wait_for(timeout=15000)
            results = run_axe(axe_page, iframes=kind == "widget-script")
            checked += 1
            if results["violations"]:
                failures.append(f"{lang} {kind} {url}\n{AxeResults(results).generate_report()}")
            facts = axe_page.evaluate(PAGE_FACTS)
            where = f"{lang} {kind}"
            expected_lang = "en" if kind == "widget-script" else lang  # the newsroom's page is English
            if facts["lang"] != expected_lang:
                facts_wrong.append(f"{where}: <html lang={facts['lang']!r}>")
            if kind == "widget-iframe" and axe_page.title() != fmt.gettext("Seats by political group"):
                facts_wrong.append(f"{where}: the iframe's title {axe_page.title()!r} is not in its language")
            if kind == "widget-script" and facts["widgetLangs"] != [lang, lang]:
                facts_wrong.append(f"{where}: widget lang {facts['widgetLangs']}")
            if not kind.startswith("widget") and facts["statement"] != f"{site['url']}{lang}/accessibility.html":
                facts_wrong.append(f"{where}: footer links the statement at {facts['statement']}")
            if not kind.startswith("history"):  # history pages show past elections, not this version's data
                banners = facts["banners"]
                if not banners or any(b["text"] != test_text or not (b["role"] in ("status", "alert") or
                                                                     b["live"] in ("polite", "assertive"))
                                      or b["lang"] != lang for b in banners):
                    facts_wrong.append(f"{where}: TEST banner not announced in {lang}: {banners}")
    axe_page.goto(site["url"] + "index.html")  # the language chooser
    results = run_axe(axe_page)
    checked += 1
    if results["violations"]:
        failures.append(f"index.html\n{AxeResults(results).generate_report()}")
    types = len(PAGE_TYPES) + len(WIDGET_TYPES)
    with capsys.disabled():  # shown in CI's log, not only on failure
        print(f"\naxe-core {axe_page.evaluate('axe.version')} (WCAG 2.0/2.1 A+AA): {checked} pages checked "
              f"= {len(LANGUAGES)} languages x {types} page types + the language chooser; "
              f"{len(failures)} with violations")
    assert checked == len(LANGUAGES) * types + 1
    assert not failures, "\n\n".join(failures[:6]) + (f"\n... and {len(failures) - 6} more" if len(failures) > 6 else "")
    assert not facts_wrong, "\n".join(facts_wrong[:20])


# --- what axe cannot see ------------------------------------------------------------------------------

@pytest.fixture()
def page(chromium_browser):
    # reduced motion: focus scrolls the page at once (smooth scrolling would move what is measured)
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    page = context.new_page()
    page.problems = Problems(page)
    yield page
    context.close()


FOCUSABLE = """() => [...document.querySelectorAll('a[href], input, summary, button, select, textarea, [tabindex]')]
  .filter(e => e.tabIndex >= 0 && !e.disabled && e.checkVisibility({visibilityProperty: true})
               && !(e.closest('details:not([open])') && e.tagName !== 'SUMMARY'))
  .map(e => e.outerHTML.slice(0, 80))"""

FOCUS_STATE = """() => { const e = document.activeElement; const s = getComputedStyle(e); const r = e.getBoundingClientRect();
  return {html: e.outerHTML.slice(0, 80), tag: e.tagName.toLowerCase(), type: e.type || '',
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          onscreen: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth,
          tabindex: e.getAttribute('tabindex'), rect: [r.left, r.top, r.right, r.bottom].map(Math.round)}; }"""


def tab_through(page, limit: int = 400) -> list[dict]:
    """Press Tab from the top of the page until focus leaves the document or comes back round."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE)
        if state["tag"] == "body" or (seen and state["html"] == seen[0]["html"]):
            break
        seen.append(state)
    return seen


def test_keyboard_only_majority_calculator(page, site: dict) -> None:
    """Every control is reached with Tab in reading order, with a visible focus; the calculator
    works with the keyboard alone and its result is announced (aria-live)."""
    for lang in ("en", "de", "el"):
        page.goto(f"{site['url']}{lang}/index.html")
        order = tab_through(page)
        assert order and "skip" in order[0]["html"], f"{lang}: the first stop is not the skip link: {order[:1]}"
        assert [s["html"] for s in order] == page.evaluate(FOCUSABLE), f"{lang}: tab order is not the reading order"
        hidden = [s["html"] for s in order if not (s["outline"] and s["onscreen"])]
        assert not hidden, f"{lang}: focus not visible on {hidden[:5]}"
        assert not [s for s in order if s["tabindex"] not in (None, "0", "-1")], "positive tabindex breaks the order"
        boxes = [s for s in order if s["type"] == "checkbox"]
        assert len(boxes) == page.locator("table.calc tbody tr").count()
    page.goto(f"{site['url']}en/index.html")
    output = page.locator(".calc-output")
    assert output.get_attribute("aria-live") == "polite"
    seats = [int(x) for x in page.locator("table.calc tbody tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-seats'))")]
    majority = int(page.locator("#calculator").get_attribute("data-majority"))
    assert "No majority" in output.inner_text()
    page.locator("table.calc input").first.focus()
    total, ticked = 0, 0
    while total < majority:
        page.keyboard.press("Space")
        total += seats[ticked]
        ticked += 1
        text = output.inner_text()
        assert f"{total}" in text.replace(",", "").replace("\u00a0", "").replace("\u202f", ""), (total, text)
        assert ("Majority reached" in text) == (total >= majority), text
        if total < majority:
            page.keyboard.press("Tab")
    assert ticked >= 2 and "Majority reached" in output.inner_text()
    page.keyboard.press("Space")  # untick the last: the announcement follows
    assert "No majority" in output.inner_text()
    assert page.locator("table.calc input:checked").count() == ticked - 1
    assert page.problems == [], page.problems


def test_keyboard_only_language_switcher(page, site: dict) -> None:
    page.goto(f"{site['url']}en/country/fr.html")
    summary = page.locator("details.lang summary")
    order = tab_through(page)
    stops = [s["html"] for s in order]
    switcher_at = next(i for i, s in enumerate(stops) if s.startswith("<summary"))
    main_nav_at = next(i for i, s in enumerate(stops) if "comparison.html" in s)
    assert 0 < switcher_at < main_nav_at, "the language switcher comes after the skip link, before the main menu"
    summary.focus()
    assert page.evaluate(FOCUS_STATE)["outline"], "no visible focus on the language switcher"
    page.keyboard.press("Enter")
    assert page.locator("details.lang").evaluate("d => d.open"), "Enter does not open the language switcher"
    names = []
    for _ in range(len(LANGUAGES)):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE)
        assert state["outline"] and state["onscreen"], f"focus not visible in the language list: {state}"
        names.append(page.evaluate("document.activeElement.getAttribute('hreflang')"))
    assert names == list(LANGUAGES), f"the language list is not walked in order: {names}"
    for _ in range(len(LANGUAGES) - 1 - LANGUAGES.index("de")):
        page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.getAttribute('lang')") == "de"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/de/country/fr.html")
    assert page.evaluate("document.documentElement.lang") == "de"


def test_hemicycle_and_charts_have_text_alternatives_and_tables_that_say_the_same(page, site: dict) -> None:
    for lang in ("en", "fi", "mt"):
        page.goto(f"{site['url']}{lang}/index.html")
        hemi = page.evaluate("""() => { const svg = document.querySelector('svg.hemicycle');
          const name = svg.getAttribute('aria-labelledby').split(' ').map(i => document.getElementById(i).textContent).join(' ');
          const table = document.getElementById(svg.getAttribute('aria-describedby'));
          const drawn = {}; svg.querySelectorAll('g.grp').forEach(g => {
            const m = g.querySelector('title').textContent.match(/\\(([^()]+)\\):[^:]*$/); drawn[m[1]] = g.querySelectorAll('use').length; });
          const rows = {}; table.querySelectorAll('tbody tr').forEach(tr => {
            rows[tr.querySelector('th .muted').textContent.replace(/[()]/g, '')] = tr.querySelector('td').textContent; });
          return {role: svg.getAttribute('role'), name, drawn, rows, focusable: svg.getAttribute('focusable')}; }""")
        assert hemi["role"] == "img" and len(hemi["name"]) > 10, hemi
        assert hemi["drawn"] and {g: n for g, n in hemi["drawn"].items()} == \
            {g: int(re.sub(r"\D", "", t)) for g, t in hemi["rows"].items() if int(re.sub(r"\D", "", t) or 0)}, \
            f"{lang}: hemicycle and table disagree: {hemi}"
        page.goto(f"{site['url']}{lang}/history/de.html")
        chart = page.evaluate("""() => { const svg = document.querySelector('svg.history-chart');
          const name = svg.getAttribute('aria-labelledby').split(' ').map(i => document.getElementById(i).textContent).join(' ');
          const table = document.getElementById(svg.getAttribute('aria-describedby'));
          const bars = [...svg.querySelectorAll(':scope > g')].map(g => [g.querySelector('text').textContent,
                         g.querySelector(':scope > text:last-of-type').textContent]);
          const rows = table ? [...table.querySelectorAll('tbody tr')].map(tr => [tr.querySelector('th').textContent.trim(),
                         tr.querySelector('td').textContent.trim()]) : null;
          return {role: svg.getAttribute('role'), name, bars, rows}; }""")
        assert chart["role"] == "img" and len(chart["name"]) > 10, chart
        assert chart["rows"] and sorted(chart["bars"]) == sorted(chart["rows"]), f"{lang}: chart and table differ"


def test_lang_on_names_in_another_language(page, site: dict) -> None:
    """List and party names stay as on the ballot and carry its language (not for mixed-language ballots)."""
    page.goto(f"{site['url']}de/country/fr.html")
    cells = page.locator("table.results tbody th[scope=row]").evaluate_all("c => c.map(e => e.getAttribute('lang'))")
    assert cells and set(cells) == {"fr"}, cells
    page.goto(f"{site['url']}fr/country/de.html")
    assert set(page.locator("table.results tbody th[scope=row]").evaluate_all(
        "c => c.map(e => e.getAttribute('lang'))")) == {"de"}
    page.goto(f"{site['url']}de/country/be.html")  # Dutch, French and German lists: no single language
    assert set(page.locator("table.results tbody th[scope=row]").evaluate_all(
        "c => c.map(e => e.closest('[lang]').getAttribute('lang'))")) == {"de"}
    page.goto(f"{site['url']}el/history/fr.html")
    assert page.locator("section[aria-labelledby^=y] tbody th[lang=fr]").count() > 20
    page.goto(f"{site['url']}en/group/epp.html")
    langs = page.locator("tbody td[lang]").evaluate_all("c => c.map(e => e.getAttribute('lang'))")
    assert {"de", "fr"} <= set(langs), langs
    # the language switcher names each language in itself
    page.goto(f"{site['url']}fi/index.html")
    links = page.locator("details.lang a").evaluate_all("a => a.map(e => [e.getAttribute('lang'), e.hreflang])")
    assert [a for a, _ in links] == list(LANGUAGES) and all(a == b for a, b in links)


REFLOW = """() => ({scroll: document.documentElement.scrollWidth, width: innerWidth,
  wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
      && !e.closest('.table-wrap, details:not([open]), .skip, .sr-only'))
      .slice(0, 5).map(e => e.outerHTML.slice(0, 60))})"""


@pytest.mark.parametrize("width,scale", [(320, 1), (640, 2)], ids=["320px", "zoom-200pc"])
def test_reflow_without_horizontal_scrolling(chromium_browser, site: dict, width: int, scale: int) -> None:
    """WCAG 1.4.10: at 320 CSS px (and at 200 % zoom of a 1280 px window: 640 CSS px at scale 2)
    no page scrolls sideways; data tables may scroll inside their own box."""
    context = chromium_browser.new_context(viewport={"width": width, "height": 800}, device_scale_factor=scale)
    context.add_init_script(AXE_SCRIPT)
    page = context.new_page()
    wrong = {}
    try:
        for lang in ("en", "de", "fi", "el", "ga"):
            for kind, url in page_urls(site, lang).items():
                page.goto(url)
                if kind.startswith("widget"):
                    page.wait_for_timeout(300)
                state = page.evaluate(REFLOW)
                # what scrolls inside its own box (wide tables) must be reachable with the keyboard
                state["axe"] = [v["id"] for v in page.evaluate(
                    "() => axe.run(document, {runOnly: ['scrollable-region-focusable'], iframes: false})")["violations"]]
                if state["scroll"] > width or state["wide"] or state["axe"]:
                    wrong[f"{lang} {kind}"] = state
    finally:
        context.close()
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())


def test_prefers_reduced_motion_is_respected(chromium_browser, site: dict) -> None:
    motion = """() => ({scroll: getComputedStyle(document.documentElement).scrollBehavior,
      animations: document.getAnimations().length,
      moving: [...document.querySelectorAll('*')].filter(e => { const s = getComputedStyle(e);
        return s.animationName !== 'none' || s.transitionDuration.split(',').some(d => parseFloat(d) > 0); }).length})"""
    seen = {}
    for preference in ("reduce", "no-preference"):
        context = chromium_browser.new_context(reduced_motion=preference)
        page = context.new_page()
        for lang, rel in (("en", "index.html"), ("de", "country/fr.html"), ("el", "history/index.html")):
            page.goto(f"{site['url']}{lang}/{rel}")
            page.locator("a.skip").focus()
            page.keyboard.press("Enter")  # in-page navigation, smooth only without a preference
            seen[(preference, rel)] = page.evaluate(motion)
        context.close()
    for rel in ("index.html", "country/fr.html", "history/index.html"):
        assert seen[("reduce", rel)] == {"scroll": "auto", "animations": 0, "moving": 0}, seen[("reduce", rel)]
        assert seen[("no-preference", rel)]["scroll"] == "smooth", "the emulation did not take effect"


def test_weight_budget_of_every_page_type(chromium_browser, site: dict, capsys) -> None:
    """Each page with everything the browser loads for it (HTML, CSS, scripts, JSON, frames), gzipped
    as the server sends it (docker/nginx: gzip on for every type), stays within 100 KB."""
    weights = {}
    for lang in ("en", "el"):
        for kind, url in page_urls(site, lang).items():
            context = chromium_browser.new_context()  # a cold cache
            page = context.new_page()
            responses = []
            page.on("response", lambda response: responses.append(response))
            page.goto(url, wait_until="networkidle" if kind.startswith("widget") else "load")
            sizes = {r.url: len(gzip.compress(r.body(), 6)) for r in responses if r.status == 200}
            context.close()
            assert sizes and (not kind.startswith("widget") or any(u.endswith(".json") for u in sizes)), sizes
            weights[f"{lang} {kind}"] = sum(sizes.values())
    heaviest = max(weights, key=weights.get)
    with capsys.disabled():
        print(f"\nheaviest page: {heaviest}, {weights[heaviest] / 1024:.1f} KB gzipped (budget {BUDGET // 1024} KB)")
    assert all(w <= BUDGET for w in weights.values()), {k: w for k, w in weights.items() if w > BUDGET}


def test_results_are_readable_without_javascript(chromium_browser, site: dict) -> None:
    context = chromium_browser.new_context(java_script_enabled=False)
    page = context.new_page()
    bundle = site["bundle"]
    try:
        page.goto(f"{site['url']}en/index.html")
        groups = page.locator("#groups-table tbody tr")
        assert groups.count() == len(bundle["eu"]["groups"]) and groups.first.is_visible()
        calc = page.locator("table.calc tbody tr")
        assert calc.count() == len(bundle["eu"]["groups"]) and "Majority reached" in page.locator("table.calc").inner_text()
        assert page.locator("table.calc input").count() == 0  # the script's checkboxes: not there, not needed
        assert page.locator("svg.hemicycle use").count() == bundle["eu"]["seats_allocated"] > 376
        page.goto(f"{site['url']}en/country/fr.html")
        france = next(c for c in bundle["countries"] if c["code"] == "FR")
        assert page.locator("table.results tbody tr").count() == len(france["lists"])
        assert page.locator("table.results").is_visible()
        page.goto(f"{site['url']}en/history/de.html")
        assert page.locator("table tbody tr").count() > 10
        page.goto(f"{site['url']}widget/embed.html?view=eu&lang=en")
        link = page.locator("noscript a, #enr a")
        assert link.count() == 1 and link.get_attribute("href") == "../index.html"
    finally:
        context.close()


# --- the statement ------------------------------------------------------------------------------------

def test_statement_in_24_languages_and_docs_match(site: dict) -> None:
    assert (ROOT / "docs" / "ACCESSIBILITY.md").read_text(encoding="utf-8") == accessibility.markdown(), \
        "docs/ACCESSIBILITY.md is generated: python -c 'from publish.accessibility import markdown; print(markdown(), end=\"\")'"
    headings = ("Compliance status", "Non-accessible content", "Preparation of this accessibility statement",
                "Feedback and contact information", "Enforcement procedure")
    for lang in LANGUAGES:
        html = (site["folder"] / lang / "accessibility.html").read_text(encoding="utf-8")
        title = Formatter(lang).gettext("Accessibility statement")
        assert f"<h1>{title}</h1>" in html and f'<html lang="{lang}"' in html
        assert lang == "en" or title != "Accessibility statement", f"{lang}: the title is not translated"
        for heading in headings:  # translated, so not marked as English (test_accessibility_statement.py)
            assert f"<h2>{Formatter(lang).gettext(heading)}</h2>" in html, (lang, heading)
        assert accessibility.prepared_text(lang) in html  # the date in the language of its sentence
        assert "2.1" in html and "EN 301 549" in html
