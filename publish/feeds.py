"""Machine-readable feeds of one version: JSON, CSV and XML per country and for the EU, NIST, changes.

Every tabular feed takes its column order from :mod:`publish.columns` (declared once). Files::

    data/bundle.json                 the render input, as received from the tally
    data/eu.{json,csv,xml}           seats by political group (EU_COLUMNS)
    data/turnout.{json,csv,xml}      one row per country: status, data time, turnout (TURNOUT_COLUMNS)
    data/countries/<cc>.{json,csv,xml}  one row per list (COUNTRY_COLUMNS)
    data/projection.{json,csv,xml}   the EU projection by group, when the version has one (PROJECTION_COLUMNS)
    data/nist-v2.json                the same results as NIST SP 1500-100 v2 (see :mod:`publish.nist`)
    data/comparison-groups.{json,csv,xml}     seats by group against the previous Parliament (COMPARISON_GROUP_COLUMNS)
    data/comparison-countries.{json,csv,xml}  seats and turnout against the previous election (COMPARISON_COUNTRY_COLUMNS)
    data/turnout-history.{json,csv,xml}       EU and country turnout since 1979, and tonight's (TURNOUT_HISTORY_COLUMNS)
    changes.json                     what changed against the previous version (bundle["changes"])

Plus :func:`atom_feed`, the Atom feed of publications that :mod:`publish.release` rewrites beside
the versions each time it publishes or rolls back.

Every row carries ``election``, ``version`` and ``test`` so rehearsal data is recognisable in any
single file taken out of context. Output is deterministic (no clock), so the same bundle gives
the same bytes and the same manifest digest.
"""
from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

from enr.versions import version_key
from publish import model, nist
from publish.files import write_new
from publish.columns import (COMPARISON_COUNTRY_COLUMNS, COMPARISON_GROUP_COLUMNS, COUNTRY_COLUMNS, EU_COLUMNS,
                             PROJECTION_COLUMNS, TURNOUT_COLUMNS, TURNOUT_HISTORY_COLUMNS)
from publish.i18n import round_percent, utc_iso

FEED_SCHEMA = "enr-feed/1"
ATOM_NS = "http://www.w3.org/2005/Atom"


def _pct(value) -> str | None:
    rounded = round_percent(value)
    return None if rounded is None else f"{rounded:.2f}"


def country_rows(bundle: dict, country: dict) -> list[dict]:
    """One row per list, keys in COUNTRY_COLUMNS order, sorted by seats then votes (descending)."""
    rows = []
    lists = sorted(country.get("lists", []), key=lambda e: (-(e.get("seats") or 0), -(e.get("votes") or 0),
                                                            e.get("list_id", "")))
    for entry in lists:
        values = {
            "election": bundle["election"]["id"], "version": bundle["version"], "test": bool(bundle.get("test")),
            "country": country["code"], "status": country.get("status", "none"), "as_of": country.get("as_of"),
            "sequence": country.get("sequence"), "list_id": entry.get("list_id"), "list_name": entry.get("list_name"),
            "party_abbrev": entry.get("party_abbrev"), "ep_group": entry.get("ep_group") or ("OTH" if entry.get("seats") else ""),
            "votes": entry.get("votes"), "vote_share": _pct(model.vote_share(country, entry)),
            "seats": entry.get("seats"), "synthetic": bool(bundle.get("synthetic")),
        }
        rows.append({column: values[column] for column in COUNTRY_COLUMNS})
    return rows


