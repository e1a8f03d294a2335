"""What operators need: the backlog per activity, running and failed jobs, retrying a job, and
(on the local cloud) the e-mails researchers were sent.

The backlog comes from DynamoDB (the status index), not from Step Functions: it is read every few
seconds by the fleet scaler and the operator page, and Step Functions' read APIs are throttled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gas import aws, mail, models
from gas.resources import Resources
from gas.settings import Settings
from workflows import executions, jobs


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
    return {
        "annotate": _count(models.PENDING),
        "archive": _count(models.COMPLETED, before=models.now()),
        "restore": _count(models.RESTORING),
    }


def in_progress(settings: Settings) -> dict[str, int]:
    """Tasks being worked on now, per activity."""
    return {"annotate": _count(models.RUNNING)}


def jobs_in(settings: Settings, status: str, limit: int = 50) -> list[models.Job]:
    return list(models.Job.by_status.query(status, scan_index_forward=False, limit=limit))


def sent_mail(settings: Settings, limit: int = 50) -> list[mail.SentMail] | None:
    """The newest e-mails the local cloud's SES accepted, newest first; None on AWS, where mail
    leaves through SES and no copy is kept to list."""
    if not settings.is_local:
        return None
    return mail.local_mailbox(settings)[:limit]


def failed_jobs(settings: Settings, limit: int = 50) -> list[models.Job]:
    """The most recent failed jobs, newest first, with their reasons on the records."""
    return jobs_in(settings, models.FAILED, limit)


def running_jobs(settings: Settings, limit: int = 50) -> list[models.Job]:
    return jobs_in(settings, models.RUNNING, limit) + jobs_in(settings, models.PENDING, limit)


class RetryRefused(ValueError):
    """Only failed jobs can be retried."""


def retry(settings: Settings, job: models.Job) -> str:
    """Run a failed job again in a new execution; returns its ARN.

    A failed job's execution ended through Catch → RecordFailure → NotifyFailure → JobFailed, so a
    redrive would only re-run JobFailed: the job starts over instead. Executions that failed in a
    state without a Catch (an archive that kept failing) are redriven by :func:`redrive`.
    """
    if job.status != models.FAILED:
        raise RetryRefused(
            f"Job {job.job_id} is {job.status.lower()}, not failed; nothing to retry."
        )
    names = Resources.of(settings)
    # Back to PENDING first: the annotate step may only claim PENDING or RUNNING jobs.
    try:
        job.move_to(models.PENDING, failure_error=None, failure_reason=None, completed_at=None)
    except models.TransitionRefused as exc:  # another operator retried it a moment ago
        raise RetryRefused(f"Job {job.job_id} is being retried already.") from exc
    attempt = int(job.attempts or 0) + 1
    arn = executions.start_once(
        settings,
        names.job_state_machine_name,
        f"{job.job_id}-retry-{attempt}",
        jobs.execution_input(settings, job),
    )
    job.update(actions=[models.Job.execution_arn.set(arn)])
    return arn


class RedriveRefused(ValueError):
    """The execution is not one of this deployment's failed executions, or cannot be redriven."""


def failed_executions(settings: Settings, limit: int = 20) -> list[dict[str, Any]]:
    """Failed executions that no job record shows as a failed job: e.g. an archive that kept
    failing after the results were delivered, or a thaw that failed. These are redriven, not
    retried. (Job failures end in ``JobFailed`` with ``AnnotationFailed`` and are listed as jobs.)
    """
    sfn = aws.client(settings, "stepfunctions")
    names = aws.resources(settings)
    found = []
    for machine in (names.job_state_machine_name, names.thaw_state_machine_name):
        listed = sfn.list_executions(
            stateMachineArn=names.state_machine_arn(machine),
            statusFilter="FAILED",
            maxResults=limit,
        )["executions"]
        for execution in listed:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if described.get("error") == "AnnotationFailed":
                continue
            found.append(
                {
                    "execution_arn": execution["executionArn"],
                    "workflow": machine.removeprefix(f"{settings.prefix}-"),
                    "name": execution["name"],
                    "stopped_at": execution.get("stopDate"),
                    "error": described.get("error") or "",
                    "cause": described.get("cause") or "",
                    "redrive_count": described.get("redriveCount", 0),
                }
            )
    return found[:limit]


def is_ours(names: Resources, execution_arn: str) -> bool:
    """Whether ``execution_arn`` names an execution of this deployment's job or thaw workflow."""
    ours = tuple(
        names.execution_arn(machine, "")
        for machine in (names.job_state_machine_name, names.thaw_state_machine_name)
    )
    return execution_arn.startswith(ours)


def redrive(settings: Settings, execution_arn: str) -> None:
    """Resume a failed execution from the state that failed (RedriveExecution)."""
    if not is_ours(aws.resources(settings), execution_arn):
        raise RedriveRefused("not an execution of this deployment")
    try:
        aws.client(settings, "stepfunctions").redrive_execution(executionArn=execution_arn)
    except ClientError as exc:
        raise RedriveRefused(
            f"Step Functions refused the redrive: {aws.error_message(exc)}"
        ) from exc
