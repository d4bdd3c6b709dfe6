"""The rendered site: 24 languages, well-formed, self-contained, escaped, complete pages."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.publish_fixtures import LANGS, XSS_NAME, build_bundle, build_history, check_page, page_text, rendered_site
from publish.site import render_site


@pytest.fixture(scope="module")
def site() -> Path:
    return rendered_site()


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_language_has_every_page(site: Path) -> None:
    bundle = build_bundle()
    codes = [c["code"].lower() for c in bundle["countries"]]
    for lang in LANGS:
        for rel in ["index.html", "comparison.html", "methodology.html", "corrections.html", "downloads.html",
                    "accessibility.html"]:
            assert (site / lang / rel).is_file(), f"{lang}/{rel}"
        for code in codes:
            assert (site / lang / "country" / f"{code}.html").is_file()
        assert len(list((site / lang / "group").glob("*.html"))) == len(bundle["election"]["groups"])
        assert not (site / lang / "history").exists()  # only with history data
    assert len(codes) == 28


def test_history_pages_are_rendered_and_linked_when_given(tmp_path: Path) -> None:
    out = tmp_path / "site"
    files = render_site(build_bundle(), out, languages=["en", "lv"], history=build_history())
    for lang in ("en", "lv"):
        for page in (out / lang / "history" / "index.html", out / lang / "history" / "fr.html"):
            assert page in files
            assert check_page(page).result() == [] and check_page(page).lang == lang
            assert not [u for u in check_page(page).urls if u.startswith(("http:", "https:", "//"))]
    assert "1979" in page_text(out / "en" / "history" / "fr.html")
    country = (out / "en" / "country" / "fr.html").read_text(encoding="utf-8")
    assert 'href="../history/fr.html"' in country and 'href="../../en/history/index.html"' in country


def test_pages_are_well_formed_with_the_right_lang(site: Path) -> None:
    pages = html_pages(site)
    assert len(pages) > 24 * 40
    for page in pages:
        checker = check_page(page)
        assert checker.result() == [], f"{page}: {checker.result()[:5]}"
        rel = page.relative_to(site).parts
        if rel[0] in LANGS:
            assert checker.lang == rel[0], page


def test_no_external_resources(site: Path) -> None:
    external = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)
    allowed = re.compile(r"^(?:#|mailto:|data:,$)")  # documented exceptions: fragment links, the empty inline icon
    for page in html_pages(site):
        for url in check_page(page).urls:
            assert not external.match(url) or allowed.match(url), f"{page}: external URL {url}"
    css = (site / "assets" / "style.css").read_text()
    assert "url(" not in css and "@import" not in css


def test_hostile_list_name_is_escaped_everywhere(site: Path) -> None:
    at = (site / "de" / "country" / "at.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in at
    assert "&lt;b&gt;X&lt;/b&gt;" in at
    for page in html_pages(site):
        text = page.read_text(encoding="utf-8")
        assert XSS_NAME not in text, page
        assert "<b>X</b>" not in text, page


def test_country_page_shows_lists_votes_shares_seats_status_and_time(site: Path) -> None:
    page = (site / "en" / "country" / "fr.html").read_text(encoding="utf-8")
    text = page_text(site / "en" / "country" / "fr.html")
    assert "France" in text
    assert "PRENEZ LE POUVOIR, LISTE SOUTENUE PAR MARINE LE PEN" in text
    assert '<td lang="fr">RN</td>' in page  # the name as on the ballot, marked French
    assert "5,286,939" in text            # votes, formatted
    assert "23.34%" in text               # RN share of 22,655,174 valid votes
    assert re.search(r"<td class=\"num\">22</td></tr>", page)  # seats
    assert "Final" in text                # result type label
    assert "2019-05-26T21:11:00Z" in text  # as-of, UTC ISO
    assert "Brussels time" in text and ("CEST" in text or "+0200" in text)  # local time with its zone
    assert "47,345,328" in text           # registered voters
    assert "Comparison with 2014" in text and "FN" in text  # previous election
    assert "5,286,829" in text and "5,286,939" in text   # correction before/after
    # a provisional country carries the banner, a final one does not
    assert "Not all results are final" not in text
    italy = page_text(site / "en" / "country" / "it.html")
    assert "Not all results are final" in italy and "Provisional" in italy


def test_localised_numbers_and_names(site: Path) -> None:
    de = page_text(site / "de" / "country" / "fr.html")
    assert "Frankreich" in de and "5.286.939" in de and "23,34 %" in de and "Endgültig" in de
    fr = page_text(site / "fr" / "country" / "de.html")
    assert "Allemagne" in fr and "Officiel" in fr
    el_eu = page_text(site / "el" / "index.html")
    assert "Ελλάδα" in el_eu and "Ευρωεκλογές 2019" in el_eu
    bg = page_text(site / "bg" / "index.html")
    assert "Гърция" in bg and "Места по политически групи" in bg
    # Greek and Bulgarian pages are written in their scripts
    for lang, script in (("el", r"[\u0370-\u03ff]"), ("bg", r"[\u0400-\u04ff]")):
        text = page_text(site / lang / "index.html")
        assert len(re.findall(script, text)) > 500, lang
    ga = page_text(site / "ga" / "index.html")
    assert "Suíocháin de réir grúpa polaitiúil" in ga


def test_eu_page_hemicycle_table_majority_and_turnout(site: Path) -> None:
    page = (site / "en" / "index.html").read_text(encoding="utf-8")
    svg = re.search(r"<svg class=\"hemicycle\".*?</svg>", page, re.S).group(0)
    assert svg.count("<use ") == 751
    assert "<title" in svg and "role=\"img\"" in svg
    text = page_text(site / "en" / "index.html")
    assert "Majority: 376 of 751 seats" in text
    assert "Group of the European People's Party (Christian Democrats)" in text
    assert "186" in text and "24.77%" in text  # EPP seats and share of 751
    assert "Majority calculator" in text and "Running total" in text
    assert "EPP + S&D + RE" in text  # a minimal winning coalition, listed without JavaScript
    assert "Turnout" in text and "50.67%" in text
    assert 'src="../assets/majority.js"' in page
    # not colour alone: a legend of shapes with names, and the numbers in a table
    assert page.count('class="icon"') >= 2 * 9


def test_methodology_comparison_corrections_pages(site: Path) -> None:
    meth = page_text(site / "en" / "methodology.html")
    assert "dhondt" in meth and "sainte_lague" in meth and "Seat allocation steps" in meth
    assert "quotient" in meth
    comp = page_text(site / "en" / "comparison.html")
    assert "Comparison with 2014" in comp and "EFDD" in comp and "221" in comp
    corr = page_text(site / "en" / "corrections.html")
    assert "5,286,829" in corr and "5,286,939" in corr and "+110" in corr
    assert "status provisional -> final" in corr


def test_every_page_has_a_language_switcher(site: Path) -> None:
    for page in html_pages(site):
        rel = page.relative_to(site)
        if rel.parts[0] not in LANGS:
            continue
        text = page.read_text(encoding="utf-8")
        assert text.count('hreflang="') >= 2 * 24, page
        for lang in ("el", "ga", "mt"):
            assert f'lang="{lang}" hreflang="{lang}"' in text


def test_test_banner_on_every_page_of_a_rehearsal(tmp_path: Path) -> None:
    out = tmp_path / "site"
    render_site(build_bundle(test=True), out, languages=["en", "el"])
    pages = sorted(out.rglob("*.html"))
    for page in pages:
        if page.parent.name == "widget":
            continue
        text = page.read_text(encoding="utf-8")
        assert 'class="banner test"' in text, page
    el = (out / "el" / "index.html").read_text(encoding="utf-8")
    assert "ΔΟΚΙΜΗ" in el


def test_unresolved_tie_is_labelled(tmp_path: Path) -> None:
    out = tmp_path / "site"
    render_site(build_bundle(unresolved_tie=True), out, languages=["en"])
    text = page_text(out / "en" / "country" / "lu.html")
    assert "Awaiting the drawing of lots" in text


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    render_site(build_bundle(), a, languages=["en", "pl"])
    render_site(build_bundle(), b, languages=["en", "pl"])
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_unknown_language_is_refused(tmp_path: Path) -> None:
    from publish.i18n import UnknownLanguage

    with pytest.raises(UnknownLanguage):
        render_site(build_bundle(), tmp_path / "x", languages=["xx"])


def test_a_country_without_results_and_the_tally_change_format(tmp_path: Path) -> None:
    bundle = build_bundle(only={"FR", "LU"})
    lu = next(c for c in bundle["countries"] if c["code"] == "LU")
    lu.update({"status": "none", "sequence": 0, "as_of": None, "delivery_sha256": None, "registered": None,
               "voters": None, "valid": None, "blank": None, "invalid": None, "units_reporting": None,
               "units_total": None, "rule": {}, "lists": [], "steps": [], "ties": [], "corrections": []})
    del lu["previous"]
    bundle["eu"]["previous"] = {"year": 2014, "seats_total": 751, "seats_by_country": {"FR": 74}}
    bundle["changes"] = [{"country": "FR", "what": "status", "before": "provisional", "after": "final"},
                         {"country": "FR", "list_id": "rn", "what": "votes", "before": 5286829, "after": 5286939}]
    out = tmp_path / "site"
    render_site(bundle, out, languages=["en", "de"])
    for page in sorted(out.rglob("*.html")):
        assert check_page(page).result() == [], page
    text = page_text(out / "en" / "country" / "lu.html")
    assert "No results yet" in text and "Not available" in text and "Not all results are final" in text
    eu = page_text(out / "de" / "index.html")
    assert "status: Vorläufig → Endgültig" in eu and "votes rn: 5.286.829 → 5.286.939" in eu


def test_the_seat_steps_rows_are_the_bytes_the_template_loop_gave():
    """The methodology's seat-steps rows are made in Python (a loop in the template cost ~20 ms a page):
    the same bytes as the template's loop under autoescape, markup and quotes in names escaped."""
    from jinja2 import Environment

    from publish import site as site_module

    steps = [("quotient", 'list_id: <b>"A" & B\'s</b> (a) · quotient: 12\u202f345'), ("threshold", "passed: \u2714"),
             ("seat", "")]
    loop = Environment(autoescape=True).from_string(
        '{% for s in steps %}<tr><td class="num">{{ loop.index }}</td><td><code>{{ s.kind }}</code></td>'
        '<td>{{ s.details }}</td></tr>\n{% endfor %}')
    expected = loop.render(steps=[{"kind": kind, "details": details} for kind, details in steps])
    rows = site_module._steps_rows(steps)
    assert str(rows) == expected and "&lt;b&gt;&#34;A&#34; &amp; B&#39;s" in rows
    assert Environment(autoescape=True).from_string("{{ rows }}").render(rows=rows) == expected  # not escaped twice