def eu_rows(bundle: dict) -> list[dict]:
    total = bundle["eu"].get("seats_total") or bundle["election"].get("total_seats")
    names = {g["id"]: g.get("name", g["id"]) for g in bundle["election"].get("groups", [])}
    rows = []
    for group in sorted(bundle["eu"].get("groups", []), key=lambda g: (-(g.get("seats") or 0), g["id"])):
        values = {
            "election": bundle["election"]["id"], "version": bundle["version"], "test": bool(bundle.get("test")),
            "group": group["id"], "group_name": names.get(group["id"], group["id"]), "seats": group.get("seats") or 0,
            "seat_share": _pct(model.seat_share(group.get("seats") or 0, total)),
            "majority": bundle["eu"].get("majority"), "seats_total": total,
            "countries": ";".join(f"{cc}:{n}" for cc, n in sorted((group.get("by_country") or {}).items())),
            "synthetic": bool(bundle.get("synthetic")),
            "as_of": bundle["eu"].get("as_of") or bundle["generated_at"],
            "seats_by_type": ";".join(f"{st}:{n}" for st, n in sorted((group.get("by_status") or {}).items())),
        }
        rows.append({column: values[column] for column in EU_COLUMNS})
    return rows


def projection_rows(bundle: dict) -> list[dict]:
    """The EU projection (``bundle["projection"]``, :func:`enr.tally.eu_projection`), one row per group."""
    projection = bundle.get("projection") or {}
    names = {g["id"]: g.get("name", g["id"]) for g in bundle["election"].get("groups", [])}
    rows = []
    for group in sorted(projection.get("groups", []), key=lambda g: (-(g.get("seats") or 0), g["id"])):
        basis = group.get("by_basis") or {}
        values = {"election": bundle["election"]["id"], "version": bundle["version"], "test": bool(bundle.get("test")),
                  "type": "projection", "as_of": projection.get("as_of"), "group": group["id"],
                  "group_name": names.get(group["id"], group["id"]), "seats": group.get("seats") or 0,
                  "counted": basis.get("count", 0), "estimate": basis.get("estimate", 0),
                  "outgoing": basis.get("outgoing", 0), "majority": projection.get("majority"),
                  "seats_total": projection.get("seats_total"), "synthetic": bool(bundle.get("synthetic"))}
        rows.append({column: values[column] for column in PROJECTION_COLUMNS})
    return rows


def turnout_rows(bundle: dict) -> list[dict]:
    rows = []
    for country in sorted(bundle["countries"], key=lambda c: c["code"]):
        values = {
            "election": bundle["election"]["id"], "version": bundle["version"], "test": bool(bundle.get("test")),
            "country": country["code"], "status": country.get("status", "none"), "as_of": country.get("as_of"),
            "seats_total": country.get("seats_total"), "registered": country.get("registered"),
            "voters": country.get("voters"), "valid": country.get("valid"), "blank": country.get("blank"),
            "invalid": country.get("invalid"),
            "turnout": _pct(model.turnout(country.get("registered"), country.get("voters"))),
            "units_reporting": country.get("units_reporting"), "units_total": country.get("units_total"),
            "synthetic": bool(bundle.get("synthetic")),
        }
        rows.append({column: values[column] for column in TURNOUT_COLUMNS})
    return rows


def _row_head(bundle: dict) -> dict:
    return {"election": bundle["election"]["id"], "version": bundle["version"], "test": bool(bundle.get("test")),
            "synthetic": bool(bundle.get("synthetic"))}


def comparison_group_rows(bundle: dict) -> list[dict]:
    """Each group against the previous Parliament (:func:`publish.model.group_comparison`), labelled
    with what the previous figure is (e.g. ``constitutive session 2014``)."""
    label = (bundle["eu"].get("previous") or {}).get("groups_label") or ""
    rows = []
    for row in model.group_comparison(bundle):
        values = {**_row_head(bundle), "group": row["group"], "comparison": row["comparison"],
                  "previous_groups": ";".join(row["previous_ids"]),
                  "previous_label": label if row["seats_previous"] is not None else None,
                  "seats_previous": row["seats_previous"], "seats": row["seats"], "change": row["change"]}
        rows.append({column: values[column] for column in COMPARISON_GROUP_COLUMNS})
    return rows


