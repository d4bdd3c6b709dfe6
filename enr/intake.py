"""Intake: a delivery from the inbox to *accepted* (stored) or *quarantined* (with a reason).

One function takes one delivery through every check, in this order, and the first failing check
decides (its rule id is in ``docs/DELIVERY.md``):

1. **name** — a plain ``<election>-<CC>-<seq:04d>.csv``; path tricks are refused before any file
   is touched (only an audit event is written);
2. **duplicate** — the same bytes (SHA-256) were already received: a no-op, recorded as
   ``duplicate`` (not an error);
3. **size** — at most :func:`enr.units.byte_cap` for the country (2 GiB overall);
4. **signature** — :func:`enr.signatures.verify_delivery` against the trusted senders;
5. **parse** — :func:`enr.delivery.parse_delivery` (strict form);
6. **context** — metadata against the name, the definition and what was accepted before:
   election, country, sequence (reused, older, gap = warning), status never going back,
   ``units_total``, ``test`` never mixed with real data, ``corrects`` naming an accepted sequence,
   STV ``declared_seats``;
7. **content** — the Great Expectations suites (:func:`expectations.runner.validate_delivery`),
   totals compared with the previously accepted snapshot.

Checks 1 (the name's election and country) to 7 are the functions of :data:`CHECKS`, run in this
order; each raises its refusal (:class:`enr.delivery.DeliveryRejected`) or returns.

Whatever the outcome, the delivery's bytes (and signature) are kept in
``deliveries/<election>/<CC>/<seq:04d>-<sha12>.csv`` (never overwritten) with a ``.receipt.json``.
An accepted delivery adds its unit-level snapshot ``snapshots/<election>/<CC>/<seq:04d>.parquet``
(+ ``.validation.json|html``) and its result set, list results and corrections to the store; a
refused one goes to ``quarantine/<election>/<CC>/<file>`` with ``<file>.reason.json`` and changes
nothing but the deliveries and audit records. The inbox copy is removed in both cases.

:func:`process_inbox` claims the complete deliveries of the inbox (CSV + signature: the signature
is the "ready" marker; a CSV left unsigned for ``signature_grace_s`` is refused as
``signature_missing``) in (country, sequence) order. Runs for the same election must not overlap
(the ingest DAG has ``max_active_runs=1``); countries may run in parallel.

:func:`rebuild_from_deliveries` rebuilds a store from the accepted deliveries kept in the bucket.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from enr.bucketio import Bucket, UnsafeKey, open_bucket
from enr.definition import load_election
from enr.delivery import (FILE_NAME_RE, NATIONAL_UNIT, OTHER_LIST, SCHEMA, STATUS_RANK, UNIT_COUNT_COLUMNS,
                          Delivery, DeliveryName, DeliveryRejected, parse_delivery, parse_file_name, _jsonable,
                          _printable)
from enr.settings import Settings, get_settings

log = logging.getLogger(__name__)

INBOX = "inbox"
SIGNATURE_GRACE_S = 600.0
MAX_BYTES = 2 * 1024 ** 3
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class IntakeResult:
    """What happened to one delivery (JSON-able through :meth:`as_dict`)."""

    file_name: str
    outcome: str  # accepted | duplicate | quarantined
    election: str
    country: str | None = None
    sequence: int | None = None
    sha256: str | None = None
    status: str | None = None
    rule: str | None = None
    reason: dict | None = None
    warnings: list[str] = field(default_factory=list)
    signer: str | None = None
    delivery_key: str | None = None
    quarantine_key: str | None = None
    snapshot_key: str | None = None
    validation_key: str | None = None
    result_set_id: int | None = None
    duplicate_of: int | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    @property
    def reason_text(self) -> str:
        if not self.reason:
            return ""
        where = f" (line {self.reason['row']})" if self.reason.get("row") else ""
        return f"{self.reason.get('rule')}: {self.reason.get('message')}{where}"

    def as_dict(self) -> dict:
        out = {k: _jsonable(v) for k, v in self.__dict__.items()}
        out["reason_text"] = self.reason_text
        return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc)


def _known_elections() -> set[str]:
    from enr.definition import elections_root

    return {p.name for p in elections_root().iterdir() if (p / "election.json").exists()}


def _safe_name(name: str) -> str:
    return _SAFE_CHARS.sub("_", name)[:120] or "unnamed"


def _resources(settings: Settings | None, election: str | None, store, bucket):
    settings = settings or get_settings()
    election = election or settings.election
    if store is None:
        from enr.store import Store

        store = Store(settings.store_url)
    if bucket is None:
        bucket = open_bucket(settings.bucket_url)
    return settings, election, store, bucket


# -- listing the inbox ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Candidate:
    name: str
    parsed: DeliveryName | None
    signed: bool
    age_s: float
    size: int = 0


def _candidates(bucket: Bucket, election: str, now: datetime) -> list[_Candidate]:
    names = bucket.entries(INBOX)
    present = set(names)
    out = []
    for name in names:
        if name.endswith(".asc") and name[:-4] in present:
            continue  # the signature of a delivery in the inbox
        if name.endswith(".asc"):
            continue  # a signature whose delivery has not arrived (yet)
        match = FILE_NAME_RE.fullmatch(name)
        parsed = DeliveryName(match["election"], match["country"], int(match["sequence"]), name) if match else None
        if parsed is not None and parsed.election != election and parsed.election in _known_elections():
            continue  # another election's run takes it
        try:
            status = bucket.entry_path(INBOX, name).stat()
        except (FileNotFoundError, UnsafeKey):
            continue
        out.append(_Candidate(name=name, parsed=parsed, signed=(name + ".asc") in present,
                              age_s=now.timestamp() - status.st_mtime, size=status.st_size))
    return out


def _ready(candidate: _Candidate, grace_s: float) -> bool:
    return candidate.parsed is None or candidate.signed or candidate.age_s >= grace_s


def pending_countries(settings: Settings | None = None, election: str | None = None, *,
                      bucket: Bucket | None = None, now: datetime | None = None,
                      signature_grace_s: float = SIGNATURE_GRACE_S, largest_first: bool = False) -> list[str]:
    """Countries with at least one complete delivery waiting in the inbox (sorted by code).

    ``largest_first``: the country with the most bytes waiting first (then by code). The ingest DAG
    maps one task per country in this order, and Airflow queues mapped task instances of the same
    priority by map index: the largest deliveries start first and the small ones fill the worker
    slots after them, instead of a large one starting last and ending the run alone."""
    settings = settings or get_settings()
    election = election or settings.election
    bucket = bucket or open_bucket(settings.bucket_url)
    waiting: dict[str, int] = {}
    for candidate in _candidates(bucket, election, _now(now)):
        if candidate.parsed is not None and _ready(candidate, signature_grace_s):
            country = candidate.parsed.country
            waiting[country] = waiting.get(country, 0) + candidate.size
    if largest_first:
        return sorted(waiting, key=lambda country: (-waiting[country], country))
    return sorted(waiting)


def process_inbox(settings: Settings | None = None, election: str | None = None, *,
                  countries: list[str] | None = None, store=None, bucket: Bucket | None = None,
                  now: datetime | None = None, signature_grace_s: float = SIGNATURE_GRACE_S) -> list[IntakeResult]:
    """Take every complete delivery of ``election`` from the inbox, in (country, sequence) order.

    ``countries`` limits the run to those countries (files whose name cannot be read are then
    left for an unrestricted run).
    """
    settings, election, store, bucket = _resources(settings, election, store, bucket)
    moment = _now(now)
    chosen = [c for c in _candidates(bucket, election, moment) if _ready(c, signature_grace_s)]
    if countries is not None:
        wanted = set(countries)
        chosen = [c for c in chosen if c.parsed is not None and c.parsed.country in wanted]
    chosen.sort(key=lambda c: (c.parsed is not None, c.parsed.country if c.parsed else "",
                               c.parsed.sequence if c.parsed else 0, c.name))
    results = []
    for candidate in chosen:
        results.append(process_delivery(candidate.name, settings, election, store=store, bucket=bucket, now=moment))
    return results


# -- one delivery ---------------------------------------------------------------------------------

def process_delivery(name: str, settings: Settings | None = None, election: str | None = None, *,
                     store=None, bucket: Bucket | None = None, now: datetime | None = None) -> IntakeResult:
    """Take the inbox file ``name`` (and ``name.asc``) through every check; see the module docstring."""
    settings, election, store, bucket = _resources(settings, election, store, bucket)
    received_at = _now(now)
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or "\x00" in name \
            or name in (".", "..") or len(name) > 255:
        rejection = DeliveryRejected("bad_file_name", "not a plain file name of the inbox: refused without "
                                     "touching any file", file=_printable(name),
                                     expected="<election>-<CC>-<seq:04d>.csv", found=_printable(name))
        store.audit_event("refused_name", election=election, detail=rejection.as_dict(), at=received_at)
        log.warning("intake %s: refused file name %s", election, _printable(name))
        return IntakeResult(file_name=_printable(name), outcome="quarantined", election=election,
                            rule=rejection.rule, reason=rejection.as_dict())
    try:
        path = bucket.entry_path(INBOX, name)
    except UnsafeKey as exc:
        rejection = DeliveryRejected("bad_file_name", str(exc), file=_printable(name))
        store.audit_event("refused_name", election=election, detail=rejection.as_dict(), at=received_at)
        return IntakeResult(file_name=_printable(name), outcome="quarantined", election=election,
                            rule=rejection.rule, reason=rejection.as_dict())
    size = path.stat().st_size
    if size > MAX_BYTES:
        return _refuse_huge(name, size, bucket, store, election, received_at)
    stamps = {name: _stamp(path)}
    data = path.read_bytes()
    try:
        signature_path = bucket.entry_path(INBOX, name + ".asc")
        stamps[name + ".asc"] = _stamp(signature_path)
        signature = signature_path.read_bytes()
    except (FileNotFoundError, UnsafeKey):
        signature = None
    return _intake(name, data, signature, settings=settings, election=election, store=store, bucket=bucket,
                   received_at=received_at, inbox_stamps=stamps)


def _stamp(path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _refuse_huge(name: str, size: int, bucket: Bucket, store, election: str, received_at: datetime) -> IntakeResult:
    digest = hashlib.sha256()
    with bucket.entry_path(INBOX, name).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 24), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    match = FILE_NAME_RE.fullmatch(name)
    country = match["country"] if match else None
    rejection = DeliveryRejected("too_large", "the file is larger than any delivery may be", file=name,
                                 expected=f"<= {MAX_BYTES} bytes", found=f"{size} bytes")
    folder = f"quarantine/{election}/{country or '_invalid'}"
    key = _free_key(bucket, folder, name if match else f"{sha[:12]}-{_safe_name(name)}", sha)
    bucket.move_entry(INBOX, name, key)
    reason = {**rejection.as_dict(), "sha256": sha, "received_at": received_at.isoformat(), "size": size}
    bucket.write_bytes(key + ".reason.json", _dump(reason))
    if (name + ".asc") in bucket.entries(INBOX):
        bucket.move_entry(INBOX, name + ".asc", _free_key(bucket, folder, name + ".asc", sha))
    store.record_delivery(election=election, country=country, sequence=int(match["sequence"]) if match else None,
                          status=None, file_name=name, sha256=sha, size=size, received_at=received_at,
                          outcome="quarantined", rule=rejection.rule, reason=reason, reason_text=str(rejection))
    return IntakeResult(file_name=name, outcome="quarantined", election=election, country=country, sha256=sha,
                        rule=rejection.rule, reason=reason, quarantine_key=key)


def _dump(value: Any) -> bytes:
    return (json.dumps(_jsonable(value), indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _free_key(bucket: Bucket, folder: str, name: str, sha: str) -> str:
    key = f"{folder}/{name}"
    if not bucket.exists(key):
        return key
    stem, dot, suffix = name.partition(".")
    return f"{folder}/{stem}.{sha[:12]}{dot}{suffix}"


@dataclass
class _Context:
    name: str
    data: bytes
    signature: bytes | None
    sha: str
    election: str
    received_at: datetime
    parsed_name: DeliveryName | None = None
    delivery: Delivery | None = None
    signer: str | None = None
    warnings: list[str] = field(default_factory=list)
    report: Any = None
    delivery_key: str | None = None
    signature_key: str | None = None
    replaying: bool = False
    inbox_stamps: dict = field(default_factory=dict)

    @property
    def signature_sha(self) -> str | None:
        return _sha256(self.signature) if self.signature is not None else None


def _intake(name: str, data: bytes, signature: bytes | None, *, settings: Settings, election: str, store,
            bucket: Bucket, received_at: datetime, validate: bool = True, verify: bool = True,
            inbox_stamps: dict | None = None) -> IntakeResult:
    ctx = _Context(name=name, data=data, signature=signature, sha=_sha256(data), election=election,
                   received_at=received_at, inbox_stamps=inbox_stamps or {})
    match = FILE_NAME_RE.fullmatch(name)
    if match:
        ctx.parsed_name = DeliveryName(match["election"], match["country"], int(match["sequence"]), name)
    previous = _duplicate_of(ctx, store)
    if previous is not None:
        return _duplicate(ctx, previous, store, bucket)
    _keep_copy(ctx, bucket)
    try:
        if ctx.parsed_name is None:
            parse_file_name(name)  # raises bad_file_name
        _check(ctx, settings, store, bucket, validate=validate, verify=verify)
    except DeliveryRejected as rejection:
        return _quarantine(ctx, rejection, store, bucket)
    return _accept(ctx, store, bucket)


def _duplicate_of(ctx: _Context, store) -> dict | None:
    """The earlier delivery this one repeats: the same bytes already accepted, or the same bytes
    with the same signature already received (a new signature for refused bytes is a new try)."""
    for earlier in store.deliveries_by_sha(ctx.election, ctx.sha):
        if earlier["outcome"] == "accepted" or earlier.get("signature_sha256") == ctx.signature_sha:
            return earlier
    return None


def _keep_copy(ctx: _Context, bucket: Bucket) -> None:
    """``deliveries/<election>/<CC>/<seq:04d>-<sha12>.csv`` (+ ``.csv.asc``), never overwritten; a
    second, different signature of the same bytes is kept as ``.csv.<sig sha12>.asc``."""
    if ctx.parsed_name is not None:
        key = (f"deliveries/{ctx.election}/{ctx.parsed_name.country}/"
               f"{ctx.parsed_name.sequence:04d}-{ctx.sha[:12]}.csv")
    else:
        key = f"deliveries/{ctx.election}/_invalid/{ctx.sha[:12]}.csv"
    bucket.write_once(key, ctx.data)
    ctx.delivery_key = key
    if ctx.signature is not None:
        signature_key = key + ".asc"
        if bucket.exists(signature_key) and bucket.read_bytes(signature_key) != ctx.signature:
            signature_key = f"{key}.{ctx.signature_sha[:12]}.asc"
        bucket.write_once(signature_key, ctx.signature)
        ctx.signature_key = signature_key


def _receipt(ctx: _Context, bucket: Bucket, outcome: str, rule: str | None) -> str:
    meta = ctx.delivery.meta if ctx.delivery else None
    payload = _dump({
        "file_name": ctx.name, "election": ctx.election,
        "country": ctx.parsed_name.country if ctx.parsed_name else None,
        "sequence": ctx.parsed_name.sequence if ctx.parsed_name else None,
        "status": meta.status if meta else None, "sha256": ctx.sha, "size": len(ctx.data),
        "signature_key": ctx.signature_key, "signature_sha256": ctx.signature_sha,
        "received_at": ctx.received_at.isoformat(), "outcome": outcome, "rule": rule, "signer": ctx.signer})
    key = ctx.delivery_key + ".receipt.json"
    if not bucket.write_once(key, payload):
        stamp = ctx.received_at.strftime("%Y%m%dT%H%M%S%f")
        key = f"{ctx.delivery_key}.{(ctx.signature_sha or 'unsigned')[:12]}.{stamp}.receipt.json"
        bucket.write_once(key, payload)
    return key


def _remove_from_inbox(bucket: Bucket, ctx: "_Context") -> None:
    """Remove the processed files from the inbox — only what was read, and not if a sender
    replaced it meanwhile (then the new file is left for the next run)."""
    for name in (ctx.name, ctx.name + ".asc"):
        if name not in ctx.inbox_stamps:
            continue
        try:
            path = bucket.entry_path(INBOX, name)
        except (FileNotFoundError, UnsafeKey):
            continue
        if _stamp(path) != ctx.inbox_stamps[name]:
            log.warning("intake %s: inbox/%s changed while it was processed; left for the next run",
                        ctx.election, name)
            continue
        path.unlink(missing_ok=True)


def _duplicate(ctx: _Context, previous: dict, store, bucket: Bucket) -> IntakeResult:
    parsed = ctx.parsed_name
    store.record_delivery(election=ctx.election, country=parsed.country if parsed else None,
                          sequence=parsed.sequence if parsed else None, status=previous.get("status"),
                          file_name=ctx.name, sha256=ctx.sha, size=len(ctx.data), received_at=ctx.received_at,
                          outcome="duplicate", signer=previous.get("signer"),
                          reason={"duplicate_of": previous["id"], "first_outcome": previous["outcome"]},
                          test=previous.get("test"), stored_key=previous.get("stored_key"),
                          signature_sha256=ctx.signature_sha)
    _remove_from_inbox(bucket, ctx)
    log.info("intake %s %s: duplicate of delivery #%s (%s), sha256 %s", ctx.election, ctx.name, previous["id"],
             previous["outcome"], ctx.sha)
    return IntakeResult(file_name=ctx.name, outcome="duplicate", election=ctx.election,
                        country=parsed.country if parsed else None, sequence=parsed.sequence if parsed else None,
                        sha256=ctx.sha, status=previous.get("status"), delivery_key=previous.get("stored_key"),
                        duplicate_of=previous["id"],
                        warnings=[f"duplicate: same bytes as delivery #{previous['id']} ({previous['outcome']})"])


@dataclass
class _Checking:
    """What the checks of one delivery work with: the settings, the store and bucket (or, for ``enr
    check``, the history of the files checked before), and whether the optional checks run."""

    settings: Settings
    store: Any
    bucket: Any
    validate: bool
    verify: bool


def _check_named_election_and_country(ctx: _Context, run: _Checking) -> None:
    """name: the file name's election is this run's, its country one of the election's."""
    name = ctx.parsed_name
    if name.election != ctx.election:
        if name.election not in _known_elections():
            raise DeliveryRejected("unknown_election", f"no election definition {name.election!r}", file=ctx.name,
                                   expected=ctx.election, found=name.election)
        raise DeliveryRejected("election_mismatch", "the delivery is for another election than this run",
                               file=ctx.name, expected=ctx.election, found=name.election)
    definition = load_election(ctx.election)
    if name.country not in definition.countries:
        raise DeliveryRejected("unknown_country", f"{name.country} is not a country of {ctx.election}", file=ctx.name,
                               expected=sorted(definition.countries), found=name.country)


