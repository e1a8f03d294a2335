"""The operator page: backlog per activity, failed jobs with their reasons, retry."""

from __future__ import annotations

import importlib.util
import re

import pytest

from gas import models

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("workflows.operations") is None,
        reason="workflows.operations (backlog, failed/running jobs, retry) has not landed yet",
    ),
]


def test_operator_sees_backlog_and_failures_and_can_retry(
    client, make_user, make_job, login_as
) -> None:
    researcher = make_user()
    failed = make_job(
        researcher,
        status=models.FAILED,
        failure_error="AnnotationInputError",
        failure_reason="The file has a header but no variant records.",
    )
    login_as(make_user(operator=True))
    page = client.get("/operator").get_data(as_text=True)
    assert "annotate" in page  # a backlog row per activity
    row = re.search(rf'<tr data-job-id="{failed.job_id}">.*?</tr>', page, re.S)
    assert row, "the failed job is not listed"
    assert "no variant records" in row[0]
    response = client.post(f"/operator/jobs/{failed.job_id}/retry", follow_redirects=True)
    assert "is running again" in response.get_data(as_text=True)


def test_redrive_refuses_an_execution_of_another_deployment(settings) -> None:
    import pytest as _pytest

    from workflows import operations

    with _pytest.raises(operations.RedriveRefused):
        operations.redrive(
            settings, "arn:aws:states:us-east-1:000000000000:execution:someone-else:x"
        )
    assert isinstance(operations.failed_executions(settings), list)
