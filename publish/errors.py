"""The refusals of a publication: each names the version and the rule, and nothing was changed.

Raised by :mod:`publish.release` (stage, publish, rollback, replicate) and :mod:`publish.timeline`
(the embargo, estimates and projection rules); importable from either of them. Layer: the parts
(``publish``), below nothing of enr.
"""
from __future__ import annotations


class PublishError(RuntimeError):
    """Publication refused or failed; ``current.json`` was not changed."""


class ApprovalMismatch(PublishError):
    """The staged manifest is not the one the reviewer approved."""


class EmbargoNotLifted(PublishError):
    """A real (non-test) version before the embargo time."""


class VersionNotNewer(PublishError):
    """The version is older than the current one, or a published version would change."""


class UnresolvedTies(PublishError):
    """A country has a tie that still needs the drawing of lots."""


class AreaMismatch(PublishError):
    """A rehearsal (test) version into a real election's public area, or a real version into a rehearsal area."""


class AreaNotDeclared(AreaMismatch):
    """The bucket has no ``AREA.json``: nobody declared it an election or a rehearsal area (``enr init``)."""


class MixedVersion(PublishError):
    """A version that holds test data for some countries and real data for others."""


class ClockMovedBack(PublishError):
    """``now`` is earlier than a publication already recorded: the clock cannot be trusted for the embargo."""


class IntegrityError(PublishError):
    """A file does not have the digest the manifest gives (in staging, the public area or the backup)."""


class NotStaged(PublishError):
    """No staged version (or no manifest) where one was expected."""


class NotPublished(PublishError):
    """Rollback or replication of a version that was never published."""
