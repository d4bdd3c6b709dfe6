"""Fixture builder for the publish tests: a realistic ``enr-bundle/1`` dict (see docs/CONTRACTS.md).

Built from the real 2019 data in ``data/ep2019/`` (lists, votes, seats, turnout) and
``data/historical/ep_1979_2019.csv`` (the 2014 comparison), with each country's rule from
``elections/ep2019/rules_source.csv``. The seat step log is the D'Hondt-like order of the
declared seats (quotient = votes / k for the k-th seat of a list), which has the shape the tally
produces; it is not a recomputation of the law.

Knobs let tests vary what the renderer and the publisher must handle: the status mix, a
rehearsal flag, a hostile list name, an unresolved tie.
"""
from __future__ import annotations

import atexit
import copy
import csv
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from contextlib import contextmanager
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
NATIONAL = ROOT / "data" / "ep2019" / "results_national.csv"
TURNOUT = ROOT / "data" / "ep2019" / "turnout.csv"
HISTORICAL = ROOT / "data" / "historical" / "ep_1979_2019.csv"
ELECTION = ROOT / "elections" / "ep2019" / "election.json"
RULES = ROOT / "elections" / "ep2019" / "rules_source.csv"



@lru_cache(maxsize=1)
def _context() -> dict:
    """What the tally adds from data/historical (historical_loader.context): the 2014 constitutive
    session's groups mapped onto the 2019 ones (ALDE -> RE, EFDD without successor), turnout since 1979."""
    from enr.definition import load_election
    from historical_loader.context import election_context

    definition = load_election("ep2019")
    return election_context(definition.previous, definition.resolve, election_year=2019, groups=definition.group_ids())

# A mix of result types as on a real night (the rest are final).
DEFAULT_STATUSES = {"DE": "official", "FR": "final", "IT": "provisional", "UK": "provisional",
                    "IE": "estimate", "MT": "provisional"}

XSS_NAME = "<script>alert(1)</script>"


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value else None


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _steps(rule: dict, lists: list[dict], valid: int | None) -> list[dict]:
    steps: list[dict] = [{"kind": "note", "text": f"method {rule['method']}, {sum(l['seats'] for l in lists)} seats"}]
    if rule["threshold_percent"]:
        base = valid or sum(l["votes"] or 0 for l in lists)
        for entry in lists:
            share = Fraction(entry["votes"] or 0, base) * 100 if base else Fraction(0)
            steps.append({"kind": "threshold", "list_id": entry["list_id"], "votes": entry["votes"],
                          "share_percent": f"{float(share):.2f}", "threshold_percent": rule["threshold_percent"],
                          "passed": share >= Fraction(rule["threshold_percent"])})
    quotients = []
    for entry in lists:
        for k in range(1, entry["seats"] + 1):
            quotients.append((Fraction(entry["votes"] or 0, k), entry["list_id"], k))
    quotients.sort(key=lambda q: (-q[0], q[1]))
    for seat, (quotient, list_id, k) in enumerate(quotients, start=1):
        steps.append({"kind": "seat", "seat": seat, "list_id": list_id, "divisor": k,
                      "quotient": f"{quotient.numerator}/{quotient.denominator}" if quotient.denominator != 1
                      else str(quotient.numerator)})
    return steps


