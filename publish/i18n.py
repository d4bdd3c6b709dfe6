"""Languages: UI strings from gettext catalogs, numbers, dates and names from CLDR (Babel).

The UI strings live in ``publish/locale/<lang>/LC_MESSAGES/messages.po``, one catalog per official
EU language. Each ``.po`` has its compiled ``.mo`` committed beside it (``enr compile-catalogs``
writes them: :func:`compile_catalog`), so a render process loads the catalogs instead of compiling
them (a fixed cost of every process, issue 16). A ``.mo`` records the SHA-256 of the ``.po`` it was
compiled from (message ``po-sha256`` in context ``enr-source``); one that does not match its ``.po``
(edited since) is ignored and the ``.po`` compiled in memory, as is a ``.po`` without ``.mo``: the
strings shown are always the ``.po``'s. A test checks that every committed ``.mo`` equals a fresh
compile of its ``.po``.

Political group names are translated in the catalogs, keyed by group id in the ``ep-group``
context (``pgettext("ep-group", "EPP")``), so a group keeps its translation when its English name
changes; an untranslated id falls back to the name given in the bundle. Party and list names are
never translated: they stay as on the ballot.

Country names come from CLDR territory names; the EU's own codes differ from ISO 3166 for two
countries (``EL`` -> ``GR``, ``UK`` -> ``GB``).

Percentages are exact fractions rounded half-up to two decimals at render time, then formatted
with the locale's own percent pattern (sign placement and spacing differ between languages).
"""
from __future__ import annotations

import gettext
import hashlib
import io
import logging
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, get_group_symbol, parse_pattern

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES: tuple[str, ...] = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu",
                              "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv")
DEFAULT_LANGUAGE = "en"
BRUSSELS = ZoneInfo("Europe/Brussels")
CLDR_TERRITORY = {"EL": "GR", "UK": "GB"}
GROUP_CONTEXT = "ep-group"
SOURCE_CONTEXT, SOURCE_DIGEST = "enr-source", "po-sha256"  # the .po a .mo was compiled from
# The language of the names on each country's ballot paper (list and party names stay as on the
# ballot and are marked with it, WCAG 3.1.2). Countries whose ballots mix several languages
# (BE, FI, IE, LU, MT) are absent: the language of each name is not known (the accessibility
# statement says so).
BALLOT_LANGUAGE = {"AT": "de", "BG": "bg", "CY": "el", "CZ": "cs", "DE": "de", "DK": "da", "EE": "et", "EL": "el",
                   "ES": "es", "FR": "fr", "HR": "hr", "HU": "hu", "IT": "it", "LT": "lt", "LV": "lv", "NL": "nl",
                   "PL": "pl", "PT": "pt", "RO": "ro", "SE": "sv", "SI": "sl", "SK": "sk", "UK": "en"}


def ballot_language(code: str) -> str:
    """The language of a country's ballot names, or "" when its ballots use several."""
    return BALLOT_LANGUAGE.get(code, "")


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


STATUS_LABELS = {
    "none": N_("No results yet"),
    "estimate": N_("Estimate"),
    "provisional": N_("Provisional"),
    "final": N_("Final"),
    "official": N_("Official"),
}
FINAL_STATUSES = frozenset({"final", "official"})


class UnknownLanguage(ValueError):
    """A language that has no catalog in ``publish/locale``."""


