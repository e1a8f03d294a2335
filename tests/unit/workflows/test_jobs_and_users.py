"""Looking jobs and users up: what is answered before DynamoDB is asked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gas import keys, models
from gas.settings import Settings
from workflows import jobs, users

# Nothing listens here: a test that reached DynamoDB would fail, not pass.
NOWHERE = Settings(dynamodb_endpoint_url="http://127.0.0.1:9", endpoint_url="http://127.0.0.1:9")


# A well-formed ID in capitals is not one GAS makes (the ID is fixed: xdist workers must agree).
UPPER_CASE_ID = "15AEA2AE-3AD4-4C12-83FE-61588B303BD2"


@pytest.mark.parametrize("job_id", ["", "not-a-job", "../x", UPPER_CASE_ID])
def test_a_string_that_is_no_job_id_is_not_found(job_id: str) -> None:
    with pytest.raises(jobs.JobNotFound):
        jobs.get(NOWHERE, job_id)


def test_asking_for_no_valid_ids_returns_nothing() -> None:
    user = models.User(keys.new_id(), email="u@example.org")
    assert jobs.own_jobs(NOWHERE, user, ["", "junk", "1,2"]) == []


def test_a_string_that_is_no_user_id_is_no_user() -> None:
    assert users.get(NOWHERE, "admin") is None


def test_emails_are_matched_without_case_or_blanks() -> None:
    assert users.normal_email("  Ada.L@Example.ORG ") == "ada.l@example.org"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("C:\\Users\\ada\\calls.vcf", "calls.vcf"),
        ("../../etc/passwd", "passwd"),
        ("<script>.vcf", "<script>.vcf"),  # the pages escape it
        ("", "input.vcf"),
        ("x" * 300 + ".vcf.gz", "x" * 193 + ".vcf.gz"),  # the stem is cut, not the suffix
        ("ünï名.vcf", "ünï名.vcf"),  # any script is the researcher's
        ("Ω\u0301.vcf", "\u038f.vcf"),  # NFC
        ("evil\u202eftv.vcf", "evilftv.vcf"),  # nothing that reorders what is shown
        ("two\nlines\t.vcf", "twolines.vcf"),
        (".bashrc.vcf", "_.bashrc.vcf"),  # never a hidden file where it is saved
    ],
)
def test_display_names_are_the_researchers_and_safe_to_show(given: str, shown: str) -> None:
    assert jobs.display_name(given) == shown


def _completed_free_job(archive_in: float, warned: bool = False) -> models.Job:
    user_id, job_id = keys.new_id(), keys.new_id()
    return models.Job(
        job_id,
        user_id=user_id,
        input_key=keys.upload_key(user_id, keys.new_id()),
        status=models.COMPLETED,
        archive_after=models.now() + timedelta(seconds=archive_in),
        archive_warning_sent_at=models.now() if warned else None,
    )


def test_a_new_job_carries_the_archive_warning_lead_time_for_the_annotate_step() -> None:
    settings = Settings(archive_warning_seconds=45)
    payload = jobs.execution_input(settings, _completed_free_job(600))
    assert payload["archive_warning_seconds"] == 45
    assert "annotation" not in payload


def test_a_job_resumed_at_its_retention_is_warned_only_if_not_yet_and_not_too_late() -> None:
    settings = Settings(archive_warning_seconds=60)
    due = jobs.execution_input(settings, _completed_free_job(600), resume_at_retention=True)
    assert due["resume_from"] == "retention"
    assert due["annotation"]["archive_warning_at"] < due["annotation"]["archive_at"]
    for job in (_completed_free_job(600, warned=True), _completed_free_job(30)):
        resumed = jobs.execution_input(settings, job, resume_at_retention=True)
        assert resumed["annotation"]["archive_warning_at"] is None
        assert resumed["annotation"]["archive_at"]