def build_bundle(version: str = "v0003", *, test: bool = False, statuses: dict[str, str] | None = None,
                 hostile_name: bool = True, unresolved_tie: bool = False,
                 generated_at: str = "2019-05-26T21:30:00+00:00", only: set[str] | None = None,
                 test_countries: set[str] | None = None) -> dict:
    """A complete bundle for EP 2019 (28 countries, 751 seats); ``only`` keeps some countries (a partial night).

    ``test``: every country's data is test (a rehearsal); ``test_countries``: only these are (a
    mixed bundle, which publication must refuse; the bundle's own flag is then ``test``)."""
    election = json.loads(ELECTION.read_text(encoding="utf-8"))
    statuses = {**DEFAULT_STATUSES, **(statuses or {})}
    turnout = {r["country"]: r for r in _read(TURNOUT)}
    rules = {r["country"]: r for r in _read(RULES) if not r["constituency"]}
    by_country: dict[str, list[dict]] = {}
    for row in _read(NATIONAL):
        by_country.setdefault(row["country"], []).append({
            "list_id": row["list_id"], "list_name": row["list_name"], "party_abbrev": row["party_abbrev"],
            "ep_group": row["ep_group"] or "OTH", "votes": _int(row["votes"]), "seats": _int(row["seats"]) or 0,
            "seats_by_constituency": {}})
    previous: dict[str, list[dict]] = {}
    for row in _read(HISTORICAL):
        if row["election_year"] == "2014":
            previous.setdefault(row["country"], []).append(row)

    countries = []
    for minute, code in enumerate(sorted(by_country)):
        if only is not None and code not in only:
            continue
        lists = sorted(by_country[code], key=lambda l: (-(l["votes"] or 0), l["list_id"]))
        if hostile_name and code == "AT":
            lists.append({"list_id": "xss", "list_name": XSS_NAME, "party_abbrev": "<b>X</b>",
                          "ep_group": "OTH", "votes": 0, "seats": 0, "seats_by_constituency": {}})
        t = turnout[code]
        rule_row = rules[code]
        rule = {"method": rule_row["method"], "threshold_percent": rule_row["threshold_percent"],
                "threshold_base": rule_row["threshold_base"], "text": rule_row["special_notes"]}
        status = statuses.get(code, "final")
        as_of = f"2019-05-26T{21 + minute // 60:02d}:{minute % 60:02d}:00+00:00"
        prev_rows = previous.get(code, [])
        country = {
            "code": code, "seats_total": election["countries"][code]["seats"], "status": status,
            "sequence": 3, "as_of": as_of, "delivery_sha256": _digest(code, lists),
            "registered": _int(t["registered_voters"]), "voters": _int(t["voters"]),
            "valid": _int(t["valid_votes"]), "blank": _int(t["blank_votes"]), "invalid": _int(t["invalid_votes"]),
            "units_reporting": 100 if status in ("final", "official") else 87, "units_total": 100,
            "rule": rule, "lists": lists, "steps": _steps(rule, lists, _int(t["valid_votes"])),
            "ties": [], "corrections": [], "test": code in test_countries if test_countries is not None else test,
            "previous": {
                "year": 2014, "seats_total": int(prev_rows[0]["seats_total"]) if prev_rows else None,
                "turnout": None, **copy.deepcopy(_context()["countries"].get(code, {})),
                "parties": [{"party_abbrev": r["party_abbrev"], "party_name": r["party_name"],
                             "vote_share": float(r["vote_share"]) if r["vote_share"] else None,
                             "seats": _int(r["seats"])} for r in prev_rows]},
        }
        countries.append(country)

    fr = next((c for c in countries if c["code"] == "FR"), {"corrections": []})
    fr["corrections"].append({"sequence": 3, "corrects": 2, "unit_id": "FR-75-056", "list_id": "rn",
                              "field": "votes", "before": 5286829, "after": 5286939,
                              "reason": "transcription error in one polling station"})
    if unresolved_tie:
        lu = next(c for c in countries if c["code"] == "LU")
        lu["ties"].append({"constituency": "", "seat": 6, "lists": [lu["lists"][2]["list_id"], lu["lists"][3]["list_id"]],
                           "resolved": False, "winner": None})

    groups: dict[str, dict] = {g["id"]: {"id": g["id"], "seats": 0, "by_country": {}} for g in election["groups"]}
    for country in countries:
        for entry in country["lists"]:
            if entry["seats"]:
                group = groups[entry["ep_group"]]
                group["seats"] += entry["seats"]
                group["by_country"][country["code"]] = group["by_country"].get(country["code"], 0) + entry["seats"]
    total = election["total_seats"]
    bundle = {
        "schema": "enr-bundle/1", "version": version, "generated_at": generated_at, "test": test,
        "election": {"id": election["id"], "name": election["name"], "election_date": election["election_date"],
                     "polling_days": election["polling_days"], "embargo": election["embargo"],
                     "total_seats": total, "majority": total // 2 + 1, "languages": election["languages"],
                     "groups": election["groups"]},
        "countries": countries,
        "eu": {"seats_total": total, "seats_allocated": sum(g["seats"] for g in groups.values()),
               "majority": total // 2 + 1, "countries_reporting": len(countries),
               "registered": sum(c["registered"] or 0 for c in countries),
               "voters": sum(c["voters"] or 0 for c in countries),
               "groups": [g for g in groups.values()],
               "previous": {"year": 2014, "seats_total": 751, **copy.deepcopy(_context()["eu"])}},
        "deliveries": [{"country": c["code"], "sequence": c["sequence"], "sha256": c["delivery_sha256"],
                        "status": c["status"]} for c in countries],
        "changes": [{"country": "FR", "what": "status provisional -> final"},
                    {"country": "FR", "what": "correction: rn votes 5286829 -> 5286939 (unit FR-75-056)"},
                    {"country": "DE", "what": "status final -> official"}],
    }
    return bundle


REGULAR_YEARS = {1979, 1984, 1989, 1994, 1999, 2004, 2009, 2014, 2019}


def build_history() -> dict:
    """The optional ``history`` input of render_site, in the shape of
    ``historical_loader.site.history_for_site`` (built here straight from the CSV)."""
    countries: dict[str, dict[int, dict]] = {}
    for row in _read(HISTORICAL):
        year = int(row["election_year"])
        entry = countries.setdefault(row["country"], {}).setdefault(year, {
            "year": year, "election_date": row["election_date"], "seats_total": int(row["seats_total"]),
            "parties": []})
        entry["parties"].append({"party_abbrev": row["party_abbrev"], "party_name": row["party_name"],
                                 "vote_share": row["vote_share"] or None, "seats": _int(row["seats"]),
                                 "votes": _int(row["votes"])})
    for years in countries.values():
        for entry in years.values():
            entry["parties"].sort(key=lambda p: (-(p["seats"] or 0), -float(p["vote_share"] or -1), p["party_abbrev"]))
    eu = []
    for year in sorted({y for years in countries.values() for y in years}):
        members = {}
        for code, years in countries.items():
            held = [y for y in years if y <= year]
            if held:
                members[code] = years[max(held)]["seats_total"]
        eu.append({"year": year, "seats_total": sum(members.values()), "countries": members,
                   "regular": year in REGULAR_YEARS, "elected": sorted(c for c, ys in countries.items() if year in ys),
                   "appointed": []})
    return {"countries": {code: [years[y] for y in sorted(years)] for code, years in countries.items()}, "eu": eu}


