"""The process supervisor behind `gas up` and `gas fleet`, with real child processes."""

import os
import signal
import subprocess
import sys
import time

from gas.settings import REPO_ROOT
from infra.localcloud import process_alive
from infra.supervisor import SUPERVISOR_PID_FILE, Supervisor, running_supervisor, stop_leftovers


def _sleeper(tmp_path, name: str, supervisor: Supervisor):
    return supervisor.add(
        name,
        [sys.executable, "-c", "import time; time.sleep(600)"],
        dict(os.environ),
        tmp_path / f"{name}.log",
    )


def test_a_child_that_dies_is_reported_and_restarted(tmp_path) -> None:
    said: list[str] = []
    supervisor = Supervisor(say=said.append, stop_grace=5)
    child = _sleeper(tmp_path, "worker", supervisor)
    first_pid = child.proc.pid
    child.proc.kill()
    child.proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (child.running and child.proc.pid != first_pid):
        supervisor.check()
        time.sleep(0.1)
    try:
        assert child.running and child.proc.pid != first_pid
        assert child.restarts == 1
        assert any("worker exited" in line for line in said)
        assert any("worker restarted" in line for line in said)
    finally:
        supervisor.stop_all()


def test_stop_all_leaves_nothing_behind(tmp_path) -> None:
    supervisor = Supervisor(say=lambda _m: None, stop_grace=5)
    children = [_sleeper(tmp_path, f"c{i}", supervisor) for i in range(3)]
    supervisor.stop_all()
    for child in children:
        assert not child.running
    supervisor.check()  # a stopping supervisor restarts nothing
    assert all(not child.running for child in children)


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(tmp_path) -> None:
    supervisor = Supervisor(say=lambda _m: None, stop_grace=1)
    stubborn = supervisor.add(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
        ],
        dict(os.environ),
        tmp_path / "stubborn.log",
    )
    time.sleep(0.5)
    began = time.monotonic()
    supervisor.stop_all()
    assert not stubborn.running
    assert time.monotonic() - began < 5


def test_retire_does_not_wait_and_never_restarts(tmp_path) -> None:
    supervisor = Supervisor(say=lambda _m: None, stop_grace=5)
    child = _sleeper(tmp_path, "old", supervisor)
    began = time.monotonic()
    supervisor.retire("old")
    assert time.monotonic() - began < 1
    child.proc.wait(timeout=5)
    supervisor.check()
    assert not child.running
    assert "old" not in supervisor.children
    assert supervisor.retiring_count == 0


# -- the supervisor dies: kill -9, as a crash or the OOM killer would --------------------------

SUPERVISE = """
import os, sys
from pathlib import Path
from infra.supervisor import Supervisor

pid_dir, command = Path(sys.argv[1]), sys.argv[2]
supervisor = Supervisor(say=lambda _m: None, stop_grace=5, pid_dir=pid_dir)
for name in ("worker annotate", "worker notify", "reconciler"):
    supervisor.add(name, [sys.executable, "-c", command], dict(os.environ), pid_dir / "child.log")
supervisor.run()
"""
SLEEP = "import time; time.sleep(600)"
SLEEP_THROUGH_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
)


def _supervisor_process(tmp_path, command: str) -> tuple[subprocess.Popen, dict[str, int]]:
    """A supervisor of three children in a process of its own; its pid and theirs."""
    pid_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISE, str(pid_dir), command], env=env, start_new_session=True
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(list(pid_dir.glob("*.pid"))) < 4:
        time.sleep(0.05)
    time.sleep(0.3)  # the children are past their interpreter's start-up
    children = {
        path.stem: int(path.read_text().split()[0])
        for path in pid_dir.glob("*.pid")
        if path.name != SUPERVISOR_PID_FILE
    }
    assert len(children) == 3, children
    return proc, children


def _alive(pids) -> list[int]:
    return [pid for pid in pids if process_alive(pid)]


def _wait_until_gone(pids, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


def test_children_stop_when_their_supervisor_is_killed(tmp_path) -> None:
    supervisor, children = _supervisor_process(tmp_path, SLEEP)
    try:
        assert running_supervisor(tmp_path / "run") == supervisor.pid
        os.kill(supervisor.pid, signal.SIGKILL)  # the supervisor alone, not its children
        supervisor.wait()
        assert _wait_until_gone(children.values(), 10) == []
    finally:
        for pid in _alive(children.values()):
            os.kill(pid, signal.SIGKILL)


def test_the_next_supervisor_stops_what_a_killed_one_left(tmp_path) -> None:
    # Children deaf to SIGTERM outlive the parent-death signal: the next supervisor's start
    # finds them from the pid files and kills them after the grace.
    supervisor, children = _supervisor_process(tmp_path, SLEEP_THROUGH_SIGTERM)
    try:
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
        assert running_supervisor(tmp_path / "run") is None
        assert len(_alive(children.values())) == 3
        stopped = stop_leftovers(tmp_path / "run", grace=1)
        assert stopped == sorted(children)
        assert _alive(children.values()) == []
        assert list((tmp_path / "run").glob("*.pid")) == []
        assert stop_leftovers(tmp_path / "run", grace=1) == []  # nothing twice
    finally:
        for pid in _alive(children.values()):
            os.kill(pid, signal.SIGKILL)


def test_a_pid_file_naming_a_process_that_is_no_longer_ours_is_left_alone(tmp_path) -> None:
    other = subprocess.Popen([sys.executable, "-c", SLEEP])
    try:
        pid_dir = tmp_path / "run"
        pid_dir.mkdir()
        # The same pid, another start time: the recorded process ended and the pid was reused.
        (pid_dir / "worker-annotate.pid").write_text(f"{other.pid} 1\n")
        assert stop_leftovers(pid_dir, grace=1) == []
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
