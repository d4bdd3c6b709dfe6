"""Who may read what on an object store: the read policy of the export and backup buckets.

On S3 a version is staged **in place**, at its final keys ``public/<election>/<version>/...``, and
made public at publication by **one write of the bucket policy** instead of a copy of every file
(docs/CONTRACTS.md, "Bucket layout"). Anonymous readers (the nginx sites, anyone reading the
bucket directly) may GET only what a statement ``EnrPublished`` of the bucket policy lists:

- the pointer files of an election (``public/<election>/current.json``, ``index.html``,
  ``publications.json``, ``publications.atom``), and
- ``public/<election>/<version>/*`` for every **published** version.

Everything else is refused (403): a staged version waiting for its approval, ``staging/``,
``inbox/``, ``deliveries/``, ``tally/``. The list only grows (a published version stays readable,
rollback included), and only the publisher writes it, so two writers can only lose a grant (a
version not readable yet: fails closed), never hide a refusal. A bucket whose policy lets anyone
read a whole prefix such as ``public/*`` (the layout before staging in place) is refused for
staging (:class:`ReadPolicyError`): a staged version there would be readable before approval.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

SID = "EnrPublished"
VERSION = "2012-10-17"


class ReadPolicyError(RuntimeError):
    """The bucket policy does not say what the publisher needs it to say."""


def statement(resources: list[str]) -> dict:
    """The statement that lets anonymous readers GET exactly ``resources`` (S3 ARNs)."""
    return {"Sid": SID, "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
            "Resource": sorted(set(resources))}


def granted(document: dict | None) -> set[str]:
    """The resources the ``EnrPublished`` statement of ``document`` grants."""
    found: set[str] = set()
    for item in (document or {}).get("Statement", []):
        if item.get("Sid") == SID and item.get("Effect") == "Allow":
            resources = item.get("Resource", [])
            found.update([resources] if isinstance(resources, str) else resources)
    return found


def with_grants(document: dict | None, resources: list[str]) -> dict:
    """``document`` with ``resources`` added to its ``EnrPublished`` statement (other statements kept)."""
    others = [item for item in (document or {}).get("Statement", []) if item.get("Sid") != SID]
    return {"Version": (document or {}).get("Version", VERSION),
            "Statement": others + [statement(sorted(granted(document) | set(resources)))]}


def grant(bucket, keys: list[str]) -> bool:
    """Let anonymous readers GET ``keys`` (exact keys, or folders as ``prefix/*``) of an object-store
    ``bucket``; True if the policy had to change. The policy is read back: a grant that did not
    hold (another writer in between) is written again, then :class:`ReadPolicyError`."""
    wanted = {bucket.arn(key) for key in keys}
    for _attempt in range(3):
        current = bucket.read_policy()
        if wanted <= granted(current):
            return _attempt > 0
        bucket.write_policy(with_grants(current, sorted(wanted)))
        log.info("read policy of %s: granted %s", bucket.url, ", ".join(sorted(wanted - granted(current))))
    if not wanted <= granted(bucket.read_policy()):
        raise ReadPolicyError(f"{bucket.url}: the bucket policy does not keep the grant of {sorted(wanted)}")
    return True


def check_hidden(bucket, key: str) -> None:
    """Refuse (:class:`ReadPolicyError`) unless an anonymous reader is refused ``key`` (403), an object
    that exists (some stores answer 404 for a missing key whatever the policy)."""
    status, _ = bucket.anonymous_get(key)
    if status != 403:
        raise ReadPolicyError(f"{bucket.url_of(key)}: an anonymous reader gets {status}, not 403: the bucket policy "
                              f"lets anyone read where a version is staged before its approval (a blanket grant "
                              f"such as public/*?); set the policy of `enr production init`")
