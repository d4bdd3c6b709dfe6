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


class _Inbox:
    """What both buckets do the same way through their own ``entry_path``."""

    def remove_entry(self, prefix: str, name: str) -> None:
        try:
            self.entry_path(prefix, name).unlink()
        except FileNotFoundError:
            pass


class Bucket(_Inbox):
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


class _ObjectEntry:
    """An inbox entry in an object store, with the few path methods the intake uses."""

    def __init__(self, store, key: str) -> None:
        self._store = store
        self.key = key

    def stat(self):
        import os as _os

        info = self._store._rpath(self.key).fs.info(self._store._rpath(self.key).path)
        modified = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
        seconds = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
        etag = str(info.get("ETag") or "").strip('"')
        # the ETag stands in for the nanoseconds: a replaced object has another ETag
        tag = int(etag[:12], 16) if etag[:12] and all(c in "0123456789abcdef" for c in etag[:12]) else 0
        return _os.stat_result((0o100644, 0, 0, 1, 0, 0, int(info["size"]), int(seconds), int(seconds),
                                int(seconds) * 10**9 + tag % 10**9))

    def read_bytes(self) -> bytes:
        return self._store.read(self.key)

    def open(self, mode: str = "rb"):
        import io

        if mode != "rb":
            raise ValueError("object entries are read-only here")
        return io.BytesIO(self.read_bytes())

    def unlink(self, missing_ok: bool = False) -> None:
        if not self._store.exists(self.key):
            if missing_ok:
                return
            raise FileNotFoundError(self.key)
        self._store.delete(self.key)

    def is_symlink(self) -> bool:
        return False


class ObjectBucket(_Inbox):
    """The intake's bucket interface over an object store (``s3://...``), through
    :class:`publish.bucket.Bucket` (Airflow's ObjectStoragePath). Keys are checked as for the
    local bucket. ``write_once`` checks for the key before writing: object stores have no
    no-overwrite PUT here, so two writers racing for the same key could both write — the keys
    embed the content's SHA-256, so they would write the same bytes."""

    def __init__(self, url: str, conn_id: str | None = None) -> None:
        from publish.bucket import Bucket as ObjectStore

        self.url = url
        self._store = ObjectStore(url, conn_id=conn_id)

    def __repr__(self) -> str:
        return f"ObjectBucket({self.url!r})"

    def exists(self, key: str) -> bool:
        return self._store.exists(check_key(key))

    def read_bytes(self, key: str) -> bytes:
        return self._store.read(check_key(key))

    def size(self, key: str) -> int:
        return self.entry(key).stat().st_size

    def mtime(self, key: str) -> float:
        return self.entry(key).stat().st_mtime

    def write_bytes(self, key: str, data: bytes) -> str:
        self._store.write(check_key(key), data)
        return key

    def write_once(self, key: str, data: bytes) -> bool:
        if self._store.exists(check_key(key)):
            return False
        self._store.write(key, data)
        return True

    read = read_bytes

    def write(self, key: str, data: bytes) -> None:
        self.write_bytes(key, data)

    def delete(self, key: str) -> None:
        if self._store.exists(check_key(key)):
            self._store.delete(key)

    def walk(self, prefix: str) -> list[str]:
        return [k for k in self._store.list(check_key(prefix.rstrip("/")))
                if not k.rsplit("/", 1)[-1].startswith(".tmp-")]

    def list(self, prefix: str) -> list[str]:
        base = check_key(prefix.rstrip("/")) + "/"
        return sorted(k[len(base):] for k in self.walk(prefix) if "/" not in k[len(base):])

    def entries(self, prefix: str) -> list[str]:
        return [name for name in self.list(prefix) if not name.startswith(".")]

    def entry(self, key: str) -> _ObjectEntry:
        return _ObjectEntry(self._store, check_key(key))

    def entry_path(self, prefix: str, name: str) -> _ObjectEntry:
        if not isinstance(name, str) or "/" in name or "\x00" in name or name in ("", ".", ".."):
            raise UnsafeKey(f"not a plain file name: {name!r}")
        key = f"{prefix.rstrip('/')}/{name}"
        check_key(key)
        if not self._store.exists(key):
            raise FileNotFoundError(f"{prefix}/{name!r}: no such object")
        return _ObjectEntry(self._store, key)

    def move_entry(self, prefix: str, name: str, key: str) -> str:
        source = self.entry_path(prefix, name)
        if self._store.exists(check_key(key)):
            raise FileExistsError(key)
        self._store.copy(source.key, key)
        self._store.delete(source.key)
        return key


def open_bucket(url: str) -> "Bucket | ObjectBucket":
    """The intake's bucket for ``url``: a local folder for ``file://``, an object store otherwise."""
    return Bucket(url) if url.startswith("file://") else ObjectBucket(url)
