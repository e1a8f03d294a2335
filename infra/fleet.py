"""The local worker fleet: `gas fleet` scales `gas worker` processes on the backlog signal.

The same policy (gas.scaling) drives the auto scaling group on AWS; here the "instances" are
worker processes under a supervisor. Scale-in sends SIGTERM, so a worker finishes or hands back
its task: nothing is lost, nothing runs twice.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gas.scaling import Scaler, ScalingPolicy
from gas.settings import Settings
from infra.supervisor import Supervisor

Signal = Callable[[], tuple[int, int]]  # () -> (backlog, in_progress)


class Fleet:
    def __init__(
        self,
        settings: Settings,
        activity: str,
        policy: ScalingPolicy,
        signal: Signal,
        *,
        record: Path | None = None,
        say: Callable[[str], None] | None = None,
        grace: float = 60.0,
        poll_interval: float = 2.0,
        log_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.activity = activity
        self.scaler = Scaler(policy)
        self.signal = signal
        self.say = say or (lambda m: print(m, file=sys.stderr, flush=True))
        # Scale-in waits for a draining worker; the supervisor's stop grace must cover its grace.
        self.supervisor = Supervisor(say=self.say, stop_grace=grace + 10)
        self.grace = grace
        self.poll_interval = poll_interval
        self.log_dir = log_dir or settings.state_dir / "logs"
        self.workers: list[str] = []
        self._serial = 0
        self._next_poll = 0.0
        self._record = record
        self._writer = None
        self._began = time.monotonic()
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            self._file = record.open("w", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(["seconds", "backlog", "in_progress", "workers", "draining"])

    def _start_worker(self) -> None:
        self._serial += 1
        name = f"{self.activity}-{self._serial}"
        env = self.settings.subprocess_env()
        env["PYTHONUNBUFFERED"] = "1"
        self.supervisor.add(
            name,
            [sys.executable, "-m", "cli.main", "worker", self.activity, "--grace", str(self.grace)],
            env,
            self.log_dir / f"fleet-{name}.log",
        )
        self.workers.append(name)

    def _stop_worker(self) -> None:
        name = self.workers.pop()
        self.supervisor.retire(name)  # SIGTERM: the worker drains its task and exits

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self.poll_interval
        try:
            backlog, in_progress = self.signal()
        except Exception as exc:  # noqa: BLE001 - keep the current size when the signal fails
            self.say(f"backlog signal failed ({exc!r}); keeping {len(self.workers)} worker(s)")
            return
        current = len(self.workers)
        wanted = self.scaler.decide(current, backlog, in_progress, now)
        if wanted != current:
            self.say(
                f"backlog {backlog}, in progress {in_progress}: "
                f"{current} -> {wanted} {self.activity} worker(s)"
            )
        while len(self.workers) < wanted:
            self._start_worker()
        while len(self.workers) > wanted:
            self._stop_worker()
        if self._writer is not None:
            self._writer.writerow(
                [
                    round(now - self._began, 2),
                    backlog,
                    in_progress,
                    len(self.workers),
                    self.supervisor.retiring_count,
                ]
            )
            self._file.flush()

    def run(self) -> None:
        """Scale until SIGINT/SIGTERM, then stop every worker (each drains first)."""
        self.tick()
        try:
            self.supervisor.run(tick=self.tick, interval=0.5)
        finally:
            if self._writer is not None:
                self._file.close()
