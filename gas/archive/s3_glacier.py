"""The default archive backend: the S3 Glacier storage classes, in place.

Archive = copy the object over itself into GLACIER; retrieval = RestoreObject (S3's
``s3:ObjectRestore:Completed`` event is the callback); finish = copy it back to STANDARD.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from gas import aws
from gas.archive.base import Archived, ExpeditedUnavailable
from gas.settings import Settings

ARCHIVE_STORAGE_CLASS = "GLACIER"
RESTORE_COMPLETED = "ObjectRestore:Completed"


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

    def retrieved(self, bucket: str, key: str) -> bool:
        """Whether a restored copy is readable now (S3 sends no second "completed" event for a
        retrieval asked again, e.g. by a thaw that replaces a stopped one)."""
        try:
            restore = self.s3.head_object(Bucket=bucket, Key=key).get("Restore") or ""
        except ClientError as exc:
            if aws.is_not_found(exc):
                return False  # gone: asking for the retrieval will say so
            raise
        return 'ongoing-request="false"' in restore

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


def restores_completed(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every "restore completed" record in an S3 event notification."""
    found = []
    for record in event.get("Records") or []:
        if not str(record.get("eventName", "")).endswith(RESTORE_COMPLETED):
            continue
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name", "")
        # S3 event keys are URL-encoded (spaces as '+').
        key = unquote_plus((s3.get("object") or {}).get("key", ""))
        found.append((bucket, key))
    return found
