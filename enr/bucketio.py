"""A minimal bucket for the intake: keys under a local folder, addressed by a ``file://`` URL.

Keys are relative POSIX paths (``inbox/ep2019-FR-0001.csv``). A key that could leave the bucket
(absolute, ``..``, empty segments, backslashes, NUL) is refused with :class:`UnsafeKey` before any
file-system call, so a hostile delivery name can never touch anything outside the bucket.

Writes are atomic (temporary file + ``os.replace``). :meth:`Bucket.write_once` never overwrites:
it is how ``deliveries/`` stays immutable. ``publish/bucket.py`` has the same purpose for the
publication side; this one stays small so that it can be swapped for it (or for an object store)
without touching the intake.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath


class UnsafeKey(ValueError):
    """A key that is not a plain relative path inside the bucket."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`UnsafeKey`."""
    if not isinstance(key, str) or not key or len(key) > 1024:
        raise UnsafeKey(f"not a key: {key!r}")
    if "\x00" in key or "\\" in key or key.startswith("/") or key.endswith("/"):
        raise UnsafeKey(f"unsafe key: {key!r}")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafeKey(f"unsafe key: {key!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise UnsafeKey(f"unsafe key (control character): {key!r}")
    return key


class Bucket:
    """Local-folder bucket: ``Bucket("file:///srv/enr/bucket")`` or ``Bucket(Path(...))``."""

    def __init__(self, url: str | os.PathLike) -> None:
        if isinstance(url, os.PathLike):
            root = Path(url)
            self.url = f"file://{Path(url).resolve()}"
        elif url.startswith("file://"):
            root = Path(url.removeprefix("file://"))
            self.url = url
        else:
            raise ValueError(f"enr.bucketio.Bucket handles file:// URLs only, not {url!r}")
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"Bucket({self.url!r})"

    def path(self, key: str) -> Path:
        """The local path of ``key`` (checked to stay inside the bucket)."""
        check_key(key)
        path = self.root.joinpath(*PurePosixPath(key).parts)
        # Symlinks inside the bucket must not lead out of it either.
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise UnsafeKey(f"key leaves the bucket: {key!r}")
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def mtime(self, key: str) -> float:
        return self.path(key).stat().st_mtime

    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` at ``key`` atomically (replacing what was there); return the key."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return key

    def write_once(self, key: str, data: bytes) -> bool:
        """Write ``data`` at ``key`` unless the key exists; True if written.

        An existing key is never overwritten (``deliveries/`` is immutable); its content is
        expected to be the same bytes, because such keys embed the content's SHA-256.
        """
        path = self.path(key)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.link(tmp, path)  # fails if the key appeared meanwhile: no overwrite, ever
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)
        return True

    # the names of publish/bucket.py, so that either can be passed around
    def read(self, key: str) -> bytes:
        return self.read_bytes(key)

    def write(self, key: str, data: bytes) -> None:
        self.write_bytes(key, data)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        """Names of the files directly under the folder ``prefix`` (sorted; no recursion)."""
        folder = self.path(prefix.rstrip("/"))
        if not folder.is_dir():
            return []
        return sorted(entry.name for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith(".tmp-"))

    def walk(self, prefix: str) -> list[str]:
        """Every file key under ``prefix`` (recursive, sorted)."""
        folder = self.path(prefix.rstrip("/"))
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith(".tmp-"))

    # -- raw folder entries (the inbox may hold files with any name a sender chose) ----------------

    def entries(self, prefix: str) -> list[str]:
        """Raw names of the regular files directly under ``prefix`` (names not checked; hidden files
        such as uploaders' temporary ``.name.XXXX`` are left alone)."""
        folder = self.path(prefix.rstrip("/"))
        if not folder.is_dir():
            return []
        return sorted(name for name in os.listdir(folder)
                      if not name.startswith(".") and (folder / name).is_file() and not (folder / name).is_symlink())

    def entry_path(self, prefix: str, name: str) -> Path:
        """The path of the entry ``name`` of folder ``prefix``; refused unless it is a regular file
        listed in that folder (so no separator, no ``..``, no symlink out of the bucket)."""
        folder = self.path(prefix.rstrip("/"))
        if not isinstance(name, str) or "/" in name or "\x00" in name or name in ("", ".", ".."):
            raise UnsafeKey(f"not a plain file name: {name!r}")
        path = folder / name
        if path.is_symlink():
            raise UnsafeKey(f"{prefix}/{name!r} is a symbolic link: not followed")
        if not path.is_file() or name not in os.listdir(folder):
            raise FileNotFoundError(f"{prefix}/{name!r}: no such regular file")
        return path

    def move_entry(self, prefix: str, name: str, key: str) -> str:
        """Move the raw entry ``name`` of ``prefix`` to ``key`` (which must not exist)."""
        source = self.entry_path(prefix, name)
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise FileExistsError(key)
        os.replace(source, target)
        return key

    def remove_entry(self, prefix: str, name: str) -> None:
        try:
            self.entry_path(prefix, name).unlink()
        except FileNotFoundError:
            pass
