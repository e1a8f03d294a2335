"""Archive: after the retention wait, move a free user's results to Glacier-class storage.

It re-reads the user's tier first: a user who upgraded during the wait is never archived. Archiving
an already archived job changes nothing (idempotent), so a retried task is harmless.
"""

from __future__ import annotations

from typing import Any

from activities.base import Activity, TaskContext
from gas import archive, models
from gas.resources import Resources


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
    return {
        "archived": True,
        "reason": "retention period over",
        "backend": store.name,
        "objects": len(archive.ARCHIVED_KINDS),
    }


ACTIVITY = Activity(
    name="archive",
    run=run,
    input_schema="archive.input.schema.json",
    output_schema="archive.output.schema.json",
)
