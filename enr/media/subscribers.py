"""The media's webhook subscribers, kept as data in the results store, and what happened to them.

A subscriber is a newsroom's endpoint: an id, a URL, a Standard Webhooks secret and optional
filters (the countries it follows, the languages of the page links it wants). The store is
append-only (:mod:`enr.store.models`), so the registry never updates a row:

* ``media_subscribers`` holds what was registered, once;
* ``media_subscriber_events`` holds every change of state (``disabled`` by an operator or after
  too many failures in a row, ``enabled`` again), with who and why;
* ``webhook_attempts`` holds every HTTP attempt (message id, success, status code or error, time).

A subscriber's state is derived from them: it is **active** unless its latest event is
``disabled``; its **consecutive failures** are its failed attempts since its last acknowledged
one (or since it was last enabled, whichever is later); a message is **acknowledged** when one
attempt with its ``webhook-id`` succeeded. The application role of the store therefore needs no
UPDATE privilege (it has SELECT and INSERT only, :mod:`enr.store.roles`), and the history of a
subscriber explains its state. Secrets are stored as given: the sender needs them to sign.
"""
from __future__ import annotations

import logging
import re
import secrets as _secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import urlsplit

from sqlalchemy import func, insert, select

from enr.media.signature import generate_secret, secret_key
from enr.store.models import MediaSubscriberEventRow, MediaSubscriberRow, WebhookAttemptRow

log = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
LANGUAGE_PATTERN = re.compile(r"[a-z]{2}")


class SubscriberError(ValueError):
    """A subscriber request the registry refuses (bad URL, unknown id, id taken, ...)."""


@dataclass(frozen=True)
class Attempt:
    """The outcome of one HTTP attempt, as :mod:`enr.media.delivery` records it."""

    subscriber_id: str
    webhook_id: str
    ok: bool
    status_code: int | None
    error: str | None
    elapsed_ms: int
    at: datetime


@dataclass
class Subscriber:
    id: str
    url: str
    secret: str = field(repr=False)
    countries: list[str] | None
    languages: list[str] | None
    created_at: str
    active: bool = True
    consecutive_failures: int = 0
    disabled_reason: str | None = None
    last_error: str | None = None

    def masked_secret(self) -> str:
        """``whsec_abcd…wxyz``: enough to tell two secrets apart, never enough to sign."""
        return f"{self.secret[:10]}…{self.secret[-4:]}"

    def public(self) -> dict:
        """The subscriber without its secret (what ``enr subscribers list`` prints)."""
        return {"id": self.id, "url": self.url, "secret": self.masked_secret(), "countries": self.countries,
                "languages": self.languages, "created_at": self.created_at, "active": self.active,
                "consecutive_failures": self.consecutive_failures, "disabled_reason": self.disabled_reason,
                "last_error": self.last_error}

    def wants(self, countries: Iterable[str]) -> bool:
        """Whether a publication changing ``countries`` concerns this subscriber (no filter, or no
        country named by the publication: every subscriber is concerned)."""
        changed = set(countries)
        return not self.countries or not changed or bool(changed & set(self.countries))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _codes(values: Iterable[str] | None, pattern: re.Pattern, what: str, upper: bool) -> list[str] | None:
    if values is None:
        return None
    out = []
    for value in values:
        code = value.strip().upper() if upper else value.strip().lower()
        if not code:
            continue
        if not pattern.fullmatch(code):
            raise SubscriberError(f"{what} filter: {value!r} is not a two-letter code")
        out.append(code)
    return sorted(set(out)) or None