def _check_size(ctx: _Context, run: _Checking) -> None:
    """size: at most the country's byte cap (:func:`enr.units.byte_cap`)."""
    from enr.units import byte_cap

    name = ctx.parsed_name
    cap = byte_cap(ctx.election, name.country)
    if len(ctx.data) > cap:
        raise DeliveryRejected("too_large", f"larger than a delivery of {name.country} can be", file=ctx.name,
                               expected=f"<= {cap} bytes", found=f"{len(ctx.data)} bytes")


def _check_signature(ctx: _Context, run: _Checking) -> None:
    """signature: by a trusted sender of the country (skipped when the run does not verify)."""
    if not run.verify:
        return
    from enr.signatures import verify_delivery

    check = verify_delivery(ctx.data, ctx.signature, run.settings.trusted_keys, country=ctx.parsed_name.country,
                            file=ctx.name)
    ctx.signer = check.fingerprint


def _check_parse(ctx: _Context, run: _Checking) -> None:
    """parse: the strict form of ``enr-delivery/1`` (:func:`enr.delivery.parse_delivery`), within the row cap."""
    from enr.units import row_cap

    ctx.delivery = parse_delivery(ctx.data, ctx.name, max_rows=row_cap(ctx.election, ctx.parsed_name.country))


def _check_metadata_names(ctx: _Context, run: _Checking) -> None:
    """context: the metadata names the election, country and sequence of the file name."""
    name = ctx.parsed_name
    meta = ctx.delivery.meta
    if meta.election != ctx.election:
        rule = "unknown_election" if meta.election not in _known_elections() else "name_mismatch"
        raise DeliveryRejected(rule, "the metadata names another election than the file name", file=ctx.name, row=1,
                               expected=ctx.election, found=meta.election)
    if meta.country != name.country:
        raise DeliveryRejected("name_mismatch", "the metadata names another country than the file name",
                               file=ctx.name, row=1, expected=name.country, found=meta.country)
    if meta.sequence != name.sequence:
        raise DeliveryRejected("name_mismatch", "the metadata sequence differs from the file name's", file=ctx.name,
                               row=1, expected=name.sequence, found=meta.sequence)


