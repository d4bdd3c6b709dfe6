"""Issue 20, comparisons: the night against the previous Parliament and turnout since 1979.

The bundle here is the one the demo's tally makes from the 2019 data: every country's counts from
``data/ep2019`` (as in tests/test_seats_golden.py) through :func:`enr.tally.build_bundle`, with the
previous election (``historical_loader.previous``) and the context of ``historical_loader.context``
read from the files the definition names, exactly as :func:`enr.pipeline.tally` does.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

from tests.support.publish_fixtures import ROOT, check_page, page_text, scratch_dir

DATA = ROOT / "data" / "ep2019"
HIST = ROOT / "data" / "historical"


def _counts(only: set[str] | None = None) -> dict:
    from enr.tally import CountryCounts

    nat = pd.read_csv(DATA / "results_national.csv", dtype=str, keep_default_na=False)
    tur = pd.read_csv(DATA / "turnout.csv", dtype=str, keep_default_na=False).set_index("country")
    con = pd.read_csv(DATA / "results_constituency.csv", dtype=str, keep_default_na=False)
    counts = {}
    for cc in sorted(set(nat.country)):
        if only is not None and cc not in only:
            continue
        t = nat[(nat.country == cc) & (nat.votes != "")]
        c = con[(con.country == cc) & (con.votes != "")]
        votes = pd.concat([t[["list_id", "votes"]].assign(constituency=""),
                           c[["constituency", "list_id", "votes"]]]) if len(c) else t[["list_id", "votes"]].assign(constituency="")
        votes = votes.assign(votes=votes.votes.astype(int))
        if len(c):  # constituency counts only (the national rows are their sum)
            votes = votes[votes.constituency != ""]
        declared = pd.concat([t[["list_id", "seats"]].assign(constituency=""),
                              con[(con.country == cc) & (con.seats != "")][["constituency", "list_id", "seats"]]])
        declared = declared.assign(seats=declared.seats.astype(int))
        row = tur.loc[cc]
        totals = {k: (int(row[col]) if row[col] else None) for k, col in
                  (("registered", "registered_voters"), ("voters", "voters"), ("valid", "valid_votes"),
                   ("blank", "blank_votes"), ("invalid", "invalid_votes"))}
        counts[cc] = CountryCounts(country=cc, status="final", sequence=1, sha256=f"{cc}-sha", as_of="2019-05-26T22:00:00+00:00",
                                   votes=votes, totals=totals, declared_seats=declared)
    return counts


def tally_bundle(only: set[str] | None = None, election: str = "ep2019") -> dict:
    """The tally's bundle for the 2019 data (all countries, or ``only`` these: a partial night)."""
    from enr.definition import load_election
    from enr.tally import build_bundle
    from historical_loader.context import election_context
    from historical_loader.previous import previous_results

    definition = load_election(election)
    year = int(definition.election_date[:4])
    previous = previous_results(definition.resolve(definition.previous["source"]), year)
    context = election_context(definition.previous, definition.resolve, election_year=year,
                               groups=definition.group_ids())
    bundle = build_bundle(definition, _counts(only), version="v0001", previous=previous, context=context,
                          generated_at=datetime(2019, 5, 26, 22, 30, tzinfo=timezone.utc))
    return json.loads(json.dumps(bundle, default=str))


@lru_cache(maxsize=1)
def full_bundle() -> dict:
    return tally_bundle()


@lru_cache(maxsize=1)
def rendered(languages: tuple[str, ...] = ("en", "de", "fr", "el", "fi")) -> Path:
    from publish.site import render_site

    out = scratch_dir("enrcmp-") / "site"
    render_site(full_bundle(), out, languages=list(languages))
    return out


def _group_row(text_rows: list[list[str]], gid: str) -> list[str]:
    return next(r for r in text_rows if f"({gid}" in r[0])


