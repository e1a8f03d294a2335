"""Notify: e-mail the user (SES) and publish on the job-results topic (SNS)."""

from __future__ import annotations

import json
from typing import Any

from activities.base import Activity, TaskContext
from gas import aws, mail, models


def _message(ctx: TaskContext, task: dict[str, Any], user: models.User) -> tuple[str, str]:
    base = ctx.settings.base_url.rstrip("/")
    if task["event"] == "results-ready":
        job = models.Job.get(task["job_id"])
        subject = f"GAS: your annotation of {job.input_filename} is ready"
        body = (
            f"Hello {user.name or user.email},\n\n"
            f"The annotation of {job.input_filename} has finished "
            f"({int(job.variants_total or 0):,} variants).\n"
            f"See the results: {base}/annotations/{job.job_id}\n"
        )
        if not user.is_premium:
            body += (
                f"\nFree accounts can download results for "
                f"{ctx.settings.free_retention_seconds // 60} minutes; after that they are "
                f"archived. Upgrade to Premium to keep them online: {base}/subscribe\n"
            )
        return subject, body
    outcomes = task.get("outcomes") or []
    failed = [o for o in outcomes if isinstance(o, dict) and o.get("restored") is False]
    restored = len(outcomes) - len(failed)
    subject = "GAS: your archived results are back online"
    body = (
        f"Hello {user.name or user.email},\n\n"
        f"{restored} archived result(s) are back online: {base}/annotations\n"
    )
    if failed:
        body += f"{len(failed)} could not be restored; the operators have been told.\n"
    return subject, body


def run(ctx: TaskContext, task: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    models.bind(settings)
    user = models.User.get(task["user_id"])
    subject, body = _message(ctx, task, user)
    message_id = mail.send(settings, user.email, subject, body)
    names = aws.resources(settings)
    event = {k: v for k, v in task.items() if k in ("event", "job_id", "user_id", "execution")}
    aws.client(settings, "sns").publish(
        TopicArn=names.results_topic_arn,
        Subject=subject[:99],
        Message=json.dumps(event),
        MessageAttributes={"event": {"DataType": "String", "StringValue": task["event"]}},
    )
    return {"emailed": True, "published": True, "message_id": message_id}


ACTIVITY = Activity(
    name="notify",
    run=run,
    input_schema="notify.input.schema.json",
    output_schema="notify.output.schema.json",
)
