"""The models' conditional writes raise named errors, against DynamoDB Local."""

from __future__ import annotations

import pytest

from gas import keys, models
from gas.settings import Settings

pytestmark = pytest.mark.integration


def _job(user_id: str, status: str = models.PENDING) -> models.Job:
    return models.Job(keys.new_id(), user_id=user_id, input_key="k", status=status)


def test_save_new_refuses_a_key_stored_already_and_keeps_the_first(settings: Settings) -> None:
    first = _job(keys.new_id())
    first.save_new()
    again = models.Job(first.job_id, user_id=keys.new_id(), input_key="other")
    with pytest.raises(models.AlreadyExists):
        again.save_new()
    assert models.Job.get(first.job_id).user_id == first.user_id


def test_update_if_writes_when_the_condition_holds_and_refuses_when_not(
    settings: Settings,
) -> None:
    job = _job(keys.new_id(), models.FAILED)
    job.save_new()
    job.update_if([models.Job.failure_reason.set("x")], models.Job.status == models.FAILED)
    assert models.Job.get(job.job_id).failure_reason == "x"
    with pytest.raises(models.ConditionRefused):
        job.update_if([models.Job.failure_reason.set("y")], models.Job.status == models.RUNNING)
    assert models.Job.get(job.job_id).failure_reason == "x"


def test_a_refused_transition_is_a_refused_condition(settings: Settings) -> None:
    job = _job(keys.new_id(), models.COMPLETED)
    job.save_new()
    with pytest.raises(models.TransitionRefused) as refused:
        job.move_to(models.RUNNING)
    assert isinstance(refused.value, models.ConditionRefused)
    assert models.Job.get(job.job_id).status == models.COMPLETED
