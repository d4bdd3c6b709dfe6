"""Build one sealed version folder from a bundle: render, then manifest and signatures.

This is the one call the pipeline makes before staging::

    manifest_path, digest = build_version(bundle, out_dir, signer)
    digest == stage(bucket, election, version, out_dir)

It refuses nothing about the content (a version with an unresolved tie can be rendered and
staged for review: its pages say so); :func:`publish.release.publish_version` refuses it.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from publish.manifest import manifest_extra, sign_version
from publish.signing import Signer
from publish.site import Reuse, render_site

log = logging.getLogger(__name__)


def build_version(bundle: dict, out_dir: Path, signer: Signer, languages: list[str] | None = None,
                  history: dict | None = None, clean: bool = True, *, reuse: Reuse | None = None,
                  fingerprints: dict | None = None, public_base_url: str | None = None) -> tuple[Path, str]:
    """Render ``bundle`` into ``out_dir`` and seal it; returns (manifest path, manifest SHA-256).

    With ``reuse`` (the previous version's folder and page fingerprints), only the pages whose
    inputs changed are rendered, the others are copied (:func:`publish.site.render_site`); the
    manifest is signed anew. The copied pages take their entries from the previous manifest
    (``reuse.copied``): on a local folder, where they are linked after their bytes were checked
    against it (staging reads every file back and checks it against the new manifest), and on an
    object store (``reuse.remote``), where they stay in the store (pass ``reuse.copied`` to
    :func:`publish.release.stage`); every other file's digest is computed from its bytes. ``fingerprints``
    receives the pages' fingerprints (keep them for the next version's ``reuse``).
    ``public_base_url`` makes the pages' social-card tags absolute (:mod:`publish.cards`).
    """
    out_dir = Path(out_dir)
    if clean and out_dir.exists():
        shutil.rmtree(out_dir)
    files = render_site(bundle, out_dir, languages=languages, history=history, reuse=reuse,
                        fingerprints=fingerprints, public_base_url=public_base_url)
    # on an object store the unchanged pages are not in out_dir: staging copies them inside the store
    known = reuse.copied if reuse is not None and reuse.remote else None
    # on a local folder they are linked there, checked against the previous manifest: its entries are kept
    reused = reuse.copied if reuse is not None and not reuse.remote else None
    manifest_path, digest = sign_version(out_dir, signer, manifest_extra(bundle), known, reused)
    log.info("built election=%s version=%s files=%d incremental=%s manifest_sha256=%s", bundle["election"]["id"],
             bundle["version"], len(files), reuse is not None, digest)
    return manifest_path, digest
