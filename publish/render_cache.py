"""Render cache of the history pages: rendered when the history is loaded, taken by any render.

The history pages (:mod:`publish.history`, 29 pages x 24 languages) depend only on the history
data, the languages, the templates and catalogs and the renderer's code, never on the night's
results. They are rendered once, when the history is loaded (:func:`warm_history`, called by
``enr.operator.load_history`` and the historical_backfill DAG's last task), into a
content-addressed folder::

    <ENR_RENDER_CACHE>/history/<key>/index.json        {relative path: SHA-256} of every page
    <ENR_RENDER_CACHE>/history/<key>/<lang>/history/…   the pages, as a render writes them

``ENR_RENDER_CACHE`` defaults to ``<ENR_HOME>/render-cache`` (empty: no cache). ``<key>`` is the
SHA-256 of :func:`publish.sources.history_digest` (history data, languages, templates, catalogs and
the code of the site's modules) with the versions of Babel (CLDR data: numbers, dates, names) and
Jinja2, and :data:`FORMAT`. An entry is written in a temporary folder and renamed into place, so a
reader never sees half of one. Trust: each page is taken only if its SHA-256 matches the entry's
index, and an entry is taken whole or not at all; a folder without its index, an index naming an
unsafe path, or one mismatching file makes the render draw the pages again and replace the entry
(logged). The cache only saves time: the pages taken are the bytes a render writes. A render takes
them as hard links to the entry's files where the file system allows (entries are only ever
renamed into place or removed, never written in place), else as copies of the checked bytes; the
sealing hashes them like every rendered file and staging reads them back against the manifest.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from publish.files import file_identity, write_new
from publish.sources import history_digest

log = logging.getLogger(__name__)

ENV = "ENR_RENDER_CACHE"
FORMAT = "enr-render-cache/1"
INDEX = "index.json"
KEEP = 4  # entries kept (other histories, language lists or code versions), newest first
ABANDONED = 3600  # seconds after which a temporary folder (.tmp-*, .stale-*) is a killed process's leftover
_PAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]+)?/history/[A-Za-z0-9][A-Za-z0-9._-]*")


class RenderCacheError(ValueError):
    """A cache entry that cannot be trusted (no index, an unsafe path, a file not matching its SHA-256)."""


def cache_folder() -> Path | None:
    """``ENR_RENDER_CACHE`` (empty: no cache), else ``<ENR_HOME>/render-cache``; read at each call."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return Path(configured) if configured.strip() else None
    from enr.settings import get_settings

    return get_settings().home / "render-cache"


def history_key(history: dict, languages: list[str]) -> str:
    """The entry's name: everything that decides the history pages' bytes (see the module's doc)."""
    parts = (FORMAT, history_digest(history, list(languages)), f"babel {version('babel')}",
             f"jinja2 {version('jinja2')}", f"markupsafe {version('markupsafe')}")
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _entry(key: str) -> Path | None:
    root = cache_folder()
    return None if root is None else root / "history" / key


def has_history(history: dict, languages: list[str]) -> bool:
    """Whether the cache holds an entry for these pages (indexed; its pages are checked when taken)."""
    folder = _entry(history_key(history, languages))
    return folder is not None and (folder / INDEX).is_file()


def read_entry(folder: Path, identities: dict[str, tuple] | None = None) -> dict[str, bytes]:
    """The pages of an entry, each checked against the index (:class:`RenderCacheError` if any is not);
    ``identities`` receives each page file's :func:`publish.files.file_identity` as it was read."""
    index_path = folder / INDEX
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RenderCacheError(f"{index_path}: no readable index ({exc})") from exc
    if not isinstance(index, dict) or not index:
        raise RenderCacheError(f"{index_path}: expected a non-empty object {{path: sha256}}")
    pages: dict[str, bytes] = {}
    for rel, digest in sorted(index.items()):
        if not isinstance(rel, str) or not _PAGE.fullmatch(rel) or ".." in rel:
            raise RenderCacheError(f"{index_path}: unsafe page path {rel!r}")
        try:
            with open(folder / rel, "rb") as handle:
                data = handle.read()
                if identities is not None:
                    identities[rel] = file_identity(os.fstat(handle.fileno()))
        except OSError as exc:
            raise RenderCacheError(f"{folder / rel}: unreadable ({exc})") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise RenderCacheError(f"{folder / rel}: SHA-256 does not match the index")
        pages[rel] = data
    return pages


