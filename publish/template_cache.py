"""Compiled templates kept between processes (Jinja2's bytecode cache).

Every task process that renders compiles the site's, the cards' and the history pages' templates
again: ~0.1 s on this machine, before a split render can fork (issue 16). Jinja2 can keep the
compiled code of each template in files, keyed by the template's name and file and checked against
the SHA-1 of its source, so an edited template is compiled again. Each environment (``site``,
``cards``, ``history``) has its own files, named with the Jinja2 version and a digest of the
environment's options: an upgrade or another environment's settings never reuse them.

The folder: ``ENR_TEMPLATE_CACHE`` (empty: no cache), else ``$XDG_CACHE_HOME/enr/jinja`` (an
absolute ``XDG_CACHE_HOME`` only, as the XDG spec says; else ``~/.cache/enr/jinja``).

What is read from it is executed. So the folder is opened once per process (``O_NOFOLLOW``) and
used only if it is a folder of this process's user that no one else may write to; every later read
and write goes through that open folder (``dir_fd``), never through its path again, so renaming the
folder or a parent away and putting another in its place changes nothing; and a file is loaded only
if it is a regular file of this user that no one else may write to. Otherwise the templates are
compiled in each process, as without a cache, and a warning says why. Files are written 0600
under a temporary name and renamed into place, so processes may share the folder.
"""
from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2 import Environment, FileSystemLoader
from jinja2.bccache import Bucket, BytecodeCache

log = logging.getLogger(__name__)

ENV = "ENR_TEMPLATE_CACHE"

_UNSAFE = stat.S_IWGRP | stat.S_IWOTH


def folder() -> Path | None:
    configured = os.environ.get(ENV)
    if configured is not None:
        return Path(configured).absolute() if configured.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "enr" / "jinja"


def _private(info: os.stat_result, kind) -> bool:
    return kind(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & _UNSAFE


class PrivateFolderCache(BytecodeCache):
    """Jinja2's bytecode cache in a folder held open (see the module): files ``<tag>-<key>.jinja``."""

    def __init__(self, dir_fd: int, tag: str):
        self.dir_fd = dir_fd
        self.tag = tag

    def _name(self, bucket: Bucket) -> str:
        return f"{self.tag}-{bucket.key}.jinja"

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            fd = os.open(self._name(bucket), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self.dir_fd)
        except OSError:
            return  # not there yet (or a symlink): compiled, then written
        with os.fdopen(fd, "rb") as handle:
            if not _private(os.fstat(fd), stat.S_ISREG):
                log.warning("template cache file %s ignored: not a private file of this user", self._name(bucket))
                return
            bucket.load_bytecode(handle)

    def dump_bytecode(self, bucket: Bucket) -> None:
        name = self._name(bucket)
        temporary = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=self.dir_fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    bucket.write_bytecode(handle)
                os.replace(temporary, name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            except BaseException:
                try:
                    os.unlink(temporary, dir_fd=self.dir_fd)
                except OSError:
                    pass
                raise
        except OSError as exc:  # a full disk, a read-only folder: the next process compiles again
            log.warning("template cache file %s not written: %s", name, exc)

    def clear(self) -> None:
        for name in os.listdir(self.dir_fd):
            if name.endswith(".jinja") or name.endswith(".tmp"):
                try:
                    os.unlink(name, dir_fd=self.dir_fd)
                except OSError:
                    pass


def bytecode_cache(kind: str, options: dict) -> PrivateFolderCache | None:
    """The cache for a new Jinja2 environment of ``kind`` built with ``options`` (what changes its
    compiled code: autoescape, extensions, whitespace settings), or None (no folder, or not safe)."""
    where = folder()
    if where is None:
        return None
    dir_fd = _open_folder(str(where))
    if dir_fd is None:
        return None
    spec = repr((kind, sorted((k, repr(v)) for k, v in options.items()), jinja2.__version__, sys.version_info[:2]))
    return PrivateFolderCache(dir_fd, f"{kind}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}")


def environment(kind: str, templates: Path, **options) -> Environment:
    """A Jinja2 environment of ``kind`` over the folder ``templates``, built with ``options`` and this
    module's cache for exactly those options."""
    return Environment(loader=FileSystemLoader(str(templates)), bytecode_cache=bytecode_cache(kind, options), **options)


@lru_cache(maxsize=8)
def _open_folder(where: str) -> int | None:
    """The folder opened (an fd kept for the process's life), or None with a warning."""
    path = Path(where)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        log.warning("template cache %s not used (%s): templates compiled in each process", path, exc)
        return None
    if not _private(os.fstat(fd), stat.S_ISDIR):
        os.close(fd)
        log.warning("template cache %s not used: it must be a folder of this user that no one else may write to "
                    "(what is read from it is executed); templates compiled in each process", path)
        return None
    return fd
