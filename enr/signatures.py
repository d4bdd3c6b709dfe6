"""Authenticity of deliveries: detached GnuPG signatures by trusted senders only.

Every delivery ``<name>.csv`` comes with ``<name>.csv.asc``, an ASCII-armoured detached signature.
The *trusted keyring* is a GNUPGHOME (``settings.trusted_keys``) holding the public keys of the
results contractors. A delivery is accepted only when all of these hold:

* gpg reports a good signature over exactly these bytes (``valid`` and ``status``);
* the signing key is neither revoked nor expired (``key_status``; gpg's EXPKEYSIG / REVKEYSIG);
* the signer's fingerprint is **explicitly** one of the trusted keys: listed in the keyring's
  ``senders.json`` (``{fingerprint: {"name": ..., "countries": ["*"] | ["FR", ...]}}``) and, there,
  allowed to deliver for the country. The gpg trust database is *not* relied upon.

Each failure raises :class:`enr.delivery.DeliveryRejected` with its own rule: ``signature_missing``,
``signature_bad`` (tampered bytes, signature of another file, garbage), ``signer_unknown`` (key
not in the keyring), ``signer_revoked``, ``signer_expired``, ``signer_not_trusted`` (in the keyring
but not in ``senders.json``, or not for this country), ``signature_error`` (anything else).

gpg-agent keeps its socket inside GNUPGHOME, whose path must stay short (< ~100 bytes); a longer
home is reached through a short link under /tmp, a read-only one (production mounts the trusted
keyring read-only into the workers) through a private copy (:func:`gnupg_home`, :mod:`enr.gpghome`).
Tests stop the agents they started with :func:`enr.gpghome.kill_agent`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from enr.delivery import DeliveryRejected
from enr.gpghome import ShortHome

log = logging.getLogger(__name__)

SENDERS_FILE = "senders.json"
_KEYRING_FILES = ("pubring.kbx", "pubring.gpg", "trustdb.gpg", SENDERS_FILE)


@dataclass(frozen=True)
class SignatureCheck:
    """A good signature: who signed, when, with which key."""

    fingerprint: str
    signer: str
    key_id: str
    signed_at: str | None

    def as_dict(self) -> dict:
        return {"fingerprint": self.fingerprint, "signer": self.signer, "key_id": self.key_id,
                "signed_at": self.signed_at}


@contextlib.contextmanager
def gnupg_home(home: Path | str, *, writable: bool = False, options: list[str] | None = None) -> Iterator:
    """A ``gnupg.GPG`` on ``home``, through a short link (long home) or a private copy (read-only home):
    :class:`enr.gpghome.ShortHome`. ``writable=True``: the call changes the keyring (a key imported),
    refused on a read-only one (:class:`enr.gpghome.ReadOnlyKeyring`)."""
    import gnupg

    with ShortHome(home, writable=writable, prefix="enrg") as short:
        yield gnupg.GPG(gnupghome=short.path, options=options)


def trusted_senders(trusted_home: Path | str) -> dict[str, dict]:
    """The explicit list of trusted sender fingerprints (``senders.json`` of the trusted keyring)."""
    path = Path(trusted_home) / SENDERS_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {fpr.upper(): info for fpr, info in data.items()}


def trust_sender(trusted_home: Path | str, public_key: str, *, name: str = "", countries: tuple[str, ...] = ("*",)) -> str:
    """Import a sender's public key into the trusted keyring and list its fingerprint; return it."""
    with gnupg_home(trusted_home, writable=True) as gpg:
        result = gpg.import_keys(public_key)
        fingerprints = [f for f in (result.fingerprints or []) if f]
        if not fingerprints:
            raise ValueError(f"no key could be imported into {trusted_home}: {result.stderr[-300:]}")
    fingerprint = fingerprints[0].upper()
    senders = trusted_senders(trusted_home)
    senders[fingerprint] = {"name": name, "countries": list(countries)}
    _write_senders(Path(trusted_home), senders)
    return fingerprint