def _rows(html: str, table_id: str | None = None, caption: str | None = None) -> list[list[str]]:
    """The cells' text of a table's body rows (found by id or by caption)."""
    if table_id:
        table = re.search(rf'<table id="{re.escape(table_id)}">(.*?)</table>', html, re.S).group(1)
    else:
        table = next(t for t in re.findall(r"<table[^>]*>(.*?)</table>", html, re.S) if caption in t)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    out = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        out.append([" ".join(re.sub(r"<[^>]+>", " ", c).replace("\u00a0", " ").replace("\u202f", " ").split())
                    for c in cells])
    return out


# --- the data and the tally --------------------------------------------------------------------------

def test_the_tally_carries_the_previous_parliament_and_turnout_since_1979():
    bundle = full_bundle()
    prev = bundle["eu"]["previous"]
    groups = {g["id"]: g for g in prev["groups"]}
    assert prev["groups_year"] == 2014 and prev["groups_label"] == "constitutive session 2014"
    assert groups["EPP"]["seats"] == 221 and groups["RE"]["previous_ids"] == ["ALDE"] and groups["RE"]["seats"] == 67
    assert groups["EFDD"]["successor"] is None and "ID" not in groups
    assert sum(g["seats"] for g in prev["groups"]) == 751
    assert [r["year"] for r in prev["turnout_history"]] == [1979, 1984, 1989, 1994, 1999, 2004, 2009, 2014]
    assert prev["turnout_history"][-1]["turnout_pct"] == "42.61"
    eu_groups = {g["id"]: g["seats"] for g in bundle["eu"]["groups"]}
    assert eu_groups["EPP"] == 186  # the demo's EPP from the 2019 counts
    fr = next(c for c in bundle["countries"] if c["code"] == "FR")
    assert fr["previous"]["turnout"] == "0.4243" and fr["previous"]["seats_total"] == 74
    hr = next(c for c in bundle["countries"] if c["code"] == "HR")
    assert [r["year"] for r in hr["previous"]["turnout_history"]] == [2013, 2014]


def test_the_2024_definition_compares_turnout_with_2019_and_leaves_the_uk_out():
    from enr.definition import load_election
    from historical_loader.context import election_context

    definition = load_election("ep2024")
    context = election_context(definition.previous, definition.resolve, election_year=2024,
                               groups=definition.group_ids())
    assert "UK" in context["countries"]  # the data has it; build_bundle compares only the definition's countries
    assert context["countries"]["AT"]["turnout_year"] == 2019 and context["countries"]["AT"]["turnout_pct"] == "59.77"
    assert context["eu"]["turnout_history"][-1] == {"year": 2019, "turnout_pct": "50.66"}
    assert "groups" not in context["eu"]  # no 2019 constitutive-session file: no group comparison, no guess


@pytest.mark.parametrize("edit,rule,line", [
    (lambda rows: rows.__setitem__(3, rows[3].replace(",47.82,", ",147.82,")), "turnout_range", 4),
    (lambda rows: rows.__setitem__(3, rows[3].replace(",47.82,", ",about 48,")), "parse", 4),
    (lambda rows: rows.append(rows[3]), "one_row_per_election", 177),
    (lambda rows: rows.pop(3), "turnout_coverage", None),
])
def test_bad_turnout_rows_are_named_by_file_line_and_rule(tmp_path, edit, rule, line):
    from historical_loader.context import country_turnout
    from historical_loader.errors import HistoryValidationError

    rows = (HIST / "ep_turnout_1979_2019.csv").read_text(encoding="utf-8").splitlines()
    edit(rows)
    bad = tmp_path / "ep_turnout_1979_2019.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(HistoryValidationError) as caught:
        country_turnout(bad, HIST / "ep_seat_totals.csv")
    finding = caught.value.violations[0]
    assert finding.rule == rule and finding.file == "ep_turnout_1979_2019.csv"
    assert "DK" in finding.election and "1979" in finding.election
    if line:
        assert finding.lines == (line,)
        assert f"line {line}" in str(caught.value)


