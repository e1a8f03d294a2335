"""Resource names come from the prefix; ARNs also need the account, and say so without it."""

from __future__ import annotations

import pytest

from gas.resources import Resources
from gas.settings import Settings


def test_names_need_no_account() -> None:
    names = Resources.of(Settings.from_env({"GAS_PREFIX": "lab"}))
    assert (names.inputs_bucket, names.jobs_table) == ("lab-inputs", "lab-jobs")
    assert names.job_state_machine_name == "lab-annotation-job"


def test_old_call_form_with_an_empty_account_still_names_things() -> None:
    assert (
        Resources.of(Settings(), account="").results_bucket
        == Resources.of(Settings()).results_bucket
    )


def test_arns_carry_the_account_and_refuse_without_one() -> None:
    settings = Settings.from_env({"GAS_PREFIX": "lab", "AWS_DEFAULT_REGION": "eu-west-2"})
    names = Resources.of(settings, account="123456789012")
    assert names.execution_arn("lab-thaw", "x") == (
        f"arn:aws:states:{settings.region}:123456789012:execution:lab-thaw:x"
    )
    assert names.results_topic_arn.endswith(":123456789012:lab-job-results")
    with pytest.raises(ValueError, match="needs the account"):
        Resources.of(settings).state_machine_arn("lab-thaw")
