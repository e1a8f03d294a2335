"""Archive backends: where free users' results go after the retention period, and how they return.

``s3-glacier`` (default) moves objects to the GLACIER storage class in place and restores them
with RestoreObject; S3's ``s3:ObjectRestore:Completed`` event is the callback. ``glacier-vault`` is
the first system's Glacier vault API, for accounts that still have vaults.
"""

from __future__ import annotations

from gas.archive.base import (
    ARCHIVED_KINDS,
    ArchiveBackend,
    Archived,
    ArchiveError,
    ExpeditedUnavailable,
)
from gas.archive.s3_glacier import ARCHIVE_STORAGE_CLASS, S3GlacierBackend
from gas.archive.vault import GlacierVaultBackend
from gas.settings import Settings


def backend(settings: Settings) -> ArchiveBackend:
    """The archive backend the settings choose."""
    if settings.archive_backend == "glacier-vault":
        return GlacierVaultBackend(settings)
    return S3GlacierBackend(settings)


__all__ = [
    "ARCHIVED_KINDS",
    "ARCHIVE_STORAGE_CLASS",
    "ArchiveBackend",
    "ArchiveError",
    "Archived",
    "ExpeditedUnavailable",
    "GlacierVaultBackend",
    "S3GlacierBackend",
    "backend",
]
