"""`gas local up/down/status` with a second local cloud on other ports, sharing the installs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from infra.localcloud import LocalCloud
from tests.cloud import private_cloud_settings


@pytest.fixture
def second_cloud(local_cloud: LocalCloud, tmp_path: Path) -> LocalCloud:
    state = tmp_path / "state"
    state.mkdir()
    # Reuse the installs of the session's cloud; pid files, logs and ports are this test's own.
    settings = private_cloud_settings(state, prefix=local_cloud.settings.prefix)
    return LocalCloud(settings, progress=lambda _m: None)


def gas(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=settings.subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_up_is_idempotent_and_down_leaves_no_process_behind(second_cloud: LocalCloud) -> None:
    settings = second_cloud.settings
    first = gas(settings, "local", "up")
    assert first.returncode == 0, first.stderr
    status = second_cloud.status()
    pids = [entry["pid"] for entry in status.values()]
    assert all(entry["running"] and entry["answers"] for entry in status.values())
    again = gas(settings, "local", "up")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert [entry["pid"] for entry in second_cloud.status().values()] == pids

    shown = gas(settings, "local", "status")
    ports = (str(settings.localstack_port), str(settings.dynamodb_port))
    assert shown.returncode == 0 and all(port in shown.stdout for port in ports)

    down = gas(settings, "local", "down")
    assert down.returncode == 0, down.stderr
    for pid in pids:
        assert not _exists(pid), f"process {pid} outlived `gas local down`"
    # Nothing of this cloud's process groups is left either (LocalStack starts children).
    leftovers = subprocess.run(
        ["pgrep", "-f", "|".join(ports)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert [p for p in leftovers if int(p) != os.getpid()] == []
    assert gas(settings, "local", "status").returncode == 1
    # The session's own cloud is untouched.
    assert second_cloud.settings.state_dir != Path(".gas")


def _exists(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_up_waits_for_its_own_emulator_that_cannot_answer_yet_and_starts_no_second(
    second_cloud: LocalCloud,
) -> None:
    """A fresh clone's first `make test`: LocalStack, up but too loaded to answer a probe within
    2 s, was started a second time by the next test process; the second could not bind, its pid
    file disowned the first, and every later session failed while the first outlived the run."""
    try:
        assert second_cloud.up()
        frozen = second_cloud.localstack.pid()
        assert frozen is not None
        os.kill(frozen, signal.SIGSTOP)  # alive, and answers nothing until it is let go
        thaw = threading.Timer(5, os.kill, (frozen, signal.SIGCONT))
        try:
            assert not second_cloud.is_up()
            thaw.start()
            started = second_cloud.up()
        finally:
            thaw.cancel()
            os.kill(frozen, signal.SIGCONT)
        assert started is False  # waited for it: nothing started
        assert second_cloud.localstack.pid() == frozen and second_cloud.is_up()
    finally:
        second_cloud.down()
    assert not _exists(frozen)
