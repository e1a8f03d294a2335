"""Thaw on upgrade: record the premium tier and start exactly one thaw execution for it.

The tier is written conditionally (only a free user is upgraded), so of two concurrent upgrade
requests one wins; the execution is named after the user and the recorded upgrade time, so even a
retried start cannot make a second thaw.
"""

from __future__ import annotations

from gas import aws, executions, models, thaws
from gas.resources import Resources
from gas.settings import Settings
from gas.thaws import execution_input, execution_name

# A concurrent request that lost the upgrade must not start the thaw the winner is about to start;
# only a recorded thaw older than this, that never started, is one whose starter died.
WINNER_GRACE_SECONDS = 30


def archived_jobs(user_id: str) -> list[models.Job]:
    """The user's jobs whose results are in the archive."""
    return list(
        models.Job.by_user.query(user_id, filter_condition=models.Job.status == models.ARCHIVED)
    )


def upgrade(settings: Settings, user: models.User) -> str | None:
    """Make the user premium and thaw their archived results; the execution ARN, or None."""
    models.bind(settings)
    try:
        user.update(
            actions=[
                models.User.tier.set(models.PREMIUM),
                models.User.upgraded_at.set(models.now()),
            ],
            condition=models.User.tier != models.PREMIUM,
        )
    except models.UpdateError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        user.refresh()
        return _resume(settings, user)
    jobs = archived_jobs(user.user_id)
    if not jobs:
        return None
    names = Resources.of(settings, aws.account_id(settings))
    arn = names.execution_arn(names.thaw_state_machine_name, execution_name(user))
    # Recorded before the start, so a crash in between is finished by the next request. No
    # condition needed: only the request that won the tier write above gets here.
    user.update(actions=[models.User.thaw_execution_arn.set(arn)])
    thaws.start(settings, execution_name(user), execution_input(settings, user.user_id, jobs))
    return arn


def _resume(settings: Settings, user: models.User) -> str | None:
    """A repeated upgrade: start the recorded thaw only if its start never happened."""
    if not user.thaw_execution_arn or user.upgraded_at is None:
        return None
    if (models.now() - user.upgraded_at).total_seconds() < WINNER_GRACE_SECONDS:
        return None  # the request that won the upgrade is starting it right now
    if executions.describe(settings, user.thaw_execution_arn) is not None:
        return None  # started already: nothing to do
    jobs = archived_jobs(user.user_id)
    if not jobs:
        return None
    thaws.start(settings, execution_name(user), execution_input(settings, user.user_id, jobs))
    return user.thaw_execution_arn