def _check_units_total(ctx: _Context, run: _Checking) -> None:
    """context: ``units_total`` is the number of the country's reporting units."""
    from enr.units import units_of

    meta = ctx.delivery.meta
    units_total = len(units_of(ctx.election, meta.country))
    if meta.units_total != units_total:
        raise DeliveryRejected("units_total_mismatch", f"{meta.country} has {units_total} reporting units",
                               file=ctx.name, row=1, expected=units_total, found=meta.units_total)


def _check_sequence(ctx: _Context, run: _Checking) -> None:
    """context: against what was accepted before — a new, newer sequence; the test flag and a status
    that never go back; ``corrects`` naming an accepted sequence. A gap is a warning, not a refusal."""
    meta = ctx.delivery.meta
    history = run.store.result_sets(ctx.election, meta.country)
    accepted = [r.sequence for r in history]
    latest = history[-1] if history else None
    if meta.sequence in accepted:
        raise DeliveryRejected("sequence_reused", f"sequence {meta.sequence} was already accepted with other bytes",
                               file=ctx.name, row=1, expected=f"> {max(accepted)}", found=meta.sequence)
    if latest is not None and meta.sequence < latest.sequence:
        raise DeliveryRejected("sequence_old", f"sequence {meta.sequence} is older than the accepted "
                               f"{latest.sequence}", file=ctx.name, row=1, expected=f"> {latest.sequence}",
                               found=meta.sequence)
    if latest is not None and bool(latest.test) != bool(meta.test):
        raise DeliveryRejected("test_flag_mismatch", "rehearsal (test) and real deliveries never mix in a country",
                               file=ctx.name, row=1, expected=bool(latest.test), found=meta.test)
    if latest is not None and STATUS_RANK[meta.status] < STATUS_RANK[latest.status]:
        raise DeliveryRejected("status_regressed", f"status {meta.status} after an accepted {latest.status}",
                               file=ctx.name, row=1, expected=f"{latest.status} or later", found=meta.status)
    if meta.corrects is not None and meta.corrects not in accepted:
        raise DeliveryRejected("corrects_unknown", f"sequence {meta.corrects} was never accepted", file=ctx.name,
                               row=1, expected=accepted, found=meta.corrects)
    expected_next = (latest.sequence if latest else 0) + 1
    if meta.sequence > expected_next:
        received = set(run.store.received_sequences(ctx.election, meta.country))
        missing = [s for s in range(expected_next, meta.sequence) if s not in received]
        if missing:
            ctx.warnings.append(f"sequence_gap: {meta.country} sequence {meta.sequence} follows "
                                f"{expected_next - 1}; never received: {', '.join(map(str, missing))}")


