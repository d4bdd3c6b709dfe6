"""History pages in the 24 languages: well-formed, right language, self-contained, accessible charts."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from historical_loader import backfill
from historical_loader.site import history_for_site
from historical_loader.store import HistoryStore
from publish.history import LANGUAGES, HistoryRenderError, render_history, translations

DATA = Path(__file__).resolve().parent.parent / "data" / "historical"
EU_LANGUAGES = ["bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv",
                "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv"]
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict:
    url = f"sqlite:///{tmp_path_factory.mktemp('hist') / 'store.db'}"
    store = HistoryStore(url)
    store.migrate()
    backfill.load_all(store, run_id="test-pages")
    out = history_for_site(store)
    store.dispose()
    return out


@pytest.fixture(scope="module")
def site(history, tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("site")
    return out, render_history(history, out, EU_LANGUAGES)


def parse(path: Path) -> ET.Element:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(text[len("<!DOCTYPE html>\n"):])  # well-formed (XHTML-compatible markup)


def test_catalogs_for_all_24_languages_are_translated():
    assert sorted(LANGUAGES) == sorted(EU_LANGUAGES)
    english = translations("en")
    for lang in EU_LANGUAGES:
        catalog = translations(lang)
        if lang != "en":
            assert catalog.gettext("Seats by party at each election") != "Seats by party at each election", lang
            assert catalog.gettext("Size of the European Parliament") != english.gettext(
                "Size of the European Parliament"), lang


def test_every_page_exists_for_every_language(site, history):
    out, written = site
    expected = {out / lang / "history" / "index.html" for lang in EU_LANGUAGES}
    expected |= {out / lang / "history" / f"{cc.lower()}.html" for lang in EU_LANGUAGES for cc in history["countries"]}
    assert set(written) == expected
    assert len(written) == 24 * 29


@pytest.mark.parametrize("lang", EU_LANGUAGES)
def test_pages_are_well_formed_in_their_language_and_self_contained(site, lang):
    out, _ = site
    for name in ("index.html", "de.html", "el.html", "hr.html"):
        path = out / lang / "history" / name
        root = parse(path)
        assert root.get("lang") == lang
        text = path.read_text(encoding="utf-8")
        assert "http:" not in text and "https:" not in text and "//" not in re.sub(r"<!--.*?-->", "", text).replace(
            "://", "")  # no external URL of any form
        assert "<script" not in text and " style=" not in text
        for element in root.iter():
            for attr in ("href", "src"):
                value = element.get(attr)
                if value is not None:
                    if value == "data:,":  # the empty inline favicon: no request at all
                        continue
                    assert not re.match(r"^[a-z]+:|^//", value), f"{path}: external {attr} {value}"
        # every chart is labelled and points at a table with the same figures
        svgs = [e for e in root.iter() if e.tag == "svg"]
        assert svgs, f"{path}: no chart"
        ids = {e.get("id"): e for e in root.iter() if e.get("id")}
        for svg in svgs:
            assert svg.get("role") == "img"
            labels = svg.get("aria-labelledby").split()
            assert all(label in ids and (ids[label].text or "").strip() for label in labels)
            table = ids[svg.get("aria-describedby")]
            assert table.tag == "table" and table.find("caption") is not None


def test_translated_text_and_local_number_formats(site):
    out, _ = site
    de = (out / "de" / "history" / "de.html").read_text(encoding="utf-8")
    assert "Deutschland: Wahlen zum Europäischen Parlament" in de
    assert "Wahl vom 10. Juni 1979" in de
    assert "40,8\u00a0%" in de  # SPD 1979, as given (one decimal), German format
    assert "11.370.045" in de
    fr = (out / "fr" / "history" / "fr.html").read_text(encoding="utf-8")
    assert "Élection du 26 mai 2019" in fr and "23,34\u00a0%" in fr
    en = (out / "en" / "history" / "index.html").read_text(encoding="utf-8")
    assert "Size of the European Parliament" in en and ">785<" in en
    el = (out / "el" / "history" / "index.html").read_text(encoding="utf-8")
    assert "Μέγεθος του Ευρωπαϊκού Κοινοβουλίου" in el and "Ελλάδα" in el


def test_eu_page_has_size_and_seats_by_country(site, history):
    out, _ = site
    root = parse(out / "en" / "history" / "index.html")
    size_table = next(t for t in root.iter("table") if t.get("id") == "size-table")
    years = [row.find("th").text for row in size_table.find("tbody")]
    assert years == [str(e["year"]) for e in history["eu"]]
    matrix = [t for t in root.iter("table") if t.get("id") is None][0]
    header = [th.text for th in matrix.find("thead").iter("th")][1:]
    assert header == ["1979", "1984", "1989", "1994", "1999", "2004", "2009", "2014", "2019"]
    assert len(list(matrix.find("tbody"))) == 28
    totals = [td.text for td in matrix.find("tfoot").iter("td")]
    assert totals == ["410", "434", "518", "567", "626", "732", "736", "751", "751"]


def test_names_are_escaped_and_shapes_checked(history, tmp_path):
    hostile = {"countries": {"MT": [{"year": 2019, "election_date": "2019-05-25", "seats_total": 6, "parties": [
        {"party_abbrev": "X", "party_name": XSS, "vote_share": "50.1", "seats": 6, "votes": 10}]}]},
        "eu": [{"year": 2019, "seats_total": 6, "countries": {"MT": 6}, "regular": True, "elected": ["MT"],
                "appointed": []}]}
    files = render_history(hostile, tmp_path, ["mt"])
    page = (tmp_path / "mt" / "history" / "mt.html").read_text(encoding="utf-8")
    assert XSS not in page and "&lt;script&gt;" in page
    assert len(files) == 2
    with pytest.raises(HistoryRenderError, match="xx"):
        render_history(history, tmp_path, ["xx"])
    with pytest.raises(HistoryRenderError, match="seats_total"):
        render_history({"countries": {"MT": [{"year": 2019, "election_date": "2019-05-25", "parties": []}]},
                        "eu": []}, tmp_path, ["en"])
