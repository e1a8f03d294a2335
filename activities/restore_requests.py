"""Restore requests: the thaw's ``sqs:sendMessage.waitForTaskToken`` steps post here.

A message names a job, a retrieval tier and the thaw's task token. The handler parks the token on
the job record, then asks the archive for the retrieval; the "restore completed" event (see
``activities.restore_events``) later answers the token. The token is parked *before* the
retrieval is asked for, because an emulator (LocalStack) completes a restore inside RestoreObject.
"""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import ClientError

from activities.base import QueueHandler, TaskContext
from activities.runtime import TaskTokens, log_event
from gas import archive, aws, models
from gas.resources import Resources


def handle(ctx: TaskContext, store: Any, request: dict[str, Any]) -> None:
    """Park the thaw's task token on the job, then ask the archive for the retrieval."""
    settings = ctx.settings
    tokens = TaskTokens(settings)
    token, tier = request["task_token"], request["tier"]
    try:
        job = models.Job.get(request["job_id"])
    except models.DoesNotExist:
        tokens.fail(token, "Restore.JobNotFound", f"no job {request['job_id']}")
        return
    ctx.job_id = job.job_id
    fields = {"job_id": job.job_id, "user_id": job.user_id, "tier": tier}
    if job.status == models.COMPLETED:  # restored already (a redelivered request)
        tokens.succeed(token, {"key": None, "tier": tier, "already_restored": True})
        return
    if job.status not in (models.ARCHIVED, models.RESTORING) or not job.results:
        tokens.fail(token, "Restore.JobNotArchived", f"job {job.job_id} is {job.status}")
        return
    if not job.park_restore_token(token, tier):
        job.refresh()  # restored (or failed) meanwhile: answer from the job's status now
        handle(ctx, store, request)
        return
    bucket = Resources.of(settings).results_bucket
    results = job.results.as_dict()
    kinds = archive.archived_kinds(results)
    wanted = [results[kind] for kind in kinds]
    retrieved = getattr(store, "retrieved", None)  # the vault backend cannot tell cheaply
    if retrieved is not None and all(retrieved(bucket, key) for key in wanted):
        # Retrieved already (by a thaw this one replaces): no "completed" event will come again.
        job.clear_restore_token(token)
        tokens.succeed(token, {"key": wanted[0] if wanted else None, "tier": tier})
        log_event("restore-already-retrieved", **fields)
        return
    try:
        retrievals = [
            store.request_retrieval(bucket, results[kind], tier, archive.archive_id_of(job, kind))
            for kind in kinds
        ]
    except archive.ExpeditedUnavailable as exc:
        job.clear_restore_token(token)
        log_event("restore-expedited-refused", **fields)
        tokens.fail(token, exc.error_name, str(exc))
        return
    except (archive.ArchiveError, ClientError) as exc:
        if isinstance(exc, ClientError) and aws.is_transient(exc):
            raise  # left on the queue: retried after the visibility timeout
        # The archive will never give this one back: fail its branch now, not at the timeout.
        job.clear_restore_token(token)
        log_event("restore-request-refused", error=repr(exc), **fields)
        tokens.fail(token, "Archive.RetrievalRefused", f"{type(exc).__name__}: {exc}")
        return
    actual = _tier_used(store, retrievals, tier)
    if actual != tier:  # the vault backend fell back to Standard itself
        job.update(actions=[models.Job.restore_tier.set(actual)])
        log_event("restore-expedited-refused", fallback=actual, **fields)
    # Refused when RESTORING already (a retry, the Standard fallback) or restored meanwhile.
    with contextlib.suppress(models.TransitionRefused):
        job.move_to(models.RESTORING)
    log_event("restore-requested", retrievals=retrievals, **fields)


def _tier_used(store: Any, retrievals: list[str], asked: str) -> str:
    tier_of = getattr(store, "retrieval_tier", None)  # only the vault backend has it
    if tier_of is None or not retrievals:
        return asked
    return tier_of(retrievals[0])


HANDLER = QueueHandler(
    name="restore-requests",
    queue=lambda names: names.restore_requests_queue,
    handle=handle,
    setup=archive.backend,
)
