"""Archive: after the retention wait, move a free user's results to Glacier-class storage.

It re-reads the user's tier first: a user who upgraded during the wait is never archived. Archiving
an already archived job changes nothing (idempotent), so a retried task is harmless. An upgrade can
still land between that check and the ARCHIVED write, and its thaw may then have listed the user's
archived jobs without this one. So the tier is read again afterwards and, if the user is premium
now, the job is claimed for the thaw the workflow names (``late_thaw``): the claim succeeds only
when no upgrade's thaw claimed the job first. The step reports ``thaw_needed``; starting the thaw
is the workflow's next state, not this worker's.
"""

from __future__ import annotations

from typing import Any

from activities.base import Activity, TaskContext
from gas import archive, models
from gas.resources import Resources


def run(ctx: TaskContext, task: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    try:
        job = models.Job.get(task["job_id"])
    except models.DoesNotExist:
        # Deleted by its owner during the wait (a stopped execution can still get here).
        return {"archived": False, "reason": "the job was deleted", "thaw_needed": False}
    if _is_premium(job.user_id):
        if job.status == models.COMPLETED:
            # Nothing waits to archive it any more (the reconciler reads archive_after so).
            job.update(actions=[models.Job.archive_after.remove()])
        return _report(job, False, "the user is premium now; results stay online")
    if job.status in (models.ARCHIVED, models.RESTORING):
        return _report(job, True, "already archived", backend=job.archive_backend or "")
    if job.status != models.COMPLETED or not job.results:
        return _report(job, False, f"job is {job.status}; nothing to archive")
    bucket = Resources.of(settings).results_bucket
    store = archive.backend(settings)
    results = job.results.as_dict()
    archived_ids = {}
    for kind in archive.archived_kinds(results):
        ctx.check_cancelled()
        record = store.archive(bucket, results[kind])
        if record.archive_id:
            archived_ids[kind] = record.archive_id
    try:
        job.move_to(
            models.ARCHIVED,
            archived_at=models.now(),
            archive_backend=store.name,
            # archive_id stays the annotated VCF's, as jobs archived before the other kinds have it.
            archive_id=archived_ids.get("annotated"),
            archive_ids=archived_ids or None,
        )
    except models.TransitionRefused:
        job.refresh()
        if job.status not in (models.ARCHIVED, models.RESTORING):
            raise
    # An upgrade that landed during the archiving listed the user's jobs without this one, unless
    # it claimed it: the claim decides which thaw brings it back.
    if _is_premium(job.user_id) and job.claim_for_thaw(task["late_thaw"]):
        return _report(
            job,
            True,
            "retention period over; the user upgraded meanwhile, so the job is thawed again",
            backend=store.name,
            thaw_needed=True,
        )
    return _report(job, True, "retention period over", backend=store.name)


def _is_premium(user_id: str) -> bool:
    try:
        return models.User.get(user_id).is_premium
    except models.DoesNotExist:
        return False


def _report(
    job: models.Job, archived: bool, reason: str, *, backend: str = "", thaw_needed: bool = False
) -> dict[str, Any]:
    output: dict[str, Any] = {"archived": archived, "reason": reason, "thaw_needed": thaw_needed}
    if backend:
        output["backend"] = backend
    if archived:
        output["objects"] = len(
            archive.archived_kinds(job.results.as_dict() if job.results else {})
        )
    if thaw_needed:
        output["thaw_jobs"] = [{"job_id": job.job_id}]
    return output


ACTIVITY = Activity(
    name="archive",
    run=run,
    input_schema="archive.input.schema.json",
    output_schema="archive.output.schema.json",
)
