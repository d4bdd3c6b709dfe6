"""The result types and the EU projection as readers see them: the hemicycle draws projected seats
distinctly from counted ones (shape outline + legend words, not colour alone), the EU page labels
each figure with its type and time, in every language."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from publish import hemicycle
from publish.site import render_site
from tests.support.publish_fixtures import build_bundle, check_page, scratch_dir


def test_projected_seats_are_dashed_outlines_in_their_own_titled_group():
    groups = [{"key": "epp", "label": "EPP: 10", "projected_label": "EPP projected: 4", "color": "#3399FF",
               "seats": 10, "projected": 4, "shape": "circle"},
              {"key": "sd", "label": "S&D: 5", "color": "#FF0000", "seats": 5, "shape": "square"}]
    svg = hemicycle.render_svg(groups, 20, 11, "Hemicycle", "Majority: 11 of 20 seats", id_prefix="p-")
    filled = re.findall(r'<g fill="#3399FF"[^>]*class="grp"><title>EPP: 10</title>(.*?)</g>', svg)
    outlined = re.findall(r'<g fill="none" stroke="#3399FF"[^>]*stroke-dasharray="[^"]+" class="grp projected">'
                          r'<title>EPP projected: 4</title>(.*?)</g>', svg)
    assert len(filled) == 1 and filled[0].count("<use ") == 6
    assert len(outlined) == 1 and outlined[0].count("<use ") == 4
    assert svg.count('class="grp projected"') == 1  # S&D has no projected seats: no outline group of its own
    assert 'id="p-hemi-title"' in svg and 'aria-labelledby="p-hemi-title p-hemi-majority"' in svg
    # 15 seats drawn, 5 empty seats as grey circles: 20 places in all
    assert svg.count("<use ") == 15 and len(re.findall(r"<circle cx=", svg)) == 5


def test_the_legend_icon_of_a_projected_seat_is_an_outline():
    assert 'fill="none"' in hemicycle.legend_icon("square", "#3399FF", projected=True)
    assert 'stroke-dasharray' in hemicycle.legend_icon("square", "#3399FF", projected=True)
    assert 'fill="#3399FF"' in hemicycle.legend_icon("square", "#3399FF")


def _with_projection(version: str) -> dict:
    bundle = build_bundle(version, only={"AT", "DK", "MT"}, statuses={"AT": "estimate", "DK": "provisional",
                                                                      "MT": "final"}, hostile_name=False)
    at = next(c for c in bundle["countries"] if c["code"] == "AT")
    at["units_reporting"] = 0
    epp = {g["id"]: g for g in bundle["eu"]["groups"]}.get("EPP")
    assert epp is not None and epp["by_country"].get("AT")
    epp["by_status"] = {"estimate": epp["by_country"]["AT"], "final": epp["seats"] - epp["by_country"]["AT"]}
    bundle["eu"]["as_of"] = "2019-05-26T18:40:00+00:00"
    bundle["projection"] = {
        "type": "projection", "as_of": "2019-05-26T18:35:00+00:00", "from": "2019-05-26T20:15:00+02:00",
        "seats_total": 751, "majority": 376, "seats_projected": 751, "seats_unprojected": 0,
        "groups": [{"id": "EPP", "seats": 200, "by_basis": {"count": 9, "estimate": 7, "outgoing": 184}},
                   {"id": "S&D", "seats": 551, "by_basis": {"count": 8, "outgoing": 543}}],
        "countries": {}, "countries_by_basis": {"count": ["DK", "MT"], "estimate": ["AT"], "outgoing": ["FR"],
                                                "none": []}}
    return bundle


@pytest.fixture(scope="module")
def site() -> Path:
    out = scratch_dir("enrproj-")
    render_site(_with_projection("v0001"), out, languages=["en", "de", "el"])
    return out


def test_the_eu_page_labels_the_projection_and_the_counted_figures(site):
    page = (site / "en" / "index.html").read_text()
    section = page.split('<section aria-labelledby="projection" class="projection">')[1].split("</section>")[0]
    assert '<span class="status status-projection">Projection</span>' in section
    assert '<time datetime="2019-05-26T18:35:00Z">' in section or 'datetime="2019-05-26T18:35:00' in section
    assert "Dashed outline: projected seats (national estimate or outgoing Parliament)" in section
    row = re.search(r"<tr><th scope=\"row\">.*?\(EPP\)</span></th>(.*?)</tr>", section.split("<tbody>")[1], re.S)
    assert re.findall(r'<td class="num">([^<]*)</td>', row.group(1)) == ["200", "9", "7", "184"]
    assert "<strong>National estimate</strong> (1): Austria" in section
    assert "<strong>Outgoing Parliament</strong> (1): France" in section
    svg = re.search(r'<svg class="hemicycle".*?</svg>', section, re.S).group(0)
    assert 'aria-describedby="projection-table"' in svg
    assert sum(g.count("<use ") for g in re.findall(r'class="grp projected">(.*?)</g>', svg)) == 751 - 17
    # the counted figures: their type and time; AT's estimated seats outlined in the counted hemicycle
    groups = page.split('<section aria-labelledby="groups">')[1].split("</section>")[0]
    assert "Result type: Counted results and national estimates" in groups
    assert 'datetime="2019-05-26T18:40:00' in groups
    counted_svg = re.search(r'<svg class="hemicycle".*?</svg>', groups, re.S).group(0)
    assert counted_svg.count('class="grp projected"') == 1
    assert len(re.findall(r'id="hemi-title"', page)) == 1 and len(re.findall(r'id="proj-hemi-title"', page)) == 1
    assert check_page(site / "en" / "index.html").result() == []


@pytest.mark.parametrize("lang, words", [("de", ["EU-Projektion", "Ausgezählte Ergebnisse und nationale Schätzungen"]),
                                         ("el", ["Προβολή ΕΕ", "Απερχόμενο Κοινοβούλιο"])])
def test_the_labels_are_translated(site, lang, words):
    page = (site / lang / "index.html").read_text()
    for word in words:
        assert word in page


def test_the_feeds_carry_the_type_and_time_of_every_figure(site):
    import csv
    import io
    import json

    with (site / "data" / "projection.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["type"], r["group"], r["seats"], r["counted"], r["estimate"], r["outgoing"]) for r in rows] == \
        [("projection", "S&D", "551", "8", "0", "543"), ("projection", "EPP", "200", "9", "7", "184")]
    assert {r["as_of"] for r in rows} == {"2019-05-26T18:35:00+00:00"}
    projection = json.loads((site / "data" / "projection.json").read_text())
    assert projection["type"] == "projection" and projection["as_of"] == "2019-05-26T18:35:00+00:00"
    eu = json.loads((site / "data" / "eu.json").read_text())
    assert eu["as_of"] == "2019-05-26T18:40:00+00:00" and eu["estimated"] is True
    assert eu["projection"]["type"] == "projection"
    epp = next(r for r in csv.DictReader(io.StringIO((site / "data" / "eu.csv").read_text())) if r["group"] == "EPP")
    assert epp["as_of"] == "2019-05-26T18:40:00+00:00" and epp["seats_by_type"].startswith("estimate:")
    country = json.loads((site / "data" / "countries" / "at.json").read_text())
    assert country["country"]["status"] == "estimate" and country["country"]["as_of"]
    widget = json.loads((site / "widget" / "i18n" / "de.json").read_text())
    assert widget["s"]["type_mixed"] == "Ausgezählte Ergebnisse und nationale Schätzungen"


def test_no_projection_feed_without_a_projection():
    out = scratch_dir("enrproj0-")
    render_site(build_bundle("v0002", only={"MT"}, hostile_name=False), out, languages=["en"])
    assert not (out / "data" / "projection.json").exists()
    page = (out / "en" / "index.html").read_text()
    assert 'aria-labelledby="projection"' not in page and "Result type: Counted results ·" in page


def test_the_nist_report_says_on_what_the_eu_seats_rest(site):
    import json

    report = json.loads((site / "data" / "nist-v2.json").read_text())
    contest = next(c for e in report["Election"] for c in e["Contest"] if c["@id"] == "contest-eu-groups")
    ids = {x["OtherType"]: x["Value"] for x in contest["ExternalIdentifier"]}
    assert ids == {"enr-as-of": "2019-05-26T18:40:00Z", "enr-status": "estimate,final"}


def test_axe_finds_no_violation_on_the_eu_page_with_a_projection(site, chromium_browser):
    """WCAG 2.1 AA (axe-core) on the EU page carrying both hemicycles, in English and Greek."""
    from axe_playwright_python.base import AXE_SCRIPT

    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(AXE_SCRIPT)
    page = context.new_page()
    try:
        for lang in ("en", "el"):
            page.goto((site / lang / "index.html").as_uri())
            assert page.locator("section.projection svg.hemicycle").count() == 1
            result = page.evaluate("(options) => axe.run(document, options)", {
                "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                "resultTypes": ["violations"]})
            assert [v["id"] for v in result["violations"]] == [], (lang, result["violations"])
    finally:
        context.close()
