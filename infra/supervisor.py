"""Process supervision for `gas up` and `gas fleet`: start children, restart the ones that die,
stop them all (and only them) on Ctrl-C or SIGTERM.

Each child runs in its own session (a Ctrl-C in the terminal reaches only the supervisor, which
stops the children in order), so nothing else would stop them when the supervisor itself dies
(kill -9, a crash, the OOM killer). On Linux every child is therefore started with a parent-death
signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``): when the supervisor dies, however it dies, the
kernel sends each child SIGTERM and it stops as on Ctrl-C (a worker finishes its poll in flight and
hands back any task). The signal follows the thread that started the child, so children are started
from one long-lived thread (``add``/``check``/``run`` are called from the main thread). With a
``pid_dir``, the supervisor also records itself and each child there, so that the next supervisor
can find and stop what a crashed one left (``stop_leftovers``).
"""

from __future__ import annotations

import contextlib
import ctypes
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

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
SUPERVISOR_PID_FILE = "supervisor.pid"


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once, here: the child between fork and exec only calls it.
_PRCTL = _load_prctl()


def _dies_with_parent(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that arms SIGTERM for the child when its parent dies (Linux only)."""
    if _PRCTL is None:
        return None

    def arm() -> None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


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

    def __init__(
        self, say: Say | None = None, stop_grace: float = 25.0, pid_dir: Path | None = None
    ) -> None:
        self.children: dict[str, Child] = {}
        self.retiring: list[Child] = []
        self.say = say or (lambda message: print(message, file=sys.stderr, flush=True))
        self.stop_grace = stop_grace
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.pid_dir = pid_dir
        if pid_dir is not None:
            pid_dir.mkdir(parents=True, exist_ok=True)
            write_pid_file(pid_dir / SUPERVISOR_PID_FILE, os.getpid())

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
        if child.proc is not None and child.running:
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
            preexec_fn=_dies_with_parent(os.getpid()),  # prctl only: see the module docstring
        )
        log.close()
        child.started_at = time.monotonic()
        if self.pid_dir is not None:
            write_pid_file(self._pid_file(child), child.proc.pid)

    def _pid_file(self, child: Child) -> Path:
        assert self.pid_dir is not None
        return self.pid_dir / f"{child.name.replace(' ', '-')}.pid"

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
                self.say(f"{child.name} restarted (pid {_pid(child)})")

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
        if self.pid_dir is not None:
            for child in children:
                self._pid_file(child).unlink(missing_ok=True)
            (self.pid_dir / SUPERVISOR_PID_FILE).unlink(missing_ok=True)

    def _terminate(self, children: list[Child]) -> None:
        live = [(c, c.proc) for c in children if c.proc is not None and c.running]
        for _child, proc in live:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for child, proc in live:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in {self.stop_grace:.0f} s; killing it")
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        for child in children:  # anything the child's group left behind
            if child.proc is not None:
                _signal_group(child.proc.pid, signal.SIGKILL)


def _pid(child: Child) -> int | None:
    return child.proc.pid if child.proc is not None else None


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


# -- what a crashed supervisor left -------------------------------------------------------------


def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks after boot): with the pid, who it is; None if it is
    gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def write_pid_file(path: Path, pid: int) -> None:
    """Record ``pid`` with its start time, so a reused pid is never taken for it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(f"{pid} {_start_ticks(pid) or 0}\n")
    os.replace(partial, path)


def _recorded(path: Path) -> int | None:
    """The pid in a pid file, if that very process still runs (not another one with its pid)."""
    try:
        pid_text, ticks_text = path.read_text().split()[:2]
        pid, ticks = int(pid_text), int(ticks_text)
    except (OSError, ValueError):
        return None
    return pid if _start_ticks(pid) == ticks else None


def running_supervisor(pid_dir: Path) -> int | None:
    """The pid of a supervisor that recorded itself in ``pid_dir`` and still runs."""
    pid = _recorded(pid_dir / SUPERVISOR_PID_FILE)
    return pid if pid != os.getpid() else None


def stop_leftovers(pid_dir: Path, grace: float = 10.0) -> list[str]:
    """Stop the children an earlier supervisor recorded in ``pid_dir`` and left running (it
    died without stopping them): SIGTERM to each one's group, SIGKILL after ``grace``. Returns
    their names. Call it only when :func:`running_supervisor` finds none."""
    found: dict[str, int] = {}
    for path in sorted(pid_dir.glob("*.pid")) if pid_dir.is_dir() else []:
        if path.name != SUPERVISOR_PID_FILE and (pid := _recorded(path)) is not None:
            found[path.stem] = pid
    for pid in found.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_start_ticks(p) for p in found.values()):
        time.sleep(0.1)
    for pid in found.values():
        if _start_ticks(pid) is not None:
            _signal_group(pid, signal.SIGKILL)
    while any(_start_ticks(p) for p in found.values()) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    for path in pid_dir.glob("*.pid") if pid_dir.is_dir() else []:
        if path.name != SUPERVISOR_PID_FILE or running_supervisor(pid_dir) is None:
            path.unlink(missing_ok=True)
    return sorted(found)
