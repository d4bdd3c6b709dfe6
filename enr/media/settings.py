"""Settings of the push to the media, read from the environment at call time (docs/CONTRACTS.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from enr.settings import get_settings
from publish.bucket import Bucket


@dataclass(frozen=True)
class MediaSettings:
    public_base_url: str      # the public/ folder as readers reach it: feed URLs in the webhooks
    websub_hub: str | None    # the WebSub hub the Atom feed advertises and each publication pings
    timeout: float            # seconds per HTTP attempt (connect and each read)
    disable_after: int        # failed attempts in a row after which a subscriber is disabled
    batch_size: int           # subscribers per mapped delivery task


def _number(name: str, default: str, kind=float):
    raw = os.environ.get(name, "").strip() or default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be positive")
    return value


def export_bucket() -> Bucket:
    """The export bucket (``ENR_BUCKET_URL``), where the publications the media hear of are read."""
    return Bucket(get_settings().bucket_url)


def public_base_url() -> str:
    """``ENR_PUBLIC_BASE_URL`` (e.g. ``https://results.example.eu/public``), else the export
    bucket's own ``public/`` URL (fine on one machine, not what readers on the internet see)."""
    configured = os.environ.get("ENR_PUBLIC_BASE_URL", "").strip()
    if configured:
        return configured.rstrip("/")
    return export_bucket().url_of("public")


def get_media_settings() -> MediaSettings:
    return MediaSettings(public_base_url=public_base_url(),
                         websub_hub=os.environ.get("ENR_WEBSUB_HUB", "").strip() or None,
                         timeout=_number("ENR_WEBHOOK_TIMEOUT_SECONDS", "3"),
                         disable_after=_number("ENR_WEBHOOK_DISABLE_AFTER", "10", int),
                         batch_size=_number("ENR_WEBHOOK_BATCH_SIZE", "50", int))
