"""Compiled templates kept between processes (Jinja2's bytecode cache).

Every task process that renders compiles the site's, the cards' and the history pages' templates
again: ~0.1 s on this machine, before a split render can fork (issue 16). Jinja2 can keep the
compiled code of each template in files, keyed by the template's name and the SHA-1 of its source,
so an edited template is compiled again, and written atomically (a file renamed into place), so
processes may share the folder.

The folder: ``ENR_TEMPLATE_CACHE`` (empty: no cache), else ``$XDG_CACHE_HOME/enr/jinja``
(``~/.cache/enr/jinja``). What is read from it is executed, so it is only used when it belongs to
this process's user and no one else may write to it; otherwise the templates are compiled in each
process, as without a cache, and a warning says why.
"""
from __future__ import annotations

import logging
import os
import stat
from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemBytecodeCache

log = logging.getLogger(__name__)

ENV = "ENR_TEMPLATE_CACHE"


def folder() -> Path | None:
    configured = os.environ.get(ENV)
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "enr" / "jinja"


def bytecode_cache() -> FileSystemBytecodeCache | None:
    """The cache for a new Jinja2 environment, or None (no folder, or one that is not safe)."""
    where = folder()
    if where is None:
        return None
    return _cache_at(str(where))


@lru_cache(maxsize=8)
def _cache_at(where: str) -> FileSystemBytecodeCache | None:
    path = Path(where)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        log.warning("template cache %s not used (%s): templates compiled in each process", path, exc)
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        log.warning("template cache %s not used: it must be a folder of this user that no one else may write to "
                    "(what is read from it is executed); templates compiled in each process", path)
        return None
    return FileSystemBytecodeCache(str(path), pattern="%s.jinja")
