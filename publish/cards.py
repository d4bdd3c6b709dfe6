"""Social cards: the Open Graph / Twitter card image of the EU page and of each country page.

A card is a PNG of 1200 x 630 pixels (the size Facebook, LinkedIn, Mastodon and X crop to for a
large preview) per page and per language::

    cards/<lang>/eu.png             the EU page's card
    cards/<lang>/<cc>.png           each country page's card

It is drawn from the same SVG as the site: the hemicycle of :func:`publish.hemicycle.render_svg`
(the whole Parliament by political group on the EU card; the country's seats, list by list in its
groups' colours and marker shapes, on a country card), beside the title, the leading groups or
lists with their seats, the result's stage and data time and, for a rehearsal, the TEST banner.
Everything is composed as SVG (``templates/card*.svg.j2``, autoescaped: list names reach it only
as text) and rasterised by CairoSVG (the system's libcairo2), in two layers: the hemicycle and the
rows of seats do not depend on the language, so that *panel* (``card-panel.svg.j2``) is drawn once
per render and each language's text (``card.svg.j2``) is drawn over a copy of it. A card then
costs its few lines of text and its PNG encoding (~15-18 ms of CPU) instead of ~200 ms for the
EU's 751 markers drawn again in every language; a full render of 29 pages x 24 languages draws
696 cards (~12 s of CPU, shared with one helper process on a machine with two CPUs or more, see
:class:`Painter`), an incremental one only those whose context changed.

Text is drawn in one named font family, :data:`FONT_FAMILY` (DejaVu Sans: Latin with every
diacritic of the 24 languages, Greek and Cyrillic), measured with the same cairo font so long
titles shrink and long list names are cut with an ellipsis instead of running off the card.

The card files are part of the version folder: the manifest lists them and ``enr verify`` checks
them like any page. Pages point to them with absolute URLs (``og:image`` must be absolute), built
from the public base URL (``ENR_PUBLIC_BASE_URL``, the URL of the bucket's ``public/`` root);
without it the pages carry the title and description tags but no image tag.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from publish import hemicycle
from publish.files import write_new
from publish.i18n import Formatter
from publish.parallel import usable_cpus
from publish.template_cache import environment

log = logging.getLogger(__name__)

WIDTH = 1200
HEIGHT = 630
FONT_FAMILY = "DejaVu Sans"
TEMPLATE = "card.svg.j2"
PANEL_TEMPLATE = "card-panel.svg.j2"
TEMPLATES = Path(__file__).resolve().parent / "templates"
FOLDER = "cards"
# The hemicycle's place on the card (its viewBox is 400 x 226: kept at that aspect ratio).
HEMI_X, HEMI_Y, HEMI_WIDTH = 40, 172, 600
HEMI_HEIGHT = round(HEMI_WIDTH * hemicycle.HEIGHT / hemicycle.WIDTH)
ROWS = 6  # leading groups or lists shown beside the hemicycle
ROW_X, ROW_WIDTH, ROW_Y, ROW_STEP = 676, 484, 214, 50
# The PNG's deflate stream is made by ISA-L (``isal``, level 1): ~1 ms per card against ~5 ms
# for zlib at any level 1-3 (zlib level 3: ~84 KiB a card, ISA-L level 1: ~99 KiB; measured on
# the cards of the test bundle). Its output depends on the ISA-L version: part of
# :func:`renderer_version`, so a cached card is never another encoder's bytes.
PNG_LEVEL = 1


class CardError(ValueError):
    """A card that cannot be made: a bad public base URL, or an SVG the renderer refuses."""


def card_path(lang: str, page: str) -> str:
    """``cards/<lang>/<page>.png`` (``page``: ``eu`` or a country code in lower case)."""
    return f"{FOLDER}/{lang}/{page}.png"


def public_base(url: str | None) -> str | None:
    """The public root URL, checked and ending in ``/``; None when not set.

    It must be an absolute ``http(s)`` URL without query or fragment: Open Graph and Twitter
    read ``og:image`` only as an absolute URL, and a card URL is ``<base><election>/<version>/
    cards/<lang>/<page>.png`` (the same root as the widget's embed snippets).
    """
    if url is None or not url.strip():
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise CardError(f"ENR_PUBLIC_BASE_URL={url!r}: not an absolute http(s) URL without query or fragment "
                        "(e.g. https://results.example.eu/)")
    return url if url.endswith("/") else url + "/"


def card_url(base: str | None, election: str, version: str, rel: str) -> str:
    """The absolute URL of a card (``rel`` from :func:`card_path`), or "" without a public base."""
    return f"{base}{election}/{version}/{rel}" if base else ""


# --- what a card shows ----------------------------------------------------------------------------

def _row(name: str, seats: int, seats_text: str, color: str, shape: str) -> dict:
    return {"name": name, "seats": seats, "seats_text": seats_text, "color": color, "shape": shape}


def _summary(rows: list[dict]) -> str:
    return ", ".join(f"{r['name']} {r['seats_text']}" for r in rows)


def eu_card(fmt: Formatter, *, site_title: str, test: bool, groups: list[dict], total: int, majority: int,
            allocated_text: str, reporting_text: str, stage: str, time_text: str) -> dict:
    """The EU card's context: ``groups`` are the site's group rows in chamber order."""
    leading = sorted((g for g in groups if g["seats_raw"]), key=lambda g: (-g["seats_raw"], g["id"]))[:ROWS]
    rows = [_row(g["id"], g["seats_raw"], g["seats_text"], g["color"], g["shape"]) for g in leading]
    return {
        "lang": fmt.lang, "site_title": site_title, "headline": fmt.gettext("European results"), "test": test,
        "test_label": fmt.gettext("TEST: rehearsal data, not real results") if test else "",
        "rows": rows, "seats_label": fmt.gettext("Seats"),
        "lines": [allocated_text, reporting_text],
        "status": f"{stage} \u00b7 {time_text}",
        "majority_label": fmt.gettext("Majority: %(majority)s of %(total)s seats", majority=fmt.number(majority),
                                      total=fmt.number(total)),
        "hemicycle": {"groups": [{"key": g["key"], "label": g["id"], "color": g["color"], "seats": g["seats_raw"],
                                  "shape": g["shape"]} for g in groups],
                      "total": total, "majority": majority, "line": True},
        "alt": f"{fmt.gettext('Hemicycle: seats by political group')}: {_summary(rows)}",
    }


def country_card(fmt: Formatter, *, site_title: str, test: bool, country: dict, seats_total: int | None,
                 shapes: dict) -> dict:
    """A country card's context from the site's country view (lists sorted by seats, then votes).

    The hemicycle has the country's seats, each list in its group's colour and marker, lists in
    the chamber's left-to-right order of their groups; lists keep their ballot names.
    """
    winners = [e for e in country["lists"] if e["seats_raw"]]
    rows = [_row(e["party_abbrev"] or e["list_name"], e["seats_raw"], e["seats"], e["color"],
                 shapes.get(e["group_id"], "circle")) for e in winners[:ROWS]]
    order = {gid: i for i, gid in enumerate(hemicycle.seating(list(dict.fromkeys(e["group_id"] for e in winners))))}
    seated = sorted(enumerate(winners), key=lambda ie: (order[ie[1]["group_id"]], ie[0]))
    total = max(sum(e["seats_raw"] for e in winners), seats_total or 0)  # unallocated seats drawn hollow
    return {
        "lang": fmt.lang, "site_title": site_title, "headline": country["name"], "test": test,
        "test_label": fmt.gettext("TEST: rehearsal data, not real results") if test else "",
        "rows": rows, "seats_label": fmt.gettext("Seats"),
        "lines": [f"{fmt.gettext('Seats')}: {country['seats_total']}",
                  f"{fmt.gettext('Turnout')}: {country['turnout_text']}"],
        "status": f"{country['status_label']} \u00b7 {fmt.gettext('Data as of')} {country['as_of']['local']}"
        if country["as_of"]["utc"] else country["status_label"],
        "majority_label": "",
        "hemicycle": {"groups": [{"key": f"l{i}", "label": e["party_abbrev"] or e["list_name"], "color": e["color"],
                                  "seats": e["seats_raw"], "shape": shapes.get(e["group_id"], "circle")}
                                 for i, e in seated],
                      "total": total, "majority": total // 2 + 1, "line": False},
        "alt": f"{country['name']}, {country['status_label']}. {fmt.gettext('Seats')}: {_summary(rows)}"
        if rows else f"{country['name']}: {country['status_label']}",
    }


def page_meta(card: dict, url: str) -> dict:
    """What a page's Open Graph / Twitter tags say about its card (``url`` "" without a public base)."""
    return {"image": url, "width": WIDTH, "height": HEIGHT, "alt": card["alt"],
            "description": " \u00b7 ".join([card["status"], *card["lines"]])}


# --- drawing --------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _environment() -> Environment:
    return environment("cards", TEMPLATES, autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)


def _cairo():
    """cairocffi, or one line saying what the machine lacks (it loads the system's libcairo2)."""
    try:
        import cairocffi
    except OSError as exc:
        raise CardError(f"the social cards need the system's cairo library ({exc}); on Debian: "
                        f"apt-get install libcairo2 fonts-dejavu-core") from None
    return cairocffi


@lru_cache(maxsize=1)
def _measure():
    cairo = _cairo()

    return cairo.Context(cairo.ImageSurface(cairo.FORMAT_RGB24, 1, 1))


@lru_cache(maxsize=8192)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in pixels of ``text`` in :data:`FONT_FAMILY` at ``size`` (the renderer's own font metrics)."""
    cairo = _cairo()

    context = _measure()
    context.select_font_face(FONT_FAMILY, cairo.FONT_SLANT_NORMAL,
                             cairo.FONT_WEIGHT_BOLD if bold else cairo.FONT_WEIGHT_NORMAL)
    context.set_font_size(size)
    return context.text_extents(text)[4]


def fit(text: str, width: float, size: float, min_size: float, bold: bool = False) -> tuple[str, float]:
    """``text`` and a font size at which it fits ``width``: smaller down to ``min_size``, then cut with "…"."""
    measured = text_width(text, size, bold)
    if measured <= width:
        return text, size
    size = max(min_size, int(size * width / measured))
    if text_width(text, size, bold) <= width:
        return text, size
    while len(text) > 1 and text_width(text + "\u2026", size, bold) > width:
        text = text[:-1]
    return text.rstrip() + "\u2026", size


def _fitted(text: str, width: float, size: float, min_size: float, bold: bool = False) -> dict:
    value, chosen = fit(text, width, size, min_size, bold)
    return {"text": value, "size": chosen}


def hemicycle_svg(spec: dict, x: float = 0, y: float = 0, width: int = HEMI_WIDTH, height: int = HEMI_HEIGHT) -> str:
    """The site's hemicycle SVG for ``spec`` as an ``<svg>`` element of ``width`` x ``height`` at (x, y),
    its markers written in place (CairoSVG draws it in half the time of ``<use>``: the EU's 751 seats
    ~95 ms instead of ~190 ms, the same pixels, ``tests/test_card_layer.py``)."""
    svg = hemicycle.render_svg(spec["groups"], spec["total"], spec["majority"], "", "",
                               majority_line=spec.get("line", True), inline_markers=True)
    # few seats have large markers that reach past the site's viewBox: pad it by a marker's size
    pad = round(hemicycle.layout(spec["total"])[1] * 1.3, 2)
    box = f"{-pad:g} {-pad:g} {hemicycle.WIDTH + 2 * pad:g} {hemicycle.HEIGHT + 2 * pad:g}"
    svg = svg.replace(f'viewBox="0 0 {hemicycle.WIDTH:g} {hemicycle.HEIGHT:g}"', f'viewBox="{box}"', 1)
    return svg.replace("<svg ", f'<svg xmlns="http://www.w3.org/2000/svg" x="{x:g}" y="{y:g}" width="{width}" '
                       f'height="{height}" ', 1)


_PANELS: dict[str, str] = {}  # panel_svg's recent results, by _panel_key
_PANELS_KEPT = 64


def _panel_key(card: dict) -> str:
    """What decides a card's panel: its hemicycle and its rows (the same in every language)."""
    return json.dumps([card["hemicycle"], card["rows"]], sort_keys=True, ensure_ascii=False)


def panel_svg(card: dict, key: str | None = None) -> str:
    """The part of a card that no language changes, as an SVG document: the hemicycle and the
    leading groups or lists with their seats (names as on the ballot, seats as digits).

    It is drawn once per render; every language's card (:func:`compose_svg`) is drawn over it.
    The document is made once per distinct panel and kept (the EU's 751 seats cost ~8 ms of SVG
    text, asked for by each card in 24 languages: its cache key, the panel's own). ``key``: the
    card's :func:`_panel_key`, when the caller has it.
    """
    key = _panel_key(card) if key is None else key
    svg = _PANELS.get(key)
    if svg is None:
        svg = _panel_svg(card)
        if len(_PANELS) >= _PANELS_KEPT:
            _PANELS.clear()
        _PANELS[key] = svg
    return svg


def _panel_svg(card: dict) -> str:
    rows = []
    for i, row in enumerate(card["rows"]):
        seats = _fitted(row["seats_text"], 110, 34, 24, bold=True)
        name = _fitted(row["name"], ROW_WIDTH - 52 - 120, 30, 22)
        rows.append({"y": ROW_Y + i * ROW_STEP, "color": row["color"], "name": name, "seats": seats,
                     "marker": Markup(hemicycle.marker(row["shape"], 11))})
    spec = card["hemicycle"]
    chamber = Markup(hemicycle_svg(spec, HEMI_X, HEMI_Y)) if spec["total"] else ""
    return _environment().get_template(PANEL_TEMPLATE).render(
        width=WIDTH, height=HEIGHT, font=FONT_FAMILY, hemicycle=chamber, rows=rows, row_x=ROW_X, row_width=ROW_WIDTH)


def compose_svg(card: dict) -> str:
    """The language's layer of a card as an SVG document (transparent where the panel shows)."""
    return _environment().get_template(TEMPLATE).render(
        width=WIDTH, height=HEIGHT, font=FONT_FAMILY, lang=card["lang"],
        title=_fitted(card["site_title"], WIDTH - 96, 34, 22, bold=True),
        headline=_fitted(card["headline"], WIDTH - 96, 50, 30, bold=True),
        test_label=_fitted(card["test_label"], WIDTH - 96, 26, 16, bold=True) if card["test"] else None,
        seats_label=_fitted(card["seats_label"], 160, 20, 14), row_x=ROW_X, row_width=ROW_WIDTH,
        lines=[_fitted(line, ROW_WIDTH, 24, 16) for line in card["lines"]],
        status=_fitted(card["status"], WIDTH - 96, 26, 16),
        majority=_fitted(card["majority_label"], HEMI_WIDTH, 24, 16, bold=True) if card["majority_label"] else None,
        hemi={"x": HEMI_X, "y": HEMI_Y, "width": HEMI_WIDTH, "height": HEMI_HEIGHT})


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _png(surface) -> bytes:
    """An 8-bit RGB PNG of a cairo RGB24 image surface (rows unfiltered, deflated by ISA-L).

    cairo's own ``write_to_png`` writes RGBA with adaptive filters: about twice the time for
    an opaque card, whose PNG encoding is the larger half of its cost. The pixels go from cairo's
    memory (BGRX) into the PNG rows with numpy, in one copy.
    """
    import numpy as np

    surface.flush()
    width, height, stride = surface.get_width(), surface.get_height(), surface.get_stride()
    bgrx = np.frombuffer(surface.get_data(), dtype=np.uint8).reshape(height, stride)[:, :width * 4] \
        .reshape(height, width, 4)
    raw = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # each row: filter byte 0, then its pixels
    rgb = raw[:, 1:].reshape(height, width, 3)
    for channel in range(3):
        rgb[:, :, channel] = bgrx[:, :, 2 - channel]
    from isal import isal_zlib

    data = isal_zlib.compress(raw, PNG_LEVEL)  # a zlib stream (RFC 1950), as PNG's IDAT wants
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, filter byte 0 on each row
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _opaque_surface(width: int, height: int, under=None):
    """An RGB24 cairo surface and its context, painted white or with ``under``."""
    cairo = _cairo()
    surface = cairo.ImageSurface(cairo.FORMAT_RGB24, width, height)
    context = cairo.Context(surface)
    if under is None:
        context.set_source_rgb(1, 1, 1)
    else:
        context.set_source_surface(under, 0, 0)
    context.paint()
    return surface, context


def draw(svg: str, under=None):
    """Rasterise an SVG document with CairoSVG onto an opaque RGB cairo surface.

    The surface is white, or ``under`` (a cairo surface of the same size, drawn before: a card's
    language-independent layer) where the document is transparent. CairoSVG runs in its safe
    mode: no external files, no XML entities. A document it cannot read raises :class:`CardError`.
    """
    items = _layer_items(svg)
    if items is not None:
        return _draw_layer(items, under)
    cairo = _cairo()
    from cairosvg.parser import Tree
    from cairosvg.surface import PNGSurface

    class _OpaqueSurface(PNGSurface):
        def _create_surface(self, width, height):
            width, height = int(round(width)), int(round(height))
            return _opaque_surface(width, height, under)[0], width, height

    try:
        drawn = _OpaqueSurface(Tree(bytestring=svg.encode("utf-8")), None, 96)
    except Exception as exc:  # the renderer's own errors (XML, unsupported content) become one typed error
        raise CardError(f"the card SVG could not be rendered: {exc}") from exc
    return drawn.cairo


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_SVG_NS = "{http://www.w3.org/2000/svg}"
_LAYER_ATTRIBUTES = {"rect": {"x", "y", "width", "height", "fill"},
                     "text": {"x", "y", "font-size", "font-weight", "fill", "text-anchor"}}


def _layer_items(svg: str) -> list[tuple] | None:
    """The rectangles and text lines of a card's language layer (:data:`TEMPLATE`), or None when
    the document has anything else (then CairoSVG draws it): only ``<rect>`` and ``<text>`` with
    plain numbers, ``#rrggbb`` colours, bold or not, anchored at start, middle or end."""
    if "<!" in svg or "<?" in svg:  # no DTD, entity, comment or processing instruction: CairoSVG decides
        return None
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return None
    family = root.get("font-family")
    if root.tag != f"{_SVG_NS}svg" or root.get("width") != str(WIDTH) or root.get("height") != str(HEIGHT) \
            or root.get("viewBox") != f"0 0 {WIDTH} {HEIGHT}" or not family or "," in family \
            or set(root.attrib) - {"width", "height", "viewBox", "font-family", "lang"}:
        return None
    items: list[tuple] = []
    for element in root:
        tag = element.tag.removeprefix(_SVG_NS)
        allowed = _LAYER_ATTRIBUTES.get(tag)
        if allowed is None or set(element.attrib) - allowed or len(element):
            return None
        numbers = {k: v for k, v in element.attrib.items() if k in ("x", "y", "width", "height", "font-size")}
        if not all(_NUMBER.fullmatch(v) for v in numbers.values()):
            return None
        fill = element.get("fill")
        if fill is None or not _HEX_COLOR.fullmatch(fill):
            return None
        rgba = (*(int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5)), 1)
        x, y = float(element.get("x", 0)), float(element.get("y", 0))
        if tag == "rect":
            if element.text and element.text.strip():
                return None
            items.append(("rect", x, y, float(element.get("width", 0)), float(element.get("height", 0)), rgba))
            continue
        weight, anchor = element.get("font-weight"), element.get("text-anchor")
        if weight not in (None, "bold") or anchor not in (None, "start", "middle", "end") \
                or "font-size" not in element.attrib:
            return None
        # CairoSVG's white space rule for a text without xml:space (line breaks dropped, tabs and
        # runs of spaces made one space, none at either end)
        text = re.sub(" +", " ", (element.text or "").replace("\n", "").replace("\r", "").replace("\t", " "))
        items.append(("text", x, y, float(element.get("font-size")), weight == "bold", anchor, rgba,
                      text.strip(" "), family))
    return items


# A glyph's advance by (font family, bold, size) and letter: the same on every fresh context (the
# identity matrix and default font options of _opaque_surface), asked for once per letter otherwise.
_ADVANCES: dict[tuple, dict[str, float]] = {}


def _draw_layer(items: list[tuple], under) -> object:
    """Draw a language layer's rectangles and texts on an opaque surface over ``under``, with the
    calls CairoSVG makes for them (each glyph placed at the previous one's advance, filled with
    ``show_text``), so the pixels are the same (tests/test_card_layer.py compares the bytes)
    without its generic SVG machinery, which cost ~10 ms of a ~15 ms card."""
    cairo = _cairo()
    surface, context = _opaque_surface(WIDTH, HEIGHT, under)
    for item in items:
        if item[0] == "rect":
            _, x, y, width, height, rgba = item
            if width == 0 or height == 0:
                continue
            context.new_path()
            context.rectangle(x, y, width, height)
            context.set_source_rgba(*rgba)
            context.fill()
            continue
        _, x, y, size, bold, anchor, rgba, text, family = item
        if size == 0 or not text:
            continue
        context.save()
        context.select_font_face(family, cairo.FONT_SLANT_NORMAL,
                                 cairo.FONT_WEIGHT_BOLD if bold else cairo.FONT_WEIGHT_NORMAL)
        context.set_font_size(size)
        x_bearing, _, width = context.text_extents(text)[:3]
        x_align = -(width / 2 + x_bearing) if anchor == "middle" else -(width + x_bearing) if anchor == "end" else 0
        context.set_source_rgba(*rgba)
        cursor = x
        advances = _ADVANCES.setdefault((family, bold, size), {})
        for letter in text:
            advance = advances.get(letter)
            if advance is None:
                advance = advances[letter] = context.text_extents(letter)[4]
            context.move_to(cursor, y)  # (CairoSVG moves by (0, 0) here too: no change to the point)
            context.rel_move_to(x_align, 0)
            cursor = cursor + advance
            if not letter.isspace():
                context.show_text(letter)
        context.new_path()
        context.restore()
    return surface


def render_png(svg: str) -> bytes:
    """An SVG document as PNG bytes (:func:`draw`, then an RGB PNG)."""
    return _png(draw(svg))


@lru_cache(maxsize=1)
def renderer_version() -> str:
    """What besides the card's context decides its pixels (part of a card's fingerprint)."""
    cairocffi = _cairo()
    import cairosvg

    from importlib.metadata import version

    return (f"cairosvg {cairosvg.__version__}, cairo {cairocffi.cairo_version_string()}, {FONT_FAMILY}, "
            f"isal {version('isal')} level {PNG_LEVEL}")


HELPER_MIN_CARDS = 120  # fewer cards are drawn quicker in one process than by starting a helper


class Painter:
    """Draws the cards of one render; each distinct panel (hemicycle and rows, the same in every
    language) is drawn once.

    ``paint`` queues a card; ``close`` draws them all and writes each PNG with ``write(path,
    data)``. With ``folder`` (the version folder being rendered) and at least
    :data:`HELPER_MIN_CARDS` cards, a share of them is drawn by ``helpers`` other Python processes
    (default: one fewer than the CPUs this process may use, at most one), started with
    ``python -c`` (not ``multiprocessing``: no fork of a threaded process, no re-import of the
    caller's ``__main__``, allowed in a daemon process), each writing its PNGs under
    ``folder/cards/``. A helper that fails is logged and its cards are drawn here: the bytes are
    the same either way. Encoding the PNGs in a thread was tried and withdrawn: on the loaded
    2-core machine it cost more wall time than it saved (40 s against 25 s for 696 cards).
    """

    def __init__(self, write, folder: Path | None = None, helpers: int | None = None,
                 cache: Path | None | bool = True) -> None:
        self._write = write
        self._folder = folder
        self._helpers = default_helpers() if helpers is None else helpers
        self._jobs: list[tuple[str, dict]] = []
        self._queued: set[str] = set()
        self._panels: dict = {}
        self._cache = cache_folder() if cache is True else (cache or None)
        self.drawn = 0
        self.cached = 0

    def _cache_path(self, card: dict, layer: str, panel_key: str) -> Path | None:
        """Where the PNG of this exact card is kept: named by the SHA-256 of both its SVG layers and the
        renderer (:func:`renderer_version`), so the same inputs always find the same pixels. ``layer``:
        :func:`compose_svg` of the card; ``panel_key``: its :func:`_panel_key`."""
        if self._cache is None:
            return None
        key = hashlib.sha256("\0".join((panel_svg(card, panel_key), layer, renderer_version())).encode()).hexdigest()
        return self._cache / key[:2] / f"{key}.png"

    def _remember(self, target: Path | None, data: bytes, written: Path | None = None) -> None:
        """Keep a drawn card in the cache at ``target``; ``written``: the file the card was just
        written to, which the cache then shares (a hard link: no second copy of the bytes)."""
        if target is not None and not target.exists():
            _keep(target, data, written)

    def _from_cache(self, path: str, source: Path | None) -> bool:
        try:
            data = source.read_bytes() if source is not None else None
        except OSError:
            return False
        if not data or not data.startswith(b"\x89PNG\r\n\x1a\n"):
            return False
        self._write(path, data)
        self.cached += 1
        return True

    def panel(self, card: dict, key: str | None = None):
        """The card's panel drawn on a cairo surface (once per distinct panel; kept in the card cache,
        so a panel whose seats did not change is not drawn again by the next version's render, whose
        cards still change by their language layer: the time, the counts). ``key``: the card's
        :func:`_panel_key`, when the caller has it."""
        key = _panel_key(card) if key is None else key
        if key not in self._panels:
            svg = panel_svg(card, key)
            path = self._panel_path(svg)
            surface = _read_panel(path) if path is not None else None
            if surface is None:
                surface = draw(svg)
                if path is not None:
                    _keep_panel(path, surface)
            self._panels[key] = surface
        return self._panels[key]

    def _panel_path(self, svg: str) -> Path | None:
        if self._cache is None:
            return None
        key = hashlib.sha256("\0".join(("panel", svg, renderer_version())).encode()).hexdigest()
        return self._cache / "panels" / key[:2] / f"{key}.bin"

    def paint(self, path: str, card: dict) -> None:
        """Queue a card context (from :func:`eu_card` or :func:`country_card`) to be drawn to ``path``;
        a second card for the same path is refused (two cards of one render named alike)."""
        if path in self._queued:
            raise CardError(f"{path}: a second card for the same file in one render")
        self._queued.add(path)
        self._jobs.append((path, card))

    def _draw(self, path: str, card: dict, layer: str, panel_key: str, target: Path | None) -> None:
        """Draw one card to ``path`` from its ``layer`` and panel (``panel_key``), as :meth:`close`
        computed them once, and keep it in the cache at ``target`` (its :meth:`_cache_path`)."""
        data = _png(draw(layer, under=self.panel(card, panel_key)))
        self._write(path, data)
        self._remember(target, data, self._folder / path if self._folder is not None else None)
        self.drawn += 1

    def close(self) -> list[Path]:
        """Draw every queued card; returns the files that helpers wrote (``write`` saw the others)."""
        queued, self._jobs = self._jobs, []
        self._queued = set()
        jobs, targets = [], {}
        for path, card in queued:  # each card's layer, panel key and cache path, once
            panel_key = _panel_key(card)
            layer = compose_svg(card)
            target = self._cache_path(card, layer, panel_key)
            if not self._from_cache(path, target):
                jobs.append((path, card))
                targets[path] = (layer, panel_key, target)
        running: list = []
        if self._folder is not None and self._helpers > 0 and len(jobs) >= HELPER_MIN_CARDS:
            shares = _shares(jobs, self._helpers + 1)
            jobs = shares[0]
            for share in shares[1:]:
                try:
                    running.append((_start_helper(self._folder, share), share))
                except OSError as exc:
                    log.warning("card helper not started (%s): drawing its %d cards here", exc, len(share))
                    jobs = jobs + share
        try:
            for path, card in jobs:
                self._draw(path, card, *targets[path])
        except BaseException:
            for (process, job_file), _ in running:  # no helper outlives a failed render
                process.kill()
                process.communicate()
                os.unlink(job_file)
            raise
        helped: list[Path] = []
        for (process, job_file), share in running:
            try:
                out, err = process.communicate(timeout=900)
                paths = json.loads(out) if process.returncode == 0 else None
            except (subprocess.TimeoutExpired, ValueError) as exc:
                process.kill()
                process.communicate()
                paths, err = None, str(exc).encode()
            finally:
                os.unlink(job_file)
            if paths != [path for path, _ in share]:
                log.warning("card helper failed (exit %s): %s; drawing its %d cards here", process.returncode,
                            err.decode(errors="replace")[-500:], len(share))
                for path, card in share:
                    self._draw(path, card, *targets[path])
                continue
            helped += [self._folder / path for path in paths]
            self.drawn += len(paths)
            for path, card in share:
                self._remember(targets[path][2], (self._folder / path).read_bytes(), self._folder / path)
        return helped


_PANEL_MAGIC = b"enr-panel/1\n"


def _keep_panel(path: Path, surface) -> None:
    """Keep a drawn panel's pixels: the surface's bytes (cairo's RGB24 rows), deflated, after a header
    with its size, stride and the SHA-256 of the bytes (checked when read back)."""
    from isal import isal_zlib

    surface.flush()
    pixels = bytes(surface.get_data())
    header = struct.pack(">III", surface.get_width(), surface.get_height(), surface.get_stride())
    _keep(path, _PANEL_MAGIC + header + hashlib.sha256(pixels).digest() + isal_zlib.compress(pixels, 1))


def _keep(path: Path, data: bytes, source: Path | None = None) -> None:
    """Write a card cache file atomically (readers see the whole file or none). With ``source`` (the
    rendered file holding these bytes) the cache takes a hard link to it instead of a copy: one file
    fewer to create and to flush to disk. Rendered and cached files alike are only ever replaced,
    never written in place, so sharing them changes no bytes (a render takes a cached card as a
    copy, and staging reads every file back against the manifest); across file systems, a copy."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)  # a killed process's leftover: never written through
        try:
            if source is None:
                raise OSError("no rendered file to link")
            os.link(source, temporary)
        except OSError:
            temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:  # a full or read-only cache never stops a render
        log.warning("card cache: %s not written: %s", path, exc)


def _read_panel(path: Path):
    """A panel kept by :func:`_keep_panel` as a cairo surface, or None (absent, unreadable, or not
    exactly what was kept: it is then drawn again)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    start = len(_PANEL_MAGIC) + 12 + 32
    if not data.startswith(_PANEL_MAGIC) or len(data) < start:
        return None
    width, height, stride = struct.unpack(">III", data[len(_PANEL_MAGIC):len(_PANEL_MAGIC) + 12])
    from isal import isal_zlib

    try:
        pixels = bytearray(isal_zlib.decompress(data[start:]))
    except Exception:  # noqa: BLE001 - a damaged file is drawn again
        return None
    if (width, height) != (WIDTH, HEIGHT) or len(pixels) != stride * height \
            or hashlib.sha256(pixels).digest() != data[start - 32:start]:
        return None
    cairo = _cairo()
    if stride != cairo.ImageSurface.format_stride_for_width(cairo.FORMAT_RGB24, width):
        return None
    return cairo.ImageSurface(cairo.FORMAT_RGB24, width, height, data=pixels, stride=stride)


def cache_folder() -> Path | None:
    """Where drawn cards are kept for the next render: ``ENR_CARD_CACHE`` (empty: no cache), else
    ``$XDG_CACHE_HOME/enr/cards`` (``~/.cache/enr/cards``). A card is only looked up by the digest
    of everything that decides its pixels, so one cache may serve every home and election; a country
    whose results did not change keeps its cards from one version to the next, on any bucket."""
    configured = os.environ.get("ENR_CARD_CACHE")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "enr" / "cards"


def default_helpers() -> int:
    """Helper processes for a large batch of cards: one if this process may use two CPUs or more."""
    return min(1, usable_cpus() - 1)


def _shares(jobs: list[tuple[str, dict]], count: int) -> list[list[tuple[str, dict]]]:
    """``jobs`` in ``count`` shares of about the same size, the cards of one panel in the same share."""
    groups: dict[str, list] = {}
    for path, card in jobs:
        key = _panel_key(card)
        groups.setdefault(key, []).append((path, card))
    shares: list[list] = [[] for _ in range(count)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shares, key=len).extend(group)
    return shares


def _start_helper(folder: Path, jobs: list[tuple[str, dict]]):
    handle, job_file = tempfile.mkstemp(prefix="enr-cards-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump({"folder": str(folder), "jobs": jobs}, out)
    code = "from publish.cards import helper_main; helper_main()"
    process = subprocess.Popen([sys.executable, "-c", code, job_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process, job_file


def helper_main() -> None:
    """A helper process: draw the cards named in the job file (argv[1]) under its folder's ``cards/``,
    then print the paths written, as JSON."""
    task = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    folder = Path(task["folder"])
    written: list[str] = []

    def write(path: str, data: bytes) -> None:
        if not path.startswith(f"{FOLDER}/") or ".." in path.split("/"):
            raise CardError(f"{path}: a card is written under {FOLDER}/ only")
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_new(target, data)
        written.append(path)

    painter = Painter(write, helpers=0)
    for path, card in task["jobs"]:
        painter.paint(path, card)
    painter.close()
    sys.stdout.write(json.dumps(written))


__all__ = ["CardError", "HEIGHT", "Painter", "WIDTH", "card_path", "card_url", "compose_svg", "country_card", "draw", "panel_svg",
           "eu_card", "fit", "helper_main", "page_meta", "public_base", "render_png", "renderer_version", "text_width"]