# --- shared, cached helpers for the publish tests (plain functions: no conftest needed) -----------

LANGS = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv", "mt",
         "nl", "pl", "pt", "ro", "sk", "sl", "sv")
_HOMES: list[str] = []


def scratch_dir(prefix: str) -> Path:
    """A folder under /tmp (short paths for gpg), removed at exit."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    _HOMES.append(path)
    return Path(path)


@atexit.register
def _cleanup() -> None:
    for path in _HOMES:
        for home in Path(path).rglob("pubring.kbx"):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home.parent)},
                           capture_output=True, check=False)
        shutil.rmtree(path, ignore_errors=True)


@lru_cache(maxsize=1)
def rendered_site() -> Path:
    """The fixture bundle rendered in all 24 languages, once per test process."""
    from publish.site import render_site

    out = scratch_dir("enrpub-site-") / "site"
    render_site(build_bundle(), out)
    return out


@lru_cache(maxsize=1)
def demo_key() -> tuple[Path, str]:
    """A signing keyring with a throwaway key, and a separate verify-only keyring with its public key."""
    from publish.signing import Signer, ensure_demo_signing_key, import_public_key

    base = scratch_dir("enrpub-k-")
    fingerprint = ensure_demo_signing_key(base / "sign")
    with Signer(base / "sign") as signer:
        import_public_key(base / "verify", signer.public_key())
    return base, fingerprint


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
URL_ATTRS = {"src", "href", "action", "poster", "data", "xlink:href", "formaction", "srcset"}


class PageChecker(HTMLParser):
    """Well-formedness (every element closed, properly nested), lang, ids, URLs of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.lang: str | None = None
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.doctype = False
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def _attrs(self, tag: str, attrs: list) -> None:
        for name, value in attrs:
            if tag == "html" and name == "lang":
                self.lang = value
            if name == "id":
                if value in self.ids:
                    self.errors.append(f"duplicate id {value!r}")
                self.ids.add(value)
            if name in URL_ATTRS and value is not None:
                self.urls.append(value)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def result(self) -> list[str]:
        problems = list(self.errors)
        if self.stack:
            problems.append(f"unclosed: {self.stack}")
        if not self.doctype:
            problems.append("no <!DOCTYPE html>")
        return problems


@lru_cache(maxsize=4096)
def _check(path: str, mtime: float) -> PageChecker:
    checker = PageChecker()
    checker.feed(Path(path).read_text(encoding="utf-8"))
    checker.close()
    return checker


def check_page(path: Path) -> PageChecker:
    return _check(str(path), path.stat().st_mtime)


def page_text(path: Path) -> str:
    """The visible text of a page, whitespace (incl. no-break spaces) collapsed to single spaces."""
    return " ".join(" ".join(check_page(path).text).replace("\u00a0", " ").replace("\u202f", " ").split())


@contextmanager
def moto_s3(*buckets: str) -> Iterator[tuple[str, object]]:
    """An S3 server (moto's ``ThreadedMotoServer``) on a free loopback port with ``buckets`` created;
    yields (endpoint URL, a boto3 client). Skips the test if moto or boto3 is missing."""
    import pytest

    boto3 = pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing-key",
                              aws_secret_access_key="testing-secret", region_name="us-east-1")
        for name in buckets:
            client.create_bucket(Bucket=name)
        yield endpoint, client
    finally:
        server.stop()


def moto_connection(endpoint: str) -> str:
    """The ``AIRFLOW_CONN_*`` value of an ``aws`` connection to the moto server at ``endpoint``."""
    return json.dumps({"conn_type": "aws", "login": "testing-key", "password": "testing-secret",
                       "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}})


def cyprus_card(language: str = "en", *, site_title: str = "T", name: str = "Cyprus") -> dict:
    """A one-list country card (Cyprus, DISY 2 of 6 seats) in ``language``: the smallest real card."""
    from publish import cards
    from publish.i18n import Formatter

    return cards.country_card(Formatter(language), site_title=site_title, test=False, shapes={"EPP": "circle"},
                              country={"name": name, "status_label": "Final", "as_of": {"utc": "", "local": ""},
                                       "seats_total": "6", "turnout_text": "44%",
                                       "lists": [{"party_abbrev": "DISY", "list_name": "", "seats_raw": 2,
                                                  "seats": "2", "color": "#3399FF", "group_id": "EPP"}]},
                              seats_total=6)
