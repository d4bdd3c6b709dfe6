"""The media widget: size budget, self-contained demo page, and a smoke run of its code under node."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.publish_fixtures import check_page, rendered_site
from publish.widget import iframe_snippet, script_snippet

WIDGET_BUDGET = 15 * 1024


@pytest.fixture(scope="module")
def site() -> Path:
    return rendered_site()


def test_widget_is_under_15_kb_gzipped(site: Path) -> None:
    code = (site / "widget" / "widget.js").read_bytes() + (site / "widget" / "embed.html").read_bytes()
    size = len(gzip.compress(code, compresslevel=9))
    assert size < WIDGET_BUDGET, f"widget is {size} bytes gzipped"
    labels = (site / "widget" / "i18n" / "el.json").read_bytes()
    assert len(gzip.compress(labels)) < 4 * 1024
    assert "http://" not in code.decode().replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in code.decode()


def test_demo_page_embeds_like_a_foreign_page(site: Path) -> None:
    checker = check_page(site / "widget" / "demo.html")
    assert checker.result() == []
    assert all(not u.startswith(("http:", "https:", "//")) for u in checker.urls)
    demo = (site / "widget" / "demo.html").read_text()
    assert 'src="widget.js" data-enr-view="eu"' in demo and "<iframe data-enr-widget" in demo
    assert check_page(site / "widget" / "embed.html").result() == []


def test_snippets_are_escaped() -> None:
    snippet = script_snippet("https://results.example/public/", "ep2019", "v0003", "de", "country", "FR")
    assert snippet == ('<script src="https://results.example/public/ep2019/v0003/widget/widget.js" '
                       'data-enr-view="country" data-enr-country="FR" data-enr-lang="de" async></script>')
    assert "&amp;lang=el" in iframe_snippet("https://r.example/", "ep2019", "v0003", "el", "country", "EL")


def test_widget_labels_are_translated(site: Path) -> None:
    labels = json.loads((site / "widget" / "i18n" / "de.json").read_text())
    assert labels["s"]["title_eu"] == "Sitze nach Fraktionen"
    assert labels["g"]["EPP"].startswith("Fraktion der Europäischen Volkspartei")
    assert labels["c"]["EL"] == "Griechenland" and labels["st"]["provisional"] == "Vorläufig"


HARNESS = r"""
const fs = require('fs'), path = require('path'), vm = require('vm');
const [root, mode, view, country, lang, pointer] = process.argv.slice(2);
const BASE = 'https://results.example/public/ep2019/';
function resolve(url) {
  const p = new URL(url).pathname;
  if (!p.startsWith('/public/ep2019/')) return null;
  const rel = p.slice('/public/ep2019/'.length);
  if (rel === 'current.json') return pointer === 'yes' ? JSON.stringify({version: 'v0003'}) : null;
  if (!rel.startsWith('v0003/')) return null;
  const file = path.join(root, rel.slice(6));
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
}
class El {
  constructor(tag) { this.tagName = tag; this.children = []; this.attrs = {}; this.style = {}; this._t = ''; this.parentNode = null; }
  appendChild(c) { if (c.parentNode) c.parentNode.removeChild(c); c.parentNode = this; this.children.push(c); return c; }
  insertBefore(c, ref) { if (c.parentNode) c.parentNode.removeChild(c); c.parentNode = this;
    const i = ref ? this.children.indexOf(ref) : -1; if (i < 0) this.children.push(c); else this.children.splice(i, 0, c); return c; }
  removeChild(c) { const i = this.children.indexOf(c); if (i >= 0) this.children.splice(i, 1); c.parentNode = null; return c; }
  get firstChild() { return this.children[0] || null; }
  get nextSibling() { if (!this.parentNode) return null; const s = this.parentNode.children; return s[s.indexOf(this) + 1] || null; }
  set textContent(t) { this.children = []; this._t = String(t); }
  get textContent() { return this._t + this.children.map(c => c.textContent).join(' '); }
  setAttribute(k, v) { this.attrs[k] = String(v); } getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; }
  hasAttribute(k) { return k in this.attrs; }
  set className(v) { this.attrs['class'] = v; } get className() { return this.attrs['class'] || ''; }
  attachShadow() { this.shadow = new El('#shadow'); return this.shadow; }
}
const body = new El('body');
const html = new El('html'); html.lang = 'en'; html.getBoundingClientRect = () => ({height: 321});
const script = new El('script');
script.src = BASE + 'v0003/widget/' + (mode === 'iframe' ? 'widget.js' : 'widget.js');
if (mode === 'iframe') script.setAttribute('data-enr-mode', 'iframe');
else { script.setAttribute('data-enr-view', view); script.setAttribute('data-enr-country', country); script.setAttribute('data-enr-lang', lang); }
body.appendChild(script);
const posted = [];
global.window = global;
global.parent = {postMessage: (m) => posted.push(m)};
global.addEventListener = () => {};
global.location = {search: '?view=' + view + '&country=' + country + '&lang=' + lang};
global.document = {createElement: t => new El(t), createElementNS: (ns, t) => new El(t),
  createTextNode: t => { const e = new El('#text'); e._t = String(t); return e; },
  documentElement: html, body, hidden: false, currentScript: script,
  getElementById: () => null, querySelectorAll: () => []};
global.XMLHttpRequest = class { open(m, u) { this.url = u; } send() { setImmediate(() => {
  const b = resolve(this.url); this.status = b === null ? 404 : 200; this.responseText = b || ''; this.onload(); }); } };
const realTimeout = setTimeout;
global.setTimeout = (f, ms) => (ms >= 1000 ? 0 : realTimeout(f, ms));
vm.runInThisContext(fs.readFileSync(path.join(root, 'widget', 'widget.js'), 'utf8'));
realTimeout(() => {
  const host = mode === 'iframe' ? body : (body.children[1].shadow || body.children[1]);
  process.stdout.write(JSON.stringify({text: host.textContent, posted, lang: html.lang}));
}, 200);
"""


def run_widget(site: Path, tmp_path: Path, *args: str) -> dict:
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    result = subprocess.run(["node", str(harness), str(site), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the widget's JavaScript")
def test_widget_renders_eu_seats_in_german_following_the_pointer(site: Path, tmp_path: Path) -> None:
    out = run_widget(site, tmp_path, "script", "eu", "", "de", "yes")
    text = " ".join(out["text"].replace("\u00a0", " ").replace("\u202f", " ").split())
    assert "Sitze nach Fraktionen" in text and "Fraktion der Europäischen Volkspartei" in text
    assert "186" in text and "24,77 %" in text
    assert "Mehrheit: 376 von 751 Sitzen" in text
    assert "Noch nicht alle Ergebnisse sind endgültig" in text  # IT/UK/IE/MT are not final
    assert "v0003" in text


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the widget's JavaScript")
def test_widget_iframe_mode_country_in_greek_posts_its_height(site: Path, tmp_path: Path) -> None:
    out = run_widget(site, tmp_path, "iframe", "country", "EL", "el", "no")  # no pointer: its own version
    assert out["lang"] == "el"
    assert "Ελλάδα" in out["text"] and "Οριστικό" in out["text"]
    assert out["posted"] and out["posted"][-1] == {"type": "enr-widget-height", "height": 321}
