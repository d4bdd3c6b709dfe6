"""The results as a NIST SP 1500-100 version 2 Election Results Reporting (ERR) JSON document.

Schema: ``data/schemas/NIST_V2_election_results_reporting.json`` (draft-04, usnistgov/
ElectionResultsReporting, branch version2; see data/schemas/SOURCES.md). The mapping:

=====================================  =====================================================
ours                                   NIST v2
=====================================  =====================================================
the election                           ``Election`` (Type ``general``), ``Name`` in all 24
                                       languages (``InternationalizedText``)
the EU                                 ``ReportingUnit`` ``gpu-eu`` (Type ``other``, OtherType
                                       ``supranational-union``), composed of the countries
a member state                         ``ReportingUnit`` ``gpu-<cc>`` (Type ``country``), CLDR
                                       names in all languages, registered and voters, units
                                       reported / total, ``CountStatus``
a national list                        ``Party`` ``party-<cc>-<list_id>`` (name as on the
                                       ballot, ``Language`` ``und``); its EP group as an
                                       ``ExternalIdentifier`` (OtherType ``ep-group``)
a political group                      ``Coalition`` ``group-<slug>`` whose ``PartyIds`` are the
                                       lists that sit in it; names in all languages
a country's contest                    ``PartyContest`` ``contest-<cc>`` (VoteVariation
                                       ``proportional``); one ``PartySelection`` per list with
                                       ``VoteCounts`` Type ``total`` (votes) and ``seats``
seats by group in the Parliament       ``PartyContest`` ``contest-eu-groups``: a selection per
                                       group (``PartyIds`` = the Coalition) with ``seats`` counts
valid / blank+invalid ballots          ``BallotCounts`` per country (``BallotsCast`` = voters,
                                       ``BallotsRejected`` = blank + invalid)
status of the whole report             ``Status``: ``certified`` if every country is official,
                                       ``correction`` if this version carries corrections,
                                       ``unofficial-complete`` if every country is final,
                                       ``pre-election`` if none has results, else
                                       ``unofficial-partial``
rehearsal                              ``IsTest`` (+ ``TestType`` ``rehearsal``)
=====================================  =====================================================

Comparisons (issue 20). NIST SP 1500-100 v2 has no element for a previous election's figures nor
for a percentage (its counts are integers of this election), so they travel as documented
``ExternalIdentifier`` extensions (``Type`` ``other``, values as decimal text):

=====================================  =====================================================
turnout at a past election             ``ExternalIdentifier`` OtherType ``enr-turnout-pct-<year>``
                                       on ``gpu-eu`` (as the EP publishes it) and on each
                                       ``gpu-<cc>`` (ParlGov), Value ``"42.61"``; tonight's
                                       is VotersParticipated / VotersRegistered as usual
a group against the previous           on its ``Coalition``: ``enr-comparison`` (continuing,
Parliament                             new, not_compared, no_successor), ``enr-previous-seats``
                                       (Label: what the figure is, e.g. ``constitutive session
                                       2014``), ``enr-previous-groups`` (the predecessors' ids)
a previous group without successor     a ``Coalition`` ``group-previous-<slug>`` without
                                       PartyIds, carrying the same three identifiers
=====================================  =====================================================

Our five result types (estimate, provisional, final, official, none) have no NIST equivalent
per contest; they are carried as the contest's ``CountStatus`` (``in-process`` or
``completed``) and, verbatim, in the contest's ``ExternalIdentifier`` (OtherType
``enr-status``). NIST has no notion of a parliamentary group: the Coalition is the closest fit.
"""
from __future__ import annotations

import re
from decimal import Decimal

from publish import model
from publish.i18n import LANGUAGES, formatter, utc_iso

ISSUER = "European Parliament election results publisher (enr-ep)"
VENDOR = "enr-ep publish 0.1"


def _itext(values: dict[str, str], label: str | None = None) -> dict:
    text = {"@type": "ElectionResults.InternationalizedText",
            "Text": [{"@type": "ElectionResults.LanguageString", "Content": content, "Language": lang}
                     for lang, content in values.items() if content]}
    if label:
        text["Label"] = label
    return text


def _ext(other_type: str, value: str) -> dict:
    return {"@type": "ElectionResults.ExternalIdentifier", "Type": "other", "OtherType": other_type, "Value": value}


def _id(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value)


def _past_turnout(unit: dict, history: list[dict] | None, source: str) -> None:
    """Turnout at each past election as ``enr-turnout-pct-<year>`` identifiers of the unit."""
    for row in history or []:
        unit.setdefault("ExternalIdentifier", []).append(
            {**_ext(f"enr-turnout-pct-{row['year']}", f"{Decimal(str(row['turnout_pct'])):.2f}"),
             "Label": f"turnout (%) at the {row['year']} European Parliament election ({source})"})