def test_bad_group_files_are_refused(tmp_path):
    from historical_loader.context import previous_groups
    from historical_loader.errors import HistoryValidationError

    groups = ["EPP", "S&D", "RE", "Greens/EFA", "ID", "ECR", "GUE/NGL", "NI", "OTH"]
    text = (HIST / "ep_groups_2014.csv").read_text(encoding="utf-8")
    bad = tmp_path / "g.csv"
    bad.write_text(text.replace(",67,RE", ",67,LIB"), encoding="utf-8")
    with pytest.raises(HistoryValidationError) as caught:
        previous_groups(bad, groups, year=2014)
    assert caught.value.rules == {"successor_unknown"} and caught.value.violations[0].lines == (5,)
    bad.write_text(text.replace(",221,EPP", ",222,EPP"), encoding="utf-8")
    with pytest.raises(HistoryValidationError, match="group_seats_sum.*752 seats, the Parliament 751"):
        previous_groups(bad, groups, year=2014)
    bad.write_text(text.replace("EFDD,Europe of Freedom and Direct Democracy Group,48,",
                                "ID,Europe of Freedom and Direct Democracy Group,48,"), encoding="utf-8")
    with pytest.raises(HistoryValidationError, match="same id"):
        previous_groups(bad, groups, year=2014)


def test_the_pipeline_tally_carries_the_comparisons_and_goes_on_without_them_when_a_file_is_bad(
        enr_home, tmp_path, monkeypatch, caplog):
    """Through enr.pipeline.tally (as the DAG runs it): the bundle holds the comparisons; with a broken
    historical file the error is logged with file, line and rule, and the version is still tallied."""
    from enr import demo, pipeline, replay

    keys = demo.ensure_demo_keys()
    pipeline.open_store().migrate()
    night = replay.write_night(enr_home / "outbox", waves=("final:100",), countries=["MT"],
                               sender_home=keys["sender_home"])
    demo.drop_into_inbox(night.waves[0].files)
    assert pipeline.ingest_country("ep2019", "MT")["accepted"]
    tallied = pipeline.tally("ep2019")
    bundle = json.loads(pipeline.export_bucket().read(tallied["bundle_path"]))
    assert {g["id"]: g["seats"] for g in bundle["eu"]["previous"]["groups"]}["EPP"] == 221
    malta = next(c for c in bundle["countries"] if c["code"] == "MT")
    assert malta["previous"]["turnout_pct"] == "74.8" and len(malta["previous"]["turnout_history"]) == 3

    elections = tmp_path / "elections"
    shutil.copytree(ROOT / "elections" / "ep2019", elections / "ep2019")
    (elections / "ep2019" / "eu.csv").write_text("election_year,turnout_pct\n1979,61.99\n1983,50\n", encoding="utf-8")
    meta = json.loads((elections / "ep2019" / "election.json").read_text(encoding="utf-8"))
    meta["previous"]["eu_turnout"] = "./eu.csv"
    (elections / "ep2019" / "election.json").write_text(json.dumps(meta), encoding="utf-8")
    from enr.definition import load_election

    monkeypatch.setenv("ENR_ELECTIONS_DIR", str(elections))
    load_election.cache_clear()
    try:
        with caplog.at_level("ERROR", logger="enr.pipeline"):
            tallied = pipeline.tally("ep2019", force=True)
    finally:
        monkeypatch.delenv("ENR_ELECTIONS_DIR")
        load_election.cache_clear()
    assert tallied is not None
    bundle = json.loads(pipeline.export_bucket().read(tallied["bundle_path"]))
    assert "turnout_history" not in bundle["eu"]["previous"] and "groups" not in bundle["eu"]["previous"]
    assert next(c for c in bundle["countries"] if c["code"] == "MT")["previous"]["seats_total"] == 6
    assert re.search(r"comparisons left out: .*eu\.csv EP 1983 EU: rule parse: .*\(line 3\)", caplog.text), caplog.text


# --- the site ---------------------------------------------------------------------------------------

