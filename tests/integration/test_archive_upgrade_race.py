"""A job archived while its user was upgrading is not left behind by the upgrade's thaw."""

from __future__ import annotations

import json

from activities.archive import catch_up_with_upgrade
from gas import aws, keys, models, thaws
from gas.archive import S3GlacierBackend
from gas.resources import Resources
from gas.settings import Settings
from workflows import users


def archived_job(settings: Settings, user: models.User) -> models.Job:
    """A job whose results really sit in Glacier-class storage, recorded ARCHIVED."""
    names = Resources.of(settings, account="")
    job_id = keys.new_id()
    key = keys.result_key(user.user_id, job_id, "annotated")
    aws.client(settings, "s3").put_object(Bucket=names.results_bucket, Key=key, Body=b"##vcf\n")
    S3GlacierBackend(settings).archive(names.results_bucket, key)
    job = models.Job(
        job_id,
        user_id=user.user_id,
        input_key=keys.upload_key(user.user_id, keys.new_id()),
        status=models.ARCHIVED,
        results={"annotated": key},
        archived_at=models.now(),
    )
    job.save()
    return job


def premium(settings: Settings) -> models.User:
    user = users.ensure_user(settings, f"{keys.new_id()}@example.org")
    user.update(
        actions=[models.User.tier.set(models.PREMIUM), models.User.upgraded_at.set(models.now())]
    )
    return user


def thaw_input(settings: Settings, name: str) -> dict:
    names = Resources.of(settings, aws.account_id(settings))
    arn = names.execution_arn(names.thaw_state_machine_name, name)
    sfn = aws.client(settings, "stepfunctions")
    described = sfn.describe_execution(executionArn=arn)
    sfn.stop_execution(executionArn=arn)  # no relay runs here; do not leave it waiting
    return json.loads(described["input"])


def test_a_job_the_upgrades_thaw_missed_gets_a_thaw_of_its_own(settings: Settings) -> None:
    user = premium(settings)  # upgraded after the archive step checked the tier: no thaw listed it
    job = archived_job(settings, user)
    name = catch_up_with_upgrade(settings, job)
    assert name == thaws.late_execution_name(job)
    assert thaw_input(settings, name)["jobs"] == [{"job_id": job.job_id}]


def test_a_job_the_upgrades_thaw_covers_is_left_to_it(settings: Settings) -> None:
    user = premium(settings)
    job = archived_job(settings, user)
    user.refresh()
    upgrade_thaw = thaws.start(
        settings, thaws.execution_name(user), thaws.execution_input(settings, user.user_id, [job])
    )
    user.update(actions=[models.User.thaw_execution_arn.set(upgrade_thaw)])
    assert catch_up_with_upgrade(settings, job) is None
    thaw_input(settings, thaws.execution_name(user))


def test_a_free_users_archive_needs_no_thaw(settings: Settings) -> None:
    user = users.ensure_user(settings, f"{keys.new_id()}@example.org")
    assert catch_up_with_upgrade(settings, archived_job(settings, user)) is None
