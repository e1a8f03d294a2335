"""Archive backends: where free users' results go after the retention period, and how they return.

``s3-glacier`` (default) moves objects to the GLACIER storage class in place and restores them
with RestoreObject; S3's ``s3:ObjectRestore:Completed`` event is the callback. ``glacier-vault`` is
the first system's Glacier vault API, for accounts that still have vaults.
"""

from __future__ import annotations

import json
from typing import Any

from gas.archive import s3_glacier, vault
from gas.archive.base import (
    ARCHIVED_KINDS,
    ArchiveBackend,
    Archived,
    ArchiveError,
    ExpeditedUnavailable,
    archive_id_of,
    archived_kinds,
)
from gas.archive.s3_glacier import ARCHIVE_STORAGE_CLASS, S3GlacierBackend
from gas.archive.vault import GlacierVaultBackend
from gas.settings import GLACIER_VAULT, Settings


def backend(settings: Settings) -> ArchiveBackend:
    """The archive backend the settings choose."""
    if settings.archive_backend == GLACIER_VAULT:
        return GlacierVaultBackend(settings)
    return S3GlacierBackend(settings)


def restored_objects(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every retrieval a "restore completed" message reports, whichever backend
    sent it: an S3 event notification, or a vault job notification in its SNS envelope."""
    if message.get("Type") == "Notification" and "Message" in message:
        message = json.loads(message["Message"])
    if message.get("Action") == "ArchiveRetrieval":
        found = vault.retrieval_completed(message)
        return [found] if found else []
    return s3_glacier.restores_completed(message)


__all__ = [
    "ARCHIVED_KINDS",
    "ARCHIVE_STORAGE_CLASS",
    "ArchiveBackend",
    "ArchiveError",
    "Archived",
    "ExpeditedUnavailable",
    "GlacierVaultBackend",
    "S3GlacierBackend",
    "archive_id_of",
    "archived_kinds",
    "backend",
    "restored_objects",
]