def test_the_language_switcher_is_the_bytes_the_template_loops_gave():
    """Every page's language switcher is made in Python (two loops over 24 languages in the template
    were ~40 % of a group page's render): the same bytes as those loops under autoescape, for every
    language as the current one, with a page name and root that need escaping."""
    from jinja2 import Environment

    from publish import site as site_module
    from publish.i18n import LANGUAGES, Formatter

    head = Environment(autoescape=True).from_string(
        '{% for other in switcher %}<link rel="alternate" hreflang="{{ other.code }}" href="{{ other.href }}">\n'
        '{% endfor %}')
    menu = Environment(autoescape=True).from_string(
        '{% for other in switcher %}<li><a href="{{ other.href }}" lang="{{ other.code }}" hreflang="{{ other.code }}"'
        '{% if other.code == lang %} aria-current="page"{% endif %}>{{ other.name }}</a></li>\n{% endfor %}')
    languages = tuple(LANGUAGES)
    for lang in languages:
        for rel, root in (("index.html", "../"), ('country/"a&b<c>.html', "../../")):
            switcher = [{"code": other, "name": Formatter.language_name(other), "href": f"{root}{other}/{rel}"}
                        for other in languages]
            made = site_module._switcher(languages, rel, root, lang)
            assert str(made["head"]) == head.render(switcher=switcher)
            assert str(made["menu"]) == menu.render(switcher=switcher, lang=lang)
            assert made["menu"].count('aria-current="page"') == 1


