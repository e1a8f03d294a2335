"""Looking jobs and users up: what is answered before DynamoDB is asked."""

from __future__ import annotations

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
        ("<script>.vcf", "_script_.vcf"),
        ("", "input.vcf"),
        ("x" * 300 + ".vcf", "x" * 120),
    ],
)
def test_display_names_are_safe_to_show(given: str, shown: str) -> None:
    assert jobs.display_name(given) == shown
