"""Archive backends: where free users' results go after the retention period, and how they return.

``s3-glacier`` (default) moves objects to the GLACIER storage class in place and restores them
with RestoreObject; S3's ``s3:ObjectRestore:Completed`` event is the callback. ``glacier-vault`` is
the first system's Glacier vault API, for accounts that still have vaults (see gas.vault).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from gas import aws
from gas.settings import Settings

ARCHIVE_STORAGE_CLASS = "GLACIER"
ARCHIVED_KINDS = ("annotated",)  # the log and summary stay online: small, and shown in the page


class ArchiveError(Exception):
    error_name = "Archive.Failed"


class ExpeditedUnavailable(ArchiveError):
    """Expedited retrieval capacity was refused; fall back to Standard."""

    error_name = "Archive.ExpeditedUnavailable"


@dataclass(frozen=True)
class Archived:
    key: str
    archive_id: str | None = None  # the vault backend's id; None for storage classes


class ArchiveBackend(Protocol):
    name: str

    def archive(self, bucket: str, key: str) -> Archived: ...

    def request_retrieval(self, bucket: str, key: str, tier: str, archive_id: str | None) -> str:
        """Ask for the object back; returns the retrieval's id (the key, or a vault job id)."""
        ...

    def finish_restore(self, bucket: str, key: str, archive_id: str | None) -> None:
        """Once retrieved: put the object back in standard storage at its key."""
        ...


class S3GlacierBackend:
    name = "s3-glacier"

    def __init__(self, settings: Settings, restore_days: int = 1) -> None:
        self.s3 = aws.client(settings, "s3")
        self.restore_days = restore_days

    def storage_class(self, bucket: str, key: str) -> str:
        return self.s3.head_object(Bucket=bucket, Key=key).get("StorageClass", "STANDARD")

    def archive(self, bucket: str, key: str) -> Archived:
        if self.storage_class(bucket, key) != ARCHIVE_STORAGE_CLASS:  # idempotent
            self.s3.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource={"Bucket": bucket, "Key": key},
                StorageClass=ARCHIVE_STORAGE_CLASS,
                MetadataDirective="COPY",
            )
        return Archived(key=key)

    def request_retrieval(self, bucket: str, key: str, tier: str, archive_id: str | None) -> str:
        try:
            self.s3.restore_object(
                Bucket=bucket,
                Key=key,
                RestoreRequest={"Days": self.restore_days, "GlacierJobParameters": {"Tier": tier}},
            )
        except ClientError as exc:
            code = aws.error_code(exc)
            if code == "GlacierExpeditedRetrievalNotAvailable":
                raise ExpeditedUnavailable(f"Expedited retrieval refused for {key}") from exc
            if code == "RestoreAlreadyInProgress":
                return key
            raise
        return key

    def finish_restore(self, bucket: str, key: str, archive_id: str | None) -> None:
        # Copying the restored copy over itself with STANDARD makes it permanent again.
        if self.storage_class(bucket, key) == ARCHIVE_STORAGE_CLASS:
            self.s3.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource={"Bucket": bucket, "Key": key},
                StorageClass="STANDARD",
                MetadataDirective="COPY",
            )


def backend(settings: Settings) -> Any:
    """The archive backend the settings choose."""
    if settings.archive_backend == "glacier-vault":
        from gas.vault import GlacierVaultBackend  # noqa: PLC0415 - only for accounts with vaults

        return GlacierVaultBackend(settings)
    return S3GlacierBackend(settings)
