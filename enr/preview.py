"""The pre-publication review: what a reviewer must see before approving a staged version.

Staff review a staged version before it is public (the Airflow plugin
``plugins/enr_airflow/preview.py`` serves this to signed-in Airflow users). This module, without
Airflow, assembles it from the results store and the export bucket:

* the staged bytes themselves, each file checked against the staged manifest whose SHA-256 is
  under review (:func:`staged_file` refuses a file that is not in the manifest or whose bytes
  differ: the reviewer never sees anything other than what would be published);
* the manifest's SHA-256 as recomputed from the staged ``manifest.json`` and as recorded when the
  version was staged (they must agree; the approval request names the same digest);
* TEST or REAL data, the embargo (the time left, or passed) and when the night's timeline lets this
  version out (estimates, the projection, counts: :func:`publish.timeline.reviewer_line`);
* the difference with the published version: seats per country and per group before -> after,
  lists whose votes changed, countries new in this version;
* the deliveries the version was computed from, with their validation reports, and the
  deliveries quarantined since the previous version, with their reasons.
"""
from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from enr.definition import load_election
from enr.settings import get_settings
from enr.store import Store
from enr.store.models import VersionRow
from publish.bucket import Bucket, content_type
from publish.release import staged_prefix
from publish.timeline import reviewer_line

PREFIX = "/enr-preview"


class NotFound(LookupError):
    """No such election, version or staged file (HTTP 404)."""


class TamperedStaging(RuntimeError):
    """A staged file's bytes do not match the staged manifest (HTTP 409: do not approve)."""


def _store():
    return Store(get_settings().store_url)


def _bucket():
    return Bucket(get_settings().bucket_url)


def _staged(bucket, election: str, version: str) -> str:
    """Where the version is staged (in place under public/ on an object store, staging/ on a folder)."""
    return staged_prefix(bucket, election, version)


def elections() -> list[str]:
    """Elections with versions in the store (the configured one first)."""
    store = _store()
    try:
        with store.session() as session:
            found = sorted(set(session.scalars(select(VersionRow.election))))
    finally:
        store.close()
    configured = get_settings().election
    return sorted(found, key=lambda e: (e != configured, e))


def versions(election: str) -> list[dict]:
    store = _store()
    try:
        return store.versions(election)
    finally:
        store.close()


def _manifest(bucket, election: str, version: str) -> tuple[bytes, dict]:
    data = bucket.read_or_none(f"{_staged(bucket, election, version)}/manifest.json")
    if data is None:
        raise NotFound(f"{election} {version}: nothing staged")
    return data, json.loads(data)


def staged_file(election: str, version: str, path: str) -> tuple[bytes, str]:
    """The staged bytes of ``path`` and their content type, checked against the staged manifest."""
    if not path or path.endswith("/"):
        path = f"{path}index.html"
    bucket = _bucket()
    manifest_bytes, manifest = _manifest(bucket, election, version)
    if path == "manifest.json":
        return manifest_bytes, "application/json"
    entry = next((e for e in manifest.get("files", []) if e["path"] == path), None)
    if entry is None:
        raise NotFound(f"{election} {version}: {path} is not in the staged manifest")
    data = bucket.read_or_none(f"{_staged(bucket, election, version)}/{path}")
    if data is None:
        raise NotFound(f"{election} {version}: {path} is missing from staging")
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise TamperedStaging(f"{election} {version}: staged {path} has SHA-256 {digest}, the manifest says "
                              f"{entry['sha256']}: the staging area was changed after staging; do not approve")
    return data, content_type(path)


def validation_report(election: str, kind: str, key: str) -> bytes:
    """A delivery's Great Expectations report (HTML) as the intake wrote it."""
    if kind not in ("snapshots", "quarantine") or ".." in key.split("/") or not key.endswith(".validation.html"):
        raise NotFound(f"no report {kind}/{key}")
    data = _bucket().read_or_none(f"{kind}/{election}/{key}")
    if data is None:
        raise NotFound(f"no report {kind}/{election}/{key}")
    return data


