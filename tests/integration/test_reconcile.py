"""The reconciler against the real local cloud: every job whose workflow is gone converges.

The module deploys a stack of its own, so the reconciler sees only the jobs made here.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

import activities
from gas import archive, aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from infra import deploy
from infra.localcloud import LocalCloud
from tests.integration.mailbox import mail_to, wait_for_mail
from tests.integration.placed_jobs import completed_job, put_input
from tests.integration.processes import wait_for
from workflows import executions, jobs, reconcile, thaw, users

pytestmark = pytest.mark.integration

WORKER_KINDS = activities.KINDS
VCF = (
    b"##fileformat=VCFv4.2\n##reference=GRCh38\n##contig=<ID=chr17,length=83257441>\n"
    b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    b"chr17\t7676154\t.\tG\tC\t50\tPASS\t.\n"
    b"chr17\t43044295\t.\tT\tC\t50\tPASS\t.\n"
)


@pytest.fixture(scope="module")
def stack(local_cloud: LocalCloud) -> Iterator[Settings]:
    """A deployment of this module's own, with a retention long enough to tell remaining from
    full (a resumed wait must end at archive_after, not a whole period later)."""
    own = dataclasses.replace(
        local_cloud.settings.with_prefix(f"r{secrets.token_hex(4)}"),
        free_retention_seconds=600,
    )
    deploy.deploy(own)
    models.bind(own)
    yield own
    deploy.destroy(own)


@pytest.fixture(scope="module")
def worker_settings(stack: Settings) -> Settings:
    return stack


@pytest.fixture(scope="module")
def worker_kinds() -> tuple[str, ...]:
    return tuple(WORKER_KINDS)


def reconciler(settings: Settings) -> reconcile.Reconciler:
    return reconcile.Reconciler(settings, grace_seconds=0)


def upload(settings: Settings, user: models.User) -> str:
    return put_input(settings, user, VCF)


def job_without_execution(settings: Settings, *, with_input: bool = True) -> models.Job:
    """A PENDING job whose execution never started, or was lost with an emulator restart."""
    user = users.ensure_user(settings, f"{keys.new_id()}@example.org")
    key = upload(settings, user) if with_input else keys.upload_key(user.user_id, keys.new_id())
    names = aws.resources(settings)
    job_id = keys.job_id_for_upload(key)
    job = models.Job(
        job_id,
        user_id=user.user_id,
        input_key=key,
        status=models.PENDING,
        execution_arn=names.execution_arn(names.job_state_machine_name, job_id),
        submitted_at=models.now() - timedelta(minutes=5),
    )
    job.save()
    return job


def final(job_id: str, statuses: tuple[str, ...], timeout: float = 90) -> models.Job:
    def reached() -> models.Job | None:
        job = models.Job.get(job_id)
        return job if job.status in statuses else None

    return wait_for(reached, timeout, what=f"job {job_id} to reach {statuses}")


def repairs_of(report: reconcile.Report, job: models.Job) -> list[reconcile.Repair]:
    return [r for r in report.repairs if r.job_id == job.job_id]


def test_a_job_whose_input_is_gone_ends_failed_saying_so(stack: Settings) -> None:
    job = job_without_execution(stack, with_input=False)
    reconciler(stack).run()
    failed = models.Job.get(job.job_id)
    assert failed.status == models.FAILED
    assert "upload it again" in failed.failure_reason
    # The researcher reads it too, in the words of the workflow's own failure e-mail.
    (told,) = mail_to(stack, models.User.get(job.user_id).email, "failed")
    assert told.subject == f"GAS: the annotation of {failed.input_filename} failed"
    assert f"Reason: {failed.failure_reason}\n" in told.body
    assert f"/annotations/{job.job_id}" in told.body


def test_a_dry_run_changes_nothing(stack: Settings) -> None:
    job = job_without_execution(stack)
    report = reconciler(stack).run(dry_run=True)
    (repair,) = repairs_of(report, job)
    assert repair.action == "resume-annotation" and not repair.done
    assert models.Job.get(job.job_id).resumes == 0
    assert executions.describe(stack, models.Job.get(job.job_id).execution_arn) is None


def test_a_stopped_execution_ends_its_job_failed_with_a_reason(stack: Settings) -> None:
    """No annotate worker serves this job before the stop (the workers fixture is not used)."""
    user = users.ensure_user(stack, f"{keys.new_id()}@example.org")
    job = jobs.submit(stack, user, upload(stack, user), "stopped.vcf")
    aws.client(stack, "stepfunctions").stop_execution(executionArn=job.execution_arn)
    wait_for(
        lambda: executions.describe(stack, job.execution_arn)["status"] != "RUNNING",
        30,
        what="the execution to stop",
    )
    reconciler(stack).run()
    failed = models.Job.get(job.job_id)
    assert failed.status == models.FAILED
    assert failed.failure_reason and failed.failure_error.startswith("Reconciler.")


def test_two_reconcilers_at_once_repair_a_job_once(stack: Settings) -> None:
    job = job_without_execution(stack)
    reports: list[reconcile.Report] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        one = reconciler(stack)
        barrier.wait()
        reports.append(one.run())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done = [r.done for report in reports for r in repairs_of(report, job)]
    assert done.count(True) == 1, done
    record = models.Job.get(job.job_id)
    assert record.resumes == 1
    resumed = [
        name
        for name in executions.running(stack, Resources.of(stack).job_state_machine_name)
        if name.startswith(job.job_id)
    ]
    assert resumed == [f"{job.job_id}-resume-1"]
    aws.client(stack, "stepfunctions").stop_execution(executionArn=record.execution_arn)


def test_a_thaw_stopped_by_hand_is_started_again_and_its_job_restored(
    stack: Settings, request: pytest.FixtureRequest
) -> None:
    """Runs before the restore workers start, so the upgrade's thaw is surely still waiting for
    its retrieval when it is stopped; its request stays on the queue, as it would on AWS."""
    user = users.ensure_user(stack, f"{keys.new_id()}@example.org")
    names = Resources.of(stack)
    job_id = keys.new_id()
    results = {kind: keys.result_key(user.user_id, job_id, kind) for kind in keys.RESULT_FILES}
    for key in results.values():
        aws.client(stack, "s3").put_object(Bucket=names.results_bucket, Key=key, Body=b"#\n")
    store = archive.S3GlacierBackend(stack)
    for kind in archive.archived_kinds(results):  # as the archive step leaves a job
        store.archive(names.results_bucket, results[kind])
    job = models.Job(
        job_id,
        user_id=user.user_id,
        input_key=keys.upload_key(user.user_id, keys.new_id()),
        status=models.ARCHIVED,
        results=results,
        completed_at=models.now(),
        archived_at=models.now(),
        archive_backend="s3-glacier",
    )
    job.save()
    arn = thaw.upgrade(stack, user)
    assert arn is not None
    aws.client(stack, "stepfunctions").stop_execution(executionArn=arn)
    wait_for(
        lambda: executions.describe(stack, arn)["status"] != "RUNNING", 30, what="the thaw to stop"
    )
    (repair,) = repairs_of(reconciler(stack).run(), job)
    assert (repair.action, repair.done) == ("thaw-again", True)
    request.getfixturevalue("workers")  # now the restore workers serve both requests
    restored = final(job_id, (models.COMPLETED,), timeout=90)
    assert restored.thaw_execution is None and restored.restored_at is not None
    assert repairs_of(reconciler(stack).run(), restored) == []


def test_a_job_whose_execution_is_missing_is_annotated_again(stack: Settings, workers) -> None:
    job = job_without_execution(stack)
    report = reconciler(stack).run()
    (repair,) = repairs_of(report, job)
    assert (repair.workflow_status, repair.action, repair.done) == (
        "MISSING",
        "resume-annotation",
        True,
    )
    done = final(job.job_id, (models.COMPLETED, models.FAILED))
    assert done.status == models.COMPLETED, done.failure_reason
    assert done.resumes == 1 and done.execution_arn.endswith(f"{job.job_id}-resume-1")
    # Converged: the next run finds nothing to do for it.
    assert repairs_of(reconciler(stack).run(), job) == []


def test_a_free_job_resumed_after_a_restart_is_archived_when_its_retention_ends(
    stack: Settings, workers
) -> None:
    # Completed 595 s ago with a 600 s retention: 5 s of it are left when the workflow is lost.
    completed = models.now() - timedelta(seconds=595)
    archive_at = completed + timedelta(seconds=stack.free_retention_seconds)
    _, job = completed_job(stack, completed, with_execution=True, archive_after=archive_at)
    job_id = job.job_id
    names = Resources.of(stack)
    results = job.results.as_dict()
    (repair,) = repairs_of(reconciler(stack).run(), job)
    assert repair.action == "resume-retention"
    archived = final(job_id, (models.ARCHIVED,), timeout=60)
    late = (archived.archived_at - archive_at).total_seconds()
    assert 0 <= late < 30, f"archived {late:.0f} s after completed_at + retention"
    storage = archive.S3GlacierBackend(stack).storage_class(
        names.results_bucket, results["annotated"]
    )
    assert storage == archive.ARCHIVE_STORAGE_CLASS


def test_a_resumed_free_job_is_warned_of_its_archive_once_at_most(stack: Settings, workers) -> None:
    """Two jobs lost in their retention, 24 s from the archive with a 9 s warning: the one whose
    user was warned before the restart is not warned again; the other is, then both archive.
    (A warning whose time has passed is skipped: the 15 s before it is for the reconciler and the
    new execution on a loaded machine; 4 s was once too few.)"""
    warning = dataclasses.replace(stack, archive_warning_seconds=9)
    made = []
    for warned in (True, False):
        completed = models.now() - timedelta(seconds=stack.free_retention_seconds - 24)
        user, job = completed_job(
            stack,
            completed,
            with_execution=True,
            archive_after=completed + timedelta(seconds=stack.free_retention_seconds),
            archive_warning_sent_at=completed if warned else None,
        )
        made.append((user, job))
    report = reconciler(warning).run()
    for _, job in made:
        (repair,) = repairs_of(report, job)
        assert repair.action == "resume-retention"
    (warned_user, _), (user, not_warned) = made
    for _, job in made:
        assert final(job.job_id, (models.ARCHIVED,), timeout=60).status == models.ARCHIVED
    (soon,) = wait_for_mail(stack, user.email, "will be archived soon")
    assert not_warned.job_id in soon.body
    assert models.Job.get(not_warned.job_id).archive_warning_sent_at is not None
    assert mail_to(stack, warned_user.email, "will be archived soon") == []
