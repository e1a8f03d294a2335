"""Each job is one Step Functions execution: end to end against LocalStack and DynamoDB Local."""

from __future__ import annotations

import dataclasses
import gzip
import json
import tempfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from tests.inputs import SMALL_VCF_VARIANTS
from tests.integration.mailbox import mail_to, wait_for_mail
from tests.integration.placed_jobs import put_input
from tests.integration.processes import wait_for
from workflows import jobs, users

RETENTION = 4


@pytest.fixture(scope="module")
def job_settings(settings: Settings) -> Settings:
    """Free users' results wait only a few seconds before archiving, so tests can watch it."""
    return dataclasses.replace(settings, free_retention_seconds=RETENTION)


@pytest.fixture(scope="module")
def worker_settings(job_settings: Settings) -> Settings:
    return job_settings


@pytest.fixture(scope="module")
def worker_kinds() -> tuple[str, ...]:
    return ("annotate", "notify", "archive", "record-failure")


upload = put_input


def submit(
    settings: Settings, email: str, data: bytes, tier: str = models.FREE, **kw
) -> models.Job:
    user = users.ensure_user(settings, email, tier)
    return jobs.submit(settings, user, upload(settings, user, data, **kw), "sample.vcf")


def final_job(job_id: str, statuses: tuple[str, ...], timeout: float = 90) -> models.Job:
    def reached():
        job = models.Job.get(job_id)
        return job if job.status in statuses else None

    return wait_for(reached, timeout, what=f"job {job_id} to reach {statuses}")


def execution_done(settings: Settings, job: models.Job, timeout: float = 90) -> str:
    sfn = aws.client(settings, "stepfunctions")

    def done():
        status = sfn.describe_execution(executionArn=job.execution_arn)["status"]
        return status if status != "RUNNING" else None

    return wait_for(done, timeout, interval=0.5, what="execution to end")


def state_outputs(settings: Settings, job: models.Job, state: str) -> list[dict]:
    """What ``state`` passed on each time it was left, from the execution's history."""
    return [
        json.loads(event["stateExitedEventDetails"]["output"])
        for event in jobs.history(settings, job.execution_arn)
        if event.get("stateExitedEventDetails", {}).get("name") == state
    ]


def test_a_vcf_completes_with_downloadable_results(job_settings, workers, vcf) -> None:
    job = submit(
        job_settings,
        "premium@example.org",
        vcf,
        tier=models.PREMIUM,
    )
    done = final_job(job.job_id, (models.COMPLETED, models.FAILED))
    assert done.status == models.COMPLETED, done.failure_reason
    assert done.variants_total == SMALL_VCF_VARIANTS
    s3 = aws.client(job_settings, "s3")
    names = Resources.of(job_settings)
    results = done.results.as_dict()
    # Stored once: the bgzipped VCF is stored, the plain one is made from it on request.
    assert "annotated" not in results and "tsv" not in results
    stored = s3.get_object(Bucket=names.results_bucket, Key=results["annotated_gz"])["Body"]
    annotated = gzip.decompress(stored.read())
    assert annotated.startswith(b"##fileformat=VCF")
    body_lines = [line for line in annotated.splitlines() if not line.startswith(b"#")]
    assert len(body_lines) == SMALL_VCF_VARIANTS
    summary = json.loads(
        s3.get_object(Bucket=names.results_bucket, Key=results["summary"])["Body"].read()
    )
    assert summary["variants"] == SMALL_VCF_VARIANTS
    log = s3.get_object(Bucket=names.results_bucket, Key=results["log"])["Body"].read()
    assert log.strip()
    assert execution_done(job_settings, done) == "SUCCEEDED"
    detail = jobs.detail(job_settings, done)
    visited = [step["state"] for step in detail["timeline"]]
    assert visited == [
        "ChooseStartingPoint",
        "Annotate",
        "NotifyResults",
        "CheckTier",
        "KeepResultsOnline",
    ]
    assert all(step["status"] == "succeeded" for step in detail["timeline"])
    assert detail["states"]["WaitOutRetention"] == "not_reached"
    # Premium: never archived.
    head = s3.head_object(Bucket=names.results_bucket, Key=results["annotated_gz"])
    assert head.get("StorageClass", "STANDARD") == "STANDARD"


