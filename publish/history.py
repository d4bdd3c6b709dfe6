"""History pages of the results site: EP elections 1979-2019 by country and for the whole EU.

Input: the structure of :func:`historical_loader.site.history_for_site` (``{"countries": {CC:
[elections]}, "eu": [years]}``). Output, for each language::

    <lang>/history/index.html    size of the Parliament over time (chart + table), seats by
                                 country after each regular election, links to the countries
    <lang>/history/<cc>.html     a country's seats by party at each election (chart + table),
                                 then every election's parties: votes, vote share, seats

Like the rest of :mod:`publish`: Jinja2 with autoescaping (party names reach the page only
through the template engine), numbers, percentages, dates and country names from CLDR (Babel),
no clock, no script, nothing loaded from another origin; the pages link the site's own
``assets/style.css`` (relative, two levels up). Charts are inline SVG with a title and a
description, drawn with presentation attributes only (the site's CSP allows no inline style),
labelled with text (never colour alone) and followed by a table with the same figures, which the
chart points at with ``aria-describedby``.

UI strings come from the gettext domain ``history``
(``publish/locale/<lang>/LC_MESSAGES/history.po``, compiled in memory like ``messages.po`` in
:mod:`publish.i18n`). Vote shares are shown with the precision the source gives (ParlGov has
0 to 3 decimals), never invented digits.
"""
from __future__ import annotations

import gettext
import logging
import time
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, parse_pattern
from jinja2 import Environment, StrictUndefined

from publish.accessibility import TITLE as STATEMENT_TITLE
from publish.files import write_new
from publish.i18n import LANGUAGES, ballot_language, catalog_path, load_catalog
from publish.i18n import translations as site_translations
from publish.template_cache import environment

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
DOMAIN = "history"
CLDR_TERRITORY = {"EL": "GR", "UK": "GB"}
SOURCE_TEXT = "ParlGov (Döring & Manow), 2024 release, doi:10.7910/DVN/2VZ5ZC"
DASH = "\u2014"

# chart geometry (SVG user units)
CHART_WIDTH = 640
ROW = 22
GAP = 6
TOP = 8
DARK, LIGHT, HATCH = "#1f4e79", "#8fb3d9", "#cfdcea"


class HistoryRenderError(ValueError):
    """The history structure lacks a field the pages need (names it), or a language is unknown."""


@lru_cache(maxsize=32)
def translations(lang: str) -> gettext.NullTranslations:
    """The ``history`` catalog of ``lang`` (a ``.mo`` newer than the ``.po`` is preferred)."""
    if lang not in LANGUAGES:
        raise HistoryRenderError(f"no history catalog for language {lang!r}; known: {', '.join(LANGUAGES)}")
    catalog = load_catalog(lang, DOMAIN)
    if catalog is None:
        raise HistoryRenderError(f"{catalog_path(lang, DOMAIN)}: catalog missing")
    return catalog


@lru_cache(maxsize=65536)
def _integer(lang: str, value: int) -> str:
    return _formatter(lang).number(value) if value >= 0 else format_decimal(value, locale=Locale.parse(lang))


@lru_cache(maxsize=32)
def _formatter(lang: str):
    from publish.i18n import Formatter

    return Formatter(lang)


@lru_cache(maxsize=65536)
def _share(lang: str, text: str) -> str:
    return _Format(lang)._share(text)


class _Format:
    """Numbers, percentages, dates and names for one language (CLDR via Babel)."""

    def __init__(self, lang: str):
        self.lang = lang
        self.locale = Locale.parse(lang)
        self.catalog = translations(lang)
        self._percent = self.locale.percent_formats[None].pattern

    def _(self, message: str, **values: object) -> str:
        text = self.catalog.gettext(message)
        return text % values if values else text

    def number(self, value: int | None) -> str:
        if value is None:
            return DASH
        if isinstance(value, int) and not isinstance(value, bool):
            return _integer(self.lang, value)  # the same text as format_decimal, memoised
        return format_decimal(value, locale=self.locale)

    def share(self, text: str | None) -> str:
        """A percentage given in percent as decimal text, with the source's own precision."""
        if text is None or text == "":
            return DASH
        return _share(self.lang, str(text))

    def _share(self, text: str) -> str:
        value = Decimal(str(text))
        places = max(0, -value.as_tuple().exponent) if "." in str(text) else 0
        pattern = parse_pattern(self._percent)
        pattern.frac_prec = (places, places)
        return pattern.apply(value / 100, self.locale)

    def percent_whole(self, value: int) -> str:
        pattern = parse_pattern(self._percent)
        pattern.frac_prec = (0, 0)
        return pattern.apply(Decimal(value) / 100, self.locale)

    def day(self, iso: str) -> str:
        return format_date(date.fromisoformat(iso), "long", locale=self.locale)

    def country(self, code: str) -> str:
        return self.locale.territories.get(CLDR_TERRITORY.get(code, code), code)

    @staticmethod
    def language_name(lang: str) -> str:
        name = Locale.parse(lang).get_display_name(lang) or lang
        return name[:1].upper() + name[1:]


