"""`gas up` stopped in order, or killed with everything it started, loses nothing, and every job
converges when it comes back.

The module runs the real `gas up --no-dashboard` (local cloud, deploy, workers, reconciler) on a
private cloud (free ports, a state folder of its own sharing only the installs), because it stops
and kills that cloud; the session's cloud is not touched. The dashboard is the real app, built
in-process against the same cloud and state folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from gas import models
from gas.settings import Settings
from tests.cloud import private_cloud_settings
from tests.inputs import small_vcf
from tests.integration.placed_jobs import put_input
from tests.integration.processes import wait_for
from webapp import create_app
from workflows import jobs, reconcile, users

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "a long enough passphrase"
RETENTION = 45  # long enough to span a restart, short enough to watch
RECONCILE_EVERY = 5
BATCH = 10


@pytest.fixture(scope="module")
def private(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """This module's own cloud; the models are bound back to the session's stack afterwards."""
    yield from _private_cloud(tmp_path_factory)
    models.bind(settings)


def _private_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    own = private_cloud_settings(
        tmp_path_factory.mktemp("restart-state"),
        prefix=f"u{uuid.uuid4().hex[:6]}",
        free_retention_seconds=RETENTION,
        reconcile_interval_seconds=RECONCILE_EVERY,
    )
    yield own
    subprocess.run(  # noqa: S603 - our own CLI; whatever a failed test left running
        [sys.executable, "-m", "cli.main", "local", "down"],
        env=own.subprocess_env(),
        capture_output=True,
        check=False,
    )


class GasUp:
    """One `gas up --no-dashboard` in the foreground of a subprocess, as a user runs it."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.began = time.monotonic()
        self.offset = log.stat().st_size if log.exists() else 0  # this run's lines only
        env = settings.subprocess_env()
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "cli.main", "up", "--no-dashboard"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._up, 180, interval=0.5, what=f"gas up to start (log: {log})")
        self.took = time.monotonic() - self.began
        models.bind(settings)

    def output(self) -> str:
        return self.log.read_bytes()[self.offset :].decode(errors="replace")

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.output()[-3000:]
        return "logs:" in self.output()

    def stop(self) -> None:
        """Ctrl-C: every process it started stops, the local cloud too."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        assert "stopped" in self.output()

    def kill_everything(self) -> int:
        """kill -9 of gas up, every worker and the reconciler, LocalStack and DynamoDB Local."""
        victims = _descendants(self.proc.pid) | {self.proc.pid}
        for name in ("localstack", "dynamodb-local"):
            with contextlib.suppress(FileNotFoundError, ValueError):
                pid = int((self.settings.state_dir / "run" / f"{name}.pid").read_text())
                victims |= _descendants(pid) | {pid}
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return len(victims)


@pytest.fixture
def launch(private: Settings, tmp_path: Path) -> Iterator[Callable[[], GasUp]]:
    """Starts `gas up`; whatever a test leaves running is stopped (or killed) afterwards."""
    started: list[GasUp] = []

    def start() -> GasUp:
        started.append(GasUp(private, tmp_path / "gas-up.log"))
        return started[-1]

    yield start
    for running in started:
        if running.proc.poll() is None:
            try:
                running.stop()
            except (subprocess.TimeoutExpired, AssertionError):
                running.kill_everything()


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def submit(settings: Settings, user: models.User, data: bytes) -> models.Job:
    return jobs.submit(settings, user, put_input(settings, user, data), "sample.vcf")


def statuses(job_ids: list[str]) -> list[models.Job]:
    return [models.Job.get(job_id) for job_id in job_ids]


def settled(job: models.Job) -> bool:
    """A true end state: COMPLETED with nothing left to wait for, ARCHIVED, or FAILED with why."""
    if job.status == models.FAILED:
        return bool(job.failure_reason)
    if job.status == models.COMPLETED:
        return job.archive_after is None
    return job.status == models.ARCHIVED


def test_an_orderly_restart_keeps_accounts_jobs_results_and_workflows(
    private: Settings, launch: Callable[[], GasUp]
) -> None:
    first = launch()
    user = users.register(
        private,
        email=f"{uuid.uuid4().hex[:8]}@example.org",
        name="Restart",
        institution="",
        password_hash=generate_password_hash(PASSWORD),
    )
    premium_user = users.ensure_user(private, f"{uuid.uuid4().hex[:8]}@example.org", "premium")
    kept = submit(private, premium_user, small_vcf())
    waiting = submit(private, user, small_vcf())
    kept = wait_for(
        lambda: (j := models.Job.get(kept.job_id)).status == models.COMPLETED and j,
        120,
        what="the premium job to complete",
    )
    waiting = wait_for(
        lambda: (j := models.Job.get(waiting.job_id)).status == models.COMPLETED and j,
        120,
        what="the free job to complete",
    )
    wait_for(
        lambda: jobs.detail(private, kept)["execution_status"] == "SUCCEEDED",
        30,
        what="the premium job's workflow to end",
    )
    with urllib.request.urlopen(jobs.result_url(private, kept, "annotated_gz")) as got:  # noqa: S310
        before = got.read()
    first.stop()

    second = launch()
    # The account: the same password logs in, with the installation's session key.
    app = create_app(private, TESTING=True, WTF_CSRF_ENABLED=False)
    client = app.test_client()
    login = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert login.status_code == 302 and "/login" not in login.headers["Location"]
    page = client.get(f"/annotations/{waiting.job_id}")
    assert page.status_code == 200
    # The job page of the premium job still shows its finished workflow.
    detail = jobs.detail(private, models.Job.get(kept.job_id))
    assert detail["execution_status"] == "SUCCEEDED"
    assert [s["state"] for s in detail["timeline"]][-1] == "KeepResultsOnline"
    # The same bytes.
    kept = models.Job.get(kept.job_id)
    with urllib.request.urlopen(jobs.result_url(private, kept, "annotated_gz")) as got:  # noqa: S310
        assert got.read() == before
    # The free job's retention spans the restart: archived at completed_at + retention.
    archived = wait_for(
        lambda: (j := models.Job.get(waiting.job_id)).status == models.ARCHIVED and j,
        RETENTION + 120,
        what="the free job to be archived after the restart",
    )
    due = waiting.completed_at + timedelta(seconds=RETENTION)
    late = (archived.archived_at - due).total_seconds()
    assert -1 < late < 30, f"archived {late:.1f} s after completed_at + retention"
    assert archived.resumes == 1  # the reconciler resumed its lost workflow at the wait
    second.stop()
    print(f"gas up after an orderly stop: {second.took:.1f} s; archived {late:.1f} s after due")


def test_kill_9_of_everything_mid_batch_then_every_job_converges(
    private: Settings, launch: Callable[[], GasUp]
) -> None:
    first = launch()
    free = users.ensure_user(private, f"{uuid.uuid4().hex[:8]}@example.org")
    premium = users.ensure_user(private, f"{uuid.uuid4().hex[:8]}@example.org", "premium")
    batch = [
        submit(private, free if index % 2 else premium, small_vcf(4000)).job_id
        for index in range(BATCH)
    ]
    wait_for(
        lambda: sum(j.status == models.COMPLETED for j in statuses(batch)) >= 2,
        180,
        what="the batch to be under way",
    )
    before = [j.status for j in statuses(batch)]
    killed = first.kill_everything()

    began = time.monotonic()
    second = launch()
    converged = wait_for(
        lambda: (now := statuses(batch)) and all(settled(j) for j in now) and now,
        reconcile.START_GRACE_SECONDS + RETENTION + 240,
        interval=1,
        what="every job of the batch to reach a true end state",
    )
    took = time.monotonic() - began
    outcome = [j.status for j in converged]
    assert all(s in (models.COMPLETED, models.ARCHIVED) for s in outcome), [
        (j.status, j.failure_reason) for j in converged
    ]
    second.stop()
    counts = {s: before.count(s) for s in sorted(set(before))}
    print(
        f"killed {killed} processes with the batch at {counts}; every job converged "
        f"{took:.0f} s after `gas up` was started again ({second.took:.1f} s of it to start): "
        f"{ {s: outcome.count(s) for s in sorted(set(outcome))} }"
    )
    assert re.search(r"job-repaired", (private.state_dir / "logs" / "reconciler.log").read_text())