def _comparison(row: dict | None, label: str) -> list[dict]:
    """A group against the previous Parliament (:func:`publish.model.group_comparison`)."""
    if row is None:
        return []
    out = [_ext("enr-comparison", row["comparison"])]
    if row["seats_previous"] is not None:
        out.append({**_ext("enr-previous-seats", str(row["seats_previous"])), "Label": label})
        out.append(_ext("enr-previous-groups", ";".join(row["previous_ids"])))
    return out


def _report_status(bundle: dict) -> str:
    countries = bundle["countries"]
    if countries and all(c.get("status") == "official" for c in countries):
        return "certified"
    if any(c.get("corrections") for c in countries):
        return "correction"
    if countries and all(model.is_final(c) for c in countries):
        return "unofficial-complete"
    if all(c.get("status", "none") == "none" for c in countries):
        return "pre-election"
    return "unofficial-partial"


def election_report(bundle: dict, languages: list[str] | None = None) -> dict:
    election = bundle["election"]
    languages = [lang for lang in (languages or election.get("languages") or LANGUAGES) if lang in LANGUAGES]
    formatters = {lang: formatter(lang) for lang in languages}  # the site's, once per language and process
    year = election.get("election_date", "")[:4]
    countries = sorted(bundle["countries"], key=lambda c: c["code"])

    gp_units = [{
        "@id": "gpu-eu", "@type": "ElectionResults.ReportingUnit", "Type": "other", "OtherType": "supranational-union",
        "Name": _itext({lang: f.country_name("EU") if f.country_name("EU") != "EU" else "EU"
                        for lang, f in formatters.items()}),
        "ComposingGpUnitIds": [f"gpu-{c['code'].lower()}" for c in countries],
    }]
    eu = bundle["eu"]
    for key, field in (("VotersRegistered", "registered"), ("VotersParticipated", "voters")):
        if eu.get(field):
            gp_units[0][key] = int(eu[field])
    _past_turnout(gp_units[0], (eu.get("previous") or {}).get("turnout_history"), "European Parliament")
    parties: list[dict] = []
    contests: list[dict] = []
    ballot_counts: list[dict] = []
    members: dict[str, list[str]] = {}

    for country in countries:
        code = country["code"]
        gpu = f"gpu-{code.lower()}"
        complete = model.is_final(country)
        unit = {"@id": gpu, "@type": "ElectionResults.ReportingUnit", "Type": "country",
                "Name": _itext({lang: f.country_name(code) for lang, f in formatters.items()}),
                "ExternalIdentifier": [_ext("eu-country-code", code)],
                "CountStatus": [{"@type": "ElectionResults.CountStatus", "Type": "total",
                                 "Status": "completed" if complete else ("not-processed"
                                                                         if country.get("status", "none") == "none"
                                                                         else "in-process")}]}
        for key, field in (("VotersRegistered", "registered"), ("VotersParticipated", "voters"),
                           ("SubUnitsReported", "units_reporting"), ("TotalSubUnits", "units_total")):
            if country.get(field) is not None:
                unit[key] = int(country[field])
        _past_turnout(unit, (country.get("previous") or {}).get("turnout_history"), "ParlGov")
        gp_units.append(unit)
        rejected = [country.get(k) for k in ("blank", "invalid") if country.get(k) is not None]
        counts = {"@type": "ElectionResults.BallotCounts", "GpUnitId": gpu, "Type": "total"}
        if country.get("voters") is not None:
            counts["BallotsCast"] = int(country["voters"])
        if rejected:
            counts["BallotsRejected"] = int(sum(rejected))
        ballot_counts.append(counts)

        selections = []
        for order, entry in enumerate(sorted(country.get("lists", []), key=lambda e: e.get("list_id", "")), start=1):
            party_id = _id(f"party-{code.lower()}-{entry['list_id']}")
            group = entry.get("ep_group") or "OTH"
            party = {"@id": party_id, "@type": "ElectionResults.Party",
                     "Name": _itext({"und": entry.get("list_name") or entry["list_id"]}, label="ballot name"),
                     "PartyScopeGpUnitIds": [gpu],
                     "ExternalIdentifier": [_ext("ep-group", group), _ext("list-id", entry["list_id"])]}
            if entry.get("party_abbrev"):
                party["Abbreviation"] = _itext({"und": entry["party_abbrev"]})
            parties.append(party)
            if entry.get("seats"):
                members.setdefault(group, []).append(party_id)
            vote_counts = []
            if entry.get("votes") is not None:
                vote_counts.append({"@type": "ElectionResults.VoteCounts", "Type": "total", "GpUnitId": gpu,
                                    "Count": int(entry["votes"])})
            if entry.get("seats") is not None:
                vote_counts.append({"@type": "ElectionResults.VoteCounts", "Type": "seats", "GpUnitId": gpu,
                                    "Count": int(entry["seats"])})
            selections.append({"@id": _id(f"sel-{code.lower()}-{entry['list_id']}"),
                               "@type": "ElectionResults.PartySelection", "PartyIds": [party_id],
                               "SequenceOrder": order, "VoteCounts": vote_counts})
        contest = {"@id": f"contest-{code.lower()}", "@type": "ElectionResults.PartyContest",
                   "ElectionDistrictId": gpu, "Name": f"{election['id']} {code}",
                   "VoteVariation": "proportional", "ContestSelection": selections,
                   "CountStatus": unit["CountStatus"],
                   "ExternalIdentifier": [_ext("enr-status", country.get("status", "none")),
                                          _ext("enr-as-of", utc_iso(country.get("as_of")) or "unknown")]}
        for key, field in (("SubUnitsReported", "units_reporting"), ("TotalSubUnits", "units_total")):
            if country.get(field) is not None:
                contest[key] = int(country[field])
        contests.append(contest)

    group_selections = []
    comparison = {row["group"]: row for row in model.group_comparison(bundle) if row["comparison"] != "no_successor"}
    previous_label = (eu.get("previous") or {}).get("groups_label") or "previous Parliament"
    for order, group in enumerate(bundle["eu"].get("groups", []), start=1):
        meta = next((g for g in election.get("groups", []) if g["id"] == group["id"]), {"id": group["id"]})
        coalition_id = _id(f"group-{model.slug(group['id'])}")
        coalition = {"@id": coalition_id, "@type": "ElectionResults.Coalition",
                     "Name": _itext({lang: f.group_name(group["id"], meta.get("name", group["id"]))
                                     for lang, f in formatters.items()}),
                     "Abbreviation": _itext({"und": group["id"]}),
                     "Color": model.safe_color(meta.get("color")).lstrip("#").lower(),
                     "PartyIds": members.get(group["id"], []),
                     "ExternalIdentifier": [_ext("ep-group", group["id"]),
                                            *_comparison(comparison.get(group["id"]), previous_label)]}
        parties.append(coalition)
        group_selections.append({"@id": _id(f"sel-eu-{model.slug(group['id'])}"),
                                 "@type": "ElectionResults.PartySelection", "PartyIds": [coalition_id],
                                 "SequenceOrder": order,
                                 "VoteCounts": [{"@type": "ElectionResults.VoteCounts", "Type": "seats",
                                                 "GpUnitId": "gpu-eu", "Count": int(group.get("seats") or 0)}]})
    previous_names = {g["id"]: (g.get("names") or [g.get("name", g["id"])])[0]
                      for g in (eu.get("previous") or {}).get("groups") or []}
    for row in model.group_comparison(bundle):
        if row["comparison"] == "no_successor":
            parties.append({"@id": _id(f"group-previous-{model.slug(row['group'])}"), "@type": "ElectionResults.Coalition",
                            "Name": _itext({"en": previous_names.get(row["group"], row["group"])}),
                            "Abbreviation": _itext({"und": row["group"]}),
                            "ExternalIdentifier": [_ext("ep-group", row["group"]), *_comparison(row, previous_label)]})
    contests.append({"@id": "contest-eu-groups", "@type": "ElectionResults.PartyContest", "ElectionDistrictId": "gpu-eu",
                     "Name": f"{election['id']} seats by political group", "VoteVariation": "proportional",
                     "ContestSelection": group_selections,
                     # issue 20: the EU seats' time and the result types they rest on (estimate, provisional ...)
                     "ExternalIdentifier": [
                         _ext("enr-as-of", utc_iso(bundle["eu"].get("as_of") or bundle["generated_at"])),
                         _ext("enr-status", ",".join(sorted({st for g in bundle["eu"].get("groups", [])
                                                             for st in (g.get("by_status") or {})})) or "none")]})

    polling_days = election.get("polling_days") or [election.get("election_date")]
    report = {
        "@type": "ElectionResults.ElectionReport", "Format": "summary-contest",
        "GeneratedDate": utc_iso(bundle["generated_at"]), "Issuer": ISSUER, "IssuerAbbreviation": "ENR-EP",
        "SequenceStart": 1, "SequenceEnd": 1, "Status": _report_status(bundle),
        "VendorApplicationId": VENDOR, "IsTest": bool(bundle.get("test")),
        "Notes": f"election {election['id']}, version {bundle['version']}",
        "Election": [{
            "@type": "ElectionResults.Election", "Type": "general", "ElectionScopeId": "gpu-eu",
            "StartDate": min(polling_days), "EndDate": max(polling_days),
            "Name": _itext({lang: f.gettext("European Parliament election %(year)s", year=year)
                            for lang, f in formatters.items()}),
            "ExternalIdentifier": [_ext("enr-election-id", election["id"]), _ext("enr-version", bundle["version"])],
            "BallotCounts": ballot_counts, "Contest": contests,
        }],
        "GpUnit": gp_units, "Party": parties,
    }
    if bundle.get("test"):
        report["TestType"] = "rehearsal"
    return report
