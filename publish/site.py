"""The static results site: one folder per version, every page in every language, plus feeds and widget.

Layout of a rendered version (all links are relative, so the folder works from any base URL,
from a bucket, or opened from disk; no page loads anything from another origin)::

    index.html                      language chooser
    <lang>/index.html               EU page: hemicycle, seats by group, majority calculator, turnout, countries
    <lang>/country/<cc>.html        lists, votes, shares, seats, turnout, result type, data time, 2014 comparison
    <lang>/group/<slug>.html        a political group's seats by country
    <lang>/comparison.html          this election against the previous one
    <lang>/methodology.html         each country's rule, seat steps, ties
    <lang>/corrections.html         corrections (before/after) and what changed in this version
    <lang>/downloads.html           feeds, manifest, signatures, how to verify, embed code
    <lang>/accessibility.html       the accessibility statement (see :mod:`publish.accessibility`)
    <lang>/history/index.html, <lang>/history/<cc>.html
                                    only if ``history`` is given (rendered by :mod:`publish.history`)
    assets/style.css, assets/majority.js
    cards/<lang>/eu.png, cards/<lang>/<cc>.png
                                    social cards, 1200 x 630 (see :mod:`publish.cards`)
    data/...                        feeds (see :mod:`publish.feeds`)
    changes.json                    what changed against the previous version
    widget/...                      media widget (see :mod:`publish.widget`)

Pages are rendered with Jinja2 with autoescaping on; names from the bundle (lists, parties)
reach the page only through the template engine or :func:`html.escape`. Nothing here reads the
clock: every time shown comes from the bundle, so the same bundle renders the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
import time
from pathlib import Path

from jinja2 import Environment, StrictUndefined, pass_context
from markupsafe import Markup, escape

from publish import accessibility, cards, feeds, hemicycle, model, parallel, projection_view, turnout, widget
from publish.i18n import DEFAULT_LANGUAGE, LANGUAGES, Formatter, ballot_language, utc_iso
from publish.files import file_identity, write_new
from publish.i18n import formatter as i18n_formatter
from publish.sources import history_digest
from publish.sources import sources_digest as _sources_digest  # the name the fingerprints use
from publish.template_cache import environment

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


_RENDER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """One Jinja environment per process (templates compile once); renders are serialised by a lock
    because the gettext callables are installed per language on it."""
    return environment("site", TEMPLATES, autoescape=True, trim_blocks=False, lstrip_blocks=False,
                       undefined=StrictUndefined, extensions=["jinja2.ext.i18n"], keep_trailing_newline=True)


def _use_language(env: Environment, fmt: Formatter) -> None:
    """Install ``fmt``'s catalog as the templates' ``gettext`` and ``_`` (newstyle, as
    :meth:`jinja2.ext.InternationalizationExtension.install_gettext_translations` does), with the
    strings without values kept once translated (:func:`_page_gettext`)."""
    env.install_gettext_translations(fmt.catalog, newstyle=True)
    fast = _page_gettext(fmt.catalog)
    env.globals.update(gettext=fast, _=fast)


@lru_cache(maxsize=64)
def _page_gettext(catalog: object) -> Callable[..., str]:
    """Jinja2's newstyle ``gettext`` over ``catalog`` (the same result: the translation, escaped by
    ``Markup % values`` under autoescape), with a string that takes no values translated once: a page
    asks for ~15 such strings (menu, banners, footer), ~19,000 calls in a one-country update, each
    through two context calls and a ``Markup`` format."""
    memo: dict[str, str] = {}

    @pass_context
    def gettext(__context: object, __string: str, **variables: object) -> str:
        if not __context.eval_ctx.autoescape:
            return catalog.gettext(__string) % variables
        if variables:
            return Markup(catalog.gettext(__string)) % variables
        text = memo.get(__string)
        if text is None:
            text = memo[__string] = Markup(catalog.gettext(__string)) % {}
        return text
    return gettext


def _warm_before_fork(languages: list[str]) -> None:
    """Make the fixed costs of a render process once, before a split render forks (the children
    inherit them; issue 16): each language's :class:`Formatter` (catalog, Babel's locale data) and
    the compiled templates of the site and its cards (the history pages' are :mod:`publish.history`'s)."""
    for lang in languages:
        _formatter(lang)
    card_templates = (cards.TEMPLATE, cards.PANEL_TEMPLATE)  # in the same folder, drawn by the cards' own
    env = _environment()
    for name in env.list_templates(filter_func=lambda name: name.endswith(".j2") and "/" not in name):
        if name not in card_templates:
            env.get_template(name)
    for name in card_templates:
        cards._environment().get_template(name)


@lru_cache(maxsize=64)
def _formatter(lang: str) -> Formatter:
    """One :class:`Formatter` per language and process (it loads the locale and probes its number
    format, and holds nothing that changes): every page, card and the language chooser share it,
    and the widget (:func:`publish.i18n.formatter`)."""
    return i18n_formatter(lang)


@lru_cache(maxsize=4096)
def _local_time(fmt: Formatter, value: str) -> str:
    """``fmt.local_time(value)``, once per language and time: the countries tallied in one version
    share their ``since_generated_at``, and Babel's date formatting is slow."""
    return fmt.local_time(value)


@lru_cache(maxsize=1024)
def _legend_icon(shape: str, color: str, size: int = 14) -> str:
    """:func:`publish.hemicycle.legend_icon`, drawn once: a pure function of its arguments that every
    list of every country needs in every language."""
    return hemicycle.legend_icon(shape, color, size)


def _when(fmt: Formatter, value: str | None) -> dict:
    return {"utc": utc_iso(value), "local": _local_time(fmt, value) if value else ""}


def _year(bundle: dict) -> str:
    date = bundle["election"].get("election_date", "")
    return date[:4] if date else ""


def _site_title(fmt: Formatter, bundle: dict) -> str:
    year = _year(bundle)
    return fmt.gettext("European Parliament election %(year)s", year=year) if year else bundle["election"]["name"]


