"""The accessibility statement is translated in full in all 24 languages (no browser, no site build).

Every message of ``publish.accessibility.STATEMENT`` (and its title) has a translation in the catalog
of each non-English language, so no block falls back to English (``english`` is False everywhere);
placeholders survive translation and ``%`` formatting with :func:`publish.accessibility.values`
works; docs/ACCESSIBILITY.md is still :func:`publish.accessibility.markdown`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from publish import accessibility
from publish.i18n import LANGUAGES, load_catalog

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%%")


def _flat(blocks: list[dict]) -> list[dict]:
    return [item for block in blocks for item in (block["entries"] if block["kind"] == "ul" else [block])]


def test_24_languages() -> None:
    assert len(LANGUAGES) == 24 and "en" in LANGUAGES


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_statement_message_translated(lang: str) -> None:
    catalog = load_catalog(lang, "messages")
    assert catalog is not None, lang
    assert catalog.gettext(accessibility.TITLE) != accessibility.TITLE, f"{lang}: title not translated"
    for kind, message in accessibility.STATEMENT:
        translated = catalog.gettext(message)
        assert translated != message, f"{lang}: not translated: {message[:60]!r}"
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(message)), (lang, message[:60])
        if kind == "h2":  # HTML escaping leaves it unchanged: the site test finds it verbatim
            assert not re.search(r"[\"'<>&]", translated), (lang, translated)
    items = _flat(accessibility.blocks(catalog.gettext, lang))
    assert len(items) == len(accessibility.STATEMENT)
    assert not any(item["english"] for item in items), f"{lang}: falls back to English"
    assert any(accessibility.prepared_text(lang) in item["text"] for item in items), f"{lang}: date"
    assert all("%(" not in item["text"] and "%%" not in item["text"] for item in items), lang


def test_english_and_docs() -> None:
    items = _flat(accessibility.blocks(lambda m: m, "en"))
    assert all(item["english"] for item in items) and len(items) == len(accessibility.STATEMENT)
    assert (ROOT / "docs" / "ACCESSIBILITY.md").read_text(encoding="utf-8") == accessibility.markdown()