# -- the review ------------------------------------------------------------------------------------

@dataclass
class Embargo:
    at: datetime
    now: datetime

    @property
    def passed(self) -> bool:
        return self.now >= self.at

    def text(self) -> str:
        if self.passed:
            return f"embargo passed ({self.at.isoformat()})"
        left = self.at - self.now
        hours, rest = divmod(int(left.total_seconds()), 3600)
        return f"embargo until {self.at.isoformat()}: {hours} h {rest // 60:02d} min left; no counted result can be published before"


def _seats(bundle: dict | None) -> tuple[dict, dict, dict]:
    countries, groups, votes = {}, {}, {}
    for country in (bundle or {}).get("countries", []):
        countries[country["code"]] = sum(int(l.get("seats") or 0) for l in country.get("lists", []))
        for entry in country.get("lists", []):
            votes[(country["code"], entry["list_id"])] = (int(entry.get("votes") or 0), entry.get("list_name", ""))
    for group in (bundle or {}).get("eu", {}).get("groups", []):
        groups[group["id"]] = int(group.get("seats") or 0)
    return countries, groups, votes


def diff(staged: dict, published: dict | None) -> dict:
    """Seats per country and group before -> after, lists whose votes changed, new countries."""
    c_new, g_new, v_new = _seats(staged)
    c_old, g_old, v_old = _seats(published)
    reported_before = {c["code"] for c in (published or {}).get("countries", []) if c.get("status") not in (None, "none")}
    reported_now = {c["code"] for c in staged.get("countries", []) if c.get("status") not in (None, "none")}
    return {
        "against": (published or {}).get("version"),
        "countries": [{"country": k, "before": c_old.get(k, 0), "after": c_new.get(k, 0)}
                      for k in sorted(set(c_new) | set(c_old)) if c_old.get(k, 0) != c_new.get(k, 0)],
        "groups": [{"group": k, "before": g_old.get(k, 0), "after": g_new.get(k, 0)}
                   for k in sorted(set(g_new) | set(g_old)) if g_old.get(k, 0) != g_new.get(k, 0)],
        "votes": [{"country": k[0], "list_id": k[1], "list_name": v_new.get(k, v_old.get(k))[1],
                   "before": v_old.get(k, (0, ""))[0], "after": v_new.get(k, (0, ""))[0]}
                  for k in sorted(set(v_new) | set(v_old)) if v_old.get(k, (0,))[0] != v_new.get(k, (0,))[0]],
        "new_countries": sorted(reported_now - reported_before),
    }