def _check_declared_seats(ctx: _Context, run: _Checking) -> None:
    """context: STV ``declared_seats`` only where the country has STV constituencies, complete once final."""
    from enr.units import country_profile

    meta = ctx.delivery.meta
    profile = country_profile(ctx.election, meta.country)
    seats = meta.declared_seats
    if not profile.stv:
        if seats:
            raise DeliveryRejected("declared_seats_unexpected", f"{meta.country} allocates its seats by list PR; "
                                   "declared_seats are only for STV constituencies", file=ctx.name, row=1,
                                   expected=None, found=seats[:3])
        return
    if not seats:
        if meta.status in ("final", "official"):
            raise DeliveryRejected("declared_seats_missing", f"a {meta.status} delivery of {meta.country} (STV) "
                                   "must declare the seats", file=ctx.name, row=1,
                                   expected=f"declared_seats in {list(profile.stv_constituencies)}", found=None)
        return
    for entry in seats:
        if entry["constituency"] not in profile.stv_constituencies or entry["list_id"] not in profile.list_ids:
            raise DeliveryRejected("declared_seats_invalid", "declared seats for an unknown constituency or list",
                                   file=ctx.name, row=1, expected={"constituencies": list(profile.stv_constituencies)},
                                   found=entry)
    total = sum(int(e["seats"]) for e in seats)
    keys = [(e["constituency"], e["list_id"]) for e in seats]
    if len(keys) != len(set(keys)):
        raise DeliveryRejected("declared_seats_invalid", "a constituency and list are declared twice", file=ctx.name,
                               row=1, expected="one entry per constituency and list", found=keys)
    if total > profile.stv_seats or (meta.status in ("final", "official") and total != profile.stv_seats):
        raise DeliveryRejected("declared_seats_invalid", f"declared seats add up to {total}", file=ctx.name, row=1,
                               expected=f"{profile.stv_seats} STV seats for {meta.country}", found=total)