def catalog_path(lang: str, domain: str) -> Path:
    """``publish/locale/<lang>/LC_MESSAGES/<domain>.po``."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def compile_catalog(po_data: bytes, lang: str, domain: str) -> bytes:
    """The ``.mo`` bytes of a ``.po`` (Babel's ``write_mo``, deterministic), with the ``.po``'s SHA-256
    as the message ``po-sha256`` in context ``enr-source`` so that a loader can tell a stale ``.mo``."""
    catalog = read_po(io.BytesIO(po_data), locale=lang, domain=domain)
    catalog.add(SOURCE_DIGEST, hashlib.sha256(po_data).hexdigest(), context=SOURCE_CONTEXT)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def load_catalog(lang: str, domain: str) -> gettext.GNUTranslations | None:
    """The ``domain`` catalog of ``lang``: its committed ``.mo`` when it was compiled from the ``.po``
    as it is now (same SHA-256), else the ``.po`` compiled in memory; None when there is no ``.po``."""
    po_path = catalog_path(lang, domain)
    if not po_path.exists():
        return None
    po_data = po_path.read_bytes()
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists():
        with mo_path.open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        if compiled.pgettext(SOURCE_CONTEXT, SOURCE_DIGEST) == hashlib.sha256(po_data).hexdigest():
            return compiled
        log.warning("%s was not compiled from %s as it is now: compiling the .po (enr compile-catalogs)",
                    mo_path, po_path.name)
    return gettext.GNUTranslations(io.BytesIO(compile_catalog(po_data, lang, domain)))


def compile_catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Write the ``.mo`` of every ``.po`` under ``locale_dir`` whose ``.mo`` differs; returns those written."""
    written = []
    for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
        data = compile_catalog(po_path.read_bytes(), po_path.parent.parent.name, po_path.stem)
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists() or mo_path.read_bytes() != data:
            mo_path.write_bytes(data)
            written.append(mo_path)
    return written


@lru_cache(maxsize=32)
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English: the msgids themselves)."""
    if lang not in LANGUAGES:
        raise UnknownLanguage(f"no catalog for language {lang!r}; known: {', '.join(LANGUAGES)}")
    catalog = load_catalog(lang, "messages")
    if catalog is None:
        if lang == DEFAULT_LANGUAGE:
            return gettext.NullTranslations()
        raise UnknownLanguage(f"{catalog_path(lang, 'messages')}: catalog missing")
    return catalog


@lru_cache(maxsize=64)
def formatter(lang: str) -> "Formatter":
    """One :class:`Formatter` per language and process, shared by the site, its cards and the widget
    (it loads the locale and probes its number format, and holds nothing that changes)."""
    return Formatter(lang)


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {value!r}")
    return moment


def utc_iso(value: str | datetime | None) -> str:
    """``2019-05-26T20:40:00Z``: the machine-readable time shown beside the local one."""
    moment = parse_time(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def share(part: int | None, whole: int | None) -> Fraction | None:
    """Exact share ``part / whole`` (None if either is unknown or the whole is zero)."""
    if part is None or not whole:
        return None
    return Fraction(part, whole)


def round_percent(value: Fraction | None, places: int = 2) -> Decimal | None:
    """A share as a percentage rounded half-up (``Fraction(1, 3)`` -> ``Decimal('33.33')``)."""
    if value is None:
        return None
    exact = Decimal(value.numerator * 100) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


PERCENTS_KEPT = 20_000  # a Formatter's remembered percentages (0.00-100.00 % are 10,001)


class Formatter:
    """Everything language-dependent for one language: strings, numbers, dates, names."""

    def __init__(self, lang: str):
        self.lang = lang
        self.catalog = translations(lang)  # raises UnknownLanguage first
        self.locale = Locale.parse(lang)
        pattern = parse_pattern(self.locale.percent_formats[None].pattern)
        pattern.frac_prec = (2, 2)
        self._percent_pattern = pattern
        self._percents: dict[tuple[bool, Decimal], str] = {}  # percent()'s texts by value: a render asks for the same ones often
        # Fast path for integers, used only if it gives exactly Babel's output on probe values
        # (locales with a minimum grouping of 2, e.g. es and pl, write 1234 without a separator).
        self._group = get_group_symbol(self.locale)
        probes = (0, 7, 1234, 12345, 1234567, 751000000)
        self._fast_int = all(self._plain_int(v) == format_decimal(v, locale=self.locale) for v in probes)
        self._min_grouping = 1 if self._fast_int else 2
        if not self._fast_int:
            self._fast_int = all(self._plain_int(v, 2) == format_decimal(v, locale=self.locale) for v in probes)

    # strings
    def gettext(self, message: str, **values: object) -> str:
        text = self.catalog.gettext(message)
        return text % values if values else text

    def group_name(self, group_id: str, fallback: str = "") -> str:
        text = self.catalog.pgettext(GROUP_CONTEXT, group_id)
        return text if text != group_id else (fallback or group_id)

    def status_label(self, status: str | None) -> str:
        return self.gettext(STATUS_LABELS.get(status or "none", STATUS_LABELS["none"]))

    # names
    def country_name(self, code: str) -> str:
        territory = CLDR_TERRITORY.get(code, code)
        return self.locale.territories.get(territory, code)

    @staticmethod
    @lru_cache(maxsize=64)
    def language_name(lang: str) -> str:
        """The language's own name for itself (autonym), capitalised for a menu."""
        name = Locale.parse(lang).get_display_name(lang) or lang
        return name[:1].upper() + name[1:]

    # numbers
    def _plain_int(self, value: int, min_grouping: int = 1) -> str:
        digits = str(value)
        if len(digits) < 4 + (min_grouping - 1):
            return digits
        return f"{value:,}".replace(",", self._group)

    @property
    def number_style(self) -> tuple:
        """What decides how :meth:`number` writes a non-negative integer: two formatters with the
        same style write every such integer the same (24 languages have 4 styles)."""
        return ("grouped", self._group, self._min_grouping) if self._fast_int else ("locale", self.lang)

    def number(self, value: int | None) -> str:
        if value is None:
            return self.gettext("Not available")
        if self._fast_int and isinstance(value, int) and value >= 0:
            return self._plain_int(value, self._min_grouping)
        return format_decimal(value, locale=self.locale)

    def percent(self, value: Fraction | Decimal | None) -> str:
        """``Fraction(1, 3)`` -> ``33,33 %`` (de), ``33.33%`` (en); None -> 'not available'."""
        if value is None:
            return self.gettext("Not available")
        return self._percent_text(round_percent(value) if isinstance(value, Fraction) else Decimal(value))

    def _percent_text(self, value: Decimal) -> str:
        """``value`` percent in the language's pattern, two decimals; equal values give the same
        text, so each is formatted once (a render asks for the same ones on many pages)."""
        key = (value.is_signed(), value)  # -0.00 equals 0.00 but is written with its sign
        text = self._percents.get(key)
        if text is None:
            if len(self._percents) >= PERCENTS_KEPT:
                self._percents.clear()
            text = self._percents[key] = self._percent_pattern.apply(value / 100, self.locale)
        return text

    def percent_points(self, value: float | Decimal | None) -> str:
        """A percentage already expressed in percent (historical data): ``24.86`` -> ``24,86 %``."""
        if value is None:
            return self.gettext("Not available")
        return self._percent_text(Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP))

    def signed(self, value: int | None) -> str:
        if value is None:
            return self.gettext("Not available")
        text = format_decimal(abs(value), locale=self.locale)
        return f"+{text}" if value > 0 else (f"\u2212{text}" if value < 0 else text)

    # time
    def local_time(self, value: str | datetime | None) -> str:
        """Brussels local time in the language's long format, with its zone (CEST or +0200)."""
        moment = parse_time(value)
        if moment is None:
            return self.gettext("Not available")
        return format_datetime(moment, "long", tzinfo=BRUSSELS, locale=self.locale)

