"""What one reconciler run costs when nothing needs repair, with 10,000 jobs in the table.

Jobs are written straight to DynamoDB in the mix a deployment at rest has: most are at rest
(completed premium, archived free, failed) and some free jobs wait out their retention in live
executions (started at ``WaitOutRetention`` with a far ``archive_at``, as the reconciler resumes
them). Prints the run's wall time, the jobs checked, and the calls made per AWS API, counted with
botocore's event hooks on the reconciler's own clients.

    python benchmarks/reconciler_cost.py [--jobs 10000] [--waiting 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from benchmarks.stack import stack
from gas import aws, keys, models
from gas.settings import Settings
from workflows import executions, jobs, reconcile


def populate(settings: Settings, total: int, waiting: int) -> None:
    """``total`` jobs of 100 users; ``waiting`` of them free and in a live retention wait."""
    free = [models.User(keys.new_id(), email=f"f{i}@example.org") for i in range(50)]
    premium = [
        models.User(keys.new_id(), email=f"p{i}@example.org", tier=models.PREMIUM)
        for i in range(50)
    ]
    with models.User.batch_write() as batch:
        for user in free + premium:
            batch.save(user)
    now = models.now()
    waiting_jobs = []
    with models.Job.batch_write() as batch:
        for index in range(total):
            user = (free if index % 2 else premium)[index % 50]
            job_id = keys.new_id()
            results = {k: keys.result_key(user.user_id, job_id, k) for k in keys.RESULT_FILES}
            job = models.Job(
                job_id,
                user_id=user.user_id,
                input_key=keys.upload_key(user.user_id, keys.new_id()),
                submitted_at=now - timedelta(hours=2, seconds=index),
                completed_at=now - timedelta(hours=1),
                results=results,
            )
            if index < waiting:
                job.user_id = free[index % 50].user_id
                job.status = models.COMPLETED
                job.archive_after = now + timedelta(days=30)
                waiting_jobs.append(job)
            elif user.is_premium:
                job.status = models.COMPLETED
            elif index % 3 == 0:
                job.status = models.FAILED
            else:
                job.status = models.ARCHIVED
            batch.save(job)
    names = aws.resources(settings)

    def start(job: models.Job) -> None:
        arn = executions.start_once(
            settings,
            names.job_state_machine_name,
            job.job_id,
            jobs.execution_input(settings, job, resume_at_retention=True),
        )
        job.update(actions=[models.Job.execution_arn.set(arn)])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(start, waiting_jobs))


def count_calls(reconciler: reconcile.Reconciler, settings: Settings) -> Counter:
    """Count every AWS call the run makes (DynamoDB through pynamodb's botocore client too)."""
    calls: Counter = Counter()

    def record(model: Any, **_kwargs: object) -> None:  # botocore's OperationModel
        calls[model.service_model.service_name + ":" + model.name] += 1

    clients = [
        reconciler.s3,
        aws.client(settings, "stepfunctions"),
        models.Job._get_connection().connection.client,
    ]
    for client in clients:
        client.meta.events.register("before-call", lambda model, **kw: record(model, **kw))
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with stack() as settings:
        began = time.monotonic()
        populate(settings, args.jobs, args.waiting)
        print(
            f"wrote {args.jobs} jobs ({args.waiting} waiting in live executions) "
            f"in {time.monotonic() - began:.1f} s"
        )
        reconciler = reconcile.Reconciler(settings)
        calls = count_calls(reconciler, settings)
        seconds = []
        for _ in range(args.runs):
            calls.clear()
            report = reconciler.run()
            seconds.append(report.seconds)
            assert not report.repairs, report.repairs
        print(f"jobs checked per run: {report.jobs_checked}; repairs: {len(report.repairs)}")
        print(
            f"run time: median {statistics.median(seconds):.2f} s "
            f"(min {min(seconds):.2f}, max {max(seconds):.2f}) over {args.runs} runs"
        )
        print("calls in one run:", ", ".join(f"{k}={v}" for k, v in sorted(calls.items())))


if __name__ == "__main__":
    main()