def _write_senders(home: Path, senders: dict) -> None:
    tmp = home / (SENDERS_FILE + ".tmp")
    tmp.write_text(json.dumps(senders, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, home / SENDERS_FILE)


def generate_key(home: Path | str, *, name: str, email: str, expire: str = "1y",
                 options: list[str] | None = None) -> str:
    """A new ed25519 signing key without passphrase in ``home``; returns its fingerprint."""
    with gnupg_home(home, writable=True, options=options) as gpg:
        key = gpg.gen_key(gpg.gen_key_input(name_real=name, name_email=email, key_type="EDDSA",
                                            key_curve="ed25519", key_usage="sign", expire_date=expire,
                                            no_protection=True))
        if not key.fingerprint:
            raise RuntimeError(f"gpg could not create a key in {home}: {key.stderr[-300:]}")
        return key.fingerprint


def export_public_key(home: Path | str, fingerprint: str) -> str:
    with gnupg_home(home) as gpg:
        armored = gpg.export_keys(fingerprint)
    if not armored:
        raise LookupError(f"no public key {fingerprint} in {home}")
    return armored


def ensure_demo_sender_key(sender_home: Path | str, trusted_home: Path | str, *,
                           name: str = "Demo results contractor", email: str = "contractor@example.invalid",
                           countries: tuple[str, ...] = ("*",)) -> str:
    """A throwaway sender key (ed25519, no passphrase) in ``sender_home``, trusted by ``trusted_home``.

    Idempotent: an existing secret key of ``sender_home`` is reused. Returns its fingerprint.
    """
    sender_home = Path(sender_home)
    with gnupg_home(sender_home) as gpg:
        secret = gpg.list_keys(secret=True)
    fingerprint = secret[0]["fingerprint"] if secret else generate_key(sender_home, name=name, email=email)
    if fingerprint.upper() not in trusted_senders(trusted_home):
        trust_sender(trusted_home, export_public_key(sender_home, fingerprint), name=name, countries=countries)
    return fingerprint


def sign_bytes(data: bytes, sender_home: Path | str, *, keyid: str | None = None,
               options: list[str] | None = None) -> bytes:
    """A detached ASCII-armoured signature of ``data`` by the (first) secret key of ``sender_home``."""
    with gnupg_home(sender_home, options=options) as gpg:
        if keyid is None:
            secret = gpg.list_keys(secret=True)
            if not secret:
                raise LookupError(f"no secret key in {sender_home}")
            keyid = secret[0]["fingerprint"]
        result = gpg.sign(data, keyid=keyid, detach=True, binary=False)
        if result.status != "signature created" or not result.data:
            raise RuntimeError(f"signing failed in {sender_home}: status {result.status!r}")
        return result.data


def sign_delivery(path: Path | str, sender_home: Path | str, *, keyid: str | None = None) -> Path:
    """Write ``<path>.asc`` beside ``path`` and return it."""
    path = Path(path)
    signature = path.with_name(path.name + ".asc")
    signature.write_bytes(sign_bytes(path.read_bytes(), sender_home, keyid=keyid))
    return signature


def verify_delivery(data: bytes, signature: bytes | None, trusted_home: Path | str, *,
                    country: str | None = None, file: str | None = None) -> SignatureCheck:
    """Check the detached ``signature`` of ``data`` against the trusted senders; raise on any doubt."""
    if not signature:
        raise DeliveryRejected("signature_missing", "no detached signature (<name>.csv.asc) came with the delivery",
                               file=file, expected="<name>.csv.asc", found=None)
    if b"-----BEGIN PGP SIGNATURE-----" not in signature[:200]:
        raise DeliveryRejected("signature_bad", "the .asc file is not an ASCII-armoured PGP signature",
                               file=file, expected="-----BEGIN PGP SIGNATURE-----", found=signature[:40].decode("latin-1"))
    senders = trusted_senders(trusted_home)
    tmp = Path(tempfile.mkdtemp(prefix="enrv", dir="/tmp"))
    try:
        sig_path = tmp / "delivery.asc"
        sig_path.write_bytes(signature)
        with gnupg_home(trusted_home) as gpg:
            result = gpg.verify_data(str(sig_path), data)
            keys = {k["fingerprint"].upper(): k for k in gpg.list_keys()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fingerprint = (result.pubkey_fingerprint or result.fingerprint or "").upper()
    found = {"status": result.status, "key_status": result.key_status, "fingerprint": fingerprint or None,
             "key_id": result.key_id}
    if result.key_status == "signing key was revoked":
        raise DeliveryRejected("signer_revoked", f"signed by a revoked key ({fingerprint})", file=file,
                               expected="a valid trusted key", found=found)
    if result.key_status == "signing key has expired":
        raise DeliveryRejected("signer_expired", f"signed by an expired key ({fingerprint})", file=file,
                               expected="a valid trusted key", found=found)
    if result.status == "no public key":
        raise DeliveryRejected("signer_unknown", f"signed by a key that is not in the trusted keyring "
                               f"({result.key_id})", file=file, expected="a trusted sender's key", found=found)
    if result.status == "signature bad":
        raise DeliveryRejected("signature_bad", "the signature does not match the bytes (tampered, or the "
                               "signature of another file)", file=file, expected="signature good", found=found)
    if not result.valid or result.status not in ("signature valid", "signature good"):
        raise DeliveryRejected("signature_error", f"gpg could not verify the signature: {result.status}",
                               file=file, expected="signature valid", found=found)
    if fingerprint not in keys or keys[fingerprint].get("trust") in ("r", "e"):
        raise DeliveryRejected("signer_not_trusted", "the signing key is not a usable key of the trusted keyring",
                               file=file, expected="a trusted sender's key", found=found)
    sender = senders.get(fingerprint)
    if sender is None:
        raise DeliveryRejected("signer_not_trusted", f"{fingerprint} is not listed in {SENDERS_FILE}",
                               file=file, expected=sorted(senders), found=found)
    allowed = sender.get("countries") or ["*"]
    if country is not None and "*" not in allowed and country not in allowed:
        raise DeliveryRejected("signer_not_trusted", f"{fingerprint} may not deliver for {country}", file=file,
                               expected=allowed, found=country)
    return SignatureCheck(fingerprint=fingerprint, signer=result.username or sender.get("name", ""),
                          key_id=result.key_id or "", signed_at=result.sig_timestamp)