def _environment() -> Environment:
    return environment("history", TEMPLATES, autoescape=True, undefined=StrictUndefined,
                       extensions=["jinja2.ext.i18n"], keep_trailing_newline=True)


def _check(history: dict) -> None:
    if not isinstance(history, dict) or "countries" not in history or "eu" not in history:
        raise HistoryRenderError("history: expected a dict with 'countries' and 'eu' "
                                 "(historical_loader.site.history_for_site)")
    for code, elections in history["countries"].items():
        if not (isinstance(code, str) and len(code) == 2 and code.isalpha() and code.isupper()):
            raise HistoryRenderError(f"history: country code {code!r} is not two capital letters")
        for e in elections:
            for key in ("year", "election_date", "seats_total", "parties"):
                if key not in e:
                    raise HistoryRenderError(f"history: country {code} election {e.get('year')!r}: missing {key!r}")
    for entry in history["eu"]:
        for key in ("year", "seats_total", "countries"):
            if key not in entry:
                raise HistoryRenderError(f"history: eu entry {entry.get('year')!r}: missing {key!r}")


def _text_width(text: str) -> float:
    return 6.6 * len(text) + 8


def _size_chart(fmt: _Format, eu: list[dict]) -> dict:
    """Horizontal bars: the Parliament's seats after each year; enlargement years hatched and
    labelled with the countries concerned."""
    label_w, value_w = 150, 50
    span = CHART_WIDTH - label_w - value_w
    top = max((e["seats_total"] for e in eu), default=1) or 1
    rows = []
    for i, e in enumerate(eu):
        regular = e.get("regular", True)
        newcomers = sorted(set(e.get("elected", [])) | set(e.get("appointed", []))) if not regular else []
        label = f"{e['year']} ({', '.join(newcomers)})" if newcomers else str(e["year"])
        y = TOP + i * (ROW + GAP)
        width = round(span * e["seats_total"] / top, 2)
        rows.append({"y": y, "text_y": y + ROW * 0.7, "label": label, "x": label_w, "width": width,
                     "fill": DARK if regular else "url(#hist-hatch)", "value": fmt.number(e["seats_total"]),
                     "value_x": label_w + width + 6, "title": f"{label}: {fmt.number(e['seats_total'])}"})
    height = TOP * 2 + len(eu) * (ROW + GAP)
    return {"id": "size", "width": CHART_WIDTH, "height": height, "rows": rows, "label_x": label_w - 8,
            "title": fmt._("Size of the European Parliament"), "desc": fmt._("Bar chart; the same figures are in "
                                                                             "the table below.")}


def _party_chart(fmt: _Format, code: str, elections: list[dict]) -> dict:
    """One stacked bar per election: seats by party, largest first, each segment labelled with the
    party and its seats where it fits and carrying a <title> everywhere."""
    label_w, value_w = 50, 40
    span = CHART_WIDTH - label_w - value_w
    top = max((e["seats_total"] for e in elections), default=1) or 1
    rows = []
    for i, e in enumerate(elections):
        y = TOP + i * (ROW + GAP)
        x = float(label_w)
        segments = []
        for j, p in enumerate(p for p in e["parties"] if (p.get("seats") or 0) > 0):
            width = span * p["seats"] / top
            text = f"{p['party_abbrev']} {fmt.number(p['seats'])}"
            dark = j % 2 == 0
            segments.append({"x": round(x, 2), "width": round(width, 2), "fill": DARK if dark else LIGHT,
                             "text": text if width >= _text_width(text) else "",
                             "text_x": round(x + 4, 2), "text_fill": "#ffffff" if dark else "#000000",
                             "title": f"{p['party_abbrev']} ({p['party_name']}): {fmt.number(p['seats'])}"})
            x += width
        rows.append({"y": y, "text_y": y + ROW * 0.7, "label": str(e["year"]), "segments": segments,
                     "value": fmt.number(e["seats_total"]), "value_x": round(x + 6, 2)})
    height = TOP * 2 + len(elections) * (ROW + GAP)
    return {"id": f"seats-{code.lower()}", "width": CHART_WIDTH, "height": height, "rows": rows,
            "label_x": label_w - 8, "title": fmt._("Seats by party at each election"),
            "desc": fmt._("Bar chart; the same figures are in the table below.")}


