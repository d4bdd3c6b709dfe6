"""Social cards: a 1200x630 PNG per page and language, its Open Graph / Twitter tags, its place in
the signed manifest, its incremental re-rendering, and text that really draws in Greek and Cyrillic."""
from __future__ import annotations

import copy
import io
import os
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from publish import cards
from publish.i18n import Formatter
from tests.support.publish_fixtures import build_bundle, cyprus_card, demo_key, scratch_dir

BASE = "https://results.example.eu/public/"
LANGS = ["en", "el", "bg"]


class Meta(HTMLParser):
    """The ``<meta property|name=... content=...>`` tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        key = values.get("property") or values.get("name")
        if tag == "meta" and key and "content" in values:
            self.tags[key] = values["content"]


def meta(path: Path) -> dict[str, str]:
    parser = Meta()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tags


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR, after checking signature and CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, tag = struct.unpack(">I4s", data[8:16])
    assert tag == b"IHDR" and length == 13
    body = data[16:29]
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(b"IHDR" + body) & 0xFFFFFFFF, "IHDR CRC"
    width, height, depth, colour = struct.unpack(">IIBB", body[:10])
    return width, height, depth, colour


@pytest.fixture(scope="module")
def site() -> tuple[Path, dict]:
    from publish.site import render_site

    bundle = build_bundle(test=True)
    out = scratch_dir("enrcards-") / "v0003"
    render_site(bundle, out, languages=LANGS, public_base_url=BASE.rstrip("/"))  # the slash is added
    return out, bundle


def test_every_card_is_a_valid_1200x630_png(site):
    out, bundle = site
    pages = ["eu"] + [c["code"].lower() for c in bundle["countries"]]
    found = sorted(p.relative_to(out).as_posix() for p in (out / "cards").rglob("*") if p.is_file())
    assert found == sorted(cards.card_path(lang, page) for lang in LANGS for page in pages)
    for rel in found:
        data = (out / rel).read_bytes()
        assert png_header(data) == (1200, 630, 8, 2), rel  # 8-bit RGB
        image = Image.open(io.BytesIO(data))
        image.load()  # decodes every row: a truncated or corrupt stream raises here
        assert image.size == (1200, 630)
        assert len(image.resize((60, 32)).getcolors(60 * 32)) > 8, f"{rel}: a blank image"


def test_og_and_twitter_tags_on_eu_and_country_pages(site):
    out, bundle = site
    election, version = bundle["election"]["id"], bundle["version"]
    for lang, page, html, name in [("en", "eu", "index.html", None), ("el", "eu", "index.html", None),
                                   ("el", "el", "country/el.html", "EL"), ("bg", "bg", "country/bg.html", "BG"),
                                   ("en", "de", "country/de.html", "DE"), ("bg", "eu", "comparison.html", None)]:
        tags = meta(out / lang / html)
        url = f"{BASE}{election}/{version}/cards/{lang}/{page}.png"
        assert tags["og:image"] == url and tags["twitter:image"] == url, (lang, html)
        assert (out / url[len(f"{BASE}{election}/{version}/"):]).is_file()
        assert tags["og:image:width"] == "1200" and tags["og:image:height"] == "630"
        assert tags["og:image:type"] == "image/png"
        assert tags["twitter:card"] == "summary_large_image"
        assert tags["og:image:alt"] == tags["twitter:image:alt"] and tags["og:description"]
        fmt = Formatter(lang)
        if name:  # the alt text names the country and its seats in the page's language
            assert tags["og:image:alt"].startswith(fmt.country_name(name))
            assert fmt.gettext("Seats") in tags["og:image:alt"]
            assert tags["og:title"].startswith(fmt.country_name(name) + " | ")
        else:
            assert tags["og:image:alt"].startswith(fmt.gettext("Hemicycle: seats by political group"))
            assert "EPP" in tags["og:image:alt"]
    greek = meta(out / "el" / "country" / "el.html")["og:image:alt"]
    bulgarian = meta(out / "bg" / "country" / "bg.html")["og:image:alt"]
    assert re.search("[\u0370-\u03ff]", greek) and re.search("[\u0400-\u04ff]", bulgarian)
    assert meta(out / "en" / "country" / "el.html")["og:image:alt"].startswith("Greece")


def test_without_a_public_base_url_pages_have_no_image_tags_and_a_bad_one_is_refused(tmp_path):
    from publish.site import render_site

    bundle = build_bundle(only={"MT", "LU"})
    render_site(bundle, tmp_path / "v", languages=["en"])
    tags = meta(tmp_path / "v" / "en" / "country" / "mt.html")
    assert "og:image" not in tags and "twitter:image" not in tags
    assert tags["twitter:card"] == "summary" and tags["og:title"].startswith("Malta | ")
    assert (tmp_path / "v" / "cards" / "en" / "mt.png").is_file()  # the cards are still part of the version
    for bad in ["results.example.eu/", "ftp://results.example.eu/", "javascript:alert(1)//",
                "https://results.example.eu/?x=1", "https://"]:
        with pytest.raises(cards.CardError, match="ENR_PUBLIC_BASE_URL"):
            render_site(bundle, tmp_path / "bad", languages=["en"], public_base_url=bad)


def test_cards_are_in_the_signed_manifest_and_verified(tmp_path):
    import json
    import shutil

    from publish.build import build_version
    from publish.signing import Signer
    from publish.verify import verify_version

    base, _ = demo_key()
    out = tmp_path / "v0003"
    with Signer(base / "sign") as signer:
        build_version(build_bundle(only={"EL", "BG", "MT"}), out, signer, languages=["el", "bg"],
                      public_base_url=BASE)
    listed = {e["path"]: e["sha256"] for e in json.loads((out / "manifest.json").read_bytes())["files"]}
    card_files = [p.relative_to(out).as_posix() for p in (out / "cards").rglob("*.png")]
    assert len(card_files) == 2 * 4
    assert all(rel in listed for rel in card_files)
    report = verify_version(out, base / "verify")
    assert report.ok, report.summary()

    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    target = tampered / "cards" / "el" / "el.png"
    data = bytearray(target.read_bytes())
    data[-20] ^= 0x01
    target.write_bytes(bytes(data))
    report = verify_version(tampered, base / "verify")
    assert not report.ok and report.changed == ["cards/el/el.png"]


def _move_seat(bundle: dict, code: str, version: str) -> dict:
    """The next version of ``bundle`` where one seat of ``code`` goes from its first list to its second."""
    new = copy.deepcopy(bundle)
    new["version"], new["generated_at"] = version, "2019-05-26T22:10:00+00:00"
    country = next(c for c in new["countries"] if c["code"] == code)
    winners = sorted((e for e in country["lists"] if e["seats"]), key=lambda e: -e["seats"])
    winners[0]["seats"] -= 1
    winners[1]["seats"] += 1
    country["since_version"], country["since_generated_at"] = version, new["generated_at"]
    return new


def test_a_card_is_drawn_again_only_when_what_it_shows_changes(tmp_path):
    from publish.site import Reuse, render_site

    langs = ["en", "el"]
    first = build_bundle("v0003", only={"AT", "DK", "SI"})
    for country in first["countries"]:
        country["since_version"], country["since_generated_at"] = "v0003", first["generated_at"]
    second = _move_seat(first, "DK", "v0004")
    prints: dict = {}
    render_site(first, tmp_path / "v0003", languages=langs, fingerprints=prints, public_base_url=BASE)
    render_site(second, tmp_path / "v0004", languages=langs, reuse=Reuse(tmp_path / "v0003", prints),
                public_base_url=BASE)
    render_site(second, tmp_path / "full", languages=langs, public_base_url=BASE)

    def card(version: str, lang: str, page: str) -> Path:
        return tmp_path / version / cards.card_path(lang, page)

    for lang in langs:
        for page in ("at", "si"):  # untouched: the previous version's file, linked, not drawn again
            assert card("v0004", lang, page).read_bytes() == card("v0003", lang, page).read_bytes()
            assert os.stat(card("v0004", lang, page)).st_ino == os.stat(card("v0003", lang, page)).st_ino
            # and its page still points to the card of the version its data comes from
            assert meta(tmp_path / "v0004" / lang / "country" / f"{page}.html")["og:image"].endswith(
                f"/v0003/cards/{lang}/{page}.png")
        for page in ("dk", "eu"):  # the changed country's seats, and the EU page
            assert card("v0004", lang, page).read_bytes() != card("v0003", lang, page).read_bytes()
        assert meta(tmp_path / "v0004" / lang / "country" / "dk.html")["og:image"].endswith(
            f"/v0004/cards/{lang}/dk.png")
        for page in ("at", "dk", "si", "eu"):  # the incremental bytes are those of a full render
            assert card("v0004", lang, page).read_bytes() == card("full", lang, page).read_bytes()


def _ink(svg: str) -> Image.Image:
    return Image.open(io.BytesIO(cards.render_png(svg))).convert("L")


def _text_svg(text: str) -> str:
    from html import escape

    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="80" font-family="{cards.FONT_FAMILY}">'
            f'<text x="10" y="55" font-size="40">{escape(text)}</text></svg>')


@pytest.mark.parametrize("text", [
    "Ελλάδα Κύπρος",                      # Greek
    "България Парламент",                 # Cyrillic (bg)
    "ħġżċ",                               # Maltese
    "ŐűČřĄęĀŠžÕ",                         # Hungarian, Czech, Polish, Latvian, Estonian diacritics
])
def test_text_in_every_script_draws_its_own_glyphs(text):
    """Drawn text leaves ink, and differs from the same letters in reverse order: a font without
    the glyphs draws nothing, or the same .notdef box for every letter (then both orders match)."""
    drawn, backwards = _ink(_text_svg(text)), _ink(_text_svg(text[::-1]))
    assert sum(drawn.histogram()[:128]) > 150, "no glyph drew any pixel"
    assert drawn.tobytes() != _ink(_text_svg("")).tobytes()
    assert drawn.tobytes() != backwards.tobytes()


def test_greek_and_bulgarian_titles_draw_on_the_card(site):
    """The el and bg cards' title band is not the English one, and not an empty band."""
    out, _ = site
    band = (48, 10, 1100, 74)  # the site title in the header band
    crops = {lang: Image.open(out / "cards" / lang / "eu.png").convert("L").crop(band) for lang in LANGS}
    for lang in LANGS:
        assert sum(crops[lang].histogram()[201:]) > 1000, f"{lang}: no text in the title band"
    assert len({crops[lang].tobytes() for lang in LANGS}) == len(LANGS)


