"""Restore: once a retrieval has completed, put the results back in standard storage.

Runs after the thaw's callback wait. It copies each archived result back to STANDARD storage at its
original key (or, for the vault backend, downloads the retrieval into S3), clears the archive fields
and marks the job COMPLETED again with ``restored_at``. A retried task finds the job restored and
changes nothing.
"""

from __future__ import annotations

from typing import Any

from activities.base import Activity, ActivityError, TaskContext
from gas import archive, models
from gas.resources import Resources


class JobNotRestorable(ActivityError):
    """The job is not archived or being restored (nothing of it is in the archive)."""

    error_name = "Restore.JobNotRestorable"


def run(ctx: TaskContext, task: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    job = models.Job.get(task["job_id"])
    if job.status == models.COMPLETED:
        return {"job_id": job.job_id, "restored": True, "tier": job.restore_tier, "objects": 0}
    if job.status not in (models.ARCHIVED, models.RESTORING) or not job.results:
        raise JobNotRestorable(f"job {job.job_id} is {job.status}; there is nothing to restore")
    if job.status == models.ARCHIVED:
        # The callback can overtake the relay's own RESTORING write (LocalStack restores at once).
        try:
            job.move_to(models.RESTORING)
        except models.TransitionRefused:
            job.refresh()
    names = Resources.of(settings)
    store = archive.backend(settings)
    results = job.results.as_dict()
    restored = 0
    for kind in archive.archived_kinds(results):
        ctx.check_cancelled()
        store.finish_restore(names.results_bucket, results[kind], archive.archive_id_of(job, kind))
        restored += 1
    try:
        job.move_to(
            models.COMPLETED,
            restored_at=models.now(),
            archived_at=None,
            archive_after=None,
            archive_backend=None,
            archive_id=None,
            archive_ids=None,
            restore_task_token=None,
            thaw_execution=None,
        )
    except models.TransitionRefused:
        job.refresh()
        if job.status != models.COMPLETED:
            raise
    return {"job_id": job.job_id, "restored": True, "tier": job.restore_tier, "objects": restored}


ACTIVITY = Activity(
    name="restore",
    run=run,
    input_schema="restore.input.schema.json",
    output_schema="restore.output.schema.json",
)
