"""Archive: after the retention wait, move a free user's results to Glacier-class storage.

It re-reads the user's tier first: a user who upgraded during the wait is never archived. Archiving
an already archived job changes nothing (idempotent), so a retried task is harmless. An upgrade can
still land between that check and the ARCHIVED write, and its thaw may then have listed the user's
archived jobs without this one; so the tier is read again afterwards, and a job the upgrade's thaw
does not cover gets a thaw of its own.
"""

from __future__ import annotations

import time
from typing import Any

from activities.base import Activity, TaskContext
from gas import archive, models, thaws
from gas.resources import Resources
from gas.settings import Settings

# How long to wait for an upgrade's thaw that is recorded but not started yet.
THAW_START_WAIT_SECONDS = 10


def run(ctx: TaskContext, task: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    models.bind(settings)
    job = models.Job.get(task["job_id"])
    try:
        user = models.User.get(job.user_id)
    except models.DoesNotExist:
        user = None
    if user is not None and user.is_premium:
        return {"archived": False, "reason": "the user is premium now; results stay online"}
    if job.status in (models.ARCHIVED, models.RESTORING):
        return {
            "archived": True,
            "reason": "already archived",
            "backend": job.archive_backend or "",
        }
    if job.status != models.COMPLETED or not job.results:
        return {"archived": False, "reason": f"job is {job.status}; nothing to archive"}
    names = Resources.of(settings, account="")
    store = archive.backend(settings)
    results = job.results.as_dict()
    archived_ids = []
    for kind in archive.ARCHIVED_KINDS:
        ctx.check_cancelled()
        record = store.archive(names.results_bucket, results[kind])
        if record.archive_id:
            archived_ids.append(record.archive_id)
    try:
        job.move_to(
            models.ARCHIVED,
            archived_at=models.now(),
            archive_backend=store.name,
            archive_id=archived_ids[0] if archived_ids else None,
        )
    except models.TransitionRefused:
        job.refresh()
        if job.status not in (models.ARCHIVED, models.RESTORING):
            raise
    reason = "retention period over"
    late = catch_up_with_upgrade(settings, job)
    if late:
        reason += f"; the user upgraded meanwhile, so thaw {late} brings it back"
    return {
        "archived": True,
        "reason": reason,
        "backend": store.name,
        "objects": len(archive.ARCHIVED_KINDS),
    }


def catch_up_with_upgrade(settings: Settings, job: models.Job) -> str | None:
    """After archiving: if the user is premium now and no thaw covers this job, start one for it.

    Returns the name of the thaw started, or None.
    """
    try:
        user = models.User.get(job.user_id)
    except models.DoesNotExist:
        return None
    if not user.is_premium:
        return None
    if user.thaw_execution_arn:
        deadline = time.monotonic() + THAW_START_WAIT_SECONDS
        covered = thaws.covers(settings, user.thaw_execution_arn, job.job_id)
        while covered is None and time.monotonic() < deadline:
            time.sleep(1)  # recorded before its start: the upgrade is starting it now
            covered = thaws.covers(settings, user.thaw_execution_arn, job.job_id)
        if covered:
            return None
    name = thaws.late_execution_name(job)
    thaws.start(settings, name, thaws.execution_input(settings, user.user_id, [job]))
    return name


ACTIVITY = Activity(
    name="archive",
    run=run,
    input_schema="archive.input.schema.json",
    output_schema="archive.output.schema.json",
)
