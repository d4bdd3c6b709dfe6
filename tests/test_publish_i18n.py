"""Catalogs for the 24 languages, and CLDR formatting through Babel."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from babel.messages.pofile import read_po

from tests.support.publish_fixtures import LANGS
from publish import i18n
from publish.i18n import LOCALE_DIR, Formatter, UnknownLanguage, round_percent, translations

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def catalog(lang: str):
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def test_every_language_translates_every_string() -> None:
    template = catalog("en")
    ids = {(m.context, m.id) for m in template if m.id}
    assert len(ids) >= 70
    for lang in LANGS:
        cat = catalog(lang)
        assert {(m.context, m.id) for m in cat if m.id} == ids, lang
        for message in cat:
            if not message.id:
                continue
            if lang == "en" and message.context is None:
                continue  # English UI strings are the msgids themselves
            assert message.string, f"{lang}: {message.id!r} untranslated"
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(message.id)), \
                f"{lang}: {message.id!r} -> {message.string!r}"
        if lang != "en":
            same = [m.id for m in cat if m.id and m.context is None and m.string == m.id]
            assert len(same) <= 2, f"{lang}: copies of English: {same}"


def test_scripts_of_greek_and_bulgarian_catalogs() -> None:
    for lang, script in (("el", r"[\u0370-\u03ff]"), ("bg", r"[\u0400-\u04ff]")):
        strings = [m.string for m in catalog(lang) if m.id and m.context is None]
        assert all(re.search(script, s) for s in strings), lang


def test_catalog_compiles_at_load_and_translates() -> None:
    assert translations("de").gettext("Seats") == "Sitze"
    assert translations("mt").gettext("Turnout") == "Parteċipazzjoni"
    assert Formatter("fr").group_name("EPP") == "Groupe du Parti populaire européen (Démocrates-Chrétiens)"
    assert Formatter("pl").group_name("NEWGROUP", "Fallback name") == "Fallback name"
    with pytest.raises(UnknownLanguage):
        translations("tlh")


def test_numbers_percentages_and_countries_follow_cldr() -> None:
    assert Formatter("de").number(5286939) == "5.286.939"
    assert Formatter("en").number(5286939) == "5,286,939"
    assert Formatter("fr").number(5286939).replace("\u202f", " ") == "5 286 939"
    third = Fraction(1, 3)
    assert Formatter("en").percent(third) == "33.33%"
    assert Formatter("de").percent(third).replace("\xa0", " ") == "33,33 %"
    assert Formatter("en").percent(None) == "Not available"
    assert Formatter("el").country_name("EL") == "Ελλάδα"
    assert Formatter("en").country_name("UK") == "United Kingdom"
    assert Formatter("ga").country_name("DE") == "an Ghearmáin"


def test_rounding_is_half_up_on_exact_values() -> None:
    assert round_percent(Fraction(12345, 100000)) == Decimal("12.35")   # 12.345 -> 12.35 (not banker's 12.34)
    assert round_percent(Fraction(1, 8)) == Decimal("12.50")
    assert round_percent(Fraction(2, 3)) == Decimal("66.67")


def test_local_time_is_brussels_with_zone() -> None:
    moment = datetime(2019, 5, 26, 20, 40, tzinfo=timezone.utc)
    assert "22:40" in Formatter("de").local_time(moment) and "MESZ" in Formatter("de").local_time(moment)
    winter = datetime(2019, 1, 10, 20, 40, tzinfo=timezone.utc)
    assert "21:40" in Formatter("sv").local_time(winter)
    with pytest.raises(ValueError):
        Formatter("en").local_time("2019-05-26T20:40:00")  # naive times are refused


def test_percentages_are_babels_on_every_call_in_every_language(monkeypatch):
    """A Formatter formats each percentage once and gives the same text again (percent() and
    percent_points() share it: the same value, the same text); it is Babel's pattern with two
    decimals, in each of the 24 languages, before and after the remembered texts are dropped."""
    import random
    from decimal import ROUND_HALF_UP, Decimal
    from fractions import Fraction

    from babel.numbers import parse_pattern

    monkeypatch.setattr(i18n, "PERCENTS_KEPT", 50)  # dropped and made again within the test
    draw = random.Random(1979)
    shares = [Fraction(0), Fraction(1), Fraction(1, 3), Fraction(2, 3), Fraction(1, 8), Fraction(333335, 10 ** 7)]
    shares += [Fraction(draw.randint(0, 10 ** 6), 10 ** 6) for _ in range(150)]
    points = [0, 7, 24.86, 33.335, 99.995, 100.0, 0.005] + [round(draw.uniform(0, 100), 3) for _ in range(50)]
    for lang in i18n.LANGUAGES:
        fmt = i18n.Formatter(lang)
        pattern = parse_pattern(fmt.locale.percent_formats[None].pattern)
        pattern.frac_prec = (2, 2)
        for share in shares * 2:
            assert fmt.percent(share) == pattern.apply(i18n.round_percent(share) / 100, fmt.locale), (lang, share)
        for value in points * 2:
            expected = pattern.apply(Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP) / 100, fmt.locale)
            assert fmt.percent_points(value) == expected, (lang, value)
        assert len(fmt._percents) <= 50
        zero = fmt.percent(Fraction(0))  # -0.00 equals 0.00, but Babel writes its sign: not the same text
        assert fmt.percent(Decimal("-0.00")) == pattern.apply(Decimal("-0.00") / 100, fmt.locale)
        assert fmt.percent(Fraction(0)) == zero == pattern.apply(Decimal("0.00") / 100, fmt.locale)