def test_names_reach_the_card_as_text_and_long_ones_are_cut(site):
    fmt = Formatter("en")
    hostile = '</text><image href="file:///etc/passwd" width="1200" height="630"/><text>&xxe;<!ENTITY x "y">'
    country = {"name": "Testland", "status_label": "Final", "as_of": {"utc": "", "local": ""},
               "seats_total": "3", "turnout_text": "50%",
               "lists": [{"party_abbrev": "", "list_name": hostile + " " + "very long name " * 10, "seats_raw": 2,
                          "seats": "2", "color": "#123456", "group_id": "EPP"},
                         {"party_abbrev": "<b>X</b>", "list_name": "", "seats_raw": 1, "seats": "1",
                          "color": "#654321", "group_id": "S&D"}]}
    card = cards.country_card(fmt, site_title="Title & <Co>", test=False, country=country, seats_total=3,
                              shapes={"EPP": "circle", "S&D": "square"})
    panel, text = cards.panel_svg(card), cards.compose_svg(card)
    assert "<image" not in panel and "&lt;/text&gt;&lt;image" in panel and "&lt;b&gt;X&lt;/b&gt;" in panel
    assert "Title &amp; &lt;Co&gt;" in text
    assert "\u2026" in panel  # the long name was cut to fit
    painted: dict[str, bytes] = {}
    painter = cards.Painter(painted.__setitem__)
    painter.paint("x.png", card)
    assert painted == {}  # queued until close
    painter.close()
    assert png_header(painted["x.png"])[:2] == (1200, 630)
    name, size = cards.fit("W" * 200, 400, 30, 20)
    assert name.endswith("\u2026") and size == 20 and cards.text_width(name, size) <= 400
    assert cards.fit("EPP", 400, 30, 20) == ("EPP", 30)
    with pytest.raises(cards.CardError):
        cards.render_png('<svg xmlns="http://www.w3.org/2000/svg"><text>unclosed</svg>')