class _Site:
    """Language-independent view of the bundle, computed once per render; the page builders localise it."""

    def __init__(self, bundle: dict, history: dict | None):
        self.bundle = bundle
        self.history_countries = set((history or {}).get("countries", {}))
        election = bundle["election"]
        self.version = bundle["version"]
        self.test = bool(bundle.get("test"))
        self.synthetic = bool(bundle.get("synthetic"))  # made-up counts (enr.synthetic): a banner on every page
        self.groups_meta = {g["id"]: g for g in election.get("groups", [])}
        seats = model.group_seats(bundle)
        ids = list(self.groups_meta) + [g for g in seats if g not in self.groups_meta]
        self.order = hemicycle.seating(ids)
        self.shapes = {gid: hemicycle.shape_of(i) for i, gid in enumerate(ids)}
        self.seats = {gid: seats.get(gid, 0) for gid in self.order}
        self.total = int(bundle["eu"].get("seats_total") or election.get("total_seats") or sum(self.seats.values()))
        self.majority = int(bundle["eu"].get("majority") or election.get("majority") or self.total // 2 + 1)
        self.countries = sorted(bundle["countries"], key=lambda c: c["code"])
        self.by_code = {c["code"]: c for c in self.countries}
        self.not_final = not model.all_final(bundle)
        reported = [c.get("status") for c in self.countries if c.get("status") in model.STATUSES[1:]]
        # the EU result's stage: that of its least advanced country with results
        self.stage = min(reported, key=model.STATUSES.index) if reported else "none"
        prev = bundle["eu"].get("previous") or {}
        self.previous_year = prev.get("year")
        self.previous_groups = {g["id"]: g for g in prev.get("groups", [])}
        # comparisons (issue 20): which Parliament the groups are compared with, EU turnout since 1979
        self.previous_groups_year = prev.get("groups_year")
        self.comparison = {r["group"]: r for r in model.group_comparison(bundle) if r["comparison"] != "no_successor"}
        self.eu_turnout_history = turnout.history_points(prev.get("turnout_history"))
        self._step_parts: dict[str, list] = {}
        self._steps_rows: dict[tuple, tuple[int, Markup]] = {}
        self._steps_plain: dict[str, bool] = {}

    def color(self, gid: str) -> str:
        return model.safe_color(self.groups_meta.get(gid, {}).get("color"))

    def step_parts(self, country: dict, names: dict) -> list[tuple[str, list]]:
        """A country's seat steps as the methodology shows them, once per render: each step's kind and
        its ``key: value`` parts, the numbers left as ``(prefix, int)`` for each language to format
        (a list's id shown with its name, a yes/no as a check mark or a cross, empty values left out)."""
        code = country["code"]
        if code not in self._step_parts:
            steps = []
            for step in country.get("steps", []):
                parts: list = []
                for key, value in step.items():
                    if key == "kind" or value is None or value == "" or value == [] or value == {}:
                        continue
                    if key == "list_id" and value in names:
                        value = f"{names[value]} ({value})"
                    elif key == "lists" and isinstance(value, list):
                        value = ", ".join(names.get(v, str(v)) for v in value)
                    elif isinstance(value, bool):
                        value = "\u2714" if value else "\u2718"
                    elif isinstance(value, int):
                        parts.append((f"{key}: ", value))
                        continue
                    parts.append(f"{key}: {value}")
                steps.append((step.get("kind", ""), parts))
            self._step_parts[code] = steps
        return self._step_parts[code]


    def steps_rows(self, country: dict, names: dict, fmt: Formatter) -> tuple[int, Markup]:
        """A country's seat steps in ``fmt``'s language: their number and the rows of the methodology's
        table (:func:`_steps_rows`). The steps' only language-dependent parts are integers, so the rows
        are made once per number style (:attr:`Formatter.number_style`) when those are all
        non-negative, else once per language."""
        parts = self.step_parts(country, names)
        code = country["code"]
        plain = self._steps_plain.get(code)
        if plain is None:
            plain = self._steps_plain[code] = all(isinstance(part, str) or (type(part[1]) is int and part[1] >= 0)
                                                  for _, step in parts for part in step)
        key = (code, fmt.number_style if plain else ("language", fmt.lang))
        if key not in self._steps_rows:
            steps = [(kind, " · ".join(part if isinstance(part, str) else part[0] + fmt.number(part[1])
                                       for part in step)) for kind, step in parts]
            self._steps_rows[key] = (len(steps), _steps_rows(steps))
        return self._steps_rows[key]


def _group_rows(site: _Site, fmt: Formatter) -> list[dict]:
    rows = []
    for gid in site.order:
        meta = site.groups_meta.get(gid, {})
        seats = site.seats.get(gid, 0)
        prev = site.previous_groups.get(gid)
        by_country = []
        eu_group = next((g for g in site.bundle["eu"].get("groups", []) if g["id"] == gid), {})
        for code, count in sorted((eu_group.get("by_country") or {}).items(), key=lambda kv: (-kv[1], kv[0])):
            country = site.by_code.get(code, {"code": code, "lists": [], "status": "none"})
            lists = ", ".join(e.get("party_abbrev") or e.get("list_name", "") for e in country.get("lists", [])
                              if e.get("ep_group") == gid and e.get("seats"))
            by_country.append({"slug": code.lower(), "name": fmt.country_name(code), "seats": fmt.number(count),
                               "lists": lists, "ballot_lang": ballot_language(code), "status_label": fmt.status_label(country.get("status"))})
        rows.append({
            "id": gid, "key": model.slug(gid), "name": fmt.group_name(gid, meta.get("name", gid)),
            "color": site.color(gid), "shape": site.shapes[gid],
            "icon": _legend_icon(site.shapes[gid], site.color(gid)),
            "seats_raw": seats, "seats_text": fmt.number(seats),
            "share_text": fmt.percent(model.seat_share(seats, site.total)),
            **_previous_cells(site, fmt, gid, seats, missing=""),
            "by_country": by_country,
        })
    return rows


def _previous_cells(site: _Site, fmt: Formatter, gid: str, seats: int, missing: str) -> dict:
    """A group's seats in the previous Parliament and the change (its predecessors' seats, as the
    data maps them); "new" for a group without predecessor when the previous groups are known."""
    row = site.comparison.get(gid) or {"comparison": "not_compared"}
    if row["comparison"] == "continuing":
        return {"previous_text": fmt.number(row["seats_previous"]), "change_text": fmt.signed(seats - row["seats_previous"]),
                "predecessors": ", ".join(i for i in row["previous_ids"] if i != gid)}
    if row["comparison"] == "new":
        return {"previous_text": fmt.gettext("new"), "change_text": missing, "predecessors": ""}
    return {"previous_text": missing, "change_text": missing, "predecessors": ""}


def _turnout_series(site: _Site, fmt: Formatter, country: dict | None = None) -> list[turnout.Series]:
    """The EU line (past elections + tonight over the countries reporting) and, for a country page,
    the country's line (its past elections + tonight's count) against the EU's past elections only:
    a country's page must not change when another country reports (incremental staging)."""
    year = int(_year(site.bundle) or 0)
    eu = site.bundle["eu"]
    tonight = None if country is not None else turnout.percent_of(model.turnout(eu.get("registered"), eu.get("voters")))
    points = list(site.eu_turnout_history) + ([(year, tonight)] if tonight is not None else [])
    series = [turnout.Series("eu", fmt.country_name("EU") if fmt.country_name("EU") != "EU" else "EU", points,
                             dict(turnout.EU_STYLE), year if tonight is not None else None)]
    if country is not None:
        own = turnout.percent_of(model.turnout(country.get("registered"), country.get("voters")))
        past = turnout.history_points((country.get("previous") or {}).get("turnout_history"))
        series.insert(0, turnout.Series(country["code"].lower(), fmt.country_name(country["code"]),
                                        past + ([(year, own)] if own is not None else []),
                                        dict(turnout.COUNTRY_STYLE), year if own is not None else None))
    return series


def _turnout_block(site: _Site, fmt: Formatter, chart_id: str, country: dict | None = None) -> dict | None:
    """Chart + table of turnout since 1979 (None when the bundle has no history)."""
    series = _turnout_series(site, fmt, country)
    if not site.eu_turnout_history and not (country and (country.get("previous") or {}).get("turnout_history")):
        return None
    reporting, total = int(site.bundle["eu"].get("countries_reporting") or 0), len(site.countries)
    eu_label = (fmt.gettext("EU tonight: %(count)s of %(total)s countries reporting so far",
                            count=fmt.number(reporting), total=fmt.number(total))
                if reporting < total and country is None else "")
    return {"id": chart_id, "table_id": f"{chart_id}-table",
            "svg": turnout.render_chart(chart_id, series, fmt, fmt.gettext("Turnout since 1979"),
                                        described_by=f"{chart_id}-table"),
            "headers": [s.label for s in series], "rows": turnout.table_rows(series, fmt), "eu_note": eu_label}


def _eu_turnout_context(site: _Site, fmt: Formatter) -> dict:
    """The EU page's turnout against the previous election, and "so far" while countries are missing."""
    reporting, total = int(site.bundle["eu"].get("countries_reporting") or 0), len(site.countries)
    last = site.eu_turnout_history[-1] if site.eu_turnout_history else None
    return {"turnout_note": fmt.gettext("EU tonight: %(count)s of %(total)s countries reporting so far",
                                        count=fmt.number(reporting), total=fmt.number(total)) if reporting < total else "",
            "turnout_previous_year": str(last[0]) if last else "",
            "turnout_previous": fmt.percent_points(last[1]) if last else ""}


def _sorted_lists(country: dict) -> list[dict]:
    return sorted(country.get("lists", []), key=lambda e: (-(e.get("seats") or 0), -(e.get("votes") or 0),
                                                          e.get("list_name", "")))


def _country_details(site: _Site, fmt: Formatter, country: dict) -> dict:
    """The part of a country's view that only its own page and card show (the EU-wide pages do not)."""
    lists = []
    for entry in _sorted_lists(country):
        share = model.vote_share(country, entry)
        # a list without members has no group; one that wins seats without a known group is "Others"
        gid = entry.get("ep_group") or ("OTH" if entry.get("seats") else "")
        lists.append({
            "list_name": entry.get("list_name", ""), "party_abbrev": entry.get("party_abbrev", ""),
            "group_id": gid, "group_name": fmt.group_name(gid, site.groups_meta.get(gid, {}).get("name", gid)),
            "group_icon": _legend_icon(site.shapes.get(gid, "circle"), site.color(gid), 12),
            "color": site.color(gid), "votes": fmt.number(entry.get("votes")),
            "share_text": fmt.percent(share), "bar": f"{float(share * 100):.2f}" if share is not None else "0",
            "seats": fmt.number(entry.get("seats")), "seats_raw": entry.get("seats") or 0,
        })
    previous = country.get("previous")
    prev_view = None
    if previous and previous.get("parties") is not None:
        prev_view = {
            "year": previous.get("year"), "seats_total": fmt.number(previous.get("seats_total")),
            "turnout_text": fmt.percent(_fraction(previous.get("turnout"))),
            "parties": [{"party_name": p.get("party_name", ""), "party_abbrev": p.get("party_abbrev", ""),
                         "share_text": fmt.percent_points(p.get("vote_share")), "seats": fmt.number(p.get("seats"))}
                        for p in previous.get("parties", [])],
        }
    units_text = ""
    if country.get("units_total"):
        units_text = fmt.gettext("%(counted)s of %(total)s reporting units counted",
                                 counted=fmt.number(country.get("units_reporting")),
                                 total=fmt.number(country.get("units_total")))
    return {"registered": fmt.number(country.get("registered")), "voters": fmt.number(country.get("voters")),
            "valid": fmt.number(country.get("valid")), "blank": fmt.number(country.get("blank")),
            "invalid": fmt.number(country.get("invalid")), "units_text": units_text, "lists": lists,
            "previous": prev_view}


def _steps_rows(steps: list[tuple[str, str]]) -> Markup:
    """The rows of a country's seat-steps table on the methodology page (a step per seat in most
    countries: ~1,000 rows per language), made here rather than by a loop in the template, which cost
    ~20 ms per page; the same bytes (every value escaped as the template's autoescape does)."""
    return Markup("".join(f'<tr><td class="num">{number}</td><td><code>{escape(kind)}</code></td>'
                          f"<td>{escape(details)}</td></tr>\n" for number, (kind, details) in enumerate(steps, 1)))


def _country_summary(site: _Site, fmt: Formatter, country: dict) -> dict:
    """The part of a country's view the EU-wide pages show too (EU page, methodology, corrections,
    downloads, comparison): name, status, seats, turnout, rule, seat steps, ties, corrections."""
    code = country["code"]
    names = {entry.get("list_id"): entry.get("list_name", "") for entry in _sorted_lists(country)}
    turnout = model.turnout(country.get("registered"), country.get("voters"))
    rule = country.get("rule") or {}
    threshold = rule.get("threshold_percent")
    steps, steps_rows = site.steps_rows(country, names, fmt)
    ties = [{"seat": t.get("seat"), "constituency": t.get("constituency", ""), "resolved": bool(t.get("resolved")),
             "winner": ", ".join(names.get(w, str(w)) for w in (t.get("winners") or ([t["winner"]] if t.get("winner")
                                                                                     else []))),
             "lists": ", ".join(names.get(x, str(x)) for x in t.get("lists", []))}
            for t in country.get("ties", [])]
    corrections = [_correction_view(fmt, country, x, names) for x in country.get("corrections", [])]
    return {
        "code": code, "slug": code.lower(), "name": fmt.country_name(code), "ballot_lang": ballot_language(code),
        "status": country.get("status", "none"), "status_label": fmt.status_label(country.get("status")),
        "final": model.is_final(country), "as_of": _when(fmt, country.get("as_of")),
        "seats_total": fmt.number(country.get("seats_total")), "turnout_text": fmt.percent(turnout),
        "rule": {"method": rule.get("method", ""), "text": rule.get("text", ""),
                 "threshold_text": (fmt.percent_points(threshold) + (f" ({rule.get('threshold_base')})"
                                                                     if rule.get("threshold_base") else ""))
                 if threshold not in (None, "") else "\u2014"},
        "steps": steps, "steps_rows": steps_rows, "ties": ties, "unresolved": any(not t["resolved"] for t in ties),
        "corrections": corrections,
        "history_href": f"../history/{code.lower()}.html" if code in site.history_countries else "",
    }


def _country_turnout(site: _Site, fmt: Formatter, country: dict) -> tuple[dict, Callable[[], dict | None]]:
    """A country page's turnout chart, deferred: (its inputs, a callable drawing it).

    Only the country page shows the chart, and drawing it (an SVG per country per language) costs
    more than the rest of the page's context: the page's fingerprint takes these inputs instead
    (everything :func:`_turnout_block` reads besides the language, which the page context has, and
    the templates, catalogs and code, which :func:`_sources_digest` covers), and the chart is drawn
    only when the page is."""
    inputs = {"year": _year(site.bundle), "eu_history": site.eu_turnout_history, "code": country["code"],
              "registered": country.get("registered"), "voters": country.get("voters"),
              "history": (country.get("previous") or {}).get("turnout_history")}
    return inputs, lambda: _turnout_block(site, fmt, "turnout-since", country)


def _view_print(basis: str, country: str, lang: str) -> str:
    """What a fingerprint takes for a country's view in ``lang`` (see :func:`_render_site`)."""
    return "country-view:" + hashlib.sha256(f"{basis}\0{country}\0{lang}".encode()).hexdigest()


def _once(build: Callable[[], object]) -> Callable[[], object]:
    """``build``, called at most once (its value kept)."""
    kept: list = []

    def get() -> object:
        if not kept:
            kept.append(build())
        return kept[0]
    return get


def _fraction(value: float | None) -> Fraction | None:
    return None if value is None else Fraction(str(value))


def _correction_view(fmt: Formatter, country: dict, x: dict, names: dict) -> dict:
    before, after = x.get("before"), x.get("after")
    numeric = isinstance(before, int) and isinstance(after, int) and not isinstance(before, bool)
    return {"slug": country["code"].lower(), "country_name": fmt.country_name(country["code"]),
            "ballot_lang": ballot_language(country["code"]),
            "sequence": x.get("sequence", ""), "corrects": x.get("corrects", ""), "unit_id": x.get("unit_id", ""),
            "list_name": names.get(x.get("list_id"), x.get("list_id", "")), "field": x.get("field", ""),
            "before": fmt.number(before) if numeric else str(before), "after": fmt.number(after) if numeric else str(after),
            "delta": fmt.signed(after - before) if numeric else "", "reason": x.get("reason", "")}


def _change_text(fmt: Formatter, change: dict) -> str:
    """One line of "what changed": the tally's ``what`` plus list, before and after when it gives them."""
    text = str(change.get("what", ""))
    if change.get("list_id"):
        text += f" {change['list_id']}"
    if "before" in change or "after" in change:
        def show(value: object) -> str:
            if isinstance(value, int) and not isinstance(value, bool):
                return fmt.number(value)
            if value in model.STATUSES:
                return fmt.status_label(str(value))
            return "\u2014" if value is None else str(value)
        text += f": {show(change.get('before'))} \u2192 {show(change.get('after'))}"
    elif change.get("status") in model.STATUSES:
        text += f" ({fmt.status_label(change['status'])})"
    return text


CURRENT_PAGE = ' aria-current="page"'


def _switcher(languages: tuple[str, ...], rel: str, root: str, lang: str) -> dict[str, Markup]:
    """The language switcher of a page (``base.html.j2``): its ``hreflang`` links in the head and its
    menu, made here, a join per page, rather than by two loops over every language in the template
    (~40 % of a group page's render); the same bytes (every value escaped as autoescape does)."""
    root, rel, current = escape(root), escape(rel), escape(lang)  # escaping a text escapes each character
    links = [(code, f"{root}{code}/{rel}", name) for code, name in _language_links(languages)]
    return {
        "head": Markup("".join(f'<link rel="alternate" hreflang="{code}" href="{href}">\n' for code, href, _ in links)),
        "menu": Markup("".join(f'<li><a href="{href}" lang="{code}" hreflang="{code}"'
                               f'{CURRENT_PAGE if code == current else ""}>{name}</a></li>\n'
                               for code, href, name in links)),
    }


@lru_cache(maxsize=8)
def _languages_print(languages: tuple[str, ...]) -> str:
    """What a page's fingerprint takes for the languages of its switcher (:func:`_language_links`)."""
    return _payload_digest(_language_links(languages))


@lru_cache(maxsize=8)
def _language_links(languages: tuple[str, ...]) -> tuple[tuple[Markup, Markup], ...]:
    """Each language's code and name, escaped, for :func:`_switcher`."""
    return tuple((escape(other), escape(Formatter.language_name(other))) for other in languages)


def render_site(bundle: dict, out_dir: Path, languages: list[str] | None = None,
                history: dict | None = None, *, reuse: "Reuse | None" = None,
                fingerprints: dict | None = None, public_base_url: str | None = None) -> list[Path]:
    """Render the whole version (pages in every language, assets, feeds, widget) into ``out_dir``.

    ``languages`` defaults to the election's languages (all 24). ``history`` is optional: the
    structure of :func:`historical_loader.site.history_for_site` (``{"countries": {CC: [{year,
    election_date, seats_total, parties}]}, "eu": [{year, seats_total, countries}]}``); when given,
    :func:`publish.history.render_history` writes the history pages into the same version and the
    site links them (main navigation, each country page).
    Returns every file written.

    **Incremental rendering.** Every page is rendered from a context (the values its template
    reads); its *fingerprint* is the SHA-256 of the template sources, the translation catalogs,
    the template name and that context (each country view in it by its digest, serialised once per
    language; a country page's turnout chart by its inputs, drawn only if the page is rendered).
    ``fingerprints`` (a dict), when given, receives
    ``{relative path: fingerprint}`` for every page. With ``reuse`` (the previous version's folder
    and its fingerprints), a page whose fingerprint is unchanged is copied from the previous
    version instead of being rendered; the history pages are copied when the history is the same.
    Country pages show the version in which their country's data last changed (the bundle's
    ``since_version``), not the site version, so a delivery for one country leaves the other
    countries' pages unchanged. Reused bytes are by construction those a full render writes
    (same template, same context); ``tests/test_incremental.py`` checks it.

    **Social cards** (:mod:`publish.cards`): a PNG per language for the EU page and for each
    country, fingerprinted and reused like the pages (a country's cards are drawn again only when
    what they show changes). ``public_base_url`` (``ENR_PUBLIC_BASE_URL``, the public root) makes
    the pages' ``og:image`` absolute; without it the pages have no image tags.
    """
    with _RENDER_LOCK:
        return _render_split(bundle, Path(out_dir), languages, history, reuse, fingerprints,
                             cards.public_base(public_base_url))


def _render_split(bundle: dict, out_dir: Path, languages: list[str] | None, history: dict | None,
                  reuse: Reuse | None, fingerprints: dict | None, public_base: str | None) -> list[Path]:
    """The render on :func:`publish.parallel.processes` processes, split by country (:mod:`publish.parallel`);
    one process when the split would not pay (an incremental render where few countries changed)."""
    changed, history_changed = None, True
    every = list(languages or bundle["election"].get("languages") or LANGUAGES)
    if reuse is not None:  # unchanged countries and history keep their pages: they weigh little
        changed = [c["code"] for c in bundle["countries"] if c.get("since_version") in (None, bundle["version"])]
        history_changed = reuse.fingerprints.get("history/*") != history_digest(history, every)
    if history is not None and history_changed:  # pages in the render cache are copied: they weigh little too
        from publish.render_cache import has_history

        history_changed = not has_history(history, every)
    shares = parallel.plan([c["code"] for c in bundle["countries"]], parallel.processes(),
                           history=history is not None, history_changed=history_changed, changed=changed,
                           languages=every, weights={c["code"]: parallel.country_weight(c) for c in bundle["countries"]})
    if len(shares) == 1:
        return _render_site(bundle, out_dir, languages, history, reuse, fingerprints, public_base)

    _warm_before_fork(list(languages or bundle["election"].get("languages") or LANGUAGES))

    def part(share: parallel.Share) -> parallel.Part:
        prints: dict = {}
        written = _render_site(bundle, out_dir, languages, history, reuse, prints, public_base, share)
        return parallel.Part([str(path) for path in written], prints, dict(reuse.copied) if reuse else {},
                             dict(reuse.checked) if reuse else {})
    return parallel.merge(parallel.run(shares, part), fingerprints, reuse.copied if reuse else None,
                          reuse.checked if reuse else None)


@dataclass(frozen=True)
class Reuse:
    """A previous rendered version to copy unchanged pages from: its folder and page fingerprints.

    On an object store the previous version is not on disk: ``folder`` is None, ``source`` is its
    staged prefix in the bucket and ``entries`` its manifest entries (path, sha256, size, md5) of the
    objects the bucket's listing shows there with the manifest's size and MD5. An unchanged page is
    then not written at all: it is recorded in ``copied`` (path -> entry), the manifest takes its
    entry, and staging copies it inside the store (:func:`publish.release.stage`, ``copies``).
    On a local folder with ``entries`` (the previous manifest's), a page copied after its bytes
    matched ``digests`` is recorded in ``copied`` too: the manifest takes its entry."""

    folder: Path | None
    fingerprints: dict
    digests: dict | None = None  # {path: sha256} from the previous manifest: a copy must still match it
    source: str | None = None
    entries: dict | None = None
    copied: dict = field(default_factory=dict)
    # {path: (identity, sha256)} of each copied file whose link was checked to be the file read and
    # hashed (release.stage need not read it back: :func:`publish.release.stage`, ``checked``)
    checked: dict = field(default_factory=dict)
    _read: dict = field(default_factory=dict)  # {path: (identity, sha256)} of the files read() checked

    @property
    def remote(self) -> bool:
        return self.folder is None

    def take(self, rel: str) -> bool:
        """Remote reuse: record ``rel`` as copied from the previous version if the store has it intact."""
        entry = (self.entries or {}).get(rel)
        if entry is None:
            return False
        self.copied[rel] = entry
        return True

    def read(self, rel: str) -> bytes | None:
        """The previous version's file ``rel`` if it is a plain file (not a symbolic link, FIFO or
        device) whose bytes match the previous manifest (with ``digests``); else None: rendered again."""
        path = self.folder / rel
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        try:
            with os.fdopen(fd, "rb") as handle:
                status = os.fstat(handle.fileno())  # before the bytes: a change while they are read changes it
                if not stat.S_ISREG(status.st_mode):
                    return None
                data = handle.read()
        except OSError:
            return None
        if self.digests is None:
            return data
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.digests.get(rel):
            log.warning("incremental render: %s does not match the previous manifest; rendering it again", path)
            return None
        self._read[rel] = (file_identity(status), digest)
        return data

    def linked(self, rel: str, target: Path) -> None:
        """``target`` was just linked to the previous version's ``rel``: if :meth:`read` checked its
        bytes against the previous manifest and ``target`` is still that file, unchanged (same device,
        inode, size and modification time), record it in ``checked`` with the SHA-256 checked."""
        read = self._read.get(rel)
        try:
            if read is not None and file_identity(os.stat(target)) == read[0]:
                self.checked[rel] = read
        except OSError:
            pass


def _serialised(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))


