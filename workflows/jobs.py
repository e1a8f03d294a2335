"""Jobs as workflow executions: submit, find, read back (status, current state, timeline), results.

The list pages read DynamoDB only; :func:`detail` is the one call that reads Step Functions (its
read APIs are throttled at a few calls a second), for one job's page or ``gas job ID``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gas import aws, definitions, filenames, keys, models, result_kinds, schemas, timestamps
from gas.resources import Resources
from gas.settings import Settings
from workflows import executions, uploads


class SubmitError(ValueError):
    """The job cannot be submitted; the message says why, for the user."""


class JobNotFound(LookupError):
    """No such job, or not one the asker may see: the same answer, so ids never leak."""


def display_name(filename: str) -> str:
    """The researcher's file name as kept on the job (any script; never used as a key)."""
    return filenames.clean(filename)


def execution_input(
    settings: Settings,
    job: models.Job,
    *,
    resume_at_retention: bool = False,
) -> dict[str, Any]:
    """What a job's execution starts with: the job, and the limits the workflow applies.

    ``resume_at_retention``: the job's results exist; the workflow starts at its retention wait,
    which ends at the recorded ``archive_after`` (completion + retention), not a full period later.
    It warns of the archive first only if no warning was sent and its time is still ahead.
    """
    payload: dict[str, Any] = {
        "job_id": job.job_id,
        "user_id": job.user_id,
        "input_key": job.input_key,
        "build": job.requested_build or "auto",
        "retention_seconds": settings.free_retention_seconds,
        "archive_warning_seconds": settings.archive_warning_seconds,
        "limits": {
            "annotate_timeout_seconds": settings.annotate_wait_limit_seconds
            + settings.annotate_run_limit_seconds,
            "annotate_heartbeat_seconds": settings.annotate_heartbeat_seconds,
            "annotate_run_seconds": settings.annotate_run_limit_seconds,
            "expedited_timeout_seconds": settings.expedited_timeout_seconds,
            "standard_timeout_seconds": settings.standard_timeout_seconds,
        },
        "resume_from": "annotation",
    }
    if resume_at_retention:
        assert job.archive_after is not None
        payload["resume_from"] = "retention"
        payload["annotation"] = {
            "tier": models.FREE,
            **timestamps.archive_waits(
                job.archive_after,
                settings.archive_warning_seconds,
                models.now(),
                warned=job.archive_warning_sent_at is not None,
            ),
        }
    schemas.check(payload, "annotation-job.input.schema.json")
    return payload


def submit(
    settings: Settings, user: models.User, input_key: str, filename: str, build: str = "auto"
) -> models.Job:
    """Start the job for a file the caller put at ``input_key``; the same upload twice is one job.

    The browser's uploads go through :func:`submit_upload`, which also checks what arrived.
    """
    try:
        upload = uploads.own_upload(user, input_key)
    except uploads.NotYourUpload as exc:
        raise SubmitError("That is not an upload of yours.") from exc
    s3 = aws.client(settings, "s3")
    try:
        s3.head_object(Bucket=uploads.inputs_bucket(settings), Key=input_key)
    except ClientError as exc:
        raise SubmitError("The upload was not found; please upload the file again.") from exc
    return _start(settings, user, upload, filename, build)


def submit_upload(
    settings: Settings,
    user: models.User,
    upload: uploads.Upload,
    build: str = "auto",
    filename: str | None = None,
) -> models.Job:
    """Check an upload (size, name, content) and start its job, named ``filename`` (the
    researcher's name for the file); a refused upload is deleted.

    An upload that became a job already is that job (a double submit), without a second check.
    """
    existing = job_for_upload(settings, upload)
    if existing is not None:
        return existing
    try:
        filename = uploads.check_upload(settings, user, upload, filename)
    except uploads.UploadProblem as problem:
        uploads.discard(settings, upload.key)
        raise SubmitError(str(problem)) from problem
    return _start(settings, user, upload, filename, build)


def _start(
    settings: Settings,
    user: models.User,
    upload: uploads.Upload,
    filename: str,
    build: str = "auto",
) -> models.Job:
    names = aws.resources(settings)
    input_key = upload.key
    job_id = keys.job_id_for_upload(input_key)
    arn = names.execution_arn(names.job_state_machine_name, job_id)
    job = models.Job(
        job_id,
        user_id=user.user_id,
        tier=user.tier,
        input_key=input_key,
        input_filename=display_name(filename),
        execution_arn=arn,
        status=models.PENDING,
        requested_build=build,
    )
    try:
        job.save_new()
    except models.AlreadyExists:
        job = models.Job.get(job_id)  # submitted before: same job, and at most one execution
    payload = execution_input(settings, job)
    executions.start_once(settings, names.job_state_machine_name, job_id, payload)
    return job


