"""The demo's stand-ins for the people around the night: the key holders and the contractor.

A demo, a rehearsal, a benchmark or a test has no contractor and no key ceremony: it makes
throwaway keys (a sender key the inbox trusts, the publisher's signing key) and drops signed
deliveries into the export bucket's ``inbox/`` as the contractor would. Never for a real night.
"""
from __future__ import annotations

from pathlib import Path

from enr.pipeline import export_bucket
from enr.settings import get_settings


def ensure_demo_keys() -> dict:
    """Throwaway demo keys: a sender key the inbox trusts, and the publisher's signing key."""
    from enr.signatures import ensure_demo_sender_key
    from publish.signing import ensure_demo_signing_key

    settings = get_settings()
    sender_home = settings.home / "keys" / "sender"
    sender = ensure_demo_sender_key(sender_home, settings.trusted_keys)
    signing = ensure_demo_signing_key(settings.signing_home)
    return {"sender_home": sender_home, "sender_fingerprint": sender,
            "signing_home": settings.signing_home, "signing_fingerprint": signing}


def drop_into_inbox(files: list[Path]) -> None:
    """Put deliveries into the inbox as a contractor would: the data first, the signature last."""
    bucket = export_bucket()
    for path in sorted(files):
        if path.suffix == ".asc":
            continue
        bucket.write(f"inbox/{path.name}", path.read_bytes())
        signature = path.with_name(path.name + ".asc")
        if signature.exists():
            bucket.write(f"inbox/{signature.name}", signature.read_bytes())
