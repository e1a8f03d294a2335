"""Workers that die or are stopped mid-task lose nothing: Step Functions hands the task on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from tests.inputs import sites_vcf
from tests.integration.placed_jobs import put_input
from tests.integration.processes import WorkerProcess, stop_later, wait_for
from workflows import jobs, users

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Big enough that the annotate step lasts a few seconds (it also calls consequences since
# engine 3, so a third of the 1.5 M records it took before).
RECORDS = 500_000


@pytest.fixture(scope="module")
def big_vcf() -> bytes:
    return sites_vcf(RECORDS, seed=7)


@pytest.fixture(scope="module")
def side_workers(settings: Settings, tmp_path_factory) -> Iterator[None]:
    """The workers the rest of the workflow needs; annotate workers are started by each test."""
    log_dir = tmp_path_factory.mktemp("side-workers")
    running = [
        WorkerProcess(settings, kind, log_dir, interchangeable=True)
        for kind in ("notify", "record-failure")
    ]
    yield
    stop_later(running)


def start_job(settings: Settings, data: bytes) -> models.Job:
    user = users.ensure_user(settings, "faults@example.org", models.PREMIUM)
    return jobs.submit(settings, user, put_input(settings, user, data), "big.vcf")


def running(job_id: str) -> models.Job | None:
    job = models.Job.get(job_id)
    return job if job.status == models.RUNNING else None


def finished(job_id: str) -> models.Job | None:
    job = models.Job.get(job_id)
    return job if job.status in (models.COMPLETED, models.FAILED) else None


def result_objects(settings: Settings, job: models.Job) -> list[str]:
    names = Resources.of(settings)
    listed = aws.client(settings, "s3").list_objects_v2(
        Bucket=names.results_bucket, Prefix=keys.result_prefix(job.user_id, job.job_id)
    )
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_kill_9_mid_annotation_is_retried_by_another_worker(
    settings, side_workers, big_vcf, tmp_path
) -> None:
    first = WorkerProcess(settings, "annotate", tmp_path)
    job = start_job(settings, big_vcf)
    wait_for(lambda: running(job.job_id), 60, what="the first worker to take the job")
    first.kill()
    second = WorkerProcess(settings, "annotate", tmp_path)
    try:
        done = wait_for(lambda: finished(job.job_id), 150, what="the job to finish")
    finally:
        second.stop()
    assert done.status == models.COMPLETED, done.failure_reason
    assert done.attempts == 2
    assert done.variants_total == RECORDS
    # One result set: exactly the objects the job records, none left by the killed worker.
    assert sorted(result_objects(settings, done)) == sorted(done.results.as_dict().values())
    timeline = jobs.detail(settings, done)["timeline"]
    annotate = next(step for step in timeline if step["state"] == "Annotate")
    assert annotate["attempts"] == 2
    assert annotate["status"] == "retried"
    assert "task-succeeded" in second.log()


def test_sigterm_lets_the_task_finish(settings, side_workers, big_vcf, tmp_path) -> None:
    worker = WorkerProcess(settings, "annotate", tmp_path, "--grace", "120")
    job = start_job(settings, big_vcf)
    wait_for(lambda: running(job.job_id), 60, what="the worker to take the job")
    assert worker.terminate(timeout=150) == 0
    done = models.Job.get(job.job_id)
    assert done.status == models.COMPLETED, done.failure_reason
    assert done.attempts == 1
    log = worker.log()
    assert (
        log.index("shutdown-requested") < log.index("task-succeeded") < log.index("worker-stopped")
    )


def test_sigterm_past_the_grace_period_hands_the_task_back(
    settings, side_workers, big_vcf, tmp_path
) -> None:
    impatient = WorkerProcess(settings, "annotate", tmp_path, "--grace", "0")
    job = start_job(settings, big_vcf)
    wait_for(lambda: running(job.job_id), 60, what="the worker to take the job")
    assert impatient.terminate(timeout=60) == 0
    assert '"handed_back": 1' in impatient.log()
    successor = WorkerProcess(settings, "annotate", tmp_path)
    try:
        done = wait_for(lambda: finished(job.job_id), 150, what="the job to finish")
    finally:
        successor.stop()
    assert done.status == models.COMPLETED, done.failure_reason
    assert done.attempts >= 2
    assert sorted(result_objects(settings, done)) == sorted(done.results.as_dict().values())
    failures = [
        e["activityFailedEventDetails"]["error"]
        for e in jobs.history(settings, done.execution_arn)
        if e["type"] == "ActivityFailed"
    ]
    assert failures[0] == "Worker.Interrupted"  # handed back, not timed out
    steps = jobs.detail(settings, done)["timeline"]
    assert next(s for s in steps if s["state"] == "Annotate")["status"] == "retried"
