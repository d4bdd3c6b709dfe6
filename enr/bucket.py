"""The bucket: where the intake and the publisher keep their files, a local folder or an object store.

``Bucket(url)`` takes a ``file://`` URL or a plain path (a local folder: no Airflow needed), or
any URL Airflow's :class:`airflow.sdk.ObjectStoragePath` understands (``s3://bucket/prefix``,
credentials from an Airflow connection, ``conn_id``). Airflow is imported only for such URLs,
inside :meth:`Bucket._remote_root`, so nothing that uses a local bucket imports it.

Keys are relative POSIX paths (``inbox/ep2019-FR-0001.csv``, ``public/ep2019/v0003/manifest.json``).
One rule, :func:`check_key`, applies to every key of every operation: a key that could leave the
bucket or mean two things (absolute, ``..``, ``.``, empty segments, backslashes, NUL or other
control characters, over 1,024 characters) is refused with :class:`UnsafeKey` before any
file-system or network call. Folder prefixes (for :meth:`Bucket.list`, :meth:`Bucket.sub`, ...)
may end in ``/`` and may be empty (the bucket's root). On a local folder a key must also stay in
the folder once symbolic links are followed.

Atomicity: on a local folder every write goes to a temporary name in the same folder, is
flushed to disk and then renamed over the target (``os.replace``), so a reader sees the old
file or the new file, never a half-written one, and a killed writer leaves only a temporary
file that :meth:`Bucket.list` ignores. On S3 a single PUT is atomic per object already.
:meth:`Bucket.write_once` never overwrites (how ``deliveries/`` stays immutable).

The intake's inbox (raw entries with any name a sender chose) is a thin layer on this class:
:mod:`enr.bucketio`. The publisher imports this class through :mod:`publish.bucket`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import re
import shutil
import stat
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, TypeVar
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
MAX_KEY_LENGTH = 1024
_TYPES = {".asc": "text/plain", ".atom": "application/atom+xml", ".csv": "text/csv", ".js": "text/javascript",
          ".json": "application/json", ".md": "text/markdown", ".po": "text/plain", ".xml": "application/xml"}
REMOTE_WORKERS = 8
# Objects per bulk request batch on an object store (read_many / write_many): the filesystem's own
# event loop runs that many requests at once; batches bound the memory held at a time.
BULK_BATCH = 256
_GLOB_CHARS = frozenset("*?[")
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")  # NUL and the other control characters, backslash
T = TypeVar("T")
R = TypeVar("R")


class BucketError(OSError):
    """A bucket operation failed (names the bucket URL and the key)."""


class UnsafeKey(BucketError, ValueError):
    """A key that is not a plain relative path inside the bucket (refused before any I/O)."""


def check_key(key: str, *, folder: bool = False) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`UnsafeKey`.

    With ``folder`` the key names a folder prefix: one trailing ``/`` is dropped and the empty
    prefix (the bucket's root) is allowed."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        raise UnsafeKey(f"not a key: {key!r}")
    if folder and key.endswith("/") and not key.endswith("//"):
        key = key[:-1]
    if not key and folder:
        return key
    if not key:
        raise UnsafeKey(f"not a key: {key!r}")
    if _FORBIDDEN.search(key):
        raise UnsafeKey(f"unsafe key (backslash or control character): {key!r}")
    parts = key.split("/")
    if "" in parts or "." in parts or ".." in parts:  # also a leading or trailing "/"
        raise UnsafeKey(f"unsafe key: {key!r}")
    return key


def content_type(key: str) -> str:
    """The Content-Type an object store should serve ``key`` with (text always as UTF-8)."""
    suffix = os.path.splitext(key)[1].lower()
    if key.endswith("SHA256SUMS"):
        kind = "text/plain"
    else:
        kind = _TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/json", "application/xml", "application/atom+xml"):
        kind += "; charset=utf-8"
    return kind


def _replace_file(target: Path, fill: Callable[[str], object], durable: bool) -> None:
    """Make ``target`` in one step: ``fill(tmp)`` writes a temporary file beside it, which is
    flushed to disk if ``durable`` and renamed over ``target``; removed if anything fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + target.name + ".", dir=target.parent)
    os.close(fd)
    try:
        fill(tmp)
        if durable:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _headers(kind: str, cache_control: str | None) -> dict[str, str]:
    """The per-object headers of an object-store PUT."""
    return {"ContentType": kind, **({"CacheControl": cache_control} if cache_control else {})}


