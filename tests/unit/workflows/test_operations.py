"""Operators' actions without a cloud: what is refused before anything is touched.

Backlog counts, retries and redrives themselves run against the local cloud in
tests/integration/webapp/test_webapp_operator.py.
"""

from __future__ import annotations

import pytest

from gas import keys, models
from gas.resources import Resources
from gas.settings import Settings
from workflows import operations

NAMES = Resources(prefix="lab", region="eu-west-2", account="123456789012")


@pytest.mark.parametrize("status", [s for s in models.STATUSES if s != models.FAILED])
def test_only_failed_jobs_are_retried(status: str) -> None:
    job = models.Job(keys.new_id(), user_id=keys.new_id(), input_key="k", status=status)
    # Settings pointing nowhere: a refusal must come before any call.
    nowhere = Settings(
        endpoint_url="http://127.0.0.1:9", dynamodb_endpoint_url="http://127.0.0.1:9"
    )
    with pytest.raises(operations.RetryRefused, match=f"is {status.lower()}, not failed"):
        operations.retry(nowhere, job)


def test_executions_of_this_deployments_workflows_are_ours() -> None:
    for machine in (NAMES.job_state_machine_name, NAMES.thaw_state_machine_name):
        assert operations.is_ours(NAMES, NAMES.execution_arn(machine, "some-run"))


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:states:eu-west-2:123456789012:execution:other-annotation-job:x",
        "arn:aws:states:eu-west-2:999999999999:execution:lab-annotation-job:x",
        "arn:aws:states:us-east-1:123456789012:execution:lab-thaw:x",
        "arn:aws:states:eu-west-2:123456789012:execution:lab-thaw-copy:x",
        "",
    ],
)
def test_other_executions_are_not(arn: str) -> None:
    assert not operations.is_ours(NAMES, arn)