def comparison_country_rows(bundle: dict) -> list[dict]:
    rows = []
    for country in sorted(bundle["countries"], key=lambda c: c["code"]):
        previous = country.get("previous") or {}
        values = {**_row_head(bundle), "country": country["code"], "status": country.get("status", "none"),
                  "previous_year": previous.get("year"), "seats_total_previous": previous.get("seats_total"),
                  "seats_total": country.get("seats_total"), "turnout_previous": _pct(model.previous_turnout(country)),
                  "turnout": _pct(model.turnout(country.get("registered"), country.get("voters")))}
        rows.append({column: values[column] for column in COMPARISON_COUNTRY_COLUMNS})
    return rows


def turnout_history_rows(bundle: dict) -> list[dict]:
    """EU turnout of every past election and tonight's (over the countries reporting so far), then each
    country's past elections and tonight's count."""
    year = int(str(bundle["election"].get("election_date", ""))[:4] or 0)
    eu = bundle["eu"]
    total = len(bundle["countries"])
    rows = []

    def add(area: str, row_year: int, turnout: str | None, source: str, reporting: int | None = None) -> None:
        values = {**_row_head(bundle), "area": area, "year": row_year, "turnout": turnout, "source": source,
                  "countries_reporting": reporting, "countries_total": total if area == "EU" else None}
        rows.append({column: values[column] for column in TURNOUT_HISTORY_COLUMNS})

    for past in (eu.get("previous") or {}).get("turnout_history") or []:
        add("EU", past["year"], f"{Decimal(past['turnout_pct']):.2f}", "history")
    tonight = _pct(model.turnout(eu.get("registered"), eu.get("voters")))
    if tonight is not None:
        add("EU", year, tonight, "count", int(eu.get("countries_reporting") or 0))
    for country in sorted(bundle["countries"], key=lambda c: c["code"]):
        for past in (country.get("previous") or {}).get("turnout_history") or []:
            add(country["code"], past["year"], f"{Decimal(past['turnout_pct']):.2f}", "history")
        own = _pct(model.turnout(country.get("registered"), country.get("voters")))
        if own is not None:
            add(country["code"], year, own, "count")
    return rows


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(columns: tuple[str, ...], rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row[c]) for c in columns])
    return buffer.getvalue().encode("utf-8")


def to_xml(root_name: str, attributes: dict, columns: tuple[str, ...], rows: list[dict]) -> bytes:
    root = ET.Element(root_name, {k: _csv_value(v) for k, v in attributes.items() if v is not None})
    columns_el = ET.SubElement(root, "columns")
    for column in columns:
        ET.SubElement(columns_el, "column").text = column
    for row in rows:
        row_el = ET.SubElement(root, "row")
        for column in columns:
            if row[column] is not None:
                ET.SubElement(row_el, column).text = _csv_value(row[column])
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def to_json(document: dict, compact: bool = False) -> bytes:
    if compact:
        return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _head(bundle: dict) -> dict:
    return {"schema": FEED_SCHEMA, "election": bundle["election"]["id"], "version": bundle["version"],
            "test": bool(bundle.get("test")), "synthetic": bool(bundle.get("synthetic")),
            "generated_at": bundle["generated_at"]}


def country_document(bundle: dict, country: dict) -> dict:
    return {**_head(bundle), "country": {
        "code": country["code"], "status": country.get("status", "none"), "as_of": country.get("as_of"),
        "as_of_utc": utc_iso(country.get("as_of")), "sequence": country.get("sequence"),
        "seats_total": country.get("seats_total"), "registered": country.get("registered"),
        "voters": country.get("voters"), "valid": country.get("valid"), "blank": country.get("blank"),
        "invalid": country.get("invalid"),
        "turnout": _pct(model.turnout(country.get("registered"), country.get("voters"))),
        "units_reporting": country.get("units_reporting"), "units_total": country.get("units_total"),
        "delivery_sha256": country.get("delivery_sha256")},
        "columns": list(COUNTRY_COLUMNS), "rows": country_rows(bundle, country),
        "corrections": list(country.get("corrections", []))}


