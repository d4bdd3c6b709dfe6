"""Writing a version's files: a new file for each write, never through a name already there.

A rendered file may share its inode with a card kept in the card cache, a history page of the
render cache, or a staged version (hard links: :mod:`publish.cards`, :mod:`publish.render_cache`,
:func:`publish.release.stage`). Writing through such a name (``open(path, "wb")`` truncates the
shared file) would change those too; every writer of a render folder goes through
:func:`write_new`, which replaces the name instead.
"""
from __future__ import annotations

import os
from pathlib import Path

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_new(path: Path | str, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) as a new file at ``path``; a file already there is unlinked
    first, never truncated or written through."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        fd = os.open(path, _NEW, 0o666)
    except FileExistsError:
        os.unlink(path)
        fd = os.open(path, _NEW, 0o666)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def file_identity(status: os.stat_result) -> tuple[int, int, int, int]:
    """Which file, in which state: a link made later names a file that was read (and checked) only if
    this is the same (device, inode, size, modification time; a link changes none of them)."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


__all__ = ["file_identity", "write_new"]