def _cards(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted((folder / "cards").rglob("*.png"))}


def test_a_helper_process_draws_the_same_bytes_and_a_failed_one_is_replaced(tmp_path, monkeypatch):
    import subprocess
    import sys

    from publish.site import render_site

    bundle = build_bundle(only={"EL", "BG", "MT", "DE"})
    monkeypatch.setenv("ENR_CARD_CACHE", "")  # every card drawn, none taken from the cache
    monkeypatch.setenv("ENR_RENDER_PROCESSES", "1")  # the card helper of a one-process render (no split)
    monkeypatch.setattr(cards, "default_helpers", lambda: 0)
    render_site(bundle, tmp_path / "alone", languages=["en", "el"])
    alone = _cards(tmp_path / "alone")
    assert len(alone) == 2 * 5  # the EU and 4 countries in 2 languages

    started: list = []
    real_start = cards._start_helper

    def spy(folder, jobs):
        started.append(len(jobs))
        return real_start(folder, jobs)

    monkeypatch.setattr(cards, "default_helpers", lambda: 1)
    monkeypatch.setattr(cards, "HELPER_MIN_CARDS", 4)
    monkeypatch.setattr(cards, "_start_helper", spy)
    render_site(bundle, tmp_path / "helped", languages=["en", "el"])
    assert started and 0 < started[0] < len(alone)  # a share went to a helper process
    assert _cards(tmp_path / "helped") == alone  # the same bytes from another process

    def broken(folder, jobs):  # a helper that dies before drawing anything
        handle = tmp_path / "jobs.json"
        handle.write_text("[]")
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE), str(handle)

    monkeypatch.setattr(cards, "_start_helper", broken)
    render_site(bundle, tmp_path / "replaced", languages=["en", "el"])
    assert _cards(tmp_path / "replaced") == alone  # its cards were drawn by the render itself