def test_eu_page_fills_the_previous_parliament_column():
    html = (rendered() / "en" / "index.html").read_text(encoding="utf-8")
    assert "Constitutive session 2014" in html
    rows = _rows(html, table_id="groups-table")
    epp = _group_row(rows, "EPP")
    assert epp[1] == "186" and epp[3] == "221" and epp[4] == "\u221235"
    re_row = _group_row(rows, "RE")
    assert re_row[3] == "67"
    id_row = _group_row(rows, "ID")
    assert id_row[3] == "new" and id_row[4] == ""
    oth = _group_row(rows, "OTH")
    assert oth[3] == ""  # not a group: neither compared nor "new"
    text = page_text(rendered() / "en" / "index.html")
    assert "Turnout 2014: 42.61% · Turnout since 1979" in text and "countries reporting so far" not in text


@pytest.mark.parametrize("lang,new,label", [("de", "neu", "Konstituierende Sitzung 2014"),
                                            ("fr", "nouveau", "Session constitutive 2014"),
                                            ("el", "νέα", "Συντακτική συνεδρίαση 2014"),
                                            ("fi", "uusi", "Järjestäytymisistunto 2014")])
def test_the_comparison_is_translated(lang, new, label):
    html = (rendered() / lang / "index.html").read_text(encoding="utf-8")
    assert label in html
    rows = _rows(html, table_id="groups-table")
    assert _group_row(rows, "ID")[3] == new
    assert _group_row(rows, "EPP")[3] == "221"
    comparison = (rendered() / lang / "comparison.html").read_text(encoding="utf-8")
    assert "Turnout since 1979" not in comparison and "Not available" not in comparison


def test_comparison_page_has_groups_countries_and_eu_turnout():
    page = rendered() / "en" / "comparison.html"
    assert check_page(page).result() == []
    html = page.read_text(encoding="utf-8")
    groups = _rows(html, caption="Seats by political group")
    assert _group_row(groups, "EPP")[1:] == ["221", "186", "\u221235"]
    assert "previously ALDE" in _group_row(groups, "RE")[0]
    assert _group_row(groups, "ID")[1] == "new"
    efdd = _group_row(groups, "EFDD")
    assert efdd[1:] == ["48", "\u2014", "no successor group"]
    countries = {r[0]: r for r in _rows(html, caption="Countries")}
    assert countries["France"] == ["France", "74", "74", "42.43%", "50.12%"]
    assert countries["Croatia"][3] == "25.24%"
    assert "Not available" not in page_text(page)
    turnout = _rows(html, table_id="turnout-since-table")
    assert turnout[0] == ["1979", "61.99%"] and turnout[7] == ["2014", "42.61%"]
    eu = full_bundle()["eu"]
    tonight = eu["voters"] * 100 / eu["registered"]
    assert turnout[8] == ["2019 (this election)", f"{tonight:.2f}%"] == ["2019 (this election)", "50.67%"]
    assert abs(tonight - 50.66) < 0.05  # the EP's published 2019 figure, from our counts
    assert "countries reporting so far" not in html


def test_the_chart_has_the_numbers_of_its_table():
    for rel in ("en/comparison.html", "en/country/fr.html", "de/country/hr.html"):
        html = (rendered() / rel).read_text(encoding="utf-8")
        svg = re.search(r'<svg class="turnout-chart".*?</svg>', html, re.S).group(0)
        assert 'role="img"' in svg and 'aria-labelledby="turnout-since-title turnout-since-desc"' in svg
        assert '<title id="turnout-since-title">' in svg and '<desc id="turnout-since-desc">' in svg
        assert 'aria-describedby="turnout-since-table"' in svg
        points: dict[str, dict[str, str]] = {}
        for series in re.findall(r'<g class="series" data-series="([^"]+)">(.*?)</g>', svg, re.S):
            points[series[0]] = dict(re.findall(r'data-year="(\d+)" data-value="([\d.]+)"', series[1]))
        table = _rows(html, table_id="turnout-since-table")
        order = ["eu"] if rel.endswith("comparison.html") else [rel.split("/")[-1][:2], "eu"]
        from_table: dict[str, dict[str, str]] = {key: {} for key in order}
        for row in table:
            year = row[0].split()[0]
            for key, cell in zip(order, row[1:]):
                if cell != "\u2014":
                    from_table[key][year] = cell.replace(",", ".").replace("%", "").replace(" ", "")
        assert {k: {y: str(float(v)) for y, v in p.items()} for k, p in points.items()} == \
               {k: {y: str(float(v)) for y, v in p.items()} for k, p in from_table.items()}
        assert len(points["eu"]) == (9 if rel.endswith("comparison.html") else 8)  # tonight's EU: comparison page only
    hr = (rendered() / "de" / "country" / "hr.html").read_text(encoding="utf-8")
    hr_points = re.findall(r'data-series="hr">(.*?)</g>', hr, re.S)[0]
    assert re.findall(r'data-year="(\d+)"', hr_points) == ["2013", "2014", "2019"]


