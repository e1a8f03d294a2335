"""Process supervision for `gas up` and `gas fleet`: start children, restart the ones that die,
stop them all (and only them) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Say = Callable[[str], None]


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start: float = 0.0
    history: list[float] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    """Keep a set of child processes running until told to stop."""

    def __init__(self, say: Say | None = None, stop_grace: float = 25.0) -> None:
        self.children: dict[str, Child] = {}
        self.retiring: list[Child] = []
        self.say = say or (lambda message: print(message, file=sys.stderr, flush=True))
        self.stop_grace = stop_grace
        self.stopping = threading.Event()
        self._lock = threading.Lock()

    def add(self, name: str, argv: list[str], env: dict[str, str], log_file: Path) -> Child:
        child = Child(name, argv, env, log_file)
        with self._lock:
            self.children[name] = child
        self._start(child)
        return child

    def retire(self, name: str) -> None:
        """Ask one child to stop (SIGTERM) without waiting: it drains and exits on its own time
        (an idle worker finishes its long poll first). It is never restarted; stop_all still
        waits for it, and kills it after the grace period."""
        with self._lock:
            child = self.children.pop(name, None)
            if child is None:
                return
            self.retiring.append(child)
        if child.running:
            _signal_group(child.proc.pid, signal.SIGTERM)

    @property
    def retiring_count(self) -> int:
        with self._lock:
            self.retiring = [c for c in self.retiring if c.running]
            return len(self.retiring)

    def _start(self, child: Child) -> None:
        child.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = child.log_file.open("ab")
        child.proc = subprocess.Popen(
            child.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child.env,
            start_new_session=True,
        )
        log.close()
        child.started_at = time.monotonic()

    def check(self) -> None:
        """Report and restart any child that died (with a back-off if it keeps dying)."""
        now = time.monotonic()
        with self._lock:
            children = list(self.children.values())
        for child in children:
            if child.running or self.stopping.is_set():
                continue
            if child.next_start == 0.0:
                code = child.proc.returncode if child.proc else None
                child.history = [t for t in child.history if now - t < 60] + [now]
                delay = min(30.0, 0.5 * 2 ** (len(child.history) - 1))
                child.next_start = now + delay
                self.say(
                    f"{child.name} exited (code {code}); restarting in {delay:.1f} s "
                    f"(log: {child.log_file})"
                )
            if now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                self._start(child)
                self.say(f"{child.name} restarted (pid {child.proc.pid})")

    def run(self, tick: Callable[[], None] | None = None, interval: float = 0.5) -> None:
        """Supervise until SIGINT/SIGTERM; ``tick`` runs each round (the fleet's scaler)."""

        def stop(signum: int, _frame: object) -> None:
            self.stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not self.stopping.wait(interval):
            self.check()
            if tick is not None:
                tick()
        self.stop_all()

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            children = list(self.children.values()) + self.retiring
        self._terminate(children)

    def _terminate(self, children: list[Child]) -> None:
        live = [c for c in children if c.running]
        for child in live:
            _signal_group(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for child in live:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in {self.stop_grace:.0f} s; killing it")
                _signal_group(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
        for child in children:  # anything the child's group left behind
            if child.proc is not None:
                _signal_group(child.proc.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