def eu_document(bundle: dict) -> dict:
    eu = bundle["eu"]
    return {**_head(bundle), "seats_total": eu.get("seats_total"), "seats_allocated": eu.get("seats_allocated"),
            "majority": eu.get("majority"), "countries_reporting": eu.get("countries_reporting"),
            "turnout": _pct(model.turnout(eu.get("registered"), eu.get("voters"))),
            "all_final": model.all_final(bundle),
            "statuses": {c["code"]: c.get("status", "none") for c in sorted(bundle["countries"], key=lambda c: c["code"])},
            "colors": {g["id"]: model.safe_color(g.get("color")) for g in bundle["election"].get("groups", [])},
            "columns": list(EU_COLUMNS), "rows": eu_rows(bundle),
            "previous": _previous_summary(bundle),
            # issue 20: the figures' type and time; estimated: some seats rest on a national estimate
            "as_of": eu.get("as_of") or bundle["generated_at"],
            "estimated": any((g.get("by_status") or {}).get("estimate") for g in eu.get("groups", [])),
            "projection": ({k: v for k, v in bundle["projection"].items() if k != "countries"}
                           if bundle.get("projection") else None)}


def _previous_summary(bundle: dict) -> dict:
    """What the EU figures are compared with: the previous Parliament (labelled) and past EU turnout."""
    previous = bundle["eu"].get("previous") or {}
    return {"year": previous.get("year"), "groups_label": previous.get("groups_label") or None,
            "groups_date": previous.get("groups_date") or None,
            "groups": comparison_group_rows(bundle),
            "turnout_history": [{"year": r["year"], "turnout": f"{Decimal(r['turnout_pct']):.2f}"}
                                for r in previous.get("turnout_history") or []]}


def changes_document(bundle: dict) -> dict:
    return {**_head(bundle), "changes": bundle.get("changes", []),
            "corrections": [{"country": c["code"], **x} for c in bundle["countries"] for x in c.get("corrections", [])]}


