"""A thaw execution's input and name (workflows.thaw)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from gas import keys, models, schemas
from gas.settings import Settings
from workflows import thaw as thaws

# Step Functions' execution names: at most 80 characters of these.
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def test_the_execution_input_lists_the_jobs_and_matches_the_thaw_schema() -> None:
    user_id = keys.new_id()
    jobs = [models.Job(keys.new_id(), user_id=user_id, input_key="k") for _ in range(3)]
    settings = Settings(expedited_timeout_seconds=30, standard_timeout_seconds=120)
    payload = thaws.execution_input(settings, user_id, jobs)
    assert [j["job_id"] for j in payload["jobs"]] == [j.job_id for j in jobs]
    assert (payload["expedited_timeout_seconds"], payload["standard_timeout_seconds"]) == (30, 120)
    with pytest.raises(schemas.SchemaViolation):
        thaws.execution_input(settings, "not-a-user-id", jobs)


def _upgraded(user_id: str, when: datetime) -> models.User:
    return models.User(user_id, email="a@example.org", upgraded_at=when)


def test_two_copies_of_one_upgrade_name_the_same_execution() -> None:
    # Two web workers each load their own copy of the user: the name, not the object, must agree.
    user_id = keys.new_id()
    when = datetime(2026, 11, 27, 12, 0, 0, 400_000, tzinfo=UTC)
    first = thaws.execution_name(_upgraded(user_id, when))
    second = thaws.execution_name(_upgraded(user_id, when.replace(microsecond=0)))
    assert first == second == f"thaw-{user_id}-{int(when.timestamp())}"
    assert EXECUTION_NAME.match(first)


def test_another_upgrade_or_another_user_names_another_execution() -> None:
    user_id = keys.new_id()
    when = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    name = thaws.execution_name(_upgraded(user_id, when))
    later = thaws.execution_name(_upgraded(user_id, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)))
    other = thaws.execution_name(_upgraded(keys.new_id(), when))
    assert len({name, later, other}) == 3
