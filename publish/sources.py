"""What decides the bytes of the site's pages besides their context: the renderer's own sources.

:func:`sources_digest` covers the templates, the catalogs and the code of the renderer; a page's
fingerprint (:mod:`publish.site`) and the history pages' digest (:func:`history_digest`, which
names their entry in :mod:`publish.render_cache`) both start from it, so an edited template or
translation renders the pages again and misses the cache. Imports nothing of :mod:`publish`.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"


@lru_cache(maxsize=1)
def sources_digest() -> str:
    """Digest of everything besides the context that decides a page's bytes: templates, catalogs, code."""
    digest = hashlib.sha256()
    for root in (TEMPLATES, HERE / "locale", HERE / "translations"):
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    digest.update(path.relative_to(HERE).as_posix().encode())
                    digest.update(path.read_bytes())
    for name in ("site.py", "i18n.py", "hemicycle.py", "model.py", "history.py", "widget.py", "accessibility.py",
                 "turnout.py", "projection_view.py", "cards.py"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def history_digest(history: dict | None, languages: list[str]) -> str | None:
    """SHA-256 of the history pages' inputs: the renderer's sources, the history data, the languages."""
    if history is None:
        return None
    payload = json.dumps([history, list(languages)], sort_keys=True, default=str)
    return hashlib.sha256(f"{sources_digest()}\0{payload}".encode("utf-8")).hexdigest()


__all__ = ["history_digest", "sources_digest"]
