"""The operator page: backlog per activity, failed jobs with their reasons, retry."""

from __future__ import annotations

import re

import pytest

from gas import models

pytestmark = pytest.mark.integration


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


def test_operator_sees_the_reconcilers_last_run_and_its_repairs(
    settings, client, make_user, make_job, login_as
) -> None:
    from workflows import reconcile

    lost = make_job(make_user(), status=models.PENDING)  # a job whose execution never started
    models.Job.get(lost.job_id).update(
        actions=[
            models.Job.execution_arn.set(
                f"arn:aws:states:us-east-1:000000000000:execution:x:{lost.job_id}"
            ),
            models.Job.input_key.set(f"uploads/{lost.user_id}/{lost.job_id}/input.vcf"),
        ]
    )
    # A dry run on the shared stack (a real run would repair other tests' jobs), kept as the last.
    reconciler = reconcile.Reconciler(settings, grace_seconds=0)
    report = reconciler.run(dry_run=True)
    assert any(r.job_id == lost.job_id for r in report.repairs)
    reconciler.save(report)
    login_as(make_user(operator=True))
    page = client.get("/operator").get_data(as_text=True)
    section = re.search(r'<section id="reconciler">.*?</section>', page, re.S)
    assert section and "Last run" in section[0]
    row = re.search(rf'<tr data-job-id="{lost.job_id}">.*?</tr>', section[0], re.S)
    assert row and "upload it again" in row[0]  # its input was never uploaded: FAILED, saying so
    assert "would repair" in section[0]
