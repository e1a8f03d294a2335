"""Waiting is not failing: a backlog many times longer than a task's run limit completes.

An activity task's timeout counts from the moment it is scheduled, including the time it waits
for a worker. The job workflow gives the Annotate task the wait limit plus the run limit, and the
worker stops a task at its run limit itself. So with the run limit set short here, jobs submitted
while no worker runs wait three run limits before one worker starts, and every one completes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from tests.inputs import sites_vcf
from tests.integration.processes import WorkerProcess, stop_later, wait_for, wait_out_draining
from workflows import jobs, users

pytestmark = pytest.mark.integration

# Short, so jobs queue behind it; long enough for a first task to load the bundle and call
# consequences on a loaded machine (4 s failed one job of ten on a 2-core machine at load 6).
RUN_LIMIT = 8
JOBS = 10


@pytest.fixture(scope="module")
def short(settings: Settings) -> Settings:
    return dataclasses.replace(settings, annotate_run_limit_seconds=RUN_LIMIT)


@pytest.fixture(scope="module")
def side_workers(short: Settings, tmp_path_factory) -> Iterator[list[WorkerProcess]]:
    log_dir = tmp_path_factory.mktemp("backlog")
    running = [
        WorkerProcess(short, kind, log_dir, interchangeable=True)
        for kind in ("notify", "record-failure")
    ]
    yield running
    stop_later(running)


def vcf(records: int, seed: int) -> bytes:
    return sites_vcf(records, seed, contig="chr17", length=83_257_441, span=(1_000_000, 80_000_000))


def test_a_backlog_longer_than_the_run_limit_completes(
    short: Settings, side_workers: list[WorkerProcess], tmp_path
) -> None:
    wait_out_draining(short)  # an earlier module's annotate worker would take the backlog
    user = users.ensure_user(short, "backlog@example.org", models.PREMIUM)
    names = Resources.of(short)
    s3 = aws.client(short, "s3")
    submitted = []
    for index in range(JOBS):
        key = keys.upload_key(user.user_id, keys.new_id())
        s3.put_object(Bucket=names.inputs_bucket, Key=key, Body=vcf(20_000, index))
        submitted.append(jobs.submit(short, user, key, f"backlog-{index}.vcf"))
    time.sleep(3 * RUN_LIMIT)  # the backlog: no annotate worker yet
    side_workers.append(WorkerProcess(short, "annotate", tmp_path, "--concurrency", "1"))

    def all_done() -> list[models.Job] | None:
        now = [models.Job.get(job.job_id) for job in submitted]
        ended = all(j.status in (models.COMPLETED, models.FAILED) for j in now)
        return now if ended else None

    done = wait_for(all_done, 300, interval=1, what="every job in the backlog to end")
    assert [j.status for j in done] == [models.COMPLETED] * JOBS, [
        (j.status, j.failure_reason) for j in done
    ]
    waited = min((j.started_at - j.submitted_at).total_seconds() for j in done)
    assert waited > 2 * RUN_LIMIT, f"the shortest wait was only {waited:.1f} s"
    for job in done:
        steps = jobs.detail(short, job)["timeline"]
        annotate = next(step for step in steps if step["state"] == "Annotate")
        assert annotate["attempts"] == 1 and annotate["error"] is None
    longest = max((j.started_at - j.submitted_at).total_seconds() for j in done)
    print(f"waits in the backlog {waited:.1f}–{longest:.1f} s; run limit {RUN_LIMIT} s")