def review(election: str, version: str, *, now: datetime | None = None) -> dict:
    """Everything the review page shows for a staged version."""
    now = now or datetime.now(timezone.utc)
    try:
        definition = load_election(election)
    except Exception as exc:  # noqa: BLE001 - an unknown election is a 404 for the reviewer
        raise NotFound(str(exc)) from exc
    store = _store()
    try:
        info = store.version(election, version)
        if info is None:
            raise NotFound(f"{election}: no version {version}")
        all_versions = store.versions(election)
        deliveries = store.deliveries(election)
    finally:
        store.close()
    bucket = _bucket()
    manifest_bytes, manifest = _manifest(bucket, election, version)
    staged_sha = hashlib.sha256(manifest_bytes).hexdigest()
    bundle = json.loads(bucket.read(info["bundle_path"]))
    pointer = bucket.read_or_none(f"public/{election}/current.json")
    current = json.loads(pointer) if pointer else None
    published = None
    if current:
        published_info = next((v for v in all_versions if v["version"] == current["version"]), None)
        if published_info and published_info.get("bundle_path"):
            published = json.loads(bucket.read(published_info["bundle_path"]))
    by_sha = {d["sha256"]: d for d in deliveries if d["outcome"] == "accepted"}
    used = []
    for d in bundle.get("deliveries", []):
        row = by_sha.get(d["sha256"], {})
        seq = int(d["sequence"])
        used.append({**d, "file_name": row.get("file_name"), "received_at": row.get("received_at"),
                     "test": row.get("test"), "warnings": row.get("warnings") or [],
                     "report": f"snapshots/{d['country']}/{seq:04d}.validation.html"})
    earlier = [v for v in all_versions if v["id"] < info["id"]]
    since = earlier[-1]["created_at"] if earlier else None
    quarantined = [{"file_name": d["file_name"], "country": d.get("country"), "rule": d.get("rule"),
                    "reason": d.get("reason_text"), "received_at": d.get("received_at")}
                   for d in deliveries if d["outcome"] == "quarantined"
                   and (since is None or str(d["received_at"]) > str(since))
                   and str(d["received_at"]) <= str(info["created_at"])]
    test_countries = sorted(c["code"] for c in bundle.get("countries", []) if c.get("test"))
    real_countries = sorted(c["code"] for c in bundle.get("countries", [])
                            if not c.get("test") and c.get("status") not in (None, "none"))
    return {
        "election": election, "election_name": definition.name, "version": version, "status": info["status"],
        "manifest_sha256": staged_sha, "recorded_sha256": info.get("manifest_sha256"),
        "digest_ok": staged_sha == info.get("manifest_sha256"),
        "files": len(manifest.get("files", [])), "languages": list(definition.languages),
        "test": bool(bundle.get("test")), "test_countries": test_countries, "real_countries": real_countries,
        "embargo": Embargo(at=definition.embargo, now=now),
        "timeline": reviewer_line(bundle, test=bool(bundle.get("test")), embargo=definition.embargo, now=now),
        "eu": bundle.get("eu", {}), "unresolved_ties": bundle.get("unresolved_ties", 0),
        "current": current, "diff": diff(bundle, published), "deliveries": used, "quarantined": quarantined,
        "generated_at": bundle.get("generated_at"),
    }


def summary_lines(facts: dict, url: str | None) -> list[str]:
    """The approval request's short statement of the same facts (Markdown lines)."""
    kind = "TEST data (rehearsal)" if facts["test"] else "REAL results"
    lines = [f"**{kind}** — {facts['embargo'].text()}", facts["timeline"]]
    if url:
        lines.append(f"**Pre-publication site:** [{url}]({url}) (the staged bytes, every language, the changes and "
                     f"the validation reports)")
    d = facts["diff"]
    against = d["against"] or "nothing published yet"
    lines.append(f"Against {against}: {len(d['countries'])} countries' seats changed, {len(d['groups'])} groups' "
                 f"seats changed, {len(d['votes'])} lists' votes changed, new countries: "
                 f"{', '.join(d['new_countries']) or 'none'}")
    lines.append(f"Deliveries in it: {len(facts['deliveries'])}; quarantined since the previous version: "
                 f"{len(facts['quarantined'])}")
    return lines


# -- HTML ------------------------------------------------------------------------------------------

_STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem;max-width:70rem;color:#111}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}table{border-collapse:collapse}
td,th{border:1px solid #bbb;padding:.2rem .5rem;text-align:left}th{background:#eee}
.flag{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;font-weight:bold;color:#fff}
.test{background:#b35c00}.real{background:#1a5e1a}.bad{background:#a00000}.embargo{background:#444}
code{font-size:.9rem;word-break:break-all}"""


def _e(value) -> str:
    return html.escape(str(value if value is not None else ""))


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def _table(headers: list[str], rows: list[list]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_index() -> str:
    parts = ["<h1>Pre-publication site: staged versions</h1>"]
    for election in elections():
        rows = []
        for v in reversed(versions(election)):
            if not v.get("manifest_sha256"):
                continue
            link = f'<a href="{PREFIX}/{_e(election)}/{_e(v["version"])}/">{_e(v["version"])}</a>'
            rows.append([link, _e(v["status"]), f"<code>{_e(v['manifest_sha256'])}</code>", _e(v["created_at"])])
        parts.append(f"<h2>{_e(election)}</h2>" + _table(["version", "state", "manifest SHA-256", "tallied"], rows))
    return _page("Pre-publication site", "".join(parts))


def render_review(facts: dict) -> str:
    e, v = facts["election"], facts["version"]
    base = f"{PREFIX}/{_e(e)}/{_e(v)}"
    kind = ('<span class="flag test" role="status">TEST data</span>' if facts["test"]
            else '<span class="flag real" role="status">REAL results</span>')
    embargo_class = "real" if facts["embargo"].passed else "embargo"
    parts = [f"<h1>{_e(facts['election_name'])}: version {_e(v)} ({_e(facts['status'])})</h1>",
             f'<p>{kind} <span class="flag {embargo_class}">{_e(facts["embargo"].text())}</span></p>',
             f'<p id="timeline">{_e(facts["timeline"])}</p>',
             f'<p>Manifest SHA-256 under review: <code id="manifest-sha256">{_e(facts["manifest_sha256"])}</code>'
             f' ({facts["files"]} files, <a href="{base}/site/manifest.json">manifest.json</a>)</p>']
    if not facts["digest_ok"]:
        parts.append(f'<p class="flag bad" role="alert">The staged manifest is not the one recorded at staging '
                     f'({_e(facts["recorded_sha256"])}): do not approve.</p>')
    if facts["test_countries"] and facts["real_countries"]:
        parts.append(f'<p class="flag bad" role="alert">Test data ({_e(", ".join(facts["test_countries"]))}) and real '
                     f'results ({_e(", ".join(facts["real_countries"]))}) in one version.</p>')
    eu = facts["eu"]
    parts.append(f"<p>EU seats allocated: {_e(eu.get('seats_allocated'))} of {_e(eu.get('seats_total'))}; countries "
                 f"reporting: {_e(eu.get('countries_reporting'))}; unresolved ties: {_e(facts['unresolved_ties'])}</p>")
    parts.append("<h2>The staged site</h2><p>" + " ".join(
        f'<a href="{base}/site/{_e(lang)}/index.html" lang="{_e(lang)}">{_e(lang)}</a>' for lang in facts["languages"])
        + "</p>")
    d = facts["diff"]
    parts.append(f"<h2>Changes against {_e(d['against'] or 'nothing published yet')}</h2>")
    parts.append(f"<p>Countries new in this version: {_e(', '.join(d['new_countries']) or 'none')}</p>")
    parts.append("<h3>Seats per group</h3>" + _table(["group", "before", "after"],
                 [[_e(r["group"]), _e(r["before"]), _e(r["after"])] for r in d["groups"]]))
    parts.append("<h3>Seats per country</h3>" + _table(["country", "before", "after"],
                 [[_e(r["country"]), _e(r["before"]), _e(r["after"])] for r in d["countries"]]))
    shown = d["votes"][:300]
    parts.append(f"<h3>Lists whose votes changed ({len(d['votes'])})</h3>" + _table(
        ["country", "list", "before", "after"],
        [[_e(r["country"]), _e(f"{r['list_id']} {r['list_name']}"), _e(r["before"]), _e(r["after"])] for r in shown]))
    parts.append(f"<h2>Deliveries in this version ({len(facts['deliveries'])})</h2>" + _table(
        ["country", "sequence", "status", "file", "SHA-256", "warnings", "validation"],
        [[_e(r["country"]), _e(r["sequence"]), _e(r["status"]), _e(r["file_name"]), f"<code>{_e(r['sha256'])}</code>",
          _e("; ".join(r["warnings"])), f'<a href="{base}/report/snapshots/{_e(r["report"].split("/", 1)[1])}">report</a>']
         for r in facts["deliveries"]]))
    parts.append(f"<h2>Quarantined since the previous version ({len(facts['quarantined'])})</h2>" + _table(
        ["country", "file", "rule", "reason", "received"],
        [[_e(r["country"]), _e(r["file_name"]), _e(r["rule"]), _e(r["reason"]), _e(r["received_at"])]
         for r in facts["quarantined"]]))
    return _page(f"Review {e} {v}", "".join(parts))
