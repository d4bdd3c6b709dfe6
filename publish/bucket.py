"""The export store the publisher reads and writes: :class:`enr.bucket.Bucket`, local folder or object store.

The bucket itself (one key rule, temp-file-then-replace writes, the local-folder and
ObjectStoragePath/S3 back ends) lives in the core, :mod:`enr.bucket`, so that the intake and the
publisher share it; this module is the name the publisher's code imports it by, and holds what
only publication decides: how long readers' caches may keep what the bucket serves.
"""
from __future__ import annotations

from enr.bucket import (BULK_BATCH, REMOTE_WORKERS, TEMP_PREFIX, Bucket, BucketError, UnsafeKey,  # noqa: F401
                        check_key, content_type)

# HTTP caching of what a bucket serves: versions never change, pointers change at every publication.
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_POINTER = "public, max-age=10, must-revalidate"
