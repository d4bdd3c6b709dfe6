"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec 1.0.0, symmetric ``v1``).

A webhook is an HTTP POST whose body is signed with a secret shared by the sender and one
subscriber. Three headers carry what the receiver needs:

* ``webhook-id``: the message id, the same on every retry of one message (a receiver uses it to
  drop duplicates and replays);
* ``webhook-timestamp``: integer seconds since the epoch when this attempt was signed (a receiver
  refuses one too far from its clock, 5 minutes by default, so a captured request cannot be
  replayed later);
* ``webhook-signature``: space-separated ``v1,<base64>`` values, each the HMAC-SHA256 of
  ``"{id}.{timestamp}.{body}"`` with the secret's key; one match is enough (secret rotation).

The secret is ``whsec_`` followed by the base64 of 24 to 64 random bytes; the HMAC key is those
bytes (the base64 decoded), not the text. The spec's own test vector is checked by
``tests/test_media_signature.py``. The receiver example (``examples/media_receiver.py``) keeps its
own stdlib copy of :func:`verify` so that a newsroom can take that one file alone.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(ValueError):
    """A webhook that must not be trusted: missing header, bad timestamp, no matching signature."""


def generate_secret(nbytes: int = 32) -> str:
    """A new ``whsec_<base64>`` secret of ``nbytes`` random bytes (24..64, as the spec allows)."""
    if not 24 <= nbytes <= 64:
        raise ValueError("a Standard Webhooks secret has 24 to 64 bytes")
    return PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional, as in the reference libraries)."""
    text = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc
    if not key:
        raise ValueError("empty webhook secret")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value ``v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>``."""
    payload = body.encode("utf-8") if isinstance(body, str) else body
    mac = hmac.new(secret_key(secret), f"{msg_id}.{int(timestamp)}.".encode("utf-8") + payload, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt (signed now unless ``timestamp`` is given)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, msg_id, stamp, body)}


def verify(secret: str, received: dict[str, str], body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> str:
    """Check one received webhook; return its ``webhook-id`` or raise :class:`WebhookVerificationError`.

    Header names are matched case-insensitively; the timestamp must be within ``tolerance``
    seconds of ``now`` (either side); one of the ``v1`` signatures must match (compared in
    constant time)."""
    lower = {k.lower(): v for k, v in received.items()}
    msg_id, stamp, signatures = (lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"webhook-timestamp {stamp!r} is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(f"webhook-timestamp {timestamp} is more than {tolerance} s from now "
                                       f"({int(current)}): stale or replayed")
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode("ascii", "replace"), expected):
            return msg_id
    raise WebhookVerificationError("no webhook-signature matches the body (forged, or another secret)")
