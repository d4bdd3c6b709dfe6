"""What a webhook says about one publication: the message, its id and its URLs.

A publication (or a rollback) of an election is read from the public area itself: the log
``public/<election>/publications.json`` that :mod:`publish.release` appends to when it flips
``current.json``. So the notification names exactly what readers can now fetch: the election,
the version, the manifest's SHA-256, ``published_at``, the kind (``publish`` | ``rollback``), the
countries whose results changed (a rollback changes every country of the version) and the
absolute URLs of their feeds, built on the public base URL (``ENR_PUBLIC_BASE_URL``, the address
of the bucket's ``public/`` folder as readers see it).

The message id (``webhook-id``) is a digest of (subscriber, election, version, kind): the same
publication gives the same id to the same subscriber every time it is planned, so a re-run of
the DAG (or a retry) is recognised by the attempts log, and by the receiver, as the same message.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from publish.release import MANIFEST, PUBLICATIONS, public_prefix

KINDS = ("publish", "rollback")
EVENT_TYPES = {"publish": "results.published", "rollback": "results.rolled_back"}
FEED_FORMATS = ("json", "csv", "xml")


class NoPublication(LookupError):
    """The public area has no publication (of that version and kind) to notify."""


@dataclass(frozen=True)
class Publication:
    election: str
    version: str
    kind: str
    manifest_sha256: str
    published_at: str
    test: bool
    countries: tuple[str, ...]

    def as_dict(self) -> dict:
        return {**asdict(self), "countries": list(self.countries)}


def webhook_id(subscriber_id: str, election: str, version: str, kind: str) -> str:
    """``msg_<32 hex>``: deterministic per (subscriber, election, version, kind)."""
    digest = hashlib.sha256(f"enr-webhook/1\n{subscriber_id}\n{election}\n{version}\n{kind}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def _countries_of_manifest(bucket, election: str, version: str) -> tuple[str, ...]:
    raw = bucket.read_or_none(f"{public_prefix(election, version)}/{MANIFEST}")
    if raw is None:
        return ()
    paths = [f["path"] for f in json.loads(raw.decode("utf-8")).get("files", [])]
    return tuple(sorted({p.rsplit("/", 1)[-1].split(".")[0].upper() for p in paths
                         if p.startswith("data/countries/") and p.endswith(".json")}))


def find_publication(bucket, election: str, version: str | None = None, kind: str | None = None) -> Publication:
    """The latest publication of ``election`` in ``bucket``'s public area (of ``version`` and
    ``kind`` when given), from its publications log."""
    raw = bucket.read_or_none(f"{public_prefix(election)}/{PUBLICATIONS}")
    entries = json.loads(raw.decode("utf-8")) if raw else []
    matching = [e for e in entries if (version is None or e.get("version") == version)
                and (kind is None or e.get("event") == kind)]
    if not matching:
        raise NoPublication(f"{election}: no publication{' of ' + version if version else ''}"
                            f"{' (' + kind + ')' if kind else ''} in {bucket.url_of(public_prefix(election))}")
    entry = matching[-1]
    event = entry.get("event", "publish")
    if event == "rollback":
        countries = _countries_of_manifest(bucket, election, entry["version"])
    else:
        countries = tuple(sorted({c["country"] for c in entry.get("changes", []) if c.get("country")}))
    return Publication(election=election, version=entry["version"], kind=event,
                       manifest_sha256=entry["manifest_sha256"], published_at=entry["published_at"],
                       test=bool(entry.get("test")), countries=countries)


def feed_urls(base_url: str, publication: Publication, countries: tuple[str, ...] | list[str],
              languages: list[str] | None = None) -> dict:
    """Absolute URLs of what a newsroom fetches after this publication."""
    root = f"{base_url.rstrip('/')}/{publication.election}"
    version = f"{root}/{publication.version}"
    urls = {"current": f"{root}/current.json", "publications": f"{root}/publications.atom",
            "manifest": f"{version}/manifest.json", "manifest_signature": f"{version}/manifest.json.asc",
            "changes": f"{version}/changes.json", "nist": f"{version}/data/nist-v2.json",
            "eu": {fmt: f"{version}/data/eu.{fmt}" for fmt in FEED_FORMATS},
            "countries": {cc: {fmt: f"{version}/data/countries/{cc.lower()}.{fmt}" for fmt in FEED_FORMATS}
                          for cc in countries}}
    if languages:
        urls["pages"] = {lang: f"{version}/{lang}/index.html" for lang in languages}
    return urls


def message(publication: Publication, subscriber, base_url: str) -> bytes:
    """The webhook body for ``subscriber`` (its country and language filters applied), as compact,
    key-sorted JSON: the same publication gives the same bytes to the same subscriber."""
    countries = [c for c in publication.countries if not subscriber.countries or c in subscriber.countries]
    data = {**publication.as_dict(), "countries": countries,
            "feeds": feed_urls(base_url, publication, countries, subscriber.languages)}
    body = {"type": EVENT_TYPES[publication.kind], "timestamp": publication.published_at, "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