def test_strings_are_translated_as_jinja_newstyle_gettext_gives_them(tmp_path):
    """The site's templates translate a string without values once per language
    (``site._page_gettext``): the same text as Jinja2's newstyle gettext, at the first call and after,
    with values, with ``%%`` and markup in the translation, and outside autoescape."""
    import gettext as gettext_module

    from jinja2 import Environment

    from publish import site as site_module

    class Catalog(gettext_module.NullTranslations):
        def gettext(self, message):
            return {"Language": "Sprache & <Land>", "Rate": "100%% sicher",
                    "Version %(version)s": "Fassung %(version)s & mehr"}.get(message, message)

    class Fmt:
        catalog = Catalog()
    source = ("{{ _('Language') }}|{{ _('Rate') }}|{{ _('Version %(version)s', version=v) }}|{{ gettext('Language') }}|"
              "{{ _('Other') }}|{% autoescape false %}{{ _('Language') }}{% endautoescape %}")
    stock = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    stock.install_gettext_translations(Fmt.catalog, newstyle=True)
    ours = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    site_module._use_language(ours, Fmt)
    expected = stock.from_string(source).render(v="<v1>")
    # the catalog's text is markup (not escaped), a value is escaped, ``%%`` is one ``%``
    assert "Sprache & <Land>|100% sicher|Fassung &lt;v1&gt; & mehr" in expected
    for _ in range(2):  # the first call and the remembered one
        assert ours.from_string(source).render(v="<v1>") == expected


