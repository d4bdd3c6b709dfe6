"""One gpg-home helper (enr/gpghome.py) for the intake's keyrings and the publisher's.

A short writable home is used in place; a long one through a short link (what gpg writes lands in
the keyring); a read-only one through a private copy without another agent's sockets and locks,
and a write to it is refused up front. Both users (enr.signatures, publish.signing) go through it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from enr import gpghome
from enr.gpghome import MAX_HOME_LENGTH, ReadOnlyKeyring, ShortHome, kill_agent


def _long(tmp_path: Path) -> Path:
    home = tmp_path / ("k" * (MAX_HOME_LENGTH + 10)) / "keyring"
    assert len(str(home)) > MAX_HOME_LENGTH
    return home


def test_a_short_writable_home_is_used_in_place(tmp_path):
    home = Path("/tmp") / f"enrt{os.getpid()}"
    try:
        with ShortHome(home) as short:
            assert short.path == str(home.resolve()) and not short.temporary
            assert oct(home.stat().st_mode & 0o777) == "0o700"
        assert home.is_dir()  # never removed: it is the keyring
    finally:
        home.rmdir()


def test_a_long_home_is_reached_through_a_short_link_removed_afterwards(tmp_path):
    home = _long(tmp_path)
    with ShortHome(home, writable=True) as short:
        assert short.temporary and len(short.path) <= MAX_HOME_LENGTH
        assert Path(short.path).is_symlink() and Path(short.path).resolve() == home.resolve()
        (Path(short.path) / "pubring.kbx").write_bytes(b"written through the link")
    assert not Path(short.path).exists() and not Path(short.path).parent.exists()
    assert (home / "pubring.kbx").read_bytes() == b"written through the link"


def test_a_read_only_home_is_used_through_a_copy_and_never_written(tmp_path, monkeypatch):
    home = tmp_path / "ro"
    home.mkdir()
    (home / "pubring.kbx").write_bytes(b"keys")
    (home / "private-keys-v1.d").mkdir()
    (home / "private-keys-v1.d" / "A.key").write_bytes(b"secret")
    (home / "S.gpg-agent").write_bytes(b"")  # another agent's socket
    (home / "pubring.kbx.lock").write_bytes(b"")
    real_access = os.access
    monkeypatch.setattr(gpghome.os, "access", lambda p, mode: False if Path(p) == home.resolve() and mode == os.W_OK
                        else real_access(p, mode))
    with pytest.raises(ReadOnlyKeyring) as refused:
        ShortHome(home, writable=True)
    assert refused.value.strerror == "Permission denied" and refused.value.filename == str(home.resolve())
    with ShortHome(home) as short:
        copy = Path(short.path)
        assert short.temporary and not copy.is_symlink() and copy.resolve() != home.resolve()
        assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == \
            ["private-keys-v1.d", "private-keys-v1.d/A.key", "pubring.kbx"]
        (copy / "pubring.kbx").write_bytes(b"changed in the copy")
    assert not copy.exists() and (home / "pubring.kbx").read_bytes() == b"keys"


def test_both_keyring_users_sign_and_verify_through_a_long_home(tmp_path):
    """A sender key made and trusted in long homes (the intake's side) and a publisher key (the
    publisher's side): gpg works through the links, and the keys stay in the long homes."""
    from enr.signatures import ensure_demo_sender_key, sign_bytes, verify_delivery
    from publish.signing import Signer, ensure_demo_signing_key, verify_detached

    sender, trusted, publisher = (_long(tmp_path) / name for name in ("sender", "trusted", "publisher"))
    try:
        ensure_demo_sender_key(sender, trusted)
        assert any(trusted.glob("pubring.*"))
        data = b"election,country\nep2019,MT\n"
        check = verify_delivery(data, sign_bytes(data, sender), trusted, country="MT")
        assert len(check.fingerprint) == 40

        fingerprint = ensure_demo_signing_key(publisher)
        with Signer(publisher) as signer:
            signature = signer.sign_bytes(data)
        assert verify_detached(publisher, data, signature).by({fingerprint})
        assert not verify_detached(publisher, data + b" ", signature).valid
    finally:
        for home in (sender, trusted, publisher):
            kill_agent(home)