def get(settings: Settings, job_id: str) -> models.Job:
    """The job ``job_id``; raises JobNotFound for a missing job or a string that is no id."""
    if not keys.is_id(job_id):
        raise JobNotFound(job_id)
    try:
        return models.Job.get(job_id)
    except models.DoesNotExist:
        raise JobNotFound(job_id) from None


def get_own(settings: Settings, user: models.User, job_id: str) -> models.Job:
    """The user's job ``job_id``; raises JobNotFound for anyone else's, as for a missing one."""
    job = get(settings, job_id)
    if job.user_id != user.user_id:
        raise JobNotFound(job_id)
    return job


def own_jobs(
    settings: Settings, user: models.User, job_ids: list[str], limit: int = 100
) -> list[models.Job]:
    """The user's jobs among the first ``limit`` valid ids; anyone else's are left out."""
    ids = [job_id for job_id in dict.fromkeys(job_ids) if keys.is_id(job_id)][:limit]
    if not ids:
        return []
    return [job for job in models.Job.batch_get(ids) if job.user_id == user.user_id]


def job_for_upload(settings: Settings, upload: uploads.Upload) -> models.Job | None:
    """The job an upload became, if it was submitted already."""
    try:
        return models.Job.get(keys.job_id_for_upload(upload.key))
    except models.DoesNotExist:
        return None


def job_for_upload_id(settings: Settings, user: models.User, upload_id: str) -> models.Job | None:
    """The job an upload of ``user``'s became, whichever key (plain or gzip) it was kept at."""
    for compressed in (False, True):
        key = keys.upload_key(user.user_id, upload_id, compressed=compressed)
        try:
            return models.Job.get(keys.job_id_for_upload(key))
        except models.DoesNotExist:
            continue
    return None


def for_user(settings: Settings, user_id: str, limit: int = 20) -> list[models.Job]:
    """The user's newest jobs, newest first."""
    return list(models.Job.for_user(user_id, limit=limit))


def page_for_user(
    settings: Settings,
    user_id: str,
    limit: int,
    after: dict[str, Any] | None = None,
    status: str | None = None,
) -> tuple[list[models.Job], dict[str, Any] | None]:
    """One page of the user's jobs, newest first, and where the next page starts (None: none).

    With ``status``, DynamoDB filters after reading ``limit`` items: a page may be short (even
    empty) while a next page still exists.
    """
    results = models.Job.for_user(user_id, limit=limit, last_key=after, status=status)
    page = list(results)
    return page, results.last_evaluated_key


def newest(settings: Settings, limit: int = 20) -> list[models.Job]:
    """The newest jobs of every user, newest first: the newest of each status, merged."""
    found = [
        job
        for status in models.STATUSES
        for job in models.Job.by_status.query(status, scan_index_forward=False, limit=limit)
    ]
    return sorted(found, key=lambda job: job.submitted_at, reverse=True)[:limit]


def queue_position(settings: Settings, job: models.Job) -> int | None:
    """How many queued jobs were submitted before this one (None unless it is queued)."""
    if job.status != models.PENDING:
        return None
    ahead = models.Job.by_status.query(
        models.PENDING,
        range_key_condition=models.Job.submitted_at < job.submitted_at,
        attributes_to_get=["job_id"],
    )
    return sum(1 for _ in ahead)


# -- the researcher's controls: cancel, resubmit, delete ----------------------------------------


class JobConflict(ValueError):
    """The job's status does not allow this now; the message says why, for the user."""


# While a job is in one of these, a workflow is working on its files: it cannot be deleted.
BUSY = (models.PENDING, models.RUNNING, models.RESTORING)


def can_cancel(job: models.Job) -> bool:
    """Queued, annotating, or a free job's results waiting out their retention."""
    return job.status in (models.PENDING, models.RUNNING) or (
        job.status == models.COMPLETED and job.archive_after is not None
    )


def can_delete(job: models.Job) -> bool:
    return job.status not in BUSY and not (
        job.status == models.ARCHIVED and job.thaw_execution is not None
    )