def test_the_user_is_emailed_a_link(job_settings, workers, vcf) -> None:
    job = submit(job_settings, "mail@example.org", vcf, tier=models.PREMIUM)
    final_job(job.job_id, (models.COMPLETED,))
    import urllib.request

    def mailed():
        url = f"{job_settings.endpoint_url}/_aws/ses?email={job_settings.mail_from}"
        with urllib.request.urlopen(url) as response:  # noqa: S310 - LocalStack's mailbox
            messages = json.load(response)["messages"]
        return [m for m in messages if job.job_id in m["Body"]["text_part"]]

    (message,) = wait_for(mailed, 30, what="the results e-mail")
    assert message["Destination"]["ToAddresses"] == ["mail@example.org"]


def test_free_results_are_archived_after_the_retention_period(job_settings, workers, vcf):
    job = submit(job_settings, "free@example.org", vcf)
    done = final_job(job.job_id, (models.ARCHIVED, models.FAILED), timeout=120)
    assert done.status == models.ARCHIVED, done.failure_reason
    assert done.archived_at is not None
    names = Resources.of(job_settings)
    s3 = aws.client(job_settings, "s3")
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=names.results_bucket, Key=done.results.as_dict()["annotated_gz"])
    assert refused.value.response["Error"]["Code"] == "InvalidObjectState"
    assert execution_done(job_settings, done) == "SUCCEEDED"
    visited = [step["state"] for step in jobs.detail(job_settings, done)["timeline"]]
    assert visited[-4:] == [
        "WaitOutRetention",
        "ArchiveResults",
        "CheckForUpgradeDuringArchive",
        "Done",
    ]


def test_a_free_user_is_warned_before_the_archive_then_archived(job_settings, workers, vcf):
    # The warning 4 s before an archive 8 s after completion: both waits are in the input.
    warned = dataclasses.replace(job_settings, free_retention_seconds=8, archive_warning_seconds=4)
    email = f"warned-{keys.new_id()[:8]}@example.org"
    job = submit(warned, email, vcf)
    done = final_job(job.job_id, (models.ARCHIVED, models.FAILED), timeout=120)
    assert done.status == models.ARCHIVED, done.failure_reason
    assert execution_done(warned, done) == "SUCCEEDED"
    visited = [step["state"] for step in jobs.detail(warned, done)["timeline"]]
    assert visited[visited.index("CheckTier") :] == [
        "CheckTier",
        "WaitForArchiveWarning",
        "WarnBeforeArchive",
        "WaitOutRetention",
        "ArchiveResults",
        "CheckForUpgradeDuringArchive",
        "Done",
    ]
    ready, soon = (
        wait_for_mail(warned, email, "is ready")[0],
        wait_for_mail(warned, email, "will be archived soon")[0],
    )
    assert job.job_id in ready.body and job.job_id in soon.body
    assert ready.sent_at < soon.sent_at
    # Warned once, between the two waits: after its time, before the archive.
    assert done.archive_warning_sent_at is not None
    lead = (done.archive_after - done.archive_warning_sent_at).total_seconds()
    assert 0 < lead <= 4.5, lead
    assert done.archive_warning_sent_at < done.archived_at
    assert "will be archived at" in soon.body and "/subscribe" in soon.body
    assert len(mail_to(warned, email, "will be archived soon")) == 1


def test_a_user_who_upgrades_during_the_wait_is_not_archived(job_settings, workers, vcf):
    slow = dataclasses.replace(job_settings, free_retention_seconds=10, archive_warning_seconds=5)
    email = f"upgrader-{keys.new_id()[:8]}@example.org"
    job = submit(slow, email, vcf)
    final_job(job.job_id, (models.COMPLETED,))
    user = models.User.get(job.user_id)
    user.update(actions=[models.User.tier.set(models.PREMIUM)])
    assert execution_done(slow, job, timeout=60) == "SUCCEEDED"
    after = models.Job.get(job.job_id)
    assert after.status == models.COMPLETED
    # Upgraded before the warning's time: the warning step ran and sent nothing.
    (warning,) = state_outputs(slow, after, "WarnBeforeArchive")
    assert warning["archive_warning"]["skipped"].startswith("the user upgraded")
    assert after.archive_warning_sent_at is None
    assert mail_to(slow, email, "will be archived soon") == []
    names = Resources.of(slow)
    head = aws.client(slow, "s3").head_object(
        Bucket=names.results_bucket, Key=after.results.as_dict()["annotated_gz"]
    )
    assert head.get("StorageClass", "STANDARD") == "STANDARD"