def _taken(key: str, languages: list[str], identities: dict[str, tuple] | None = None) -> dict[str, bytes] | None:
    folder = _entry(key)
    if folder is None or not folder.exists():
        return None
    try:
        pages = read_entry(folder, identities)
    except RenderCacheError as exc:
        log.warning("render cache: history entry %s not used, the pages are rendered again: %s", key[:12], exc)
        return None
    if {rel.split("/", 1)[0] for rel in pages} != set(languages):
        log.warning("render cache: history entry %s lacks a language; the pages are rendered again", key[:12])
        return None
    return pages


def store(key: str, pages: dict[str, bytes]) -> Path | None:
    """Write an entry (pages + index) in a temporary folder and rename it into place, replacing a
    bad entry of the same key. Returns the entry's folder (None without a cache)."""
    target = _entry(key)
    if target is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        for rel, data in pages.items():
            path = temporary / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        index = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(pages.items())}
        (temporary / INDEX).write_text(json.dumps(index, sort_keys=True, indent=0), encoding="utf-8")
        if target.exists():  # a bad entry (a good one is taken, not stored again): moved aside, then removed
            stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=target.parent))
            os.rename(target, stale / "entry")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(temporary, target)
        except OSError:  # another process stored the same key meanwhile: its pages are the same bytes
            shutil.rmtree(temporary, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    log.info("render cache: history entry %s stored (%d pages)", key[:12], len(pages))
    _prune(target.parent, keep=target)
    return target


def _prune(folder: Path, keep: Path) -> None:
    """Keep the :data:`KEEP` newest entries (a backfill stores one per run; the last one is used),
    and drop temporary folders a killed process left (older than :data:`ABANDONED` seconds)."""
    now = time.time()
    entries, abandoned = [], []
    for path in folder.iterdir():
        try:
            modified = path.stat().st_mtime
        except OSError:  # removed meanwhile by another process
            continue
        if path.name.startswith("."):
            abandoned += [path] if now - modified > ABANDONED else []
        elif path.is_dir():
            entries.append((modified, path))
    old = [path for _, path in sorted(entries, reverse=True) if path != keep][KEEP - 1:]
    for path in old + abandoned:
        shutil.rmtree(path, ignore_errors=True)


def history_pages(history: dict, out_dir: Path, languages: list[str]) -> list[Path]:
    """The history pages into ``out_dir``: taken from the cache when an entry for this history,
    these languages and this code is there and intact, else rendered (:func:`publish.history.render_history`)
    and stored for the next render (a failure to store is logged, never fails the render)."""
    from publish import history as history_module

    languages = list(languages)
    out_dir = Path(out_dir)
    key = history_key(history, languages)
    identities: dict[str, tuple] = {}
    pages = _taken(key, languages, identities)
    if pages is not None:
        written, folders = [], set()
        entry = _entry(key)
        for rel, data in pages.items():
            path = out_dir / rel
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            path.unlink(missing_ok=True)  # never written through: the name is replaced
            try:  # the entry's file, just checked against its index, shared (no copy to create)
                os.link(entry / rel, path)
                linked = file_identity(os.stat(path)) == identities.get(rel)
            except OSError:  # another file system
                linked = False
            if not linked:  # the checked bytes (the entry's file was replaced or changed since it was read)
                write_new(path, data)
            written.append(path)
        log.info("history pages from the render cache: entry %s, files=%d", key[:12], len(written))
        return written
    written = history_module.render_history(history, out_dir, languages)
    try:
        store(key, {path.relative_to(out_dir).as_posix(): path.read_bytes() for path in written})
    except OSError as exc:
        log.warning("render cache: history entry %s not stored: %s", key[:12], exc)
    return written


def warm_history(history: dict, languages: list[str]) -> dict:
    """Render the history pages into the cache unless an intact entry is there (when the history is
    loaded, so that the night's renders take them). Returns ``{"key", "pages", "rendered"}``."""
    from publish import history as history_module

    languages = list(languages)
    key = history_key(history, languages)
    if cache_folder() is None:
        return {"key": key, "pages": 0, "rendered": False}
    pages = _taken(key, languages)
    if pages is not None:
        return {"key": key, "pages": len(pages), "rendered": False}
    with tempfile.TemporaryDirectory(prefix="enr-history-") as scratch:
        written = history_module.render_history(history, Path(scratch), languages)
        store(key, {path.relative_to(scratch).as_posix(): path.read_bytes() for path in written})
    return {"key": key, "pages": len(written), "rendered": True}


__all__ = ["RenderCacheError", "cache_folder", "has_history", "history_key", "history_pages", "read_entry", "store",
           "warm_history"]