def cancel(settings: Settings, job: models.Job) -> models.Job:
    """Stop the job's workflow and mark it CANCELLED; a cancelled job is never archived.

    The status is written first (conditionally), so a worker finishing meanwhile cannot move it
    on, and the archive step, which archives only COMPLETED jobs, finds nothing to do; then the
    execution is stopped. ``archive_after`` goes, so the reconciler leaves the job alone.
    """
    if not can_cancel(job):
        raise JobConflict(f"The job is {job.status.lower()}; there is nothing to cancel.")
    Job = models.Job
    try:
        # A completed job only while it waits out its retention (not once it is being archived).
        job.move_to(
            models.CANCELLED,
            when=(Job.status != models.COMPLETED) | Job.archive_after.exists(),
            archive_after=None,
            cancelled_at=models.now(),
        )
    except models.TransitionRefused:
        job.refresh()
        raise JobConflict(
            f"The job is {job.status.lower()} now; there is nothing to cancel."
        ) from None
    if job.execution_arn:
        executions.stop(settings, job.execution_arn, "cancelled by the researcher")
    return job


def resubmit(settings: Settings, user: models.User, job: models.Job) -> models.Job:
    """A new job with the same input file (copied to a new upload, so it gets its own id)."""
    names = Resources.of(settings)
    compressed = job.input_key.endswith(".gz")
    key = keys.upload_key(user.user_id, keys.new_id(), compressed=compressed)
    try:
        aws.client(settings, "s3").copy_object(
            Bucket=names.inputs_bucket,
            Key=key,
            CopySource={"Bucket": names.inputs_bucket, "Key": job.input_key},
            MetadataDirective="COPY",
        )
    except ClientError as exc:
        if aws.is_not_found(exc):
            raise SubmitError("The job's input file is gone; please upload it again.") from exc
        raise
    upload = uploads.own_upload(user, key)
    new = _start(settings, user, upload, job.input_filename, job.requested_build or "auto")
    new.update(actions=[models.Job.resubmitted_from.set(job.job_id)])
    return new


def delete(settings: Settings, job: models.Job) -> None:
    """Remove the job's input, every result object and its record; refused while it is busy.

    A free job still waiting out its retention is cancelled first (its workflow stopped). The
    objects go before the record, so a delete that fails half-way can simply be asked again.
    """
    if job.status == models.COMPLETED and job.archive_after is not None:
        cancel(settings, job)
    if not can_delete(job):
        raise JobConflict(
            f"The job is {job.status.lower()}; it can be deleted once it has finished."
        )
    names = Resources.of(settings)
    s3 = aws.client(settings, "s3")
    s3.delete_object(Bucket=names.inputs_bucket, Key=job.input_key)
    result_keys = set(job.results.as_dict().values()) if job.results else set()
    paginator = s3.get_paginator("list_objects_v2")
    prefix = keys.result_prefix(job.user_id, job.job_id)
    for page in paginator.paginate(Bucket=names.results_bucket, Prefix=prefix):
        result_keys |= {obj["Key"] for obj in page.get("Contents", [])}
    ordered = sorted(result_keys)
    for start in range(0, len(ordered), 1000):  # DeleteObjects takes 1000 keys a call
        s3.delete_objects(
            Bucket=names.results_bucket,
            Delete={"Objects": [{"Key": key} for key in ordered[start : start + 1000]]},
        )
    Job = models.Job
    try:
        job.delete_if(~Job.status.is_in(*BUSY) & Job.thaw_execution.does_not_exist())
    except models.ConditionRefused:
        raise JobConflict("The job started again meanwhile; it cannot be deleted now.") from None


# -- reading an execution back ---------------------------------------------------------------

_ENTERED = re.compile(r"^(\w+?)StateEntered$")
_EXITED = re.compile(r"^(\w+?)StateExited$")
_FAILURE_EVENTS = {
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "ActivityScheduleFailed": "activityScheduleFailedEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
}


def history(settings: Settings, execution_arn: str) -> list[dict[str, Any]]:
    sfn = aws.client(settings, "stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 500}
    ):
        events += page["events"]
    return events


