"""The reuse rule of incremental rendering: a page is copied only when everything it shows is the same.

Each test renders a small version (3 countries, 2 languages) with its fingerprints, changes one kind
of input, renders the next version incrementally and checks which country pages were rendered again
(a reused page is a hard link to the previous version's file: same inode) and that the incremental
bytes are those of a full render. The country page's turnout chart is fingerprinted by its inputs
and drawn only when the page is rendered (issue 16): each of those inputs is changed here.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from support.publish_fixtures import build_bundle

LANGS = ["en", "de"]
CODES = ("at", "dk", "si")


def _first() -> dict:
    bundle = build_bundle("v0003", only={"AT", "DK", "SI"}, hostile_name=False)
    for country in bundle["countries"]:
        country["since_version"], country["since_generated_at"] = "v0003", bundle["generated_at"]
    return bundle


def _next(bundle: dict, *changed: str) -> dict:
    new = copy.deepcopy(bundle)
    new["version"], new["generated_at"] = "v0004", "2019-05-26T22:30:00+00:00"
    for country in new["countries"]:
        if country["code"] in changed:
            country["since_version"], country["since_generated_at"] = "v0004", new["generated_at"]
    return new


def _country(bundle: dict, code: str) -> dict:
    return next(c for c in bundle["countries"] if c["code"] == code)


def _rerendered(tmp_path: Path, first: dict, second: dict) -> set[str]:
    """Render both versions (the second incrementally) and a full render of the second; return the
    country pages rendered again, after checking the incremental bytes against the full render."""
    from publish.site import Reuse, render_site

    prints: dict = {}
    render_site(first, tmp_path / "v0003", languages=LANGS, fingerprints=prints)
    render_site(second, tmp_path / "v0004", languages=LANGS, reuse=Reuse(tmp_path / "v0003", prints))
    render_site(second, tmp_path / "full", languages=LANGS)
    full_files = sorted(p.relative_to(tmp_path / "full") for p in (tmp_path / "full").rglob("*") if p.is_file())
    assert full_files == sorted(p.relative_to(tmp_path / "v0004") for p in (tmp_path / "v0004").rglob("*")
                                if p.is_file())
    differing = [rel for rel in full_files if (tmp_path / "v0004" / rel).read_bytes() != (tmp_path / "full" / rel).read_bytes()]
    assert not differing, differing[:5]  # every file, cards and EU-wide pages included
    again = set()
    for lang in LANGS:
        for code in CODES:
            rel = f"{lang}/country/{code}.html"
            new, old, full = (tmp_path / v / rel for v in ("v0004", "v0003", "full"))
            assert new.read_bytes() == full.read_bytes(), rel
            if os.stat(new).st_ino != os.stat(old).st_ino:
                again.add(rel)
    return again


def _pages(*codes: str) -> set[str]:
    return {f"{lang}/country/{code}.html" for lang in LANGS for code in codes}


def test_nothing_changed_for_a_country_reuses_its_page(tmp_path):
    first = _first()
    assert _rerendered(tmp_path, first, _next(first)) == set()


def test_a_country_figures_rerender_its_page_only(tmp_path):
    first = _first()
    second = _next(first, "DK")
    dk = _country(second, "DK")
    dk["voters"] += 1000  # the turnout shown in the table and drawn in the chart
    assert _rerendered(tmp_path, first, second) == _pages("dk")
    assert (tmp_path / "v0004/en/country/dk.html").read_bytes() != (tmp_path / "v0003/en/country/dk.html").read_bytes()


def test_a_country_turnout_history_rerenders_its_page(tmp_path):
    """Only the chart shows the country's past turnout: the deferred chart's inputs must see it."""
    first = _first()
    second = _next(first)
    history = _country(second, "DK")["previous"]["turnout_history"]
    history[0]["turnout_pct"] = "12.34"
    assert _rerendered(tmp_path, first, second) == _pages("dk")
    assert "12.3" in (tmp_path / "v0004/en/country/dk.html").read_text(encoding="utf-8")


def test_the_eu_turnout_history_rerenders_every_country_page(tmp_path):
    """The EU's past elections are drawn on each country's chart (the previous-term comparison)."""
    first = _first()
    second = _next(first)
    second["eu"]["previous"]["turnout_history"][-1]["turnout_pct"] = "40.01"
    assert _rerendered(tmp_path, first, second) == _pages(*CODES)


def test_a_list_label_rerenders_its_country_page(tmp_path):
    first = _first()
    second = _next(first)
    _country(second, "SI")["lists"][0]["list_name"] = "Renamed list"
    assert _rerendered(tmp_path, first, second) == _pages("si")


def test_a_group_colour_rerenders_every_country_page(tmp_path):
    """The election's groups (colours, shapes) are drawn on the pages of every country with seats in them."""
    first = _first()
    second = _next(first)
    for group in second["election"]["groups"]:
        group["color"] = "#123456"
    assert _rerendered(tmp_path, first, second) == _pages(*CODES)


