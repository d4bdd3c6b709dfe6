"""The committed .mo catalogs (issue 16: a render process loads them instead of compiling every .po)."""
from __future__ import annotations

import gettext
import io
import logging
import shutil

import pytest

from publish import i18n
from publish.i18n import LOCALE_DIR, compile_catalog, load_catalog

PO_FILES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


def test_every_po_has_a_committed_mo():
    assert len(PO_FILES) >= 2 * len(i18n.LANGUAGES)
    missing = [po for po in PO_FILES if not po.with_suffix(".mo").is_file()]
    assert not missing, f"run enr compile-catalogs: no .mo for {missing[:3]}"


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_mo_equals_a_fresh_compile_of_its_po(po):
    fresh = compile_catalog(po.read_bytes(), po.parent.parent.name, po.stem)
    assert po.with_suffix(".mo").read_bytes() == fresh, f"{po}: stale .mo, run enr compile-catalogs"


@pytest.mark.parametrize("lang,domain", [("de", "messages"), ("fr", "history")])
def test_loaded_catalog_is_the_mo_and_translates_as_the_po(lang, domain, monkeypatch):
    opened = []
    real = gettext.GNUTranslations.__init__

    def spy(self, fp=None):
        opened.append(getattr(fp, "name", None))
        real(self, fp)
    monkeypatch.setattr(gettext.GNUTranslations, "__init__", spy)
    loaded = load_catalog(lang, domain)
    mo = str(i18n.catalog_path(lang, domain).with_suffix(".mo"))
    assert opened == [mo]  # the committed file, nothing compiled
    compiled = gettext.GNUTranslations(io.BytesIO(
        compile_catalog(i18n.catalog_path(lang, domain).read_bytes(), lang, domain)))
    assert loaded._catalog == compiled._catalog
    assert len(loaded._catalog) > 10


def _copy_locale(tmp_path, monkeypatch):
    root = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR / "de", root / "de")
    monkeypatch.setattr(i18n, "LOCALE_DIR", root)
    return root / "de" / "LC_MESSAGES"


def test_a_mo_compiled_from_an_earlier_po_is_ignored(tmp_path, monkeypatch, caplog):
    folder = _copy_locale(tmp_path, monkeypatch)
    po = folder / "messages.po"
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "Europawahl %(year)s"' in text
    po.write_text(text.replace('msgstr "Europawahl %(year)s"', 'msgstr "Wahl zum EP %(year)s"'), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="publish.i18n"):
        catalog = load_catalog("de", "messages")
    assert catalog.gettext("European Parliament election %(year)s") == "Wahl zum EP %(year)s"
    assert "messages.mo was not compiled from messages.po" in caplog.text
    # enr compile-catalogs writes the .mo again, which is then used as is
    assert i18n.compile_catalogs(tmp_path / "locale") == [folder / "messages.mo"]
    assert i18n.compile_catalogs(tmp_path / "locale") == []
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="publish.i18n"):
        assert load_catalog("de", "messages").gettext("European Parliament election %(year)s") == "Wahl zum EP %(year)s"
    assert caplog.text == ""


def test_a_mo_without_the_po_digest_is_not_trusted(tmp_path, monkeypatch):
    """A .mo from plain ``pybabel compile`` (or any other tool) does not say which .po it came from."""
    folder = _copy_locale(tmp_path, monkeypatch)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with (folder / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="de")
    catalog["European Parliament election %(year)s"].string = "forged %(year)s"
    with (folder / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    assert load_catalog("de", "messages").gettext("European Parliament election %(year)s") == "Europawahl %(year)s"


def test_no_po_no_catalog(tmp_path, monkeypatch):
    folder = _copy_locale(tmp_path, monkeypatch)
    (folder / "messages.po").unlink()
    assert load_catalog("de", "messages") is None


def test_formatter_is_shared_per_language():
    from publish import site, widget  # noqa: F401  (widget uses i18n.formatter)
    assert i18n.formatter("de") is i18n.formatter("de") is site._formatter("de")
    assert i18n.formatter("de") is not i18n.formatter("fr")


def test_enr_compile_catalogs_rewrites_only_a_stale_mo(tmp_path, monkeypatch, capsys):
    from enr.cli import main

    folder = _copy_locale(tmp_path, monkeypatch)
    root = folder.parent.parent
    assert main(["compile-catalogs", "--locale-dir", str(root)]) == 0
    assert "nothing written" in capsys.readouterr().out
    po = folder / "messages.po"
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Europawahl %(year)s"',
                                                         'msgstr "Wahl zum EP %(year)s"'), encoding="utf-8")
    before = (folder / "history.mo").read_bytes()
    assert main(["compile-catalogs", "--locale-dir", str(root)]) == 0
    assert capsys.readouterr().out.split() == [str(folder / "messages.mo")]
    assert (folder / "messages.mo").read_bytes() == compile_catalog(po.read_bytes(), "de", "messages")
    assert (folder / "history.mo").read_bytes() == before