def timeline(events: list[dict[str, Any]], execution_status: str) -> list[dict[str, Any]]:
    """One entry per state the execution entered: start, end, duration, attempts, error."""
    steps: list[dict[str, Any]] = []
    open_steps: dict[str, dict[str, Any]] = {}
    last: dict[str, Any] | None = None
    for event in events:
        kind = event["type"]
        when: datetime = event["timestamp"]
        if m := _ENTERED.match(kind):
            name = event["stateEnteredEventDetails"]["name"]
            step = {
                "state": name,
                "type": m.group(1),
                "status": "running",
                "started_at": when,
                "ended_at": None,
                "duration_seconds": None,
                "attempts": 0,
                "error": None,
                "cause": None,
            }
            steps.append(step)
            open_steps[name] = step
            last = step
        elif m := _EXITED.match(kind):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_steps:
                step = open_steps.pop(name)
                step["ended_at"] = when
                step["duration_seconds"] = (when - step["started_at"]).total_seconds()
                failed_last = step.get("_failed_last", False)
                if failed_last:
                    step["status"] = "failed"
                elif step["attempts"] > 1:
                    step["status"] = "retried"
                else:
                    step["status"] = "succeeded"
        elif kind in ("ActivityScheduled", "TaskScheduled"):
            if last is not None:
                last["attempts"] += 1
                last["_failed_last"] = False
        elif kind in _FAILURE_EVENTS and kind != "ExecutionFailed":
            details = event.get(_FAILURE_EVENTS[kind], {})
            if last is not None:
                last["error"] = details.get("error")
                last["cause"] = details.get("cause")
                last["_failed_last"] = True
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            for step in open_steps.values():
                step["status"] = "failed"
                step["ended_at"] = when
                step["duration_seconds"] = (when - step["started_at"]).total_seconds()
            open_steps.clear()
    for step in open_steps.values():
        if step["type"] == "Wait":
            step["status"] = "waiting"
        elif step["attempts"] > 1 or step.get("_failed_last"):
            step["status"] = "retried"  # running again after a failed attempt
    for step in steps:
        step.pop("_failed_last", None)
        for key in ("started_at", "ended_at"):
            if isinstance(step[key], datetime):
                step[key] = step[key].isoformat()
    return steps


_PRECEDENCE = ["not_reached", "succeeded", "retried", "waiting", "running", "failed"]


def state_colours(definition: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, str]:
    """Each state of the definition, coloured by what this execution did there."""
    colours = {name: "not_reached" for name in _all_states(definition)}
    for step in steps:
        name = step["state"]
        current = colours.get(name, "not_reached")
        status = step["status"]
        # The latest visit wins, except that a failure anywhere in a state's visits stays visible.
        colours[name] = status if current != "failed" else current
    return colours


def _all_states(machine: dict[str, Any]) -> list[str]:
    names = []
    for name, state in machine["States"].items():
        names.append(name)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                names += _all_states(state[key])
        for branch in state.get("Branches", []):
            names += _all_states(branch)
    return names


def detail(settings: Settings, job: models.Job) -> dict[str, Any]:
    """The job with its execution: status, current state, timeline and the coloured graph."""
    definition = definitions.load("annotation-job")
    result: dict[str, Any] = {
        "status": job.status,
        "current_state": None,
        "execution_status": None,
        "timeline": [],
        "states": {name: "not_reached" for name in _all_states(definition)},
        "definition": definition,
        "archive_at": job.archive_after.isoformat() if job.archive_after else None,
    }
    if not job.execution_arn:
        return result
    described = executions.describe(settings, job.execution_arn)
    if described is None:
        return result
    status = described["status"]
    steps = timeline(history(settings, job.execution_arn), status)
    result["execution_status"] = status
    result["timeline"] = steps
    result["states"] = state_colours(definition, steps)
    running = [s for s in steps if s["ended_at"] is None]
    result["current_state"] = (running or steps or [{"state": None}])[-1]["state"]
    return result


# -- results ---------------------------------------------------------------------------------


def download_filename(job: models.Job, kind: str) -> str:
    """What a download of ``kind`` is called: the input's stem and the kind's ending."""
    return download_name(job, result_kinds.get(kind).download_name)


def result_url(settings: Settings, job: models.Job, kind: str) -> str:
    """A presigned GET for one of the job's stored result files, offered as a download."""
    if not job.results or kind not in job.results.as_dict():
        raise KeyError(kind)
    names = Resources.of(settings)
    return aws.client(settings, "s3").generate_presigned_url(
        "get_object",
        Params={
            "Bucket": names.results_bucket,
            "Key": job.results.as_dict()[kind],
            "ResponseContentDisposition": download_disposition(
                job, result_kinds.get(kind).download_name
            ),
        },
        ExpiresIn=settings.presigned_url_seconds,
    )


def download_name(job: models.Job, suffix: str) -> str:
    """What a file made from the job's input is offered as: the input's stem and ``suffix``."""
    return (job.input_filename.rsplit(".vcf", 1)[0] or "results") + suffix


def download_disposition(job: models.Job, suffix: str) -> str:
    """The ``Content-Disposition`` (RFC 6266) offering :func:`download_name`."""
    return filenames.content_disposition(download_name(job, suffix))


def read_result(settings: Settings, job: models.Job, kind: str) -> bytes:
    """The bytes of one result file (the log and the summary are shown in the page)."""
    if not job.results or kind not in job.results.as_dict():
        raise KeyError(kind)
    names = Resources.of(settings)
    obj = aws.client(settings, "s3").get_object(
        Bucket=names.results_bucket, Key=job.results.as_dict()[kind]
    )
    return obj["Body"].read()
