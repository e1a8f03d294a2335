"""Real `gas worker` processes for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gas.settings import Settings


class WorkerProcess:
    """One `gas worker KIND` subprocess, logging to a file the test can read."""

    def __init__(self, settings: Settings, kind: str, log_dir: Path, *extra: str) -> None:
        self.kind = kind
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


def stop_all(workers: list[WorkerProcess]) -> None:
    """SIGTERM every worker at once, then wait for all of them (in parallel, not one by one)."""
    for worker in workers:
        if worker.alive():
            worker.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
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