def test_a_template_or_catalog_change_rerenders_everything(tmp_path, monkeypatch):
    """The sources' digest (templates, catalogs, renderer code) enters every fingerprint."""
    from publish import site
    from publish.site import Reuse, render_site

    first = _first()
    prints: dict = {}
    render_site(first, tmp_path / "v0003", languages=LANGS, fingerprints=prints)
    monkeypatch.setattr(site, "_sources_digest", lambda: "another template")
    render_site(_next(first), tmp_path / "v0004", languages=LANGS, reuse=Reuse(tmp_path / "v0003", prints))
    for rel in _pages(*CODES):
        assert os.stat(tmp_path / "v0004" / rel).st_ino != os.stat(tmp_path / "v0003" / rel).st_ino


@pytest.mark.parametrize("lang", LANGS)
def test_the_chart_is_on_a_rendered_page(tmp_path, lang):
    """The deferred chart is drawn into the page when it is rendered (not left out)."""
    from publish.site import render_site

    render_site(_first(), tmp_path / "v", languages=[lang])
    assert 'id="turnout-since"' in (tmp_path / "v" / lang / "country" / "dk.html").read_text(encoding="utf-8")


def test_only_the_changed_country_view_and_card_are_built(tmp_path, monkeypatch):
    """A reused country page or card is fingerprinted from its inputs: its lists and counts are not
    formatted and its card context is not built (issue 16); the changed country's are, in each language."""
    from publish import cards, site

    built, card_contexts = [], []
    details, country_card = site._country_details, cards.country_card

    def counting_details(site_, fmt, country):
        built.append((fmt.lang, country["code"]))
        return details(site_, fmt, country)

    def counting_card(fmt, **values):
        card_contexts.append((fmt.lang, values["country"]["code"]))
        return country_card(fmt, **values)

    first = _first()
    second = _next(first, "DK")
    _country(second, "DK")["voters"] += 1000
    prints: dict = {}
    site.render_site(first, tmp_path / "v0003", languages=LANGS, fingerprints=prints)
    monkeypatch.setattr(site, "_country_details", counting_details)
    monkeypatch.setattr(cards, "country_card", counting_card)
    site.render_site(second, tmp_path / "v0004", languages=LANGS, reuse=site.Reuse(tmp_path / "v0003", prints))
    assert sorted(built) == sorted(card_contexts) == [("de", "DK"), ("en", "DK")]
    for lang in LANGS:
        for code in CODES:
            rel = cards.card_path(lang, code)
            same = os.stat(tmp_path / "v0004" / rel).st_ino == os.stat(tmp_path / "v0003" / rel).st_ino
            assert same == (code != "dk"), rel


def test_a_group_name_rerenders_the_country_pages_that_show_it(tmp_path):
    """A group's name is shown in the lists of every country with a list in it: a renamed group
    (the election definition) re-renders those countries' pages, not only the EU-wide ones."""
    first = _first()
    second = _next(first)
    gid = next(e["ep_group"] for e in _country(second, "AT")["lists"] if e.get("ep_group"))
    for group in second["election"]["groups"]:
        if group["id"] == gid:
            group["name"] = "Renamed group"
    shown = {c["code"].lower() for c in second["countries"] if any(e.get("ep_group") == gid for e in c["lists"])}
    assert "at" in shown
    assert _pages(*shown) <= _rerendered(tmp_path, first, second)
