"""The default archive backend: the S3 Glacier storage classes, in place.

Archive = copy the object over itself into GLACIER; retrieval = RestoreObject (S3's
``s3:ObjectRestore:Completed`` event is the callback); finish = copy it back to STANDARD.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from gas import aws
from gas.archive.base import Archived, ExpeditedUnavailable
from gas.settings import Settings

ARCHIVE_STORAGE_CLASS = "GLACIER"


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