def _election_view(fmt: _Format, e: dict) -> dict:
    parties = e["parties"]
    shares = [Decimal(str(p["vote_share"])) for p in parties if p.get("vote_share") not in (None, "")]
    listed = sum(shares, Decimal(0))
    return {
        "year": e["year"], "date": fmt.day(e["election_date"]), "date_iso": e["election_date"],
        "seats_total": fmt.number(e["seats_total"]),
        "parties": [{"abbrev": p["party_abbrev"], "name": p["party_name"], "votes": fmt.number(p.get("votes")),
                     "share": fmt.share(p.get("vote_share")), "seats": fmt.number(p.get("seats")),
                     "won": (p.get("seats") or 0) > 0} for p in parties],
        "seats_by_party": ", ".join(f"{p['party_abbrev']} {fmt.number(p['seats'])}" for p in parties
                                    if (p.get("seats") or 0) > 0),
        "listed_share": fmt.share(str(listed)) if shares else "",
    }


def render_history(history: dict, out_dir: Path, languages: list[str]) -> list[Path]:
    """Write ``<out_dir>/<lang>/history/index.html`` and ``<cc>.html`` for every country and
    language; returns the files written (the caller adds them to the site's manifest)."""
    _check(history)
    languages = list(languages)
    for lang in languages:
        translations(lang)  # fail early on an unknown language or a missing catalog
    started = time.perf_counter()
    out_dir = Path(out_dir)
    env = _environment()
    written: list[Path] = []
    countries = history["countries"]
    eu = sorted(history["eu"], key=lambda e: e["year"])
    regular = [e for e in eu if e.get("regular", True)]
    codes_in_eu = sorted({c for e in eu for c in e["countries"]} | set(countries))

    def write(lang: str, name: str, template: str, fmt: _Format, **values: object) -> None:
        switcher = [{"code": other, "name": _Format.language_name(other), "href": f"../../{other}/history/{name}"}
                    for other in languages]
        html = env.get_template(template).render(
            lang=lang, page=name, root="../../", switcher=switcher, language_name=_Format.language_name(lang),
            source=SOURCE_TEXT, statement_title=site_translations(lang).gettext(STATEMENT_TITLE), **values)
        path = out_dir / lang / "history" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_new(path, html)
        written.append(path)

    for lang in languages:
        fmt = _Format(lang)
        env.install_gettext_translations(fmt.catalog, newstyle=True)
        notes = {"small_parties": fmt._("Only parties that won a seat or about %(one)s of the vote are listed, so "
                                        "the shares usually add up to less than %(hundred)s.",
                                        one=fmt.percent_whole(1), hundred=fmt.percent_whole(100))}
        country_links = sorted(({"code": c, "slug": c.lower(), "name": fmt.country(c)} for c in countries),
                               key=lambda c: c["name"])
        size_rows = []
        for e in eu:
            is_regular = e.get("regular", True)
            kind = (fmt._("European election") if is_regular else
                    fmt._("Election in a new member state") if e.get("elected") else
                    fmt._("Delegation appointed by a national parliament"))
            size_rows.append({"year": e["year"], "kind": kind, "seats": fmt.number(e["seats_total"]),
                              "elected": ", ".join(fmt.country(c) for c in e.get("elected", [])) if not is_regular
                              else "",
                              "appointed": ", ".join(fmt.country(c) for c in e.get("appointed", []))})
        matrix = []
        for code in sorted(codes_in_eu, key=fmt.country):
            cells = [fmt.number(e["countries"][code]) if code in e["countries"] else DASH for e in regular]
            matrix.append({"code": code, "slug": code.lower(), "name": fmt.country(code),
                           "linked": code in countries, "cells": cells})
        write(lang, "index.html", "history/index.html.j2", fmt, chart=_size_chart(fmt, eu), size_rows=size_rows,
              years=[e["year"] for e in regular], matrix=matrix, countries=country_links, notes=notes,
              regular_totals=[fmt.number(e["seats_total"]) for e in regular])
        for code, elections in sorted(countries.items()):
            ordered = sorted(elections, key=lambda e: e["year"])
            views = [_election_view(fmt, e) for e in ordered]
            write(lang, f"{code.lower()}.html", "history/country.html.j2", fmt, code=code,
                  ballot_lang=ballot_language(code),
                  country_name=fmt.country(code), chart=_party_chart(fmt, code, ordered), elections=views,
                  newest_first=list(reversed(views)), notes=notes)
    log.info("rendered history languages=%d countries=%d files=%d seconds=%.2f", len(languages), len(countries),
             len(written), time.perf_counter() - started)
    return written


__all__ = ["render_history", "HistoryRenderError", "LANGUAGES"]