def test_a_partial_night_labels_the_eu_turnout_as_countries_reporting_so_far():
    from publish.site import render_site

    out = scratch_dir("enrcmp-p-") / "site"
    render_site(tally_bundle(only={"DE", "FR", "MT"}), out, languages=["en", "de"])
    html = (out / "en" / "comparison.html").read_text(encoding="utf-8")
    assert "EU tonight: 3 of 28 countries reporting so far" in html
    assert "3 von 28" in (out / "de" / "comparison.html").read_text(encoding="utf-8")
    assert "EU tonight: 3 of 28 countries reporting so far" in page_text(out / "en" / "index.html")
    turnout = _rows(html, table_id="turnout-since-table")
    assert turnout[-1][0] == "2019 (this election)"
    bundle = tally_bundle(only={"DE", "FR", "MT"})
    eu = bundle["eu"]
    assert turnout[-1][1] == f"{eu['voters'] * 100 / eu['registered']:.2f}%"
    countries = {r[0]: r for r in _rows(html, caption="Countries")}
    assert countries["Austria"][3] == "45.39%" and countries["Austria"][4] == "Not available"


def test_country_page_compares_seats_and_turnout():
    page = rendered() / "en" / "country" / "fr.html"
    assert check_page(page).result() == []
    text = page_text(page)
    assert "Turnout 2014: 42.43%" in text and "Seats 2014: 74" in text
    assert "Turnout since 1979" in text


# --- feeds and NIST -----------------------------------------------------------------------------------

def test_feeds_carry_the_previous_figures():
    from xml.etree import ElementTree as ET

    data = rendered() / "data"
    groups = {r["group"]: r for r in csv.DictReader((data / "comparison-groups.csv").open(encoding="utf-8"))}
    assert groups["EPP"] == {**groups["EPP"], "comparison": "continuing", "seats_previous": "221", "seats": "186",
                             "change": "-35", "previous_label": "constitutive session 2014"}
    assert groups["RE"]["previous_groups"] == "ALDE" and groups["RE"]["seats_previous"] == "67"
    assert groups["ID"]["comparison"] == "new" and groups["ID"]["seats_previous"] == ""
    assert groups["EFDD"]["comparison"] == "no_successor" and groups["EFDD"]["seats"] == ""
    assert groups["OTH"]["comparison"] == "not_compared"
    document = json.loads((data / "comparison-groups.json").read_text(encoding="utf-8"))
    assert [r["group"] for r in document["rows"]] == list(groups)
    assert next(r for r in document["rows"] if r["group"] == "EPP")["change"] == -35
    xml = ET.parse(data / "comparison-groups.xml").getroot()
    epp = next(r for r in xml.findall("row") if r.findtext("group") == "EPP")
    assert epp.findtext("seats_previous") == "221" and epp.find("change").text == "-35"
    countries = {r["country"]: r for r in csv.DictReader((data / "comparison-countries.csv").open(encoding="utf-8"))}
    assert countries["FR"]["turnout_previous"] == "42.43" and countries["FR"]["seats_total_previous"] == "74"
    assert countries["HR"]["previous_year"] == "2014" and countries["HR"]["turnout_previous"] == "25.24"
    history = list(csv.DictReader((data / "turnout-history.csv").open(encoding="utf-8")))
    eu = [(r["year"], r["turnout"], r["source"]) for r in history if r["area"] == "EU"]
    assert eu[0] == ("1979", "61.99", "history") and eu[-1] == ("2019", "50.67", "count")
    assert len([r for r in history if r["area"] == "DE"]) == 9
    assert ET.parse(data / "turnout-history.xml").getroot().find("row/area").text == "EU"
    eu_doc = json.loads((data / "eu.json").read_text(encoding="utf-8"))
    assert eu_doc["previous"]["groups_label"] == "constitutive session 2014"
    assert eu_doc["previous"]["turnout_history"][-1] == {"year": 2014, "turnout": "42.61"}


