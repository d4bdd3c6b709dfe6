"""The media widget: one snippet a newsroom pastes, showing EU seats by group or one country's results.

Files in a rendered version::

    widget/widget.js         the whole widget (no third-party code; < 15 KB gzipped, tested)
    widget/embed.html        iframe mode: ``embed.html?view=eu|country&country=FR&lang=de``
    widget/demo.html         a test page that embeds it as a foreign page would
    widget/i18n/<lang>.json  the widget's labels in each language (from the same catalogs as the site)

The widget polls ``<election>/current.json`` (the pointer the publisher flips) and, when the
version changed, loads that version's ``data/eu.json`` or ``data/countries/<cc>.json``; so a
snippet pasted at 23:00 still shows the 02:00 results. In iframe mode it posts its height to the
parent (``{type: "enr-widget-height", height}``); ``widget.js`` included in the parent page resizes
any ``iframe[data-enr-widget]`` accordingly. In script mode it renders in a shadow root in the
host page and so follows the width of its container.

Script mode fetches JSON from the results host: that host (the bucket/CDN) must send
``Access-Control-Allow-Origin: *`` for ``current.json`` and ``data/``. Iframe mode needs nothing.
"""
from __future__ import annotations

import json
from html import escape
from pathlib import Path

from publish.i18n import BALLOT_LANGUAGE, STATUS_LABELS, formatter
from publish.files import write_new

HERE = Path(__file__).resolve().parent / "widget"
STRINGS = {
    "title_eu": "Seats by political group",
    "majority": "Majority: %(majority)s of %(total)s seats",
    "result_type": "Result type",
    "as_of": "Data as of",
    "brussels": "Brussels time",
    "list": "List",
    "votes": "Votes",
    "share": "Share of votes",
    "seats": "Seats",
    "test": "TEST: rehearsal data, not real results",
    "synthetic": "SYNTHETIC: invented numbers, not real results",
    "not_final": "Not all results are final: estimates and provisional results can still change.",
    "full": "European results",
    "type_counted": "Counted results",  # issue 20: the EU figures' type
    "type_mixed": "Counted results and national estimates",
}


def labels(bundle: dict, lang: str) -> dict:
    fmt = formatter(lang)  # the site's, once per language and process
    groups = {g["id"]: fmt.group_name(g["id"], g.get("name", g["id"])) for g in bundle["election"].get("groups", [])}
    return {"lang": lang,
            "s": {key: fmt.catalog.gettext(msgid) for key, msgid in STRINGS.items()},
            "g": groups,
            "c": {c["code"]: fmt.country_name(c["code"]) for c in bundle["countries"]},
            "st": {status: fmt.gettext(msgid) for status, msgid in STATUS_LABELS.items()},
            "bl": {c["code"]: BALLOT_LANGUAGE[c["code"]] for c in bundle["countries"] if c["code"] in BALLOT_LANGUAGE}}


def write_widget(bundle: dict, out_dir: Path, languages: list[str]) -> list[Path]:
    out_dir = Path(out_dir)
    folder = out_dir / "widget"
    (folder / "i18n").mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("widget.js", "embed.html", "demo.html"):
        path = folder / name
        write_new(path, (HERE / name).read_bytes())
        written.append(path)
    for lang in languages:
        path = folder / "i18n" / f"{lang}.json"
        write_new(path, (json.dumps(labels(bundle, lang), ensure_ascii=False, separators=(",", ":")) + "\n")
                         .encode("utf-8"))
        written.append(path)
    return written


def script_snippet(base_url: str, election: str, version: str, lang: str, view: str = "eu",
                   country: str | None = None) -> str:
    """The ``<script>`` snippet to paste (``base_url``: the public root, e.g. https://host/public/)."""
    extra = f' data-enr-country="{escape(country)}"' if country else ""
    return (f'<script src="{escape(base_url)}{escape(election)}/{escape(version)}/widget/widget.js" '
            f'data-enr-view="{escape(view)}"{extra} data-enr-lang="{escape(lang)}" async></script>')


def iframe_snippet(base_url: str, election: str, version: str, lang: str, view: str = "eu",
                   country: str | None = None) -> str:
    query = f"view={view}" + (f"&country={country}" if country else "") + f"&lang={lang}"
    return (f'<iframe data-enr-widget src="{escape(base_url)}{escape(election)}/{escape(version)}/widget/embed.html?'
            f'{escape(query)}" title="Results" style="width:100%;border:0;height:420px" loading="lazy"></iframe>')
