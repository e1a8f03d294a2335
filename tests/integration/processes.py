"""Real `gas worker` processes for integration tests."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gas.settings import Settings


class WorkerProcess:
    """One `gas worker KIND` subprocess, logging to a file the test can read.

    A test that starts its own workers (to kill them, say) must know which process takes a task,
    so it first waits out any worker of that kind and stack still draining (see `stop_later`).
    Only `interchangeable` workers, the module fixture's, may start beside draining ones that run
    settings the workers read alike: whichever of them takes a task serves it the same way.
    """

    def __init__(
        self,
        settings: Settings,
        kind: str,
        log_dir: Path,
        *extra: str,
        interchangeable: bool = False,
    ) -> None:
        self.kind = kind
        self.settings = settings
        self.interchangeable = interchangeable and not extra
        _wait_for_draining(self)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"worker-{kind}-{time.monotonic_ns()}.log"
        env = settings.subprocess_env()
        env["PYTHONUNBUFFERED"] = "1"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "worker", kind, *extra],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9: no chance to hand anything back."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        stop_all([self])


# An idle worker exits when its long poll returns: up to 60 s, on AWS and on LocalStack alike.
# Killing it sooner would leave a poll that Step Functions can still hand the next task to.
STOP_TIMEOUT = 75


# Workers a finished module has sent SIGTERM and not waited for (see `stop_later`).
_DRAINING: list[WorkerProcess] = []


def stop_later(workers: list[WorkerProcess]) -> None:
    """SIGTERM every worker and go on without waiting out their long polls.

    Waiting cost a minute per module. A draining worker still serves what its last poll brings
    back, so nothing is lost; a worker started later on the same stack waits for it unless the two
    are interchangeable, and the session's end stops whatever is left (`stop_draining`).
    """
    for worker in workers:
        if worker.alive():
            worker.proc.send_signal(signal.SIGTERM)
        _DRAINING.append(worker)


def wait_out_draining(settings: Settings) -> None:
    """For a test that needs no worker at all on its stack: wait for the draining ones to exit."""
    on_stack = [old for old in _DRAINING if old.settings.prefix == settings.prefix]
    stop_all(on_stack)
    for old in on_stack:
        _DRAINING.remove(old)


def _wait_for_draining(new: WorkerProcess) -> None:
    for old in list(_DRAINING):
        if not old.alive():
            _DRAINING.remove(old)
            old._log.close()
            continue
        same_queue = old.kind == new.kind and old.settings.prefix == new.settings.prefix
        served_alike = new.interchangeable and old.interchangeable and _alike(old, new)
        if same_queue and not served_alike:
            stop_all([old])
            _DRAINING.remove(old)


# What only the submitting side reads (workflows.jobs puts them in the task's input): workers
# whose settings differ in nothing else serve a task alike.
_SUBMISSION_ONLY = ("free_retention_seconds", "annotate_run_limit_seconds")


def _alike(old: WorkerProcess, new: WorkerProcess) -> bool:
    same_for_workers = {name: getattr(new.settings, name) for name in _SUBMISSION_ONLY}
    return dataclasses.replace(old.settings, **same_for_workers) == new.settings


def stop_draining() -> None:
    """At the session's end no task is coming: give draining workers a moment, then kill them."""
    _reap(_DRAINING, 5)
    _DRAINING.clear()


def stop_all(workers: list[WorkerProcess]) -> None:
    """SIGTERM every worker at once, then wait for all of them (in parallel, not one by one)."""
    for worker in workers:
        if worker.alive():
            worker.proc.send_signal(signal.SIGTERM)
    _reap(workers, STOP_TIMEOUT)


def _reap(workers: list[WorkerProcess], seconds: float) -> None:
    """Wait up to ``seconds`` in all for the workers to exit; kill -9 whichever has not."""
    deadline = time.monotonic() + seconds
    for worker in workers:
        try:
            worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
        worker._log.close()


def wait_for(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail loudly after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