def _fingerprint(template: str, context: dict) -> str:
    return hashlib.sha256(f"{_sources_digest()}\0{template}\0{_serialised(context)}".encode("utf-8")).hexdigest()


def _payload_digest(value: object) -> str:
    """SHA-256 of a context value as :func:`_fingerprint` serialises it."""
    return hashlib.sha256(_serialised(value).encode("utf-8")).hexdigest()


def _render_site(bundle: dict, out_dir: Path, languages: list[str] | None, history: dict | None,
                 reuse: Reuse | None = None, fingerprints: dict | None = None,
                 public_base: str | None = None, share: parallel.Share | None = None) -> list[Path]:
    """Render the site, or only ``share`` of it (:mod:`publish.parallel`: its countries and blocks)."""
    model.check_bundle(bundle)
    out_dir.mkdir(parents=True, exist_ok=True)
    languages = list(languages or bundle["election"].get("languages") or LANGUAGES)
    for lang in languages:
        _formatter(lang)  # fail early on an unknown language
    started = time.perf_counter()
    site = _Site(bundle, history)
    env = _environment()
    written: list[Path] = []
    prints: dict = fingerprints if fingerprints is not None else {}
    reused = 0

    folders: set[Path] = set()  # made in this render: a page's folder is made once, not at each page

    def folder_of(path: Path) -> None:
        if path.parent not in folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)

    def write(rel: str, text: str | bytes) -> None:
        path = out_dir / rel
        folder_of(path)
        if isinstance(text, str):
            text = text.encode("utf-8")
        write_new(path, text)  # never through a name there already (publish.files)
        written.append(path)

    painter = cards.Painter(write, out_dir, helpers=None if share is None else 0)  # a split render: no helper

    def mine(block: str) -> bool:
        return share is None or share.has(block)
    renderer = cards.renderer_version()
    election_id = bundle["election"]["id"]

    def copy_unchanged(key: str, fingerprint: str) -> bool:
        """Copy ``key`` from the previous version when its fingerprint is the same (True if copied)."""
        nonlocal reused
        prints[key] = fingerprint
        if reuse is None or reuse.fingerprints.get(key) != fingerprint:
            return False
        if reuse.remote:
            reused += reuse.take(key)
            return key in reuse.copied
        data = reuse.read(key)
        if data is None:
            return False
        link_checked(key, data)
        reused += 1
        return True

    def link_checked(key: str, data: bytes) -> None:
        """Put the previous version's file ``key``, whose bytes ``data`` were just checked against its
        manifest (:meth:`Reuse.read`), into this version: a hard link where the file system allows
        (no new file: the bucket shares it between versions, files are only ever replaced, never
        written in place), else a copy of the checked bytes; the manifest keeps its entry."""
        target = out_dir / key
        folder_of(target)
        try:
            os.link(reuse.folder / key, target)
        except OSError:
            write(key, data)
        else:
            written.append(target)
            reuse.linked(key, target)
        if reuse.digests is not None and key in (reuse.entries or {}):  # checked: the manifest keeps its entry
            reuse.copied[key] = reuse.entries[key]

    for name in ("style.css", "majority.js") if mine("site") else ():
        write(f"assets/{name}", (STATIC / name).read_bytes())

    # A country's view is a function of its bundle entry, the site's groups and shapes, the history's
    # countries and the language (and the code and catalogs, in every fingerprint): fingerprints take
    # the digest of those inputs in its place, so the view is built only for the pages rendered again
    # (the EU-wide pages show a summary of it; the lists and counts only the country's page and card).
    view_basis = _payload_digest({"groups": site.groups_meta, "shapes": site.shapes,
                                  "history": sorted(site.history_countries)})
    country_prints = {c["code"]: _payload_digest(c) for c in site.countries}

    for lang in languages:
        # a process of a split render that owns none of this language's EU-wide pages and cards
        # (publish.parallel splits them by language) renders here only its own countries' pages
        site_here = share is None or share.owns(f"{lang}/index.html")
        if not site_here and not any(share.country(c["code"]) for c in site.countries):
            continue
        fmt = _formatter(lang)
        _use_language(env, fmt)
        groups = _group_rows(site, fmt) if site_here else []  # the EU-wide pages' and card's
        # each country's summary: the EU-wide pages show every country's; a country's page and card
        # make theirs only when they are rendered again (their fingerprints take its digest)
        summaries = {c["code"]: _once(lambda c=c: _country_summary(site, fmt, c)) for c in site.countries
                     if site_here or share.country(c["code"])}
        countries = [summary() for summary in summaries.values()] if site_here else []
        country_by_code = {c["code"]: c for c in countries}
        view_by_code = {code: _view_print(view_basis, country_prints[code], lang) for code in summaries}
        view_prints = {id(c): view_by_code[c["code"]] for c in countries}

        def printable(value: object) -> object:
            if isinstance(value, list) and value and all(id(v) in view_prints for v in value):
                return [view_prints[id(v)] for v in value]
            return view_prints.get(id(value), value)
        common = {
            "lang": lang, "version": site.version, "test": site.test, "synthetic": site.synthetic, "site_title": _site_title(fmt, bundle),
            "language_name": fmt.language_name(lang),
            "generated_local": _local_time(fmt, bundle["generated_at"]), "generated_utc": utc_iso(bundle["generated_at"]),
            "previous_year_label": str(site.previous_year or ""), "has_history": history is not None,
            "previous_groups_label": (fmt.gettext("Constitutive session %(year)s", year=site.previous_groups_year)
                                      if site.previous_groups_year else str(site.previous_year or "")),
        }

        def page(rel: str, template: str, not_final: bool, since: dict | None = None,
                 turnout: tuple[dict, Callable[[], dict | None]] | None = None,
                 deferred: dict[str, tuple[object, Callable[[], object]]] | None = None, **values: object) -> None:
            """Render (or copy) one page; ``turnout`` (:func:`_country_turnout`) is the country's
            chart, fingerprinted by its inputs and drawn into ``c`` only if the page is rendered;
            ``deferred`` values likewise (name -> (what the fingerprint takes, how to build it))."""
            if share is not None and not share.owns(f"{lang}/{rel}"):
                return
            depth = (f"{lang}/{rel}").count("/")
            root = "../" * depth
            context = {**common, **(since or {}), "root": root, "lang_root": f"{root}{lang}/",
                       "not_final": not_final, **values}
            key = f"{lang}/{rel}"
            printed = {k: printable(v) for k, v in context.items()}
            # the language switcher (_switcher), by what it is made of: the page, its root and language
            # (in the context), the languages' codes and names
            printed["switcher"] = [rel, _languages_print(tuple(languages))]
            printed.update({k: inputs for k, (inputs, _) in (deferred or {}).items()})
            if turnout is not None:
                printed["turnout_inputs"] = turnout[0]
            if not copy_unchanged(key, _fingerprint(template, printed)):
                context["switcher"] = _switcher(tuple(languages), rel, root, lang)
                context.update({k: build() for k, (_, build) in (deferred or {}).items()})
                if turnout is not None:
                    context["c"] = {**context["c"], "turnout_since": turnout[1]()}
                write(key, env.get_template(template).render(context))

        def card(name: str, inputs: dict, build: Callable[[], dict],
                 version: str) -> tuple[dict, Callable[[], dict]]:
            """Write (or copy) one social card, fingerprinted by ``inputs`` (its context, or what
            decides it) and drawn from ``build()`` only if it changed; returns what a page's
            fingerprint takes for it and what the page's meta tags say about it."""
            key = cards.card_path(lang, name)
            fingerprint = _fingerprint(cards.TEMPLATE, {**inputs, "renderer": renderer})
            owned = share is None or share.owns(key)
            if owned and not copy_unchanged(key, fingerprint):
                painter.paint(key, build())
            url = cards.card_url(public_base, election_id, version, key)
            return {"card": fingerprint, "url": url}, lambda: cards.page_meta(build(), url)

        eu = bundle["eu"]
        eu_card = None if not site_here else cards.eu_card(
            fmt, site_title=common["site_title"], test=site.test, groups=groups, total=site.total,
            majority=site.majority, stage=fmt.status_label(site.stage), time_text=common["generated_local"],
            allocated_text=fmt.gettext("Seats allocated: %(allocated)s of %(total)s",
                                       allocated=fmt.number(eu.get("seats_allocated")), total=fmt.number(site.total)),
            reporting_text=fmt.gettext("Countries reporting: %(count)s of %(total)s",
                                       count=fmt.number(eu.get("countries_reporting")),
                                       total=fmt.number(len(site.countries))))
        if site_here:  # the EU card: the EU-wide pages' (a country's page shows its own)
            common["card"] = card("eu", eu_card, lambda: eu_card, site.version)[1]()

        for raw in site.countries:
            code = raw["code"]
            if share is not None and not share.country(code):
                continue
            slug, summary = code.lower(), summaries[code]
            since = None
            if raw.get("since_version"):  # the version in which this country's data last changed
                since = {"version": raw["since_version"],
                         "generated_local": _local_time(fmt, raw.get("since_generated_at") or bundle["generated_at"]),
                         "generated_utc": utc_iso(raw.get("since_generated_at") or bundle["generated_at"])}
            # the country's whole view (its page and card): the summary and the details only they show
            view = _once(lambda summary=summary, raw=raw: {**summary(), **_country_details(site, fmt, raw)})
            card_context = _once(lambda view=view, raw=raw: cards.country_card(
                fmt, site_title=common["site_title"], test=site.test, country=view(),
                seats_total=raw.get("seats_total"), shapes=site.shapes))
            card_print, card_meta = card(slug, {"view": view_by_code[code], "site_title": common["site_title"],
                                                     "test": site.test, "seats_total": raw.get("seats_total")},
                                         card_context, raw.get("since_version") or site.version)
            page(f"country/{slug}.html", "country.html.j2", not model.is_final(raw), since=since,
                 deferred={"c": (view_by_code[code], view), "card": (card_print, card_meta)},
                 turnout=_country_turnout(site, fmt, raw))
        if not site_here:  # the EU-wide pages of this language are the other process's
            continue
        # EU page
        running = 0
        calc = []
        for g in sorted(groups, key=lambda g: -g["seats_raw"]):
            running += g["seats_raw"]
            calc.append({**g, "running_text": fmt.number(running), "reached": running >= site.majority})
        coalition_rows = [{"names": " + ".join(c for c in combo), "seats_text": fmt.number(total)}
                          for combo, total in model.coalitions(site.seats, site.majority)]
        svg_groups = [{"key": g["key"], "label": f"{g['name']} ({g['id']}): {g['seats_text']}", "color": g["color"],
                       "seats": g["seats_raw"], "shape": g["shape"]} for g in groups]
        estimated = projection_view.counted_projected(bundle)  # seats resting on an estimate: outlined
        for g in svg_groups:
            g["projected"] = estimated.get(next(x["id"] for x in groups if x["key"] == g["key"]), 0)
            g["projected_label"] = f"{g['label']} — {fmt.gettext('National estimate')}: {fmt.number(g['projected'])}"
        svg = hemicycle.render_svg(svg_groups, site.total, site.majority,
                                   fmt.gettext("Hemicycle: seats by political group"),
                                   fmt.gettext("Majority: %(majority)s of %(total)s seats",
                                               majority=fmt.number(site.majority), total=fmt.number(site.total)),
                                   described_by="groups-table")
        changes = [{"country_name": fmt.country_name(ch["country"]) if ch.get("country") else "",
                    "slug": (ch.get("country") or "").lower(), "what": _change_text(fmt, ch)}
                   for ch in bundle.get("changes", [])]
        page("index.html", "eu.html.j2", site.not_final, groups=groups, calc=calc, coalitions=coalition_rows,
             hemicycle=svg, countries=countries, changes=changes,
             projection=projection_view.projection_context(bundle, fmt, groups, site.total, site.majority),
             eu_type={"as_of": _when(fmt, bundle["eu"].get("as_of") or bundle["generated_at"]),
                      "estimated": any(estimated.values()), "legend": projection_view.legend(fmt)},
             eu={"allocated": fmt.number(eu.get("seats_allocated")), "total": fmt.number(site.total),
                 "total_raw": site.total, "majority": fmt.number(site.majority), "majority_raw": site.majority,
                 "reporting": fmt.number(eu.get("countries_reporting")), "countries_total": fmt.number(len(countries)),
                 "turnout_text": fmt.percent(model.turnout(eu.get("registered"), eu.get("voters"))),
                 "registered": fmt.number(eu.get("registered")), "voters": fmt.number(eu.get("voters")),
                 **_eu_turnout_context(site, fmt)})
        for g in groups:
            page(f"group/{g['key']}.html", "group.html.j2", site.not_final, g=g)
        # comparison
        group_rows = []
        for g in groups:
            cells = _previous_cells(site, fmt, g["id"], g["seats_raw"], missing="\u2014")
            group_rows.append({"icon": g["icon"], "name": g["name"], "label": g["id"],
                               "predecessors": cells["predecessors"], "previous": cells["previous_text"],
                               "now": g["seats_text"], "change": cells["change_text"]})
        for row in model.group_comparison(bundle):
            if row["comparison"] == "no_successor":  # a group of the previous Parliament without successor
                prev = site.previous_groups.get(row["group"], {})
                names = prev.get("names") or [prev.get("name", row["group"])]
                group_rows.append({"icon": "", "name": fmt.group_name(row["group"], names[0]), "label": row["group"],
                                   "predecessors": "", "previous": fmt.number(row["seats_previous"]),
                                   "now": "\u2014", "change": fmt.gettext("no successor group")})
        country_rows = []
        for raw in site.countries:
            c = country_by_code[raw["code"]]
            previous = raw.get("previous") or {}
            country_rows.append({"slug": c["slug"], "name": c["name"],
                                 "seats_previous": fmt.number(previous.get("seats_total")), "seats": c["seats_total"],
                                 "turnout_previous": fmt.percent(model.previous_turnout(raw)),
                                 "turnout": c["turnout_text"]})
        page("comparison.html", "comparison.html.j2", site.not_final, previous_year=site.previous_year or "",
             group_rows=group_rows, country_rows=country_rows,
             turnout_since=_turnout_block(site, fmt, "turnout-since"))
        page("methodology.html", "methodology.html.j2", site.not_final, countries=countries)
        all_corrections = [x for c in countries for x in c["corrections"]]
        page("corrections.html", "corrections.html.j2", site.not_final, corrections=all_corrections,
             changes=changes, c=None)
        election_id = bundle["election"]["id"]
        page("downloads.html", "downloads.html.j2", site.not_final, countries=countries,
             embed_iframe=widget.iframe_snippet("<BASE-URL>", election_id, site.version, lang),
             embed_script=widget.script_snippet("<BASE-URL>", election_id, site.version, lang))
        page("accessibility.html", "accessibility.html.j2", site.not_final,
             statement_title=fmt.gettext(accessibility.TITLE),
             statement=accessibility.blocks(fmt.catalog.gettext, lang))
    written += painter.close()  # the social cards, drawn now (by a helper process too for a one-process full render)

    if mine("site"):
        # root language chooser (lang = default language; each link carries its own lang)
        default = DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in languages else languages[0]
        fmt = _formatter(default)
        _use_language(env, fmt)
        chooser = [{"code": other, "name": Formatter.language_name(other),
                    "title": _site_title(_formatter(other), bundle)} for other in languages]
        write("index.html", env.get_template("root_index.html.j2").render(
            lang=default, version=site.version, test=site.test, site_title=_site_title(fmt, bundle),
            test_banner=fmt.gettext("TEST: rehearsal data, not real results"), switcher=chooser,
            statement_title=fmt.gettext(accessibility.TITLE), synthetic=site.synthetic,
            synthetic_banner=fmt.gettext("SYNTHETIC: invented numbers, not real results")))

    if history is not None and mine("history"):
        from publish.render_cache import history_pages  # the history pages (historical_loader's data)

        digest = history_digest(history, languages)
        prints["history/*"] = digest
        copied, remote_copied = None, False
        if reuse is not None and reuse.remote and reuse.fingerprints.get("history/*") == digest:
            pages = [rel for lang in languages for rel in (reuse.digests or {}) if rel.startswith(f"{lang}/history/")]
            if pages and all(rel in (reuse.entries or {}) for rel in pages):
                for rel in pages:
                    reuse.take(rel)
                reused += 1
                remote_copied = True
        elif reuse is not None and reuse.fingerprints.get("history/*") == digest:
            copied = {}
            for lang in languages:
                folder = reuse.folder / lang / "history"
                for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                    rel = path.relative_to(reuse.folder).as_posix()
                    data = reuse.read(rel) if path.is_file() else b""
                    if data is None:
                        copied = None
                        break
                    if path.is_file():
                        copied[rel] = data
                if copied is None or not folder.is_dir():
                    copied = None
                    break
        if copied:
            for rel, data in copied.items():  # the checked bytes, linked like any unchanged page
                link_checked(rel, data)
            reused += 1
        elif not remote_copied:  # from the render cache (filled when the history was loaded), else rendered
            written += history_pages(history, out_dir, languages)
    written += feeds.write_feeds(bundle, out_dir) if mine("feeds") else []
    written += widget.write_widget(bundle, out_dir, languages) if mine("widget") else []
    log.info("rendered election=%s version=%s languages=%d files=%d reused=%d cards_drawn=%d seconds=%.2f",
             bundle["election"]["id"], site.version, len(languages), len(written), reused, painter.drawn,
             time.perf_counter() - started)
    return written


__all__ = ["Reuse", "history_digest", "render_site"]
