"""A GNUPGHOME that gpg can use, wherever the keyring lies: one answer to gpg's two pitfalls.

* **Socket path length**: gpg-agent puts its unix socket inside GNUPGHOME, and a unix socket path is
  limited to about 107 bytes: with a home longer than :data:`MAX_HOME_LENGTH` characters gpg fails
  ("No agent running", "can't connect to the agent"). Such a home is reached through a short
  symlink under /tmp (``/tmp/enrg…/h``): the keyring itself stays where it is, and what gpg writes
  (imported keys, trust) lands in it.
* **Read-only keyrings**: gpg writes lock files and its agent's socket into GNUPGHOME, so a keyring
  mounted read-only (docker/compose.yaml mounts the trusted and the verifying keyrings ``:ro``) is
  used through a private copy under /tmp, without the sockets and lock files of another agent;
  nothing written there is kept, and asking to write (``writable=True``) is refused up front.

:class:`ShortHome` gives that path (``.path``); leaving it (``close()`` or the ``with`` block) stops
the agent started on a temporary path and removes the link or the copy. A short writable home is
used as it is, and its agent is left running (the caller may stop it with :func:`kill_agent`).
Used by the intake's signature checks (:mod:`enr.signatures`) and the publisher's signing
(:mod:`publish.signing`). Nothing here imports Airflow or python-gnupg.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

MAX_HOME_LENGTH = 60
_NOT_COPIED = shutil.ignore_patterns("S.*", "*.lock", ".#*")  # another agent's sockets, gpg's lock files


class ReadOnlyKeyring(OSError):
    """A keyring that must be written to (a key imported, a sender trusted) is read-only: its errno is
    EROFS on a read-only mount, EACCES when only the permissions forbid it."""

    def __init__(self, home: Path):
        mounted_ro = bool(os.statvfs(home).f_flag & os.ST_RDONLY)
        code = errno.EROFS if mounted_ro else errno.EACCES
        super().__init__(code, os.strerror(code), str(home))


def kill_agent(home: Path | str) -> None:
    """Stop the gpg-agent of ``home`` (harmless when none runs, or without gpgconf)."""
    if shutil.which("gpgconf"):
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)},
                       capture_output=True, timeout=30, check=False)


class ShortHome:
    """The path under which gpg uses the keyring ``home`` (created, mode 0700, if missing)."""

    def __init__(self, home: Path | str, *, writable: bool = False, prefix: str = "enrg"):
        self.home = Path(home).resolve()
        self._temporary: str | None = None
        if self.home.is_dir() and not os.access(self.home, os.W_OK):
            if writable:
                raise ReadOnlyKeyring(self.home)
            self._temporary = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
            copy = Path(self._temporary) / "h"
            shutil.copytree(self.home, copy, ignore=_NOT_COPIED)
            os.chmod(copy, 0o700)
            self.path = str(copy)
            return
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)
        if len(str(self.home)) > MAX_HOME_LENGTH:
            self._temporary = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
            link = Path(self._temporary) / "h"
            link.symlink_to(self.home, target_is_directory=True)
            self.path = str(link)
        else:
            self.path = str(self.home)

    @property
    def temporary(self) -> bool:
        """Whether gpg works through a link or a copy (removed by :meth:`close`)."""
        return self._temporary is not None

    def close(self) -> None:
        """Stop the agent of a temporary path and remove the path (idempotent)."""
        if self._temporary:
            kill_agent(self.path)
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> "ShortHome":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
