"""kill -9 of `gas up` (its process group: the supervisor alone, its children have their own
sessions) leaves none of its workers, reconciler or dashboard behind, and the next `gas up` runs
exactly one of each, whatever the killed one left draining.

The real `gas up` with its dashboard, on a private cloud (free ports, a state folder of its own).
LocalStack and DynamoDB Local are not `gas up`'s children but the local cloud's own processes
(pid files, data on disk): they stay up through the crash and the next `gas up` uses them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gas.settings import Settings
from infra.localcloud import LocalCloud
from tests.cloud import free_port, private_cloud_settings
from tests.integration.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER_KINDS = 7
# A worker told to stop by the parent-death signal first finishes its long poll (up to 60 s).
ORPHANS_GONE_WITHIN = 90


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    port = free_port()
    own = private_cloud_settings(
        tmp_path_factory.mktemp("crash-state"),
        prefix=f"k{uuid.uuid4().hex[:6]}",
        web_port=port,
        base_url=f"http://127.0.0.1:{port}",
    )
    yield own
    for pid in gas_up_processes(own):  # whatever a failed test left
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli.main", "local", "down"],
        env=own.subprocess_env(),
        capture_output=True,
        check=False,
    )


def _role(cmdline: list[str]) -> str | None:
    if "cli.main" in cmdline and "worker" in cmdline:
        return f"worker {cmdline[cmdline.index('worker') + 1]}"
    if "cli.main" in cmdline and "reconcile" in cmdline:
        return "reconciler"
    if cmdline[1:3] == ["-m", "webapp"]:
        return "dashboard"
    return None


def gas_up_processes(settings: Settings) -> dict[int, str]:
    """Every live worker, reconciler and dashboard of this state folder: pid -> role."""
    mine = f"GAS_STATE_DIR={settings.state_dir}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if mine not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            role = _role((entry / "cmdline").read_bytes().decode().split("\0"))
            if role is not None:
                found[int(entry.name)] = role
    return found


class GasUp:
    """`gas up` in a session of its own, as a terminal would run it."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.log, self.offset = log, log.stat().st_size if log.exists() else 0
        env = settings.subprocess_env()
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "cli.main", "up"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._up, 240, interval=0.5, what=f"gas up to start (log: {log})")

    def output(self) -> str:
        return self.log.read_bytes()[self.offset :].decode(errors="replace")

    def _up(self) -> bool:
        assert self.proc.poll() is None, self.output()[-3000:]
        return "logs:" in self.output()

    def kill_group(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)


def _one_of_each() -> Counter:
    return Counter(
        {
            **{
                f"worker {kind}": 1
                for kind in (
                    "annotate",
                    "notify",
                    "archive",
                    "record-failure",
                    "restore",
                    "restore-requests",
                    "restore-events",
                )
            },
            "reconciler": 1,
            "dashboard": 1,
        }
    )


def test_kill_9_of_gas_up_leaves_none_of_its_processes(private: Settings, tmp_path: Path) -> None:
    gas_up = GasUp(private, tmp_path / "gas-up.log")
    assert "GAS is up" in gas_up.output()
    assert Counter(gas_up_processes(private).values()) == _one_of_each()
    gas_up.kill_group()
    began = time.monotonic()
    left = wait_for(
        lambda: gas_up_processes(private) == {} or None,
        ORPHANS_GONE_WITHIN,
        interval=0.5,
        what=f"gas up's children to stop: {gas_up_processes(private)}",
    )
    assert left
    print(f"kill -9 of gas up: 0 of its processes left after {time.monotonic() - began:.1f} s")


def test_gas_up_after_a_kill_9_runs_exactly_one_of_each(private: Settings, tmp_path: Path) -> None:
    log = tmp_path / "gas-up.log"
    first = GasUp(private, log)
    first.kill_group()
    # At once: the killed one's workers are still finishing their long polls.
    draining = Counter(gas_up_processes(private).values())
    second = GasUp(private, log)
    try:
        assert "GAS is up" in second.output(), second.output()
        running = Counter(gas_up_processes(private).values())
        print(f"after kill -9: {sum(draining.values())} draining; next gas up runs {running}")
        assert running == _one_of_each()
        assert sum(running.values()) == WORKER_KINDS + 2
    finally:
        second.stop()
    assert gas_up_processes(private) == {}
    # The local cloud the killed one started stops with the next one's Ctrl-C.
    assert not LocalCloud(private).is_up()
