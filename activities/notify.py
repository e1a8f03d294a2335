"""Notify: e-mail the user (SES) and publish on the job-results topic (SNS).

The text of every message is in :mod:`gas.notifications`. A notice that no longer applies when the
task runs (the user upgraded before the archive warning, the job moved on, the warning went out
already) is not sent: the task reports why in ``skipped``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from activities.base import Activity, TaskContext
from gas import aws, models, notifications
from gas.notifications import ARCHIVE_SOON, JOB_FAILED, RESULTS_READY


def _skipped(reason: str) -> dict[str, Any]:
    return {"emailed": False, "published": False, "message_id": None, "skipped": reason}


def _thaw_jobs(outcomes: list[Any]) -> dict[str, models.Job]:
    found = {}
    for outcome in outcomes:
        if isinstance(outcome, dict) and outcome.get("job_id"):
            # A job deleted meanwhile is named by its id in the message.
            with contextlib.suppress(models.DoesNotExist):
                found[outcome["job_id"]] = models.Job.get(outcome["job_id"])
    return found


def run(ctx: TaskContext, task: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    user = models.User.get(task["user_id"])
    event = task["event"]
    job: models.Job | None = None
    if event != notifications.THAW_COMPLETE:
        try:
            job = models.Job.get(task["job_id"])
        except models.DoesNotExist:
            return _skipped("the job was deleted")
    claimed = False
    if event == notifications.THAW_COMPLETE:
        outcomes = task.get("outcomes") or []
        message = notifications.thaw_complete(settings, user, outcomes, _thaw_jobs(outcomes))
    elif job is None:  # the input schema requires job_id for every other event
        raise ValueError(f"a {event} notice must name its job")
    elif event == RESULTS_READY:
        message = notifications.results_ready(settings, user, job)
    elif event == JOB_FAILED:
        if job.status != models.FAILED:
            return _skipped(f"the job is {job.status.lower()}, not failed")
        message = notifications.job_failed(settings, user, job)
    elif event == ARCHIVE_SOON:
        if user.is_premium:
            return _skipped("the user upgraded: nothing will be archived")
        if job.status != models.COMPLETED or job.archive_after is None:
            return _skipped(f"the job is {job.status.lower()} and no longer waits to be archived")
        if not job.claim_archive_warning():
            return _skipped("the warning was sent already")
        claimed = True
        message = notifications.archive_soon(settings, user, job)
    else:  # the input schema allows no other event
        raise ValueError(f"no notice for event {event!r}")
    try:
        message_id = notifications.send(settings, user, message)
    except Exception:
        if claimed and job is not None:
            job.release_archive_warning()  # so the state's retry sends it
        raise
    names = aws.resources(settings)
    published = {k: v for k, v in task.items() if k in ("event", "job_id", "user_id", "execution")}
    aws.client(settings, "sns").publish(
        TopicArn=names.results_topic_arn,
        Subject=message.subject[:99],
        Message=json.dumps(published),
        MessageAttributes={"event": {"DataType": "String", "StringValue": event}},
    )
    return {"emailed": True, "published": True, "message_id": message_id, "skipped": None}


ACTIVITY = Activity(
    name="notify",
    run=run,
    input_schema="notify.input.schema.json",
    output_schema="notify.output.schema.json",
)
