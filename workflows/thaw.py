"""Thaws: one execution per upgrade brings every archived result of the user back online.

The tier is written conditionally (only a free user is upgraded), so of two concurrent upgrade
requests one wins; the execution is named after the user and the recorded upgrade time, so even a
retried start cannot make a second thaw. Each archived job is claimed for exactly one thaw
(``Job.claim_for_thaw``): the upgrade's, the job workflow's own when it archived the job during the
upgrade, or the reconciler's when the thaw that had it is gone.
"""

from __future__ import annotations

from typing import Any

from gas import aws, models, schemas
from gas.resources import Resources
from gas.settings import Settings
from workflows import executions

# A concurrent request that lost the upgrade must not start the thaw the winner is about to start;
# only a recorded thaw older than this, that never started, is one whose starter died.
WINNER_GRACE_SECONDS = 30


def execution_name(user: models.User) -> str:
    """The upgrade's thaw execution name: one per user and upgrade (80 characters at most)."""
    assert user.upgraded_at is not None
    return f"thaw-{user.user_id}-{int(user.upgraded_at.timestamp())}"


def execution_input(settings: Settings, user_id: str, jobs: list[models.Job]) -> dict[str, Any]:
    payload = {
        "user_id": user_id,
        "jobs": [{"job_id": job.job_id} for job in jobs],
        "expedited_timeout_seconds": settings.expedited_timeout_seconds,
        "standard_timeout_seconds": settings.standard_timeout_seconds,
    }
    schemas.check(payload, "thaw.input.schema.json")
    return payload


def start(settings: Settings, name: str, jobs: list[models.Job], user_id: str) -> str:
    """Start a thaw of ``jobs`` (once: the same name again is a no-op); returns its ARN."""
    names = Resources.of(settings)
    return executions.start_once(
        settings,
        names.thaw_state_machine_name,
        name,
        execution_input(settings, user_id, jobs),
    )


def archived_jobs(user_id: str) -> list[models.Job]:
    """The user's jobs whose results are in the archive."""
    return list(
        models.Job.by_user.query(user_id, filter_condition=models.Job.status == models.ARCHIVED)
    )


def upgrade(settings: Settings, user: models.User) -> str | None:
    """Make the user premium and thaw their archived results; the execution ARN, or None."""
    try:
        user.update_if(
            [models.User.tier.set(models.PREMIUM), models.User.upgraded_at.set(models.now())],
            models.User.tier != models.PREMIUM,
        )
    except models.ConditionRefused:
        user.refresh()
        return _resume(settings, user)
    if not archived_jobs(user.user_id):
        return None
    names = aws.resources(settings)
    arn = names.execution_arn(names.thaw_state_machine_name, execution_name(user))
    # Recorded before the start, so a crash in between is finished by the next request. No
    # condition needed: only the request that won the tier write above gets here.
    user.update(actions=[models.User.thaw_execution_arn.set(arn)])
    return _start_claimed(settings, user)


def _start_claimed(settings: Settings, user: models.User) -> str | None:
    """Claim the user's archived jobs for the upgrade's thaw and start it with those it holds."""
    name = execution_name(user)
    held = [
        job
        for job in archived_jobs(user.user_id)
        if job.claim_for_thaw(name) or job.thaw_execution == name
    ]
    if not held:
        return None
    start(settings, name, held, user.user_id)
    return user.thaw_execution_arn


def _resume(settings: Settings, user: models.User) -> str | None:
    """A repeated upgrade: start the recorded thaw only if its start never happened."""
    if not user.thaw_execution_arn or user.upgraded_at is None:
        return None
    if (models.now() - user.upgraded_at).total_seconds() < WINNER_GRACE_SECONDS:
        return None  # the request that won the upgrade is starting it right now
    if executions.describe(settings, user.thaw_execution_arn) is not None:
        return None  # started already: nothing to do
    return _start_claimed(settings, user)