def _check_content(ctx: _Context, run: _Checking) -> None:
    """content: the Great Expectations suites, totals compared with the previously accepted snapshot
    (skipped when the run does not validate)."""
    if not run.validate:
        return
    from expectations.runner import validate_delivery

    previous = _previous_result_set(run.store, ctx.election, ctx.delivery.meta.country, non_estimate=True)
    if previous is not None:  # the snapshot's Arrow table: the suites compare it without pandas frames
        previous = _snapshot_table(run.bucket, previous, COMPARED_COLUMNS)
    report = validate_delivery(ctx.delivery, election=ctx.election, previous=previous)
    ctx.report = report
    ctx.warnings.extend(report.warning_texts())
    rejection = report.rejection()
    if rejection is not None:
        raise rejection


CHECKS = (_check_named_election_and_country, _check_size, _check_signature, _check_parse, _check_metadata_names,
          _check_units_total, _check_sequence, _check_declared_seats, _check_content)
"""The checks a delivery goes through after its name parsed and it proved no duplicate, in order;
each raises :class:`enr.delivery.DeliveryRejected` with its rule, and the first refusal decides."""


def _check(ctx: _Context, settings: Settings, store, bucket: Bucket, *, validate: bool, verify: bool) -> None:
    """Run :data:`CHECKS` in order on one delivery (``store``/``bucket``: the results store and the
    export bucket, or the history of ``enr check``)."""
    run = _Checking(settings=settings, store=store, bucket=bucket, validate=validate, verify=verify)
    for check in CHECKS:
        check(ctx, run)


COMPARED_COLUMNS = ("unit_id", *UNIT_COUNT_COLUMNS, "list_id", "votes")
"""The columns of the previous snapshot the suites compare a delivery with (totals, list votes)."""


def _snapshot_table(bucket: Bucket, result_set, columns=None) -> pa.Table:
    return pq.read_table(io.BytesIO(bucket.read_bytes(result_set.snapshot_path)),
                         columns=None if columns is None else list(columns))


def _snapshot_frame(store, bucket: Bucket, result_set) -> pd.DataFrame:
    table = _snapshot_table(bucket, result_set)
    df = table.to_pandas(types_mapper={pa.int64(): None}.get)
    df["blank"] = df["blank"].astype("Int64")
    df.insert(0, "line", range(3, 3 + len(df)))
    return df


def _previous_result_set(store, election: str, country: str, *, non_estimate: bool):
    history = store.result_sets(election, country)
    if non_estimate:
        history = [r for r in history if r.status != "estimate"]
    return history[-1] if history else None


