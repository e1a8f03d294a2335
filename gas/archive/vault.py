"""The Glacier vault archive backend, for accounts that still have vaults.

AWS closed the vault service to new customers in December 2025; the first system used it. Archive =
UploadArchive, then the S3 object is deleted. Retrieval = InitiateJob with the restore-events SNS
topic (Expedited first; Standard when Expedited capacity is refused with
InsufficientCapacityException); the job's description carries ``gas:<bucket>/<key>`` so the
callback relay can find the job from the vault's notification. Finish = GetJobOutput, PutObject back
at the original key, then DeleteArchive. LocalStack has no vault API; the tests use moto.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from gas import aws
from gas.archive.base import Archived, ArchiveError
from gas.resources import Resources
from gas.settings import Settings

log = logging.getLogger("gas.archive.vault")

ARCHIVE_ID_TAG = (
    "gas-archive-id"  # set on the S3 object between upload and delete: retries reuse it
)
DESCRIPTION_PREFIX = "gas:"


class GlacierVaultBackend:
    name = "glacier-vault"

    def __init__(self, settings: Settings, *, account: str = "-") -> None:
        self.settings = settings
        self.glacier = aws.client(settings, "glacier")
        self.s3 = aws.client(settings, "s3")
        self.account = account  # "-" means the credentials' own account
        self.vault = Resources.of(settings).glacier_vault
        self._topic_arn: str | None = None

    @property
    def topic_arn(self) -> str:
        """The SNS topic vault jobs report to (subscribed by the restore-events queue)."""
        if self._topic_arn is None:
            self._topic_arn = aws.resources(self.settings).restore_events_topic_arn
        return self._topic_arn

    def ensure_vault(self) -> None:
        """Create the vault (idempotent on AWS)."""
        self.glacier.create_vault(accountId=self.account, vaultName=self.vault)

    def archive(self, bucket: str, key: str) -> Archived:
        try:
            tags = self.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        except ClientError as exc:
            if aws.error_code(exc) in ("NoSuchKey", "404"):
                raise ArchiveError(f"{key} is not in {bucket}: archived already?") from exc
            raise
        archive_id = next((t["Value"] for t in tags if t["Key"] == ARCHIVE_ID_TAG), None)
        if archive_id is None:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            uploaded = self.glacier.upload_archive(
                accountId=self.account,
                vaultName=self.vault,
                archiveDescription=key[:1024],
                body=body,
            )
            archive_id = uploaded["archiveId"]
            self.s3.put_object_tagging(
                Bucket=bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": ARCHIVE_ID_TAG, "Value": archive_id[:256]}]},
            )
        self.s3.delete_object(Bucket=bucket, Key=key)
        return Archived(key=key, archive_id=archive_id)

    def request_retrieval(self, bucket: str, key: str, tier: str, archive_id: str | None) -> str:
        """Start the vault's retrieval job; returns its job id."""
        if not archive_id:
            raise ArchiveError(f"{key} has no vault archive id")
        params: dict[str, Any] = {
            "Type": "archive-retrieval",
            "ArchiveId": archive_id,
            "Tier": tier,
            "SNSTopic": self.topic_arn,
            "Description": f"{DESCRIPTION_PREFIX}{bucket}/{key}"[:1024],
        }
        try:
            started = self.glacier.initiate_job(
                accountId=self.account, vaultName=self.vault, jobParameters=params
            )
        except ClientError as exc:
            if tier != "Expedited" or aws.error_code(exc) != "InsufficientCapacityException":
                raise
            log.warning("expedited retrieval refused for %s; asking for Standard", key)
            started = self.glacier.initiate_job(
                accountId=self.account,
                vaultName=self.vault,
                jobParameters={**params, "Tier": "Standard"},
            )
        return started["jobId"]

    def retrieval_tier(self, retrieval_id: str) -> str:
        """The tier a retrieval job actually runs at (Standard after a refused Expedited)."""
        described = self.glacier.describe_job(
            accountId=self.account, vaultName=self.vault, jobId=retrieval_id
        )
        return described.get("Tier") or "Standard"

    def completed_retrieval(self, archive_id: str) -> str | None:
        """The id of a succeeded retrieval job of this archive, if there is one."""
        paginator = self.glacier.get_paginator("list_jobs")
        for page in paginator.paginate(
            accountId=self.account, vaultName=self.vault, completed="true", statuscode="Succeeded"
        ):
            for job in page.get("JobList", []):
                if (
                    job.get("ArchiveId") == archive_id
                    and job.get("Completed")
                    and job.get("StatusCode") == "Succeeded"
                ):
                    return job["JobId"]
        return None

    def finish_restore(self, bucket: str, key: str, archive_id: str | None) -> None:
        if not archive_id or self._in_s3(bucket, key):
            return  # never left S3, or restored before (a retried task)
        retrieval = self.completed_retrieval(archive_id)
        if retrieval is None:
            raise ArchiveError(f"no completed retrieval of {key}'s archive yet")
        output = self.glacier.get_job_output(
            accountId=self.account, vaultName=self.vault, jobId=retrieval
        )
        self.s3.put_object(Bucket=bucket, Key=key, Body=output["body"].read())
        try:
            self.glacier.delete_archive(
                accountId=self.account, vaultName=self.vault, archiveId=archive_id
            )
        except ClientError as exc:
            if aws.error_code(exc) != "ResourceNotFoundException":
                raise

    def _in_s3(self, bucket: str, key: str) -> bool:
        return aws.object_exists(self.s3, bucket, key)


def retrieval_completed(notification: dict[str, Any]) -> tuple[str, str] | None:
    """(bucket, key) that a vault's "retrieval succeeded" notification names; None otherwise."""
    description = notification.get("JobDescription") or ""
    if notification.get("StatusCode") != "Succeeded" or not description.startswith(
        DESCRIPTION_PREFIX
    ):
        return None
    bucket, _, key = description[len(DESCRIPTION_PREFIX) :].partition("/")
    return bucket, key