def test_the_same_submit_twice_is_one_job_and_one_execution(job_settings, workers, vcf):
    user = users.ensure_user(job_settings, "twice@example.org", models.PREMIUM)
    key = upload(job_settings, user, vcf)
    first = jobs.submit(job_settings, user, key, "test.vcf")
    second = jobs.submit(job_settings, user, key, "test.vcf")
    assert first.job_id == second.job_id
    names = aws.resources(job_settings)
    sfn = aws.client(job_settings, "stepfunctions")
    executions = sfn.list_executions(
        stateMachineArn=names.state_machine_arn(names.job_state_machine_name)
    )["executions"]
    assert [e["name"] for e in executions].count(first.job_id) == 1
    final_job(first.job_id, (models.COMPLETED,))


def test_someone_elses_upload_is_refused(job_settings, vcf):
    owner = users.ensure_user(job_settings, "owner@example.org")
    other = users.ensure_user(job_settings, "other@example.org")
    key = upload(job_settings, owner, vcf)
    with pytest.raises(jobs.SubmitError):
        jobs.submit(job_settings, other, key, "test.vcf")


def _bad_inputs(good: bytes) -> dict[str, tuple[bytes, bool]]:
    compressed = gzip.compress(good)
    lines = good.splitlines(keepends=True)
    body_at = next(i for i, line in enumerate(lines) if not line.startswith(b"#"))
    wrong_columns = (
        b"".join(lines[: body_at + 3]) + b"MT\t100\t.\tA\n" + b"".join(lines[body_at + 3 :])
    )
    return {
        "truncated gzip": (compressed[: len(compressed) // 2], True),
        "binary": (bytes(range(256)) * 64, False),
        "no header": (b"".join(lines[body_at:]), False),
        "wrong column count": (wrong_columns, False),
    }


def test_malformed_inputs_fail_readably_and_the_worker_lives_on(job_settings, workers, vcf):
    annotate_pid = workers["annotate"].pid
    email = f"bad-{keys.new_id()[:8]}@example.org"
    for label, (data, gz) in _bad_inputs(vcf).items():
        job = submit(job_settings, email, data, gz=gz)
        failed = final_job(job.job_id, (models.FAILED, models.COMPLETED))
        assert failed.status == models.FAILED, label
        reason = failed.failure_reason or ""
        assert reason and "Traceback" not in reason, (label, reason)
        assert failed.failure_error not in ("Activity.Unexpected", None), (
            label,
            failed.failure_error,
        )
        assert execution_done(job_settings, failed) == "FAILED"
        history = jobs.detail(job_settings, failed)["timeline"]
        assert [s["state"] for s in history][-3:] == ["RecordFailure", "NotifyFailure", "JobFailed"]
        # The researcher is told which file failed and why, with a link to the job.
        mailed = [m for m in mail_to(job_settings, email, "failed") if failed.job_id in m.body]
        assert len(mailed) == 1, label
        assert mailed[0].subject == "GAS: the annotation of sample.vcf failed"
        assert f"Reason: {reason}\n" in mailed[0].body
        assert f"/annotations/{failed.job_id}" in mailed[0].body
        # A file fault is not retried: one attempt only.
        annotate = next(step for step in history if step["state"] == "Annotate")
        assert annotate["attempts"] == 1, label
        # The worker's temporary folder for the job is gone.
        assert not list(Path(tempfile.gettempdir()).glob(f"gas-annotate-{job.job_id}-*")), label
    good = submit(job_settings, email, vcf)
    assert (
        final_job(good.job_id, (models.COMPLETED, models.ARCHIVED)).variants_total
        == SMALL_VCF_VARIANTS
    )
    assert workers["annotate"].alive() and workers["annotate"].pid == annotate_pid
    name = "TruncatedInput"
    assert name in workers["annotate"].log() or "MalformedVcf" in workers["annotate"].log()