def test_seat_steps_are_written_in_each_language_of_one_render(monkeypatch):
    """A country's seat-step rows are made once per number style and kept for the render: every
    language still gets its own digit grouping (de 1.305.956, en 1,305,956, fr with a narrow space),
    and a country with a negative integer in its steps gets each language's own formatting (Babel
    writes a negative number by the locale: here made to differ in every language, as a locale's own
    minus sign would)."""
    import copy

    from publish import i18n
    from publish import site as site_module
    from publish.i18n import LANGUAGES, formatter

    real = i18n.format_decimal
    monkeypatch.setattr(i18n, "format_decimal", lambda value, locale: (f"[{locale}]" if value < 0 else "")
                        + real(value, locale=locale))

    bundle = copy.deepcopy(build_bundle())
    negative = next(c for c in bundle["countries"] if c["code"] == "BE")
    negative["steps"].append({"kind": "note", "votes": -1234567})
    site = site_module._Site(bundle, None)
    for country in (next(c for c in bundle["countries"] if c["code"] == "AT"), negative):
        names = {e.get("list_id"): e.get("list_name", "") for e in site_module._sorted_lists(country)}
        for lang in LANGUAGES:
            fmt = formatter(lang)
            steps = [(kind, " · ".join(part if isinstance(part, str) else part[0] + fmt.number(part[1])
                                       for part in parts)) for kind, parts in site.step_parts(country, names)]
            count, rows = site.steps_rows(country, names, fmt)
            assert (count, rows) == (len(steps), site_module._steps_rows(steps)), (country["code"], lang)
    at = next(c for c in bundle["countries"] if c["code"] == "AT")
    names = {e.get("list_id"): e.get("list_name", "") for e in site_module._sorted_lists(at)}
    assert "1.305.956" in site.steps_rows(at, names, formatter("de"))[1]
    assert "1,305,956" in site.steps_rows(at, names, formatter("en"))[1]