def test_a_card_drawn_once_is_taken_from_the_cache_and_a_damaged_entry_is_drawn_again(site, tmp_path):
    """The cache is keyed by everything that decides the pixels: same card, same bytes, not drawn twice."""
    card = cyprus_card("el", site_title="Ευρωεκλογές", name="Κύπρος")

    def paint(cache: Path | None, the_card: dict = card) -> tuple[bytes, cards.Painter]:
        out: dict[str, bytes] = {}
        painter = cards.Painter(out.__setitem__, cache=cache)
        painter.paint("cy.png", the_card)
        painter.close()
        return out["cy.png"], painter

    cache = tmp_path / "cache"
    first, painter = paint(cache)
    assert (painter.drawn, painter.cached) == (1, 0)
    again, painter = paint(cache)
    assert again == first and (painter.drawn, painter.cached) == (0, 1)
    assert paint(None)[0] == first  # the cached bytes are what drawing gives
    other_text, painter = paint(cache, {**card, "headline": "Κύπρος (2)"})  # another text is another card
    assert painter.drawn == 1 and other_text != first
    other_seats, painter = paint(cache, {**card, "hemicycle": {**card["hemicycle"], "total": 7}})  # another panel
    assert painter.drawn == 1 and other_seats not in (first, other_text)
    (entry,) = [p for p in cache.rglob("*.png") if paint(None)[0] == p.read_bytes()]
    entry.write_bytes(b"not a png")
    repaired, painter = paint(cache)
    assert repaired == first and painter.drawn == 1


def test_a_panel_is_kept_so_the_next_render_redraws_only_the_language_layer(tmp_path, monkeypatch):
    """The next version's card of an unchanged Parliament (other time, same seats) takes its panel
    from the cache instead of drawing it again, with the same pixels as drawing it; a damaged or
    swapped panel file is drawn again."""
    card = cyprus_card("el", site_title="Ευρωεκλογές", name="Κύπρος")
    panels_drawn = []
    real_draw = cards.draw

    def counting_draw(svg, under=None):
        if under is None:  # a panel (a language layer is drawn over one)
            panels_drawn.append(svg)
        return real_draw(svg, under)
    monkeypatch.setattr(cards, "draw", counting_draw)

    def paint(cache: Path | None, the_card: dict) -> bytes:
        out: dict[str, bytes] = {}
        painter = cards.Painter(out.__setitem__, cache=cache)
        painter.paint("cy.png", the_card)
        painter.close()
        return out["cy.png"]

    cache = tmp_path / "cache"
    paint(cache, card)
    assert len(panels_drawn) == 1
    (kept,) = (cache / "panels").rglob("*.bin")
    later = {**card, "headline": "Κύπρος (2)"}  # the next version: another text over the same seats
    taken = paint(cache, later)
    assert len(panels_drawn) == 1  # not drawn again
    assert taken == paint(None, later) and len(panels_drawn) == 2  # the same bytes as drawing it
    good = kept.read_bytes()
    for number, damaged in enumerate((good[:-40] + bytes(40),  # the pixels do not match the digest kept with them
                                      good.replace(good[12:24], bytes(12), 1),  # another size
                                      b"not a panel"), start=3):
        kept.write_bytes(damaged)
        drawn_before = len(panels_drawn)
        text = {**card, "headline": f"Κύπρος ({number})"}  # a card not in the cache: its panel is needed
        assert paint(cache, text) == paint(None, text) and len(panels_drawn) == drawn_before + 2
        assert kept.read_bytes() == good  # drawn again and kept again
    other = paint(cache, {**later, "hemicycle": {**card["hemicycle"], "total": 7}})  # other seats: another panel
    assert other != taken and len(list((cache / "panels").rglob("*.bin"))) == 2