def test_the_nist_report_carries_the_comparisons_and_validates():
    from jsonschema import Draft4Validator

    schema = json.loads((ROOT / "data" / "schemas" / "NIST_V2_election_results_reporting.json").read_text("utf-8"))
    report = json.loads((rendered() / "data" / "nist-v2.json").read_text("utf-8"))
    errors = list(Draft4Validator(schema).iter_errors(report))
    assert not errors, [e.message[:200] for e in errors[:3]]

    def ids(entity: dict) -> dict[str, dict]:
        return {e.get("OtherType"): e for e in entity.get("ExternalIdentifier", [])}

    parties = {p["@id"]: p for p in report["Party"]}
    epp = ids(parties["group-epp"])
    assert epp["enr-previous-seats"]["Value"] == "221" and epp["enr-previous-seats"]["Label"] == "constitutive session 2014"
    assert ids(parties["group-re"])["enr-previous-groups"]["Value"] == "ALDE"
    assert ids(parties["group-id"])["enr-comparison"]["Value"] == "new" and "enr-previous-seats" not in ids(parties["group-id"])
    efdd = ids(parties["group-previous-efdd"])
    assert efdd["enr-comparison"]["Value"] == "no_successor" and efdd["enr-previous-seats"]["Value"] == "48"
    units = {u["@id"]: u for u in report["GpUnit"]}
    assert ids(units["gpu-eu"])["enr-turnout-pct-1979"]["Value"] == "61.99"
    assert ids(units["gpu-eu"])["enr-turnout-pct-2014"]["Value"] == "42.61"
    assert ids(units["gpu-fr"])["enr-turnout-pct-2014"]["Value"] == "42.43"
    assert "enr-turnout-pct-2019" not in ids(units["gpu-fr"])  # tonight's is VotersParticipated / VotersRegistered


def test_check_election_names_a_bad_comparison_file_line_and_rule(tmp_path):
    from enr.check_election import check_election

    folder = tmp_path / "ep2024"
    shutil.copytree(ROOT / "elections" / "ep2024", folder)
    rows = (HIST / "ep_turnout_1979_2019.csv").read_text(encoding="utf-8").splitlines()
    rows[5] = rows[5].replace(",parlgov", "").rsplit(",", 1)[0] + ",-3,parlgov"
    (folder / "turnout.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    meta = json.loads((folder / "election.json").read_text(encoding="utf-8"))
    meta["previous"]["turnout"] = "./turnout.csv"
    (folder / "election.json").write_text(json.dumps(meta), encoding="utf-8")
    problems, _ = check_election(folder)
    assert [(Path(p.file).name, p.row, p.rule) for p in problems] == [("turnout.csv", 6, "previous.parse")]
    assert "EP 1979" in problems[0].message and "-3" in problems[0].message


def test_every_comparison_string_is_translated_in_the_23_other_languages():
    from publish.i18n import LANGUAGES, translations

    strings = ["Constitutive session %(year)s", "new", "no successor group", "previously %(groups)s",
               "Turnout since 1979", "EU tonight: %(count)s of %(total)s countries reporting so far",
               "this election", "Year"]
    missing = [(lang, s) for lang in LANGUAGES if lang != "en" for s in strings if translations(lang).gettext(s) == s]
    assert missing == []
    placeholders = [(lang, s) for lang in LANGUAGES for s in strings
                    if sorted(re.findall(r"%\(\w+\)s", translations(lang).gettext(s))) != sorted(re.findall(r"%\(\w+\)s", s))]
    assert placeholders == []