def write_feeds(bundle: dict, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    written: list[Path] = []

    def write(rel: str, data: bytes) -> None:
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_new(path, data)
        written.append(path)

    head = _head(bundle)
    write("data/bundle.json", to_json(bundle))
    write("data/eu.json", to_json(eu_document(bundle)))
    write("data/eu.csv", to_csv(EU_COLUMNS, eu_rows(bundle)))
    write("data/eu.xml", to_xml("eu", head, EU_COLUMNS, eu_rows(bundle)))
    turnout = turnout_rows(bundle)
    write("data/turnout.json", to_json({**head, "columns": list(TURNOUT_COLUMNS), "rows": turnout}))
    write("data/turnout.csv", to_csv(TURNOUT_COLUMNS, turnout))
    write("data/turnout.xml", to_xml("turnout", head, TURNOUT_COLUMNS, turnout))
    for country in bundle["countries"]:
        slug = country["code"].lower()
        rows = country_rows(bundle, country)
        write(f"data/countries/{slug}.json", to_json(country_document(bundle, country)))
        write(f"data/countries/{slug}.csv", to_csv(COUNTRY_COLUMNS, rows))
        write(f"data/countries/{slug}.xml", to_xml("country", {**head, "code": country["code"],
                                                                "status": country.get("status", "none"),
                                                                "as_of": country.get("as_of")},
                                                   COUNTRY_COLUMNS, rows))
    if bundle.get("projection"):
        projection = projection_rows(bundle)
        write("data/projection.json", to_json({**head, "type": "projection", "as_of": bundle["projection"].get("as_of"),
                                               "countries": bundle["projection"].get("countries", {}),
                                               "columns": list(PROJECTION_COLUMNS), "rows": projection}))
        write("data/projection.csv", to_csv(PROJECTION_COLUMNS, projection))
        write("data/projection.xml", to_xml("projection", head, PROJECTION_COLUMNS, projection))
    write("data/nist-v2.json", to_json(nist.election_report(bundle), compact=True))
    for name, columns, rows in (("comparison-groups", COMPARISON_GROUP_COLUMNS, comparison_group_rows(bundle)),
                                ("comparison-countries", COMPARISON_COUNTRY_COLUMNS, comparison_country_rows(bundle)),
                                ("turnout-history", TURNOUT_HISTORY_COLUMNS, turnout_history_rows(bundle))):
        write(f"data/{name}.json", to_json({**head, "columns": list(columns), "rows": rows}))
        write(f"data/{name}.csv", to_csv(columns, rows))
        write(f"data/{name}.xml", to_xml(name.replace("-", "_"), head, columns, rows))
    write("changes.json", to_json(changes_document(bundle)))
    return written


def websub_links(election: str) -> dict:
    """``{"hub": ..., "self_url": ...}`` for :func:`atom_feed` when a WebSub hub is configured
    (``ENR_WEBSUB_HUB``, with ``ENR_PUBLIC_BASE_URL`` giving the feed's absolute address), else ``{}``.
    Read from the environment each time a feed is written (docs/MEDIA.md)."""
    import os

    hub = os.environ.get("ENR_WEBSUB_HUB", "").strip()
    base = os.environ.get("ENR_PUBLIC_BASE_URL", "").strip().rstrip("/")
    if not (hub and base):
        return {}
    return {"hub": hub, "self_url": f"{base}/{election}/publications.atom"}


def atom_feed(election: dict, publications: list[dict], base_url: str = "", *, hub: str | None = None,
              self_url: str | None = None) -> bytes:
    """Atom 1.0 feed of publications, newest first.

    With a WebSub ``hub``, the feed advertises it (``<link rel="hub">``) and its own absolute
    address ``self_url`` (``<link rel="self">``, the topic subscribers register with the hub).

    ``election``: ``{"id", "name"}``. ``publications``: dicts with ``version``, ``published_at``
    (ISO 8601 with offset), ``manifest_sha256``, optional ``test``, ``event`` ("publish" or
    "rollback") and ``changes`` (list of ``{country, what}``). Links are relative to ``base_url``
    (the folder that holds the versions), which may be empty.
    """
    ET.register_namespace("", ATOM_NS)

    def el(parent, tag, text=None, **attrs):
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: str(v) for k, v in attrs.items()})
        if text is not None:
            node.text = str(text)
        return node

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    el(feed, "id", f"urn:enr:{election['id']}:publications")
    el(feed, "title", f"{election.get('name', election['id'])}: publications")
    ordered = sorted(publications, key=lambda p: (p["published_at"], version_key(p["version"])), reverse=True)
    el(feed, "updated", utc_iso(ordered[0]["published_at"]) if ordered else "1970-01-01T00:00:00Z")
    author = el(feed, "author")
    el(author, "name", "enr-ep publisher")
    el(feed, "link", rel="self", href=self_url or f"{base_url}publications.atom")
    if hub:
        el(feed, "link", rel="hub", href=hub)
    for number, publication in enumerate(ordered):
        entry = el(feed, "entry")
        event = publication.get("event", "publish")
        el(entry, "id", f"urn:enr:{election['id']}:{publication['version']}:{event}:{publication['manifest_sha256'][:16]}"
                        f":{utc_iso(publication['published_at'])}")
        test = (" [TEST]" if publication.get("test") else "") + (" [SYNTHETIC]" if publication.get("synthetic") else "")
        el(entry, "title", f"{publication['version']} ({event}){test}")
        el(entry, "updated", utc_iso(publication["published_at"]))
        el(entry, "link", rel="alternate", type="text/html", href=f"{base_url}{publication['version']}/index.html")
        lines = [f"manifest sha256 {publication['manifest_sha256']}"]
        lines += [f"{c.get('country', '')}: {c.get('what', '')}" for c in publication.get("changes", [])]
        el(entry, "summary", "\n".join(lines))
    ET.indent(feed, space=" ")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"
