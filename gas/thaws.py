"""Thaw executions as data: their names, their input, starting one, and what one covers.

Shared by the upgrade (workflows.thaw) and the archive activity, which must catch a job archived
while its user was upgrading.
"""

from __future__ import annotations

import json
from typing import Any

from gas import executions, models, schemas
from gas.resources import Resources
from gas.settings import Settings


def execution_name(user: models.User) -> str:
    """The thaw's execution name: one per user and upgrade (80 characters at most)."""
    assert user.upgraded_at is not None
    return f"thaw-{user.user_id}-{int(user.upgraded_at.timestamp())}"


def late_execution_name(job: models.Job) -> str:
    """The name of the thaw of one job that was archived while its user upgraded."""
    return f"thaw-{job.job_id}"


def execution_input(settings: Settings, user_id: str, jobs: list[models.Job]) -> dict[str, Any]:
    payload = {
        "user_id": user_id,
        "jobs": [{"job_id": job.job_id} for job in jobs],
        "expedited_timeout_seconds": settings.expedited_timeout_seconds,
        "standard_timeout_seconds": settings.standard_timeout_seconds,
    }
    schemas.check(payload, "thaw.input.schema.json")
    return payload


def start(settings: Settings, name: str, payload: dict[str, Any]) -> str:
    """Start a thaw execution (once: the same name again is a no-op); returns its ARN."""
    names = Resources.of(settings, account="")
    return executions.start_once(settings, names.thaw_state_machine_name, name, payload)


def covers(settings: Settings, execution_arn: str, job_id: str) -> bool | None:
    """Whether a thaw execution includes the job; None if the execution does not exist (yet)."""
    described = executions.describe(settings, execution_arn)
    if described is None:
        return None
    listed = json.loads(described.get("input") or "{}").get("jobs", [])
    return any(item.get("job_id") == job_id for item in listed)
