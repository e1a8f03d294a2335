"""The process supervisor behind `gas up` and `gas fleet`, with real child processes."""

import os
import sys
import time

from infra.supervisor import Supervisor


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