def _put_headers(kind: str, cache_control: str | None) -> dict[str, str]:
    """The same headers as :func:`_headers`, as HTTP header names (the lean bulk path)."""
    return {"Content-Type": kind, **({"Cache-Control": cache_control} if cache_control else {})}


class Bucket:
    def __init__(self, url: str | os.PathLike, conn_id: str | None = None):
        text = os.fspath(url)
        parsed = urlparse(text)
        self.conn_id = conn_id
        if parsed.scheme in ("", "file"):
            path = unquote(parsed.path) if parsed.scheme == "file" else text
            self.local_root: Path | None = Path(path).resolve()
            self.url = self.local_root.as_uri()
        else:
            self.local_root = None
            self.url = text if text.endswith("/") else text + "/"
        self._remote = None
        self._lean = None  # the lean bulk client of an object store (enr.s3bulk), False if none
        self._folders: set[str] = set()  # local folders checked to be no symbolic link

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def is_local(self) -> bool:
        return self.local_root is not None

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]``, with a few parallel requests on an object store (each
        request there costs a network round trip; a local folder is done in order)."""
        items = list(items)
        if self.local_root is not None or len(items) < 2:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=REMOTE_WORKERS) as pool:
            return list(pool.map(fn, items))

    # -- remote plumbing ---------------------------------------------------------------------
    def _remote_root(self):
        if self._remote is None:
            from airflow.sdk import ObjectStoragePath  # lazy: only object stores need Airflow

            self._remote = ObjectStoragePath(self.url, conn_id=self.conn_id) if self.conn_id \
                else ObjectStoragePath(self.url)
        return self._remote

    def _lean_client(self):
        """The lean client for bulk requests on this object store (:mod:`enr.s3bulk`: ~0.25 ms of
        CPU a request against ~1.5 ms through s3fs, bench/bench_s3_ops.py) and the bucket's key prefix; (None, prefix) if
        the store's setup needs the s3fs path (the reason is logged once)."""
        root = self._remote_root()
        name, _, prefix = root.fs._strip_protocol(root.path).strip("/").partition("/")
        if self._lean is None:
            from enr import s3bulk

            self._lean = s3bulk.open_client(root.fs, name) or False
        return self._lean or None, prefix + "/" if prefix else ""

    def _lean_redirected(self, failures) -> bool:
        """True (and the lean client dropped for this bucket, logged) when the store answered that the
        bucket lives in another region than the connection's: the caller then does the same requests
        through s3fs, whose botocore follows such a redirect (PUT and CopyObject can be repeated)."""
        from enr import s3bulk

        if not s3bulk.redirected([f for f in failures if isinstance(f, s3bulk.RequestFailed)]):
            return False
        self._lean = False
        log.warning("%s: the store redirects to the bucket's own region; bulk requests go through s3fs", self.url)
        return True

    def _rpath(self, key: str):
        root = self._remote_root()
        return root / key if key else root

    # -- paths -------------------------------------------------------------------------------
    def _local(self, key: str, *, folder: bool = False) -> Path:
        """The path of a checked key under the local root; refused if symbolic links lead it out."""
        key = check_key(key, folder=folder)
        root = str(self.local_root)
        path = f"{root}/{key}" if key else root
        # Only a symbolic link can lead out: one lstat per segment finds the first; folders found
        # to be real folders are remembered, so a key in a known folder costs one lstat (a
        # realpath of every key tripled the cost of a read; the bucket's own writes make no link).
        here = root
        for part in key.split("/") if key else ():
            here = f"{here}/{part}"
            if here in self._folders:
                continue
            try:
                mode = os.lstat(here).st_mode
            except (FileNotFoundError, NotADirectoryError):
                break  # the rest does not exist (yet): nothing there to follow
            if stat.S_ISLNK(mode):
                resolved = os.path.realpath(path)
                if resolved != root and not resolved.startswith(root.rstrip("/") + "/"):
                    raise UnsafeKey(f"key leaves the bucket: {key!r}")
                break
            if stat.S_ISDIR(mode):
                self._folders.add(here)
        return Path(path)

    def local_path(self, key: str) -> Path:
        if self.local_root is None:
            raise BucketError(f"{self.url}: not a local bucket")
        return self._local(key, folder=True)

    def url_of(self, key: str) -> str:
        return self.url.rstrip("/") + "/" + check_key(key, folder=True)

    def sub(self, prefix: str) -> "Bucket":
        """The same store rooted at ``prefix`` (a version folder, for the verifier)."""
        child = type(self).__new__(type(self))
        child.conn_id = self.conn_id
        child._remote = None
        child._lean = None
        child._folders = set()
        prefix = check_key(prefix, folder=True)
        if self.local_root is not None:
            child.local_root = Path(os.path.realpath(self._local(prefix, folder=True)))
            child.url = child.local_root.as_uri()
        else:
            child.local_root = None
            child.url = self.url + prefix + "/"
        return child

    # -- reading -----------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        if self.local_root is not None:
            return self._local(key).is_file()
        return self._rpath(check_key(key)).exists()

    def read(self, key: str) -> bytes:
        key = check_key(key)
        try:
            if self.local_root is not None:
                return self._local(key).read_bytes()
            path = self._rpath(key)
            # one GET (fsspec cat_file): a file object would check the ETag between its requests and
            # fail on a pointer replaced in between; a single GET reads the old bytes or the new
            return bytes(path.fs.cat_file(path.path))
        except (FileNotFoundError, UnsafeKey):
            raise
        except OSError as exc:
            raise BucketError(f"{self.url}: cannot read {key}: {exc}") from exc

    def read_or_none(self, key: str) -> bytes | None:
        try:
            return self.read(key)
        except FileNotFoundError:
            return None

    def read_many(self, keys: Iterable[str]) -> list[bytes | None]:
        """The bytes of each key, in order (None where missing).

        On an object store the GETs run concurrently on the filesystem's event loop (fsspec
        ``cat`` of a list), :data:`BULK_BATCH` at a time: one thread and no per-request thread
        hop, much faster than :meth:`read` from a thread pool. A local folder reads in order."""
        keys = [check_key(k) for k in keys]
        if self.local_root is not None or len(keys) < 2 or any(_GLOB_CHARS & set(k) for k in keys):
            return [self.read_or_none(k) for k in keys]
        fs = self._remote_root().fs
        out: list[bytes | None] = []
        for start in range(0, len(keys), BULK_BATCH):
            chunk = keys[start:start + BULK_BATCH]
            paths = [fs._strip_protocol(self._rpath(k).path) for k in chunk]
            got = fs.cat(paths, on_error="return")
            for key, path in zip(chunk, paths):
                value = got.get(path, FileNotFoundError(path))
                if isinstance(value, FileNotFoundError):
                    out.append(None)
                elif isinstance(value, BaseException):
                    raise BucketError(f"{self.url}: cannot read {key}: {value}") from value
                else:
                    out.append(bytes(value))
        return out

    def sha256(self, key: str) -> str:
        return hashlib.sha256(self.read(key)).hexdigest()

    def stat(self, key: str) -> os.stat_result:
        """Size and modification time of ``key`` (``st_size``, ``st_mtime``, ``st_mtime_ns``).

        On an object store the ETag stands in for the nanoseconds of ``st_mtime_ns``: a replaced
        object has another ETag even within the same second."""
        if self.local_root is not None:
            return self._local(key).stat()
        path = self._rpath(check_key(key))
        info = path.fs.info(path.path)
        modified = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
        seconds = modified.timestamp() if hasattr(modified, "timestamp") else float(modified or 0)
        etag = str(info.get("ETag") or "").strip('"')
        tag = int(etag[:12], 16) if etag[:12] and all(c in "0123456789abcdef" for c in etag[:12]) else 0
        whole = int(seconds)
        # the ten positional fields are whole seconds; the float and nanosecond times go by name
        return os.stat_result((0o100644, 0, 0, 1, 0, 0, int(info["size"]), whole, whole, whole),
                              {"st_atime": seconds, "st_mtime": seconds, "st_ctime": seconds,
                               "st_mtime_ns": whole * 10**9 + tag % 10**9})

    def list(self, prefix: str = "") -> list[str]:
        """Every key under the folder ``prefix`` (recursive, sorted), relative to the bucket root;
        temporary files of unfinished local writes are left out."""
        prefix = check_key(prefix, folder=True)
        if self.local_root is not None:
            base = self._local(prefix, folder=True)
            if not base.is_dir():
                return []
            keys = [p.relative_to(self.local_root).as_posix() for p in base.rglob("*")
                    if p.is_file() and not p.name.startswith(TEMP_PREFIX)]
            return sorted(keys)
        root = self._remote_root()
        fs = root.fs
        fs.invalidate_cache()
        base = self._rpath(prefix)
        root_path = root.path.rstrip("/")
        try:
            found = fs.find(base.path)
        except FileNotFoundError:
            return []
        return sorted(f[len(root_path) + 1:] for f in found if f.startswith(root_path + "/"))

    # -- writing -----------------------------------------------------------------------------
    def write(self, key: str, data: bytes, durable: bool = True, cache_control: str | None = None) -> None:
        """Write ``data`` at ``key`` (atomically on a local folder: temp file + rename)."""
        self.write_atomic(key, data, durable, cache_control)

    def sync(self) -> None:
        """Make every write so far durable (local folder: ``os.sync``; object stores: nothing to do).

        Bulk copies pass ``durable=False`` and call this once before the commit point, instead
        of one fsync per file."""
        if self.local_root is not None:
            os.sync()

    def write_atomic(self, key: str, data: bytes, durable: bool = True, cache_control: str | None = None) -> None:
        """Replace ``key`` by ``data`` in one step; ``durable`` also flushes it to disk before the rename.

        On an object store this is one PUT (atomic per object) with the Content-Type of the key
        and, if given, a Cache-Control header; a local folder has no headers to keep."""
        key = check_key(key)
        if self.local_root is None:
            path = self._rpath(key)
            headers = _headers(content_type(key), cache_control)
            try:
                try:
                    path.fs.pipe_file(path.path, data, **headers)
                except TypeError:  # a filesystem without per-object headers
                    path.write_bytes(data)
            except OSError as exc:
                raise BucketError(f"{self.url}: cannot write {key}: {exc}") from exc
            return
        _replace_file(self._local(key), lambda tmp: Path(tmp).write_bytes(data), durable)

    def write_once(self, key: str, data: bytes) -> bool:
        """Write ``data`` at ``key`` unless the key exists; True if written.

        An existing key is never overwritten (``deliveries/`` is immutable); its content is
        expected to be the same bytes, because such keys embed the content's SHA-256. On a local
        folder the file appears by a hard link of a complete temporary file, which fails if the
        key appeared meanwhile. Object stores have no no-overwrite PUT here: the key is looked up
        first, so two writers racing for it could both write (the same bytes, by the rule above)."""
        if self.local_root is None:
            if self.exists(key):
                return False
            self.write_atomic(key, data)
            return True
        path = self._local(key)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.link(tmp, path)  # fails if the key appeared meanwhile: no overwrite, ever
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)
        return True

    def write_many(self, items: dict[str, bytes], cache_control: str | None = None) -> None:
        """Write several objects (not atomically together: each one is, as :meth:`write_atomic`).

        On an object store the PUTs go through the lean client (:mod:`enr.s3bulk`, a failure names
        its key) or, for a setup it does not reproduce, run concurrently on the filesystem's event
        loop (fsspec ``pipe`` of a dict), grouped by Content-Type, :data:`BULK_BATCH` at a time; a local
        folder writes one file after the other without fsync (call :meth:`sync`). Every key is
        checked before the first write: one unsafe key writes nothing."""
        for key in items:
            check_key(key)
        if self.local_root is not None or len(items) < 2:
            for key, data in items.items():
                self.write_atomic(key, data, durable=False, cache_control=cache_control)
            return
        lean, prefix = self._lean_client()
        if lean is not None:
            from enr.s3bulk import Request

            requests = [Request("PUT", prefix + key, _put_headers(content_type(key), cache_control), data)
                        for key, data in items.items()]
            failures = lean.send_all(requests)
            if not self._lean_redirected(failures):
                for key, failure in zip(items, failures):
                    if failure is not None:
                        raise BucketError(f"{self.url}: cannot write {key}: {failure}") from failure
                return
        fs = self._remote_root().fs
        by_type: dict[str, dict[str, bytes]] = {}
        for key, data in items.items():
            by_type.setdefault(content_type(check_key(key)), {})[self._rpath(check_key(key)).path] = data
        for kind, group in by_type.items():
            headers = _headers(kind, cache_control)
            paths = list(group)
            for start in range(0, len(paths), BULK_BATCH):
                try:
                    fs.pipe({p: group[p] for p in paths[start:start + BULK_BATCH]}, **headers)
                except OSError as exc:
                    raise BucketError(f"{self.url}: cannot write {len(paths)} object(s): {exc}") from exc

    def copy(self, src_key: str, dst_key: str, dst: "Bucket | None" = None, durable: bool = True,
             cache_control: str | None = None) -> None:
        """Copy one object, to this bucket or to ``dst``; atomic at the destination like :meth:`write`.

        Within one object store the copy is server-side and keeps the object's headers."""
        dst = dst or self
        src_key, dst_key = check_key(src_key), check_key(dst_key)
        if self.local_root is not None and dst.local_root is not None:
            source = self._local(src_key)
            _replace_file(dst._local(dst_key), lambda tmp: shutil.copyfile(source, tmp), durable)
            return
        if self.local_root is None and dst.local_root is None and self.url.split("/")[0] == dst.url.split("/")[0] \
                and self.conn_id == dst.conn_id:
            self._rpath(src_key).copy(dst._rpath(dst_key))  # server-side within one store
            return
        dst.write_atomic(dst_key, self.read(src_key), durable, cache_control)

    def copy_many(self, pairs: dict[str, str]) -> None:
        """Copy objects within this bucket: ``{destination key: source key}``.

        On an object store every copy is server-side (S3 CopyObject: no byte leaves the store, the
        source's Content-Type and Cache-Control are kept), sent by the lean client (:mod:`enr.s3bulk`) or
        else run concurrently on the filesystem's event loop, :data:`BULK_BATCH` at a time; a missing
        source raises :class:`FileNotFoundError` naming it.
        A local folder copies one file after the other without fsync (call :meth:`sync`)."""
        pairs = {check_key(dst): check_key(src) for dst, src in pairs.items()}
        if self.local_root is not None:
            for dst, src in pairs.items():
                self.copy(src, dst, durable=False)
            return
        lean, prefix = self._lean_client()
        if lean is not None:
            from enr.s3bulk import Request

            requests = [Request("PUT", prefix + dst, {"x-amz-copy-source": lean.copy_source(prefix + src),
                                                       "x-amz-metadata-directive": "COPY"}, copy=True)
                        for dst, src in pairs.items()]
            failures = lean.send_all(requests)
            if not self._lean_redirected(failures):
                for (dst, src), failure in zip(pairs.items(), failures):
                    if isinstance(failure, FileNotFoundError):
                        raise FileNotFoundError(f"{self.url}: cannot copy {src} to {dst}: no such object") from failure
                    if failure is not None:
                        raise BucketError(f"{self.url}: cannot copy {src} to {dst}: {failure}") from failure
                return
        from fsspec.asyn import _run_coros_in_chunks, sync

        fs = self._remote_root().fs
        # "bucket/prefix" + "/" + key: a path object per key costs ~0.5 ms (UPath), more than the request
        root = fs._strip_protocol(self._remote_root().path).rstrip("/")
        items = list(pairs.items())
        for start in range(0, len(items), BULK_BATCH):
            chunk = items[start:start + BULK_BATCH]
            coros = [fs._copy_basic(f"{root}/{src}", f"{root}/{dst}") for dst, src in chunk]
            results = sync(fs.loop, _run_coros_in_chunks, coros, batch_size=BULK_BATCH, return_exceptions=True,
                           nofiles=True)
            for (dst, src), result in zip(chunk, results):
                if isinstance(result, FileNotFoundError):
                    raise FileNotFoundError(f"{self.url}: cannot copy {src} to {dst}: no such object") from result
                if isinstance(result, BaseException):
                    raise BucketError(f"{self.url}: cannot copy {src} to {dst}: {result}") from result

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing happens if it is not there)."""
        if self.local_root is not None:
            self._local(key).unlink(missing_ok=True)
            return
        path = self._rpath(check_key(key))
        if path.exists():
            path.unlink()

    def remove_temporary(self, prefix: str) -> int:
        """Delete temporary files a killed writer left under ``prefix`` (local folders only); how many."""
        if self.local_root is None:
            return 0
        base = self._local(prefix, folder=True)
        leftovers = [p for p in base.rglob(TEMP_PREFIX + "*") if p.is_file()] if base.is_dir() else []
        for path in leftovers:
            path.unlink(missing_ok=True)
        return len(leftovers)

    # -- object-store metadata: listing with ETags, the bucket's read policy ------------------
    def _split(self, key: str = "") -> tuple[str, str]:
        """(bucket name, object key) of ``key`` on an object store (the URL's path is part of the key)."""
        full = self._rpath(check_key(key, folder=True)).path.strip("/")
        name, _, rest = full.partition("/")
        return name, rest

    def objects(self, prefix: str) -> dict[str, tuple[int, str]]:
        """Every object under the folder ``prefix``: ``{key: (size, etag)}`` from the store's listing
        (ListObjectsV2: one request per 1,000 objects, no object read). The ETag is given without
        quotes; for a single-part upload it is the MD5 of the bytes. Object stores only."""
        prefix = check_key(prefix, folder=True)
        if self.local_root is not None:
            raise BucketError(f"{self.url}: a local folder has no object listing with ETags")
        lean, root_prefix = self._lean_client()
        if lean is not None:  # the same request, parsed at a tenth of the cost (enr.s3bulk)
            listed = None
            try:
                listed = lean.list_objects((root_prefix + prefix).rstrip("/") + "/")
            except OSError as exc:
                if not self._lean_redirected([exc]):
                    raise BucketError(f"{self.url}: cannot list {prefix}: {exc}") from exc
            if listed is not None:
                return {key[len(root_prefix):]: entry for key, entry in listed.items()}
        fs = self._remote_root().fs
        name, base = self._split(prefix)
        root_key = self._split()[1]
        strip = len(root_key) + 1 if root_key else 0
        found, token = {}, None
        while True:
            kwargs = {"Bucket": name, "Prefix": base + "/", **({"ContinuationToken": token} if token else {})}
            try:
                page = fs.call_s3("list_objects_v2", **kwargs)
            except OSError as exc:
                raise BucketError(f"{self.url}: cannot list {prefix}: {exc}") from exc
            for item in page.get("Contents", []):
                found[item["Key"][strip:]] = (int(item["Size"]), str(item.get("ETag", "")).strip('"'))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found

    def arn(self, key: str) -> str:
        """The S3 resource name of ``key`` (or of a key pattern ending in ``*``) for a bucket policy."""
        pattern = key.endswith("/*")
        name, path = self._split(key[:-2] if pattern else key)
        return f"arn:aws:s3:::{name}/{path}" + ("/*" if pattern else "")

    def read_policy(self) -> dict | None:
        """The bucket's policy document (None if it has none). Object stores only."""
        if self.local_root is not None:
            raise BucketError(f"{self.url}: a local folder has no bucket policy")
        fs = self._remote_root().fs
        try:
            answer = fs.call_s3("get_bucket_policy", Bucket=self._split()[0])
        except (OSError, ValueError) as exc:
            if "NoSuchBucketPolicy" in repr(exc) or isinstance(exc, FileNotFoundError):
                return None
            raise BucketError(f"{self.url}: cannot read the bucket policy: {exc}") from exc
        return json.loads(answer["Policy"])

    def write_policy(self, document: dict) -> None:
        """Replace the bucket's policy document. Object stores only."""
        fs = self._remote_root().fs
        try:
            fs.call_s3("put_bucket_policy", Bucket=self._split()[0], Policy=json.dumps(document))
        except OSError as exc:
            raise BucketError(f"{self.url}: cannot write the bucket policy: {exc}") from exc

    def anonymous_get(self, key: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """What an anonymous reader of the store gets for ``key``: (HTTP status, body). Path-style
        URL on the connection's endpoint, no credentials: the bucket policy decides."""
        import urllib.error
        import urllib.request
        from urllib.parse import quote

        fs = self._remote_root().fs
        if getattr(fs, "_s3", None) is None:
            fs.call_s3("head_bucket", Bucket=self._split()[0])  # opens the client: its endpoint is known after
        endpoint = fs.s3.meta.endpoint_url.rstrip("/")
        name, path = self._split(key)
        try:
            with urllib.request.urlopen(f"{endpoint}/{name}/{quote(path)}", timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, b""
