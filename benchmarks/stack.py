"""A throw-away GAS deployment for benchmarks: local cloud, a stack under its own prefix, workers.

Used by the pipeline and fleet benchmarks; prints nothing itself. Not a test fixture: benchmarks
print figures, tests check behaviour.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from infra import deploy
from infra.localcloud import LocalCloud
from workflows import jobs, users

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "samples" / "test.vcf"


@contextmanager
def stack(retention_seconds: int = 3600) -> Iterator[Settings]:
    """A stack under a fresh prefix; removed afterwards, with the cloud if we started it."""
    base = Settings.from_env()
    cloud = LocalCloud(base)
    started = not cloud.is_up()
    if started:
        cloud.up()
    settings = replace(
        base.with_prefix(f"b{secrets.token_hex(4)}"), free_retention_seconds=retention_seconds
    )
    deploy.deploy(settings)
    models.bind(settings)
    try:
        yield settings
    finally:
        deploy.destroy(settings)
        if started:
            cloud.down()


class Workers:
    """`gas worker` subprocesses for a benchmark."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, kind: str, count: int = 1) -> None:
        env = self.settings.subprocess_env()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            log = (self.log_dir / f"{kind}-{len(self.procs)}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "cli.main", "worker", kind],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def stop(self) -> None:
        # An idle worker exits when its long poll returns (up to 60 s); all wait in parallel.
        for proc in self.procs:
            proc.terminate()
        deadline = time.monotonic() + 90
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def upload(settings: Settings, user: models.User, data: bytes) -> str:
    key = keys.upload_key(user.user_id, keys.new_id())
    names = Resources.of(settings)
    aws.client(settings, "s3").put_object(Bucket=names.inputs_bucket, Key=key, Body=data)
    return key


def submit_many(settings: Settings, count: int, data: bytes) -> list[tuple[str, float]]:
    """Upload and submit ``count`` premium jobs; returns (job id, submit time) pairs."""
    user = users.ensure_user(settings, f"bench-{secrets.token_hex(3)}@example.org", models.PREMIUM)
    keys_ = [upload(settings, user, data) for _ in range(count)]

    def one(key: str) -> tuple[str, float]:
        began = time.time()
        return jobs.submit(settings, user, key, "bench.vcf").job_id, began

    # Many researchers at once: submissions arrive in parallel, as they would from the dashboard.
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, keys_))


def wait_all(
    job_ids: list[str],
    statuses: tuple[str, ...] = (models.COMPLETED, models.FAILED),
    timeout: float = 1800,
) -> dict[str, models.Job]:
    """Wait until every job reached one of ``statuses``; returns them by id."""
    done: dict[str, models.Job] = {}
    deadline = time.monotonic() + timeout
    pending = set(job_ids)
    while pending and time.monotonic() < deadline:
        for job in models.Job.batch_get(list(pending)):
            if job.status in statuses:
                done[job.job_id] = job
                pending.discard(job.job_id)
        if pending:
            time.sleep(0.5)
    if pending:
        raise TimeoutError(f"{len(pending)} job(s) did not finish in {timeout:.0f} s")
    return done


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