def _previous_snapshot(store, bucket: Bucket, election: str, country: str, *, non_estimate: bool) -> pd.DataFrame | None:
    previous = _previous_result_set(store, election, country, non_estimate=non_estimate)
    return None if previous is None else _snapshot_frame(store, bucket, previous)


def _corrections(ctx: _Context, store, bucket: Bucket) -> list[dict]:
    """Before/after events: per unit and list (votes), per unit (totals), per list nationally."""
    meta = ctx.delivery.meta
    before = _previous_snapshot(store, bucket, ctx.election, meta.country, non_estimate=False)
    if before is None:
        return []
    after = ctx.delivery.frame(with_line=True)
    reason = meta.reason
    events: list[dict] = []
    keys = ["unit_id", "list_id"]
    merged = before[["unit_id", "constituency", "list_id", "votes"]].merge(
        after[["unit_id", "constituency", "list_id", "votes"]], on=keys, how="outer", suffixes=("_before", "_after"))
    changed = merged[merged["votes_before"].fillna(-1) != merged["votes_after"].fillna(-1)]
    for row in changed.itertuples(index=False):
        events.append({"unit_id": row.unit_id, "list_id": row.list_id,
                       "constituency": row.constituency_after if isinstance(row.constituency_after, str)
                       else row.constituency_before, "field": "votes",
                       "before": None if pd.isna(row.votes_before) else int(row.votes_before),
                       "after": None if pd.isna(row.votes_after) else int(row.votes_after), "reason": reason})
    units_before = before.drop_duplicates("unit_id").set_index("unit_id")
    units_after = after.drop_duplicates("unit_id").set_index("unit_id")
    for unit in units_before.index.union(units_after.index):
        for column in UNIT_COUNT_COLUMNS:
            old = units_before[column].get(unit) if unit in units_before.index else None
            new = units_after[column].get(unit) if unit in units_after.index else None
            old = None if old is None or pd.isna(old) else int(old)
            new = None if new is None or pd.isna(new) else int(new)
            if old != new:
                events.append({"unit_id": unit, "list_id": None, "constituency": None, "field": column,
                               "before": old, "after": new, "reason": reason})
    national_before = before.groupby("list_id")["votes"].sum()
    national_after = after.groupby("list_id")["votes"].sum()
    for list_id in sorted(set(national_before.index) | set(national_after.index)):
        old, new = int(national_before.get(list_id, 0)), int(national_after.get(list_id, 0))
        if old != new:
            events.append({"unit_id": None, "list_id": list_id, "constituency": None, "field": "votes",
                           "before": old, "after": new, "reason": reason})
    return events


def _correction_events(ctx: _Context, store, bucket) -> list[dict]:
    """The before/after events of a correction (none for an ordinary delivery); a correction that
    changes no number is accepted with the warning ``correction_without_change``."""
    meta = ctx.delivery.meta
    if not meta.is_correction:
        return []
    events = _corrections(ctx, store, bucket)
    if not events:
        ctx.warnings.append(f"correction_without_change: sequence {meta.sequence} corrects {meta.corrects} "
                            "but no number changed")
    return events


