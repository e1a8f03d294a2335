"""Jobs placed straight into a later point of their life, for tests that start there: the record
as the workflow would have left it, with placeholder result objects where it keeps them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gas import aws, keys, models
from gas.settings import Settings
from workflows import users


def completed_job(
    settings: Settings,
    completed_at: datetime,
    *,
    user: models.User | None = None,
    with_execution: bool = False,
    **fields: Any,
) -> tuple[models.User, models.Job]:
    """A free user's (or ``user``'s) job COMPLETED at ``completed_at``, its results in S3.

    ``with_execution`` names the execution the job would have run under (lost, in these tests);
    ``fields`` set or override anything else on the record (``archive_after`` …).
    """
    user = user or users.ensure_user(settings, f"{keys.new_id()}@example.org")
    names = aws.resources(settings)
    job_id = keys.new_id()
    results = {kind: keys.result_key(user.user_id, job_id, kind) for kind in keys.RESULT_FILES}
    for key in results.values():
        aws.client(settings, "s3").put_object(Bucket=names.results_bucket, Key=key, Body=b"#\n")
    record: dict[str, Any] = {
        "user_id": user.user_id,
        "input_key": keys.upload_key(user.user_id, keys.new_id()),
        "status": models.COMPLETED,
        "results": results,
        "completed_at": completed_at,
        "submitted_at": completed_at - timedelta(seconds=30),
    }
    if with_execution:
        record["execution_arn"] = names.execution_arn(names.job_state_machine_name, job_id)
    record.update(fields)
    job = models.Job(job_id, **record)
    job.save()
    return user, job
