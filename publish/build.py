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
from publish.site import render_site

log = logging.getLogger(__name__)


def build_version(bundle: dict, out_dir: Path, signer: Signer, languages: list[str] | None = None,
                  history: dict | None = None, clean: bool = True) -> tuple[Path, str]:
    """Render ``bundle`` into ``out_dir`` and seal it; returns (manifest path, manifest SHA-256)."""
    out_dir = Path(out_dir)
    if clean and out_dir.exists():
        shutil.rmtree(out_dir)
    files = render_site(bundle, out_dir, languages=languages, history=history)
    manifest_path, digest = sign_version(out_dir, signer, manifest_extra(bundle))
    log.info("built election=%s version=%s files=%d manifest_sha256=%s", bundle["election"]["id"],
             bundle["version"], len(files), digest)
    return manifest_path, digest
