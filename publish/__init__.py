"""Rendering, feeds, widget, manifest, signing, verification and bucket writing of the results.

Public API (nothing here imports Airflow; :class:`publish.bucket.Bucket` imports
``airflow.sdk.ObjectStoragePath`` lazily, and only for non-file URLs):

* :func:`publish.site.render_site` -- bundle -> static site, feeds and widget in a folder
* :func:`publish.build.build_version` -- render + seal (manifest, SHA256SUMS, signatures)
* :func:`publish.manifest.write_manifest`, :func:`publish.manifest.sign_version`
* :class:`publish.signing.Signer`, :func:`publish.signing.ensure_demo_signing_key`
* :func:`publish.verify.verify_version` -> :class:`publish.verify.VerifyReport`
* :class:`publish.bucket.Bucket`
* :func:`publish.release.stage`, :func:`publish.release.publish_version`,
  :func:`publish.release.rollback`, :func:`publish.release.replicate`, :func:`publish.release.current`

Layer: the parts, beside ``expectations`` and ``historical_loader``, independent of both
(docs/ARCHITECTURE.md): may import enr core (version ordering) and ``transforms``; never an
operation of enr, and Airflow only for the object store's path above (the one exception the
contract lists).
"""