def check_url(url: str) -> str:
    """A subscriber URL must be absolute http(s), with a host and no credentials in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriberError(f"subscriber URL {url!r}: not an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise SubscriberError(f"subscriber URL {url!r}: credentials do not belong in the URL (the webhook is signed)")
    return url


class SubscriberRegistry:
    """The subscribers of a :class:`enr.store.Store` (migrated to revision 0003 or later)."""

    def __init__(self, store) -> None:
        self.store = store

    # -- registering -------------------------------------------------------------------------------

    def add(self, url: str, *, subscriber_id: str | None = None, secret: str | None = None,
            countries: Iterable[str] | None = None, languages: Iterable[str] | None = None,
            by: str | None = None) -> Subscriber:
        """Register a subscriber; a ``whsec_`` secret is generated when none is given."""
        subscriber_id = subscriber_id or f"sub_{_secrets.token_hex(6)}"
        if not ID_PATTERN.fullmatch(subscriber_id):
            raise SubscriberError(f"subscriber id {subscriber_id!r}: letters, digits, '_', '.', '-' (at most 64)")
        secret = secret or generate_secret()
        try:
            secret_key(secret)
        except ValueError as exc:
            raise SubscriberError(f"subscriber {subscriber_id}: {exc}") from None
        row = {"id": subscriber_id, "url": check_url(url), "secret": secret,
               "countries": _codes(countries, COUNTRY_PATTERN, "country", upper=True),
               "languages": _codes(languages, LANGUAGE_PATTERN, "language", upper=False),
               "created_at": _now(), "created_by": by}
        with self.store.session() as session, session.begin():
            if session.get(MediaSubscriberRow, subscriber_id) is not None:
                raise SubscriberError(f"subscriber {subscriber_id} exists already (ids are never reused)")
            session.add(MediaSubscriberRow(**row))
        log.info("subscriber %s added: %s (countries %s, languages %s)", subscriber_id, url, row["countries"],
                 row["languages"])
        return self.get(subscriber_id)

    def _event(self, subscriber_id: str, event: str, by: str | None, reason: str | None) -> Subscriber:
        self.get(subscriber_id)
        with self.store.session() as session, session.begin():
            session.add(MediaSubscriberEventRow(subscriber_id=subscriber_id, event=event, at=_now(), who=by,
                                                reason=reason))
        log.info("subscriber %s %s by %s: %s", subscriber_id, event, by, reason)
        return self.get(subscriber_id)

    def disable(self, subscriber_id: str, *, by: str | None = None, reason: str = "disabled by an operator"):
        return self._event(subscriber_id, "disabled", by, reason)

    def enable(self, subscriber_id: str, *, by: str | None = None, reason: str = "enabled by an operator"):
        """Enable again (its consecutive failures start again from zero)."""
        return self._event(subscriber_id, "enabled", by, reason)

    # -- reading -----------------------------------------------------------------------------------

    def get(self, subscriber_id: str) -> Subscriber:
        found = self.all(ids=[subscriber_id])
        if not found:
            raise SubscriberError(f"no subscriber {subscriber_id!r}")
        return found[0]

    def all(self, ids: Iterable[str] | None = None) -> list[Subscriber]:
        """Every subscriber (or those of ``ids``) with its derived state, ordered by id."""
        with self.store.session() as session:
            query = select(MediaSubscriberRow)
            wanted = list(ids) if ids is not None else None
            if wanted is not None:
                query = query.where(MediaSubscriberRow.id.in_(wanted))
            rows = session.scalars(query.order_by(MediaSubscriberRow.id)).all()
            events: dict[str, MediaSubscriberEventRow] = {}
            equery = select(MediaSubscriberEventRow).order_by(MediaSubscriberEventRow.id)
            if wanted is not None:
                equery = equery.where(MediaSubscriberEventRow.subscriber_id.in_(wanted))
            for ev in session.scalars(equery):
                events[ev.subscriber_id] = ev  # the latest wins
            okquery = (select(WebhookAttemptRow.subscriber_id, func.max(WebhookAttemptRow.id))
                       .where(WebhookAttemptRow.ok.is_(True)).group_by(WebhookAttemptRow.subscriber_id))
            if wanted is not None:
                okquery = okquery.where(WebhookAttemptRow.subscriber_id.in_(wanted))
            last_ok = dict(session.execute(okquery).all())
            failures: dict[str, list[WebhookAttemptRow]] = {}
            fquery = select(WebhookAttemptRow).where(WebhookAttemptRow.ok.is_(False)).order_by(WebhookAttemptRow.id)
            if wanted is not None:
                fquery = fquery.where(WebhookAttemptRow.subscriber_id.in_(wanted))
            for attempt in session.scalars(fquery):
                failures.setdefault(attempt.subscriber_id, []).append(attempt)
        out = []
        for row in rows:
            latest = events.get(row.id)
            since_enabled = _utc(latest.at) if latest is not None and latest.event == "enabled" else None
            streak = [a for a in failures.get(row.id, []) if a.id > last_ok.get(row.id, 0)
                      and (since_enabled is None or _utc(a.at) >= since_enabled)]
            disabled = latest is not None and latest.event == "disabled"
            out.append(Subscriber(id=row.id, url=row.url, secret=row.secret, countries=row.countries,
                                  languages=row.languages, created_at=_utc(row.created_at).isoformat(),
                                  active=not disabled, consecutive_failures=len(streak),
                                  disabled_reason=latest.reason if disabled else None,
                                  last_error=streak[-1].error if streak else None))
        return out

    def active(self) -> list[Subscriber]:
        return [s for s in self.all() if s.active]

    def acknowledged(self, webhook_ids: Iterable[str]) -> set[str]:
        """The message ids among ``webhook_ids`` that a subscriber acknowledged (2xx) at least once."""
        wanted = sorted(set(webhook_ids))
        found: set[str] = set()
        with self.store.session() as session:
            for start in range(0, len(wanted), 500):
                found.update(session.scalars(select(WebhookAttemptRow.webhook_id).where(
                    WebhookAttemptRow.webhook_id.in_(wanted[start:start + 500]), WebhookAttemptRow.ok.is_(True))))
        return found

    def attempts(self, subscriber_id: str | None = None, webhook_id: str | None = None) -> list[dict]:
        with self.store.session() as session:
            query = select(WebhookAttemptRow)
            if subscriber_id:
                query = query.where(WebhookAttemptRow.subscriber_id == subscriber_id)
            if webhook_id:
                query = query.where(WebhookAttemptRow.webhook_id == webhook_id)
            return [{c.key: getattr(r, c.key) for c in r.__table__.columns}
                    for r in session.scalars(query.order_by(WebhookAttemptRow.id))]

    # -- recording ---------------------------------------------------------------------------------

    def record(self, attempts: list[Attempt], *, election: str, version: str, kind: str,
               disable_after: int) -> list[str]:
        """Append ``attempts`` (one transaction), then disable every subscriber among them whose
        failures in a row reached ``disable_after``; returns the ids disabled now."""
        if not attempts:
            return []
        with self.store.session() as session, session.begin():
            session.execute(insert(WebhookAttemptRow), [
                {"subscriber_id": a.subscriber_id, "webhook_id": a.webhook_id, "election": election,
                 "version": version, "kind": kind, "at": _utc(a.at), "ok": a.ok, "status_code": a.status_code,
                 "error": (a.error or "")[:500] or None, "elapsed_ms": a.elapsed_ms} for a in attempts])
        failed = sorted({a.subscriber_id for a in attempts if not a.ok})
        disabled = []
        for subscriber in self.all(ids=failed) if failed else []:
            if subscriber.active and subscriber.consecutive_failures >= disable_after:
                self._event(subscriber.id, "disabled", "enr.media",
                            f"{subscriber.consecutive_failures} failed attempts in a row "
                            f"(last: {subscriber.last_error})")
                log.warning("subscriber %s disabled after %d failures in a row", subscriber.id,
                            subscriber.consecutive_failures)
                disabled.append(subscriber.id)
        return disabled
