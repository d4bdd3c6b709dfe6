"""The accessibility statement, in the form Directive (EU) 2016/2102 asks for.

Commission Implementing Decision (EU) 2018/1523 sets the model statement: the compliance status
(against EN 301 549, which includes WCAG 2.1 level AA), the content that is not accessible and why,
how and when the statement was prepared, how to give feedback and whom to contact, and the
enforcement procedure. The text lives here once, as gettext messages: the site renders it in every
language as ``<lang>/accessibility.html`` (linked from every page's footer) and
``docs/ACCESSIBILITY.md`` is :func:`markdown` of it (a test keeps the two equal).

A message that a language's catalog does not translate is shown in English and marked
``lang="en"`` (WCAG 3.1.2, language of parts), so a screen reader does not read English with
another language's voice.
"""
from __future__ import annotations

from datetime import date

from babel.dates import format_date

from publish.i18n import N_

# The day this statement was prepared and last reviewed (the site reads no clock; see site.py).
PREPARED = "2026-12-06"
STANDARD = "EN 301 549 V3.2.1 (2021-03)"

TITLE = N_("Accessibility statement")

# (kind, message): "h2" a heading, "p" a paragraph, "li" an item of the list that follows.
STATEMENT: tuple[tuple[str, str], ...] = (
    ("p", N_("The European Parliament is committed to making its election results website accessible, in "
             "accordance with Directive (EU) 2016/2102 on the accessibility of the websites and mobile "
             "applications of public sector bodies.")),
    ("p", N_("This accessibility statement applies to every page of the election results website in the 24 "
             "official languages of the European Union: the European results, the country, political group, "
             "comparison, methodology, corrections, downloads and history pages, and the media widget.")),
    ("h2", N_("Compliance status")),
    ("p", N_("This website is partially compliant with %(standard)s, which includes the Web Content "
             "Accessibility Guidelines (WCAG) 2.1 at level AA, due to the non-compliance listed below.")),
    ("h2", N_("Non-accessible content")),
    ("p", N_("The content listed below is not accessible for the following reasons:")),
    ("li", N_("Names of lists and parties are shown as they are on the ballot paper and are marked with the "
              "language of their country. In countries whose ballot papers use several languages (Belgium, "
              "Finland, Ireland, Luxembourg, Malta), the language of each name is not known, so a screen reader "
              "may pronounce it with the voice of the page's language (WCAG 3.1.2, language of parts).")),
    ("li", N_("The data files offered for download (CSV, JSON, XML, the NIST format, signatures) are "
              "machine-readable open data, not web pages; their content is also shown in the tables of the "
              "website.")),
    ("li", N_("When the media widget is embedded in another website, the accessibility of the page around it "
              "is the responsibility of that website.")),
    ("h2", N_("Preparation of this accessibility statement")),
    ("p", N_("This statement was prepared on %(date)s and last reviewed on %(date)s.")),
    ("p", N_("The method used was a self-assessment by automated tests that run in a real browser on every "
             "change of the website: axe-core (the rules of WCAG 2.0 and 2.1, levels A and AA) on every type "
             "of page in all 24 languages, and tests of what such tools cannot see: use with the keyboard "
             "only, the language of every page and of names in other languages, text alternatives and tables "
             "for the charts, reflow at a width of 320 CSS pixels and at 200%% zoom, reduced motion, "
             "announcements of status messages, and reading without JavaScript.")),
    ("h2", N_("Feedback and contact information")),
    ("p", N_("If you find a problem with the accessibility of this website, or need any of its content in "
             "another format, write to the European Parliament through its Citizens' Enquiries Unit (Ask EP), "
             "naming the address of the page and the problem.")),
    ("h2", N_("Enforcement procedure")),
    ("p", N_("If you are not satisfied with the answer to your feedback or to a request for accessible "
             "content, you may complain to the European Ombudsman, who investigates complaints about "
             "maladministration by the institutions and bodies of the European Union.")),
)


def values(date_text: str) -> dict[str, str]:
    """The placeholders of the statement's messages."""
    return {"standard": STANDARD, "date": date_text}


def blocks(gettext, lang: str) -> list[dict]:
    """The statement in ``lang``: ``[{kind, text, english}]`` (``english``: not translated, so shown in
    English, its date too); list items are grouped as ``{kind: "ul", entries: [...]}``."""
    out: list[dict] = []
    for kind, message in STATEMENT:
        translated = gettext(message)
        english = translated == message
        date_text = prepared_text("en" if english else lang)
        text = (translated % values(date_text)) if "%(" in translated or "%%" in translated else translated
        item = {"kind": kind, "text": text, "english": english}
        if kind == "li":
            if not out or out[-1]["kind"] != "ul":
                out.append({"kind": "ul", "entries": []})
            out[-1]["entries"].append(item)
        else:
            out.append(item)
    return out


def prepared_text(lang: str) -> str:
    """The preparation date in the language's long date format (CLDR)."""
    return format_date(date.fromisoformat(PREPARED), format="long", locale=lang)


def markdown() -> str:
    """docs/ACCESSIBILITY.md: the English statement."""
    lines = [f"# {TITLE}", ""]
    for block in blocks(lambda m: m, "en"):
        if block["kind"] == "ul":
            lines += [f"- {item['text']}" for item in block["entries"]] + [""]
        elif block["kind"] == "h2":
            lines += [f"## {block['text']}", ""]
        else:
            lines += [block["text"], ""]
    lines += ["<!-- Generated by publish.accessibility.markdown(); the site renders the same text in 24 "
              "languages as <lang>/accessibility.html. Edit publish/accessibility.py, not this file. -->", ""]
    return "\n".join(lines)


__all__ = ["PREPARED", "STATEMENT", "TITLE", "blocks", "markdown", "prepared_text"]
