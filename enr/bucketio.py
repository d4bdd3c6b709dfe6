"""The intake's bucket: :class:`enr.bucket.Bucket` plus the inbox, where senders drop files under any name.

Every key the intake writes (``deliveries/``, ``quarantine/``, ``results/``) goes through the core
bucket and its one key rule (:func:`enr.bucket.check_key`). The inbox is different: its files
are named by senders, so they are listed and addressed as raw *entries* of the ``inbox`` folder
(:meth:`Bucket.entries`, :meth:`Bucket.entry_path`), refused with :class:`UnsafeKey` unless the
name is a plain file name of that folder, and never followed through a symbolic link. A
processed entry leaves the inbox by :meth:`Bucket.move_entry` (quarantine) or by being removed
after its copy was archived with :meth:`Bucket.write_once` (``deliveries/`` is immutable).

``Bucket("file:///srv/enr/bucket")``, ``Bucket(Path(...))`` or ``Bucket("s3://...")``; on an object
store an entry is an :class:`_ObjectEntry` with the few path methods the intake uses.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from enr import bucket as core
from enr.bucket import UnsafeKey, check_key

__all__ = ["Bucket", "UnsafeKey", "check_key", "open_bucket"]


def _plain_name(name: str) -> str:
    """``name`` if it can name an entry of a folder (no separator, no NUL, not ``.``/``..``)."""
    if not isinstance(name, str) or "/" in name or "\x00" in name or name in ("", ".", ".."):
        raise UnsafeKey(f"not a plain file name: {name!r}")
    return name


class _ObjectEntry:
    """An inbox entry in an object store, with the few path methods the intake uses."""

    def __init__(self, bucket: "Bucket", key: str) -> None:
        self._bucket = bucket
        self.key = key

    def stat(self) -> os.stat_result:
        return self._bucket.stat(self.key)

    def read_bytes(self) -> bytes:
        return self._bucket.read(self.key)

    def open(self, mode: str = "rb"):
        if mode != "rb":
            raise ValueError("object entries are read-only here")
        return io.BytesIO(self.read_bytes())

    def unlink(self, missing_ok: bool = False) -> None:
        if not self._bucket.exists(self.key):
            if missing_ok:
                return
            raise FileNotFoundError(self.key)
        self._bucket.delete(self.key)

    def is_symlink(self) -> bool:
        return False


class Bucket(core.Bucket):
    """The core bucket with the inbox's raw entries, under the names the intake uses."""

    @property
    def root(self) -> Path:
        """The local folder of the bucket (local buckets only)."""
        return self.local_path("")

    def read_bytes(self, key: str) -> bytes:
        return self.read(key)

    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` at ``key`` atomically (replacing what was there); return the key. Not flushed
        to disk one by one, as the intake always wrote (the results store is its commit point)."""
        self.write(key, data, durable=False)
        return key

    def walk(self, prefix: str) -> list[str]:
        """Every file key under ``prefix`` (recursive, sorted)."""
        return self.list(prefix)

    # -- raw folder entries (the inbox may hold files with any name a sender chose) ----------------

    def entries(self, prefix: str) -> list[str]:
        """Raw names of the regular files directly under ``prefix`` (names not checked; hidden files
        such as uploaders' temporary ``.name.XXXX`` are left alone)."""
        if self.local_root is None:
            base = check_key(prefix, folder=True) + "/"
            return sorted({key[len(base):] for key in self.list(prefix)
                           if "/" not in key[len(base):] and not key[len(base):].startswith(".")})
        folder = self.local_path(prefix)
        if not folder.is_dir():
            return []
        return sorted(name for name in os.listdir(folder)
                      if not name.startswith(".") and (folder / name).is_file() and not (folder / name).is_symlink())

    def entry_path(self, prefix: str, name: str) -> "Path | _ObjectEntry":
        """The entry ``name`` of folder ``prefix``; refused unless it is a regular file listed in
        that folder (so no separator, no ``..``, no symlink out of the bucket)."""
        _plain_name(name)
        if self.local_root is None:
            key = check_key(f"{check_key(prefix, folder=True)}/{name}")
            if not self.exists(key):
                raise FileNotFoundError(f"{prefix}/{name!r}: no such object")
            return _ObjectEntry(self, key)
        folder = self.local_path(prefix)
        path = folder / name
        if path.is_symlink():
            raise UnsafeKey(f"{prefix}/{name!r} is a symbolic link: not followed")
        if not path.is_file() or name not in os.listdir(folder):
            raise FileNotFoundError(f"{prefix}/{name!r}: no such regular file")
        return path

    def move_entry(self, prefix: str, name: str, key: str) -> str:
        """Move the raw entry ``name`` of ``prefix`` to ``key`` (which must not exist)."""
        source = self.entry_path(prefix, name)
        if self.exists(key):
            raise FileExistsError(key)
        if isinstance(source, _ObjectEntry):
            self.copy(source.key, key)
            self.delete(source.key)
            return key
        target = self._local(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        return key


def open_bucket(url: str) -> Bucket:
    """The intake's bucket for ``url``: a local folder for ``file://``, an object store otherwise."""
    return Bucket(url)
