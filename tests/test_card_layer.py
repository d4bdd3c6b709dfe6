"""A card's language layer is drawn directly with cairo (publish/cards.py ``_draw_layer``): the
same pixels, byte for byte, as CairoSVG drawing the same SVG, in every script; anything else in
the document goes to CairoSVG."""
from __future__ import annotations

import pytest

from publish import cards
from tests.support.publish_fixtures import build_bundle, cyprus_card

LANGS = ["en", "el", "bg", "de", "pl", "mt", "ga", "hu"]


def _queued_cards(tmp_path, monkeypatch) -> list[tuple[str, dict]]:
    from publish.site import render_site

    monkeypatch.setenv("ENR_CARD_CACHE", "")
    monkeypatch.setenv("ENR_RENDER_PROCESSES", "1")  # every card queued in this process's painter
    monkeypatch.setattr(cards, "default_helpers", lambda: 0)
    jobs: list = []
    real_close = cards.Painter.close

    def close(painter):
        jobs.extend(painter._jobs)
        return real_close(painter)

    monkeypatch.setattr(cards.Painter, "close", close)
    render_site(build_bundle(test=True, only={"EL", "BG", "MT", "DE", "IE"}), tmp_path / "v0001", languages=LANGS)
    return jobs


def test_the_layer_drawn_directly_is_byte_for_byte_what_cairosvg_draws(tmp_path, monkeypatch):
    jobs = _queued_cards(tmp_path, monkeypatch)
    long_name = {**jobs[0][1], "headline": "Ευρωπαϊκές εκλογές — ένα πολύ μεγάλο όνομα " * 3, "test": True,
                 "lines": ["  spaces\tand\ttabs  ", "Bulgarian: Европейски парламент", "& <b>not markup</b>"]}
    jobs.append(("extra.png", long_name))
    assert len(jobs) >= 6 * len(LANGS)
    painter = cards.Painter(lambda *_: None, cache=None, helpers=0)
    real = cards._layer_items
    for path, card in jobs:
        svg = cards.compose_svg(card)
        assert real(svg) is not None, path  # the template's layer takes the direct path
        direct = cards._png(cards.draw(svg, under=painter.panel(card)))
        monkeypatch.setattr(cards, "_layer_items", lambda _svg: None)
        by_cairosvg = cards._png(cards.draw(svg, under=painter.panel(card)))
        monkeypatch.setattr(cards, "_layer_items", real)
        assert direct == by_cairosvg, path


@pytest.mark.parametrize("svg", [
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630" font-family="DejaVu Sans">'
    '<circle cx="5" cy="5" r="3" fill="#000000"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630" font-family="DejaVu Sans">'
    '<text x="1" y="2" font-size="3" fill="red">x</text></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630" font-family="DejaVu Sans">'
    '<text x="1" y="2" font-size="3em" fill="#000000">x</text></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630" font-family="DejaVu Sans">'
    '<text x="1" y="2" font-size="3" fill="#000000">x<tspan>y</tspan></text></svg>',
    '<!DOCTYPE svg [<!ENTITY a "x">]><svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" '
    'viewBox="0 0 1200 630" font-family="DejaVu Sans"><text x="1" y="2" font-size="3" fill="#000000">&a;</text></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="630" viewBox="0 0 1200 630" font-family="DejaVu Sans">'
    '</svg>',
    "not xml at all <",
])
def test_anything_but_the_plain_layer_goes_to_cairosvg(svg):
    assert cards._layer_items(svg) is None


def test_the_panel_goes_to_cairosvg():
    card = cyprus_card("en")
    assert cards._layer_items(cards.panel_svg(card)) is None
    assert cards._layer_items(cards.compose_svg(card)) is not None


def _every_marker_card(card: dict) -> dict:
    """An EU-sized panel with all ten marker shapes, counted and projected seats and empty seats."""
    from publish import hemicycle

    groups = [{"key": f"g{i}", "id": f"G{i}", "label": f"Group {i}", "color": f"#{(i * 0x1a2b3c) & 0xFFFFFF:06x}",
               "seats": 70, "shape": hemicycle.shape_of(i), "projected": 9 * (i % 3)} for i in range(10)]
    return {**card, "hemicycle": {**card["hemicycle"], "groups": groups, "total": 751, "majority": 376}}


def test_the_panel_with_markers_in_place_draws_what_the_site_svg_with_use_draws(tmp_path, monkeypatch):
    from publish import hemicycle

    jobs = _queued_cards(tmp_path, monkeypatch)
    panels = {cards._panel_key(card): card for _, card in jobs}
    panels["every-marker"] = _every_marker_card(jobs[0][1])
    assert any(card["hemicycle"]["total"] >= 700 for card in panels.values())
    real = hemicycle.render_svg
    for key, card in panels.items():
        svg = cards._panel_svg(card)
        if card["hemicycle"]["total"]:
            assert "<use " not in svg and 'transform="translate(' in svg, key
        monkeypatch.setattr(hemicycle, "render_svg", lambda *a, **kw: real(*a, **{**kw, "inline_markers": False}))
        with_use = cards._panel_svg(card)
        monkeypatch.setattr(hemicycle, "render_svg", real)
        if card["hemicycle"]["total"]:
            assert with_use.count("<use ") == sum(g["seats"] for g in card["hemicycle"]["groups"]), key
        assert cards._png(cards.draw(svg)) == cards._png(cards.draw(with_use)), key
