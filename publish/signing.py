"""Detached, ASCII-armoured GnuPG signatures of published files (python-gnupg over the system gpg).

Two gpg pitfalls are handled (see the project's Airflow notes, section 6):

* **socket path length** and **read-only keyrings**: gpg-agent puts its unix socket inside
  GNUPGHOME; a long home is reached through a short symlink in ``/tmp`` and a read-only one through
  a private copy (:mod:`enr.gpghome`, shared with the intake's signature checks).
* **silent failures**: python-gnupg does not raise when signing fails (wrong passphrase, no
  secret key): the result's ``status`` is then not ``"signature created"``. We check it and raise
  :class:`SigningError` with gpg's own message.

The agent started for a home is stopped by :meth:`Signer.close` (or leaving the ``with`` block).

A production signing key has a passphrase: :class:`Signer` takes ``passphrase_file`` (the
deployment passes ``ENR_SIGNING_PASSPHRASE_FILE``, a secret mounted only into the signing worker)
and reads it at each signature, never before, so the passphrase is not kept in memory in between.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gnupg

from enr.gpghome import ShortHome, kill_agent

log = logging.getLogger(__name__)

DEMO_UID_NAME = "enr-ep demo signing key"
DEMO_UID_EMAIL = "signing@enr-ep.invalid"


class SigningError(RuntimeError):
    """gpg could not sign or verify (the message carries gpg's status and last stderr lines)."""


class GpgHome:
    """A ``gnupg.GPG`` on ``home`` whatever its length or mount (:class:`enr.gpghome.ShortHome`);
    ``close()`` stops its agent and drops the link or copy."""

    def __init__(self, home: Path):
        self._short = ShortHome(home, prefix="enrpub-g")
        self.home = self._short.home
        self.path = self._short.path
        self.gpg = gnupg.GPG(gnupghome=self.path)
        self.gpg.encoding = "utf-8"

    def close(self) -> None:
        if not self._short.temporary:
            kill_agent(self.path)
        self._short.close()

    def __enter__(self) -> "GpgHome":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tail(stderr: str | None, lines: int = 4) -> str:
    return " | ".join((stderr or "").strip().splitlines()[-lines:])


class Signer:
    """Signs files with one secret key of a keyring.

    ``fingerprint`` None means the keyring's first secret key (the deployment keeps exactly one).
    """

    def __init__(self, gnupghome: Path, fingerprint: str | None = None, passphrase_file: Path | str | None = None):
        self.passphrase_file = Path(passphrase_file) if passphrase_file else None
        self._home = GpgHome(Path(gnupghome))
        secret = self._home.gpg.list_keys(secret=True)
        if fingerprint is None:
            if not secret:
                self._home.close()
                raise SigningError(f"{gnupghome}: no secret key in this keyring; import the publisher's key "
                                   f"or create a demo key with ensure_demo_signing_key()")
            fingerprint = secret[0]["fingerprint"]
        elif fingerprint.upper() not in {k["fingerprint"].upper() for k in secret}:
            self._home.close()
            raise SigningError(f"{gnupghome}: no secret key with fingerprint {fingerprint}")
        self.fingerprint = fingerprint.upper()
        self.gnupghome = Path(gnupghome)

    @property
    def gpg(self) -> gnupg.GPG:
        return self._home.gpg

    def _passphrase(self, given: str | None) -> str | None:
        """The passphrase of this signature: ``given``, else the first line of ``passphrase_file``."""
        if given is not None or self.passphrase_file is None:
            return given
        try:
            return self.passphrase_file.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as exc:
            raise SigningError(f"cannot read the signing passphrase from {self.passphrase_file}: {exc}") from exc

    def sign_file(self, path: Path, output: Path | None = None, passphrase: str | None = None) -> Path:
        """Write ``<path>.asc`` (or ``output``): a detached ASCII-armoured signature of ``path``."""
        path = Path(path)
        output = Path(output) if output else path.with_name(path.name + ".asc")
        with path.open("rb") as handle:
            result = self.gpg.sign_file(handle, keyid=self.fingerprint, detach=True, binary=False,
                                        output=str(output), passphrase=self._passphrase(passphrase))
        if result.status != "signature created":
            raise SigningError(f"{path}: signing with {self.fingerprint} failed: status={result.status!r}; "
                               f"{_tail(result.stderr)}")
        log.info("signed file=%s key=%s", path, self.fingerprint)
        return output

    def sign_bytes(self, data: bytes, passphrase: str | None = None) -> bytes:
        result = self.gpg.sign(data, keyid=self.fingerprint, detach=True, binary=False,
                               passphrase=self._passphrase(passphrase))
        if result.status != "signature created":
            raise SigningError(f"signing with {self.fingerprint} failed: status={result.status!r}; "
                               f"{_tail(result.stderr)}")
        return result.data

    def public_key(self) -> str:
        """The ASCII-armoured public key, published beside the data (publisher-key.asc)."""
        exported = self.gpg.export_keys(self.fingerprint)
        if not exported:
            raise SigningError(f"cannot export public key {self.fingerprint}")
        return exported

    def close(self) -> None:
        self._home.close()

    def __enter__(self) -> "Signer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ensure_demo_signing_key(gnupghome: Path) -> str:
    """A throwaway ed25519 signing key without passphrase in ``gnupghome`` (created once); its fingerprint.

    For local runs, rehearsals and tests only: the production key is imported, never generated.
    """
    with GpgHome(Path(gnupghome)) as home:
        for key in home.gpg.list_keys(secret=True):
            if any(DEMO_UID_NAME in uid for uid in key.get("uids", [])):
                return key["fingerprint"]
        result = home.gpg.gen_key(home.gpg.gen_key_input(
            name_real=DEMO_UID_NAME, name_email=DEMO_UID_EMAIL, key_type="EDDSA", key_curve="ed25519",
            key_usage="sign", expire_date="2y", no_protection=True))
        if not result.fingerprint:
            raise SigningError(f"{gnupghome}: demo key generation failed: {_tail(result.stderr)}")
        log.info("created demo signing key home=%s fingerprint=%s", gnupghome, result.fingerprint)
        return result.fingerprint


@dataclass(frozen=True)
class SignatureCheck:
    valid: bool
    status: str
    fingerprint: str  # the key that made the signature (may be a signing subkey)
    username: str
    primary_fingerprint: str = ""  # its primary key: what a publisher's fingerprint pins

    def by(self, fingerprints: set[str]) -> bool:
        """A valid signature by one of ``fingerprints`` (primary key, or the signing key itself)."""
        return self.valid and bool({self.fingerprint, self.primary_fingerprint} & {f.upper() for f in fingerprints})


def verify_detached(keyring_home: Path, data: bytes, signature: bytes) -> SignatureCheck:
    """Check a detached signature of ``data`` against the public keys in ``keyring_home``."""
    with GpgHome(Path(keyring_home)) as home, tempfile.TemporaryDirectory(prefix="enrpub-v", dir="/tmp") as tmp:
        data_path = Path(tmp) / "data"
        sig_path = Path(tmp) / "data.asc"
        data_path.write_bytes(data)
        sig_path.write_bytes(signature)
        with sig_path.open("rb") as handle:
            result = home.gpg.verify_file(handle, str(data_path))
        return SignatureCheck(valid=bool(result.valid), status=str(result.status or ""),
                              fingerprint=(result.fingerprint or "").upper(), username=result.username or "",
                              primary_fingerprint=(result.pubkey_fingerprint or result.fingerprint or "").upper())


def import_public_key(keyring_home: Path, armoured: str | bytes) -> list[str]:
    """Import public key(s) into a verifying keyring; the imported fingerprints."""
    with GpgHome(Path(keyring_home)) as home:
        result = home.gpg.import_keys(armoured if isinstance(armoured, str) else armoured.decode("ascii"))
        return [fp.upper() for fp in result.fingerprints]
