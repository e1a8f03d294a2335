"""What operators need: the backlog per activity, running and failed jobs, and retrying a job.

The backlog comes from DynamoDB (the status index), not from Step Functions: it is read every few
seconds by the fleet scaler and the operator page, and Step Functions' read APIs are throttled.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gas import aws, models
from gas.resources import Resources
from gas.settings import Settings
from workflows import jobs


def _count(status: str, before: datetime | None = None) -> int:
    condition = None
    if before is not None:
        condition = models.Job.archive_after <= before
    return sum(1 for _ in models.Job.by_status.query(status, filter_condition=condition))


def backlog(settings: Settings) -> dict[str, int]:
    """Tasks waiting for a worker, per activity.

    ``annotate``: jobs submitted and not yet taken by a worker (PENDING). ``archive``: free jobs
    whose retention is over and that are not archived yet.
    """
    models.bind(settings)
    return {
        "annotate": _count(models.PENDING),
        "archive": _count(models.COMPLETED, before=models.now()),
        "restore": _count(models.RESTORING),
    }


def in_progress(settings: Settings) -> dict[str, int]:
    """Tasks being worked on now, per activity."""
    models.bind(settings)
    return {"annotate": _count(models.RUNNING)}


def jobs_in(settings: Settings, status: str, limit: int = 50) -> list[models.Job]:
    models.bind(settings)
    return list(models.Job.by_status.query(status, scan_index_forward=False, limit=limit))


def failed_jobs(settings: Settings, limit: int = 50) -> list[models.Job]:
    """The most recent failed jobs, newest first, with their reasons on the records."""
    return jobs_in(settings, models.FAILED, limit)


def running_jobs(settings: Settings, limit: int = 50) -> list[models.Job]:
    return jobs_in(settings, models.RUNNING, limit) + jobs_in(settings, models.PENDING, limit)


class RetryRefused(ValueError):
    """Only failed jobs can be retried."""


def retry(settings: Settings, job: models.Job) -> str:
    """Run a failed job again in a new execution; returns its ARN.

    A failed job's execution ended through Catch → RecordFailure → JobFailed, so a redrive would
    only re-run JobFailed: the job starts over instead. Executions that failed in a state without a
    Catch (an archive that kept failing) are redriven by :func:`redrive`.
    """
    if job.status != models.FAILED:
        raise RetryRefused(f"job {job.job_id} is {job.status}; only FAILED jobs can be retried")
    sfn = aws.client(settings, "stepfunctions")
    names = Resources.of(settings, aws.account_id(settings))
    # Back to PENDING first: the annotate step may only claim PENDING or RUNNING jobs.
    job.update(
        actions=[
            models.Job.status.set(models.PENDING),
            models.Job.failure_error.remove(),
            models.Job.failure_reason.remove(),
            models.Job.completed_at.remove(),
        ],
        condition=models.Job.status == models.FAILED,
    )
    attempt = int(job.attempts or 0) + 1
    name = f"{job.job_id}-retry-{attempt}"
    arn = names.execution_arn(names.job_state_machine_name, name)
    try:
        sfn.start_execution(
            stateMachineArn=names.state_machine_arn(names.job_state_machine_name),
            name=name,
            input=json.dumps(jobs.execution_input(settings, job)),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
    job.update(actions=[models.Job.execution_arn.set(arn)])
    return arn


def redrive(settings: Settings, execution_arn: str) -> None:
    """Resume a failed execution from the state that failed (RedriveExecution)."""
    aws.client(settings, "stepfunctions").redrive_execution(executionArn=execution_arn)


def summary(settings: Settings) -> dict[str, Any]:
    """Everything the operator page shows at the top."""
    return {"backlog": backlog(settings), "in_progress": in_progress(settings)}
