"""The job pipeline's own cost, against the local cloud (LocalStack + DynamoDB Local).

1. Overhead: one annotate worker, 20 small jobs one after another; submit → COMPLETED minus the
   annotation itself (the engine's own seconds), p50 and p95.
2. Throughput: 50 small jobs submitted at once, drained by 1, 2 and 4 annotate workers; jobs/min.

Run: .venv/bin/python -m benchmarks.pipeline_overhead   (starts the local cloud if it is down)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.stack import SAMPLE, Workers, percentile, stack, submit_many, wait_all
from gas import models


def overhead(settings, data: bytes, count: int, log_dir: Path) -> None:
    workers = Workers(settings, log_dir / "overhead")
    workers.start("annotate")
    workers.start("notify")
    try:
        submit_many(settings, 1, data)  # warm-up: imports, bundle load, connections
        wait_all([j for j, _ in submit_many(settings, 1, data)])
        totals, engine = [], []
        for _ in range(count):
            ((job_id, began),) = submit_many(settings, 1, data)
            job = wait_all([job_id])[job_id]
            total = job.completed_at.timestamp() - job.submitted_at.timestamp()
            totals.append(total)
            engine.append(float(job.summary.as_dict().get("seconds", 0.0)))
        over = [t - e for t, e in zip(totals, engine, strict=True)]
        print(f"overhead over {count} jobs of {SAMPLE.name} (one worker, sequential):")
        print(
            f"  submit->COMPLETED  p50 {percentile(totals, 50):.3f} s  "
            f"p95 {percentile(totals, 95):.3f} s"
        )
        print(
            f"  annotation itself  p50 {percentile(engine, 50):.3f} s  "
            f"p95 {percentile(engine, 95):.3f} s"
        )
        print(
            f"  pipeline overhead  p50 {percentile(over, 50):.3f} s  "
            f"p95 {percentile(over, 95):.3f} s"
        )
    finally:
        workers.stop()


def throughput(settings, data: bytes, count: int, worker_counts: list[int], log_dir: Path) -> None:
    print(f"throughput: {count} jobs of {SAMPLE.name} submitted at once")
    for n in worker_counts:
        workers = Workers(settings, log_dir / f"throughput-{n}")
        workers.start("notify")
        submitted = submit_many(settings, count, data)
        began = time.monotonic()
        workers.start("annotate", n)
        try:
            done = wait_all([j for j, _ in submitted])
            took = time.monotonic() - began  # before stopping: idle workers linger in a poll
        finally:
            workers.stop()
        failed = sum(1 for j in done.values() if j.status != models.COMPLETED)
        print(
            f"  {n} worker(s): {count} jobs in {took:.1f} s = {count / took * 60:.0f} jobs/min"
            f"{f' ({failed} failed)' if failed else ''}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--throughput-jobs", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    data = SAMPLE.read_bytes()
    print(f"machine: {os.cpu_count()} cores; LocalStack and DynamoDB Local on this machine")
    with tempfile.TemporaryDirectory() as tmp, stack() as settings:
        overhead(settings, data, args.jobs, Path(tmp))
        throughput(
            settings,
            data,
            args.throughput_jobs,
            [int(n) for n in args.workers.split(",")],
            Path(tmp),
        )


if __name__ == "__main__":
    main()