def list_votes(table: pa.Table) -> pd.DataFrame:
    """The votes of each (constituency, list) of the rows, in the order they first appear (as
    ``groupby(["constituency", "list_id"], sort=False)``): the list results the store keeps."""
    keyed = table.select(["constituency", "list_id", "votes"]).append_column(
        "row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    grouped = keyed.group_by(["constituency", "list_id"]).aggregate([("votes", "sum"), ("row", "min")])
    grouped = grouped.sort_by("row_min")  # Arrow's group order is its own: put them in order of first appearance
    return grouped.select(["constituency", "list_id", "votes_sum"]).rename_columns(
        ["constituency", "list_id", "votes"]).to_pandas()


def _accept(ctx: _Context, store, bucket: Bucket) -> IntakeResult:
    from enr.store import NewResult

    delivery = ctx.delivery
    meta = delivery.meta
    prefix = f"snapshots/{ctx.election}/{meta.country}/{meta.sequence:04d}"
    snapshot_key = prefix + ".parquet"
    sink = io.BytesIO()
    pq.write_table(delivery.table.cast(SCHEMA), sink, compression="zstd")
    bucket.write_bytes(snapshot_key, sink.getvalue())
    validation_key = None
    if ctx.report is not None:
        validation_key = prefix + ".validation.json"
        bucket.write_bytes(validation_key, _dump(ctx.report.to_json()))
        bucket.write_bytes(prefix + ".validation.html", ctx.report.to_html().encode("utf-8"))
    units = delivery.units()
    registered, voters, blank_total, invalid = (pc.sum(units[c]).as_py() for c in UNIT_COUNT_COLUMNS)
    votes = list_votes(delivery.table)
    corrections = _correction_events(ctx, store, bucket)
    result = NewResult(
        status=meta.status, issued_at=meta.issued_at, registered=registered, voters=voters, blank=blank_total,
        invalid=invalid, valid=voters - (blank_total or 0) - invalid,
        other_votes=int(votes.loc[votes["list_id"] == OTHER_LIST, "votes"].sum()),
        units_reporting=units.num_rows - (pc.sum(pc.equal(units["unit_id"], NATIONAL_UNIT)).as_py() or 0),
        units_total=meta.units_total,
        snapshot_path=snapshot_key, validation_path=validation_key, votes=votes, declared_seats=meta.declared_seats,
        reason=meta.reason)
    if not ctx.replaying:
        _receipt(ctx, bucket, "accepted", None)
    recorded = store.record_delivery(
        election=ctx.election, country=meta.country, sequence=meta.sequence, status=meta.status, file_name=ctx.name,
        sha256=ctx.sha, size=len(ctx.data), received_at=ctx.received_at, outcome="accepted", signer=ctx.signer,
        corrects=meta.corrects, test=meta.test, warnings=ctx.warnings, stored_key=ctx.delivery_key,
        signature_sha256=ctx.signature_sha, result=result,
        corrections=corrections,
        audit_detail={"rows": delivery.table.num_rows, "units_reporting": result.units_reporting,
                      "snapshot": snapshot_key})
    _remove_from_inbox(bucket, ctx)
    log.info("intake %s %s seq %d: accepted (%s, %d rows, %d/%d units), sha256 %s, snapshot %s",
             ctx.election, meta.country, meta.sequence, meta.status, delivery.table.num_rows,
             result.units_reporting, result.units_total, ctx.sha, snapshot_key)
    return IntakeResult(file_name=ctx.name, outcome="accepted", election=ctx.election, country=meta.country,
                        sequence=meta.sequence, sha256=ctx.sha, status=meta.status, warnings=list(ctx.warnings),
                        signer=ctx.signer, delivery_key=ctx.delivery_key, snapshot_key=snapshot_key,
                        validation_key=validation_key, result_set_id=recorded.get("result_set_id"))


def _quarantine(ctx: _Context, rejection: DeliveryRejected, store, bucket: Bucket) -> IntakeResult:
    parsed = ctx.parsed_name
    if rejection.file is None:
        rejection.file = ctx.name
    folder = f"quarantine/{ctx.election}/{parsed.country if parsed else '_invalid'}"
    stored_name = ctx.name if parsed else f"{ctx.sha[:12]}-{_safe_name(ctx.name)}"
    key = _free_key(bucket, folder, stored_name, ctx.sha)
    bucket.write_bytes(key, ctx.data)
    if ctx.signature is not None:
        bucket.write_bytes(key + ".asc", ctx.signature)
    reason = {**rejection.as_dict(), "file": ctx.name, "sha256": ctx.sha, "received_at": ctx.received_at.isoformat(),
              "size": len(ctx.data), "signer": ctx.signer, "warnings": ctx.warnings}
    if ctx.report is not None:
        bucket.write_bytes(key + ".validation.json", _dump(ctx.report.to_json()))
        bucket.write_bytes(key + ".validation.html", ctx.report.to_html().encode("utf-8"))
        reason["validation"] = key + ".validation.json"
    bucket.write_bytes(key + ".reason.json", _dump(reason))
    meta = ctx.delivery.meta if ctx.delivery else None
    _receipt(ctx, bucket, "quarantined", rejection.rule)
    store.record_delivery(
        election=ctx.election, country=parsed.country if parsed else None,
        sequence=parsed.sequence if parsed else None, status=meta.status if meta else None, file_name=ctx.name,
        sha256=ctx.sha, size=len(ctx.data), received_at=ctx.received_at, outcome="quarantined", signer=ctx.signer,
        rule=rejection.rule, reason=_jsonable(reason), reason_text=str(rejection),
        corrects=meta.corrects if meta else None, test=meta.test if meta else None, warnings=ctx.warnings,
        stored_key=ctx.delivery_key, signature_sha256=ctx.signature_sha)
    _remove_from_inbox(bucket, ctx)
    log.warning("intake %s %s: quarantined (%s), sha256 %s -> %s", ctx.election, ctx.name, rejection, ctx.sha, key)
    return IntakeResult(file_name=ctx.name, outcome="quarantined", election=ctx.election,
                        country=parsed.country if parsed else None, sequence=parsed.sequence if parsed else None,
                        sha256=ctx.sha, status=meta.status if meta else None, rule=rejection.rule,
                        reason=_jsonable(reason), warnings=list(ctx.warnings), signer=ctx.signer,
                        delivery_key=ctx.delivery_key, quarantine_key=key)


# -- the intake's verdict, changing nothing ----------------------------------------------------------

@dataclass(frozen=True)
class _CheckedSet:
    """What :class:`_CheckHistory` keeps of a delivery it accepted (the fields the checks read)."""

    country: str
    sequence: int
    status: str
    test: bool
    snapshot_path: str


class _CheckHistory:
    """The earlier deliveries of a :func:`check_deliveries` call, in memory: it answers the reads the
    context checks make of the store (``result_sets``, ``received_sequences``) and of the bucket
    (``read_bytes`` of a snapshot), so that nothing persistent is read or written."""

    def __init__(self) -> None:
        self.sets: list[_CheckedSet] = []
        self.snapshots: dict[str, bytes] = {}
        self.received: dict[str, set[int]] = {}
        self.accepted_sha: dict[str, str] = {}

    def result_sets(self, election: str, country: str) -> list[_CheckedSet]:
        return [r for r in self.sets if r.country == country]

    def received_sequences(self, election: str, country: str) -> list[int]:
        return sorted(self.received.get(country, ()))

    def read_bytes(self, key: str) -> bytes:
        return self.snapshots[key]

    def keep(self, ctx: _Context) -> None:
        meta = ctx.delivery.meta
        key = f"check/{meta.country}/{meta.sequence:04d}.parquet"
        sink = io.BytesIO()
        pq.write_table(ctx.delivery.table.cast(SCHEMA), sink)
        self.snapshots[key] = sink.getvalue()
        self.sets.append(_CheckedSet(meta.country, meta.sequence, meta.status, bool(meta.test), key))
        self.accepted_sha[ctx.sha] = ctx.name


def check_deliveries(paths, *, election: str | None = None, trusted_keys=None, verify: bool = True,
                     settings: Settings | None = None) -> list[IntakeResult]:
    """The intake's verdict on delivery files, without touching the store, the bucket or the inbox.

    The files (each with its ``<name>.asc`` beside it) are taken in (country, sequence) order as
    the intake would take them, through the same checks (name, size, signature against
    ``trusted_keys`` — default ``ENR_TRUSTED_KEYS`` —, parse, context, suites). The history they
    are checked against is only the files of this call that were accepted before them: a country's
    first file is checked as the first delivery of that country (for the contractor's own tests
    before sending; pass a night's files together to check sequences, corrections and totals
    that never decrease). Outcome per file: ``accepted``, ``duplicate`` (same bytes as an accepted
    file of the call) or ``refused`` (with ``rule`` and ``reason``: file, row, expected, found).
    """
    from dataclasses import replace
    from pathlib import Path

    settings = settings or get_settings()
    if trusted_keys is not None:
        settings = replace(settings, trusted_keys=Path(trusted_keys))
    history = _CheckHistory()
    known = _known_elections()
    items = []
    for path in map(Path, paths):
        match = FILE_NAME_RE.fullmatch(path.name)
        order = (match["country"], int(match["sequence"])) if match else ("", 0)
        items.append((order, str(path), path))
    results = []
    for _, _, path in sorted(items):
        match = FILE_NAME_RE.fullmatch(path.name)
        run_election = election or (match["election"] if match and match["election"] in known else settings.election)
        results.append(_check_one(path, run_election, settings, history, verify=verify))
    return results


def _check_one(path, election: str, settings: Settings, history: _CheckHistory, *, verify: bool) -> IntakeResult:
    name = path.name
    signature_path = path.with_name(name + ".asc")
    signature = signature_path.read_bytes() if signature_path.is_file() else None
    ctx = _Context(name=name, data=b"", signature=signature, sha="", election=election, received_at=_now(None))
    try:
        ctx.parsed_name = parse_file_name(name)
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DeliveryRejected("too_large", "the file is larger than any delivery may be", file=name,
                                   expected=f"<= {MAX_BYTES} bytes", found=f"{size} bytes")
        ctx.data = path.read_bytes()
        ctx.sha = _sha256(ctx.data)
        if ctx.sha in history.accepted_sha:
            return IntakeResult(file_name=name, outcome="duplicate", election=election,
                                country=ctx.parsed_name.country, sequence=ctx.parsed_name.sequence, sha256=ctx.sha,
                                warnings=[f"duplicate: same bytes as {history.accepted_sha[ctx.sha]}"])
        history.received.setdefault(ctx.parsed_name.country, set()).add(ctx.parsed_name.sequence)
        _check(ctx, settings, history, history, validate=True, verify=verify)
        _correction_events(ctx, history, history)
    except DeliveryRejected as rejection:
        if rejection.file is None:
            rejection.file = name
        meta = ctx.delivery.meta if ctx.delivery else None
        return IntakeResult(file_name=name, outcome="refused", election=election,
                            country=ctx.parsed_name.country if ctx.parsed_name else None,
                            sequence=ctx.parsed_name.sequence if ctx.parsed_name else None, sha256=ctx.sha or None,
                            status=meta.status if meta else None, rule=rejection.rule,
                            reason=_jsonable({**rejection.as_dict(), "file": name}), warnings=list(ctx.warnings),
                            signer=ctx.signer)
    history.keep(ctx)
    meta = ctx.delivery.meta
    return IntakeResult(file_name=name, outcome="accepted", election=election, country=meta.country,
                        sequence=meta.sequence, sha256=ctx.sha, status=meta.status, warnings=list(ctx.warnings),
                        signer=ctx.signer)


# -- rebuilding the store ---------------------------------------------------------------------------

def rebuild_from_deliveries(bucket: Bucket, store, election: str, *, settings: Settings | None = None,
                            verify: bool = False, validate: bool = False) -> list[IntakeResult]:
    """Replay the accepted deliveries kept in ``deliveries/<election>/`` into ``store``.

    The receipts (``<seq>-<sha12>.receipt.json``) say which deliveries were accepted and when they
    were received; they are replayed in (country, sequence) order through the same accept path
    (snapshots are rewritten with the same content). ``verify``/``validate`` repeat the signature
    check and the GX suites. Returns one result per replayed delivery.
    """
    settings = settings or get_settings()
    receipts = []
    for key in bucket.walk(f"deliveries/{election}"):
        if key.endswith(".receipt.json"):
            receipt = json.loads(bucket.read_bytes(key))
            if receipt.get("outcome") == "accepted":
                receipts.append((receipt["country"], receipt["sequence"], key, receipt))
    results = []
    for _, _, key, receipt in sorted(receipts):
        data_key = key[:key.index(".csv") + 4]
        data = bucket.read_bytes(data_key)
        signature_key = receipt.get("signature_key")
        signature = bucket.read_bytes(signature_key) if signature_key and bucket.exists(signature_key) else None
        received_at = datetime.fromisoformat(receipt["received_at"])
        ctx = _Context(name=receipt["file_name"], data=data, signature=signature, sha=_sha256(data),
                       election=election, received_at=received_at, delivery_key=data_key, signature_key=signature_key,
                       parsed_name=parse_file_name(receipt["file_name"]), signer=receipt.get("signer"),
                       replaying=True)
        if ctx.sha != receipt["sha256"]:
            raise RuntimeError(f"{data_key}: content does not match its receipt's SHA-256")
        _check(ctx, settings, store, bucket, validate=validate, verify=verify)
        results.append(_accept(ctx, store, bucket))
    return results


__all__ = ["IntakeResult", "check_deliveries", "pending_countries", "process_delivery", "process_inbox", "rebuild_from_deliveries",
           "SIGNATURE_GRACE_S", "MAX_BYTES"]