def test_the_png_holds_exactly_the_drawn_pixels_at_a_reasonable_size(site):
    """The IDAT stream (ISA-L, level 1) is lossless: decoded, it is cairo's RGB pixel for pixel;
    and its encoder is part of the cache key (another encoder's bytes are never taken)."""
    import numpy as np

    out, _ = site
    sizes = [p.stat().st_size for p in (out / "cards").rglob("*.png")]
    assert max(sizes) < 300 * 1024 and sum(sizes) / len(sizes) < 160 * 1024, (max(sizes), sum(sizes) / len(sizes))
    surface = cards.draw('<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630" '
                         'font-family="DejaVu Sans"><rect width="1200" height="630" fill="#fafafa"/>'
                         '<circle cx="300" cy="300" r="200" fill="#3399FF"/>'
                         '<text x="600" y="300" font-size="48" fill="#202020">Ευρωεκλογές 2019</text></svg>')
    data = cards._png(surface)
    surface.flush()
    stride = surface.get_stride()
    bgrx = np.frombuffer(surface.get_data(), dtype=np.uint8).reshape(630, stride)[:, :4800].reshape(630, 1200, 4)
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert (decoded == bgrx[:, :, 2::-1]).all()
    assert len(np.unique(decoded.reshape(-1, 3), axis=0)) > 50  # antialiased: a real image, not a flat one
    assert "isal" in cards.renderer_version() and f"level {cards.PNG_LEVEL}" in cards.renderer_version()


def test_a_drawn_card_is_kept_as_a_link_to_the_rendered_file_and_a_stale_temporary_is_never_written_through(tmp_path):
    """With the render's folder known, the card cache shares the rendered file (a hard link) instead of
    writing a second copy; the cache's temporary name is replaced, so a leftover there that is a link
    to another file (a staged one) is never written through."""
    card = cyprus_card("el", site_title="Ευρωεκλογές", name="Κύπρος")
    folder, cache = tmp_path / "v0001", tmp_path / "cache"

    def write(path: str, data: bytes) -> None:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    painter = cards.Painter(write, folder, helpers=0, cache=cache)
    painter.paint("cards/el/cy.png", card)
    painter.close()
    (entry,) = cache.rglob("*.png")
    assert os.path.samefile(entry, folder / "cards" / "el" / "cy.png")
    assert painter.drawn == 1 and entry.read_bytes().startswith(b"\x89PNG")

    staged = tmp_path / "staged.png"
    staged.write_bytes(b"a staged card")
    target = cache / "ab" / "other.png"
    target.parent.mkdir(parents=True)
    os.link(staged, target.with_name(f".{target.name}.{os.getpid()}.tmp"))  # a killed process's leftover
    cards._keep(target, b"new bytes")
    assert staged.read_bytes() == b"a staged card" and target.read_bytes() == b"new bytes"


def test_a_render_over_an_earlier_one_never_writes_through_the_kept_cards(tmp_path, monkeypatch):
    """Rendered cards are kept in the card cache as hard links; a later render into the same folder
    (not cleaned first) replaces each file's name (:func:`publish.files.write_new`), so every kept
    card still holds the bytes of its own key, and a second card for one file is refused."""
    from publish.site import render_site

    cache = tmp_path / "cache"
    monkeypatch.setenv("ENR_CARD_CACHE", str(cache))
    out = tmp_path / "site"
    render_site(build_bundle("v0001", only={"MT", "LU"}), out, languages=["en"])
    kept = {path: path.read_bytes() for path in cache.rglob("*.png")}
    assert kept and any(os.path.samefile(path, out / "cards" / "en" / "eu.png") for path in kept)
    render_site(build_bundle("v0002", only={"MT", "LU"}, generated_at="2019-05-26T23:45:00+00:00"), out,
                languages=["en"])
    assert (out / "cards" / "en" / "eu.png").read_bytes() not in kept.values()  # the EU card shows the time
    assert {path: path.read_bytes() for path in kept} == kept

    painter = cards.Painter(lambda path, data: None, cache=None)
    painter.paint("cards/en/eu.png", cyprus_card("en", site_title="EU", name="Cyprus"))
    with pytest.raises(cards.CardError, match="a second card for the same file"):
        painter.paint("cards/en/eu.png", cyprus_card("en", site_title="EU", name="EU"))


def test_write_new_replaces_a_name_and_never_writes_through_it(tmp_path):
    from publish.files import write_new

    shared = tmp_path / "cache.png"
    shared.write_bytes(b"kept bytes")
    name = tmp_path / "site.png"
    os.link(shared, name)
    write_new(name, b"new bytes")
    assert name.read_bytes() == b"new bytes" and shared.read_bytes() == b"kept bytes"
    write_new(tmp_path / "fresh.txt", "text é")
    assert (tmp_path / "fresh.txt").read_bytes() == "text é".encode("utf-8")
