"""What a researcher's account uses: bytes stored online and archived, jobs this month, limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gas import aws, models
from gas.resources import Resources
from gas.settings import Settings
from workflows import uploads

# Storage classes S3 answers GetObject for only after a restore.
ARCHIVE_CLASSES = ("GLACIER", "DEEP_ARCHIVE", "GLACIER_IR")


@dataclass(frozen=True)
class Usage:
    """One account's storage and jobs, and its tier's limits."""

    tier: str
    bytes_online: int
    bytes_archived: int
    objects: int
    jobs_this_month: int
    upload_limit_bytes: int
    retention_seconds: int | None  # None: results stay online (premium)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stored(settings: Settings, bucket: str, prefix: str) -> tuple[int, int, int]:
    """(bytes online, bytes archived, objects) under one prefix of one bucket."""
    online = archived = count = 0
    paginator = aws.client(settings, "s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            count += 1
            if obj.get("StorageClass", "STANDARD") in ARCHIVE_CLASSES:
                archived += obj["Size"]
            else:
                online += obj["Size"]
    return online, archived, count


def of(settings: Settings, user: models.User) -> Usage:
    """The user's usage: a listing of their two prefixes and one count query."""
    names = Resources.of(settings)
    inputs = _stored(settings, names.inputs_bucket, f"uploads/{user.user_id}/")
    results = _stored(settings, names.results_bucket, f"results/{user.user_id}/")
    online, archived, objects = (a + b for a, b in zip(inputs, results, strict=True))
    month_start = models.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = models.Job.by_user.query(
        user.user_id,
        range_key_condition=models.Job.submitted_at >= month_start,
        attributes_to_get=["job_id"],
    )
    jobs = sum(1 for _ in this_month)
    return Usage(
        tier=user.tier,
        bytes_online=online,
        bytes_archived=archived,
        objects=objects,
        jobs_this_month=jobs,
        upload_limit_bytes=uploads.size_limit(settings, user),
        retention_seconds=None if user.is_premium else settings.free_retention_seconds,
    )
