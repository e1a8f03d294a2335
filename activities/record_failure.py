"""Record failure: the job workflow's Catch lands here to mark the job FAILED with a reason."""

from __future__ import annotations

import json
from typing import Any

from activities.base import Activity, TaskContext
from gas import models

# What a researcher reads for errors that carry no message of their own.
READABLE = {
    "States.HeartbeatTimeout": "The annotation worker stopped responding repeatedly. Please retry.",
    # The task's timeout is the wait for a worker plus the run (a backlog of days), and some
    # engines report a lost heartbeat as a timeout too.
    "States.Timeout": "The annotation did not finish in the time allowed: no worker took it, or "
    "the workers that took it stopped responding. Please retry.",
    "Activity.RunLimitExceeded": "The annotation took longer than the time allowed for one job.",
    "Worker.Interrupted": "The annotation was interrupted several times. Please retry.",
    "Worker.Transient": "The service had a temporary problem several times in a row. Please retry.",
    "Activity.Unexpected": "An unexpected error stopped the annotation; the operators can see it.",
}


def readable_reason(error: str, cause: str | None) -> str:
    """One sentence a researcher can act on, from a Step Functions error name and cause."""
    text = (cause or "").strip()
    # Task failures arrive wrapped as JSON by some engines; unwrap the message if so.
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
            text = parsed.get("errorMessage") or parsed.get("cause") or text
        except (json.JSONDecodeError, AttributeError):
            pass
    if error in READABLE and (not text or error.startswith("States.")):
        return READABLE[error]
    if error == "Activity.Unexpected":
        return READABLE[error]
    return text or READABLE.get(error, f"The annotation failed ({error}).")


def run(ctx: TaskContext, task: dict[str, Any]) -> dict[str, Any]:
    job = models.Job.get(task["job_id"])
    if job.status == models.FAILED:
        return {"recorded": False, "status": job.status}
    try:
        job.move_to(
            models.FAILED,
            completed_at=models.now(),
            failure_error=task["error"],
            failure_reason=readable_reason(task["error"], task.get("cause")),
        )
    except models.TransitionRefused:
        job.refresh()
        return {"recorded": False, "status": job.status}
    return {"recorded": True, "status": models.FAILED}


ACTIVITY = Activity(
    name="record-failure",
    run=run,
    input_schema="record-failure.input.schema.json",
    output_schema="record-failure.output.schema.json",
)
