"""Restore events: the storage service's "restore completed" notifications arrive here.

For each object whose retrieval finished, the handler finds the job from the bucket and key and
answers the thaw's task token parked on it (see ``activities.restore_requests``). Events that name
nothing GAS knows (another bucket, a test event, a duplicate) are dropped.
"""

from __future__ import annotations

from typing import Any

from activities.base import QueueHandler, TaskContext, UnknownMessage
from activities.runtime import TaskTokens, log_event
from gas import archive, keys, models
from gas.resources import Resources


def job_for_key(bucket: str, key: str, results_bucket: str) -> models.Job:
    """The job whose archived result lives at bucket/key; UnknownMessage for anything else."""
    if bucket != results_bucket:
        raise UnknownMessage(f"event for another bucket: {bucket}")
    try:
        user_id, job_id, _kind = keys.parse_result_key(key)
    except keys.InvalidKey:
        raise UnknownMessage(f"not a result key: {key!r}") from None
    try:
        job = models.Job.get(job_id)
    except models.DoesNotExist:
        raise UnknownMessage(f"no job for key {key!r}") from None
    if job.user_id != user_id or key not in (job.results.as_dict() if job.results else {}).values():
        raise UnknownMessage(f"key {key!r} is not a result of job {job.job_id}")
    return job


def others_retrieved(store: Any, bucket: str, job: models.Job, key: str) -> bool:
    """Whether every other archived result of ``job`` is back too: the thaw step waits for all."""
    results = job.results.as_dict() if job.results else {}
    retrieved = getattr(store, "retrieved", None)  # the storage-class backend
    for kind in archive.archived_kinds(results):
        if results[kind] == key:
            continue
        if retrieved is not None:
            if not retrieved(bucket, results[kind]):
                return False
        else:
            archive_id = archive.archive_id_of(job, kind)
            if archive_id and store.completed_retrieval(archive_id) is None:
                return False
    return True


def handle(ctx: TaskContext, store: Any, body: dict[str, Any]) -> None:
    """Complete the waiting thaw step of every job whose retrieval finished."""
    settings = ctx.settings
    if body.get("Event") == "s3:TestEvent":
        raise UnknownMessage("S3 test event")
    found = archive.restored_objects(body)
    if not found:
        raise UnknownMessage(f"no restore-completed record in {str(body)[:200]}")
    results_bucket = Resources.of(settings).results_bucket
    tokens = TaskTokens(settings)
    for bucket, key in found:
        job = job_for_key(bucket, key, results_bucket)
        token = job.restore_task_token
        if not token:
            # Delivered twice, or the thaw has moved on: nothing waits for this event.
            log_event("restore-event-duplicate", job_id=job.job_id, key=key)
            continue
        if not others_retrieved(store, bucket, job, key):
            # The event of the job's last retrieval answers the token.
            log_event("restore-completed-partly", job_id=job.job_id, key=key)
            continue
        sent = tokens.succeed(token, {"key": key, "tier": job.restore_tier})
        job.clear_restore_token(token)
        log_event("restore-completed", job_id=job.job_id, key=key, callback_sent=sent)


HANDLER = QueueHandler(
    name="restore-events",
    queue=lambda names: names.restore_events_queue,
    handle=handle,
    setup=archive.backend,
)
