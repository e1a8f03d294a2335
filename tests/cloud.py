"""The local cloud a test run shares: started by the first pytest process that needs it, stopped
by the last.

``make test`` runs the suite in several pytest-xdist worker processes; each has its own session
fixtures (its own stack under its own prefix), but all share one LocalStack and one DynamoDB
Local. A lock file orders starting and stopping. Each user of the cloud (a process's integration
or browser session) holds a file in ``run/test-sessions/``, named after its pid, while it uses it;
the user that leaves none behind stops the cloud if a test run started it (a cloud the developer
started stays up).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gas.settings import Settings
from infra.localcloud import LocalCloud, process_alive


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def private_cloud_settings(state: Path, prefix: str, **overrides: Any) -> Settings:
    """Settings for a local cloud of a test's own, which it may stop or kill: its own state
    folder (sharing only the installs of the run's cloud) and free ports."""
    base = session_settings()
    for name in ("localstack-venv", "dynamodb-local"):
        (state / name).symlink_to(base.state_dir / name)
    localstack, dynamodb = free_port(), free_port()
    return dataclasses.replace(
        base,
        prefix=prefix,
        state_dir=state,
        localstack_port=localstack,
        dynamodb_port=dynamodb,
        endpoint_url=f"http://127.0.0.1:{localstack}",
        dynamodb_endpoint_url=f"http://127.0.0.1:{dynamodb}",
        **overrides,
    )


def session_settings() -> Settings:
    """The environment's settings, without a prefix: each session deploys under its own."""
    return Settings.from_env({k: v for k, v in os.environ.items() if k != "GAS_PREFIX"})


@contextlib.contextmanager
def shared_local_cloud(base: Settings | None = None) -> Iterator[LocalCloud]:
    """LocalStack + DynamoDB Local for as long as any test process of this run needs them."""
    cloud = LocalCloud(base or session_settings())
    run = cloud.settings.state_dir / "run"
    run.mkdir(parents=True, exist_ok=True)
    holders = run / "test-sessions"
    started_by_tests = run / "test-sessions.started"
    mine = holders / f"{os.getpid()}.{uuid.uuid4().hex[:8]}"  # one process may hold it twice
    with _locked(run / "test-sessions.lock"):
        holders.mkdir(exist_ok=True)
        for holder in holders.iterdir():  # left by a run that was killed
            pid = holder.name.partition(".")[0]
            if not (pid.isdigit() and process_alive(int(pid))):
                holder.unlink(missing_ok=True)
        # up() also waits for a cloud that is starting or too busy to answer at once; only a
        # cloud it started is this run's to stop.
        if not cloud.is_up() and cloud.up():
            started_by_tests.touch()
        mine.touch()
    try:
        yield cloud
    finally:
        with _locked(run / "test-sessions.lock"):
            mine.unlink(missing_ok=True)
            if not any(holders.iterdir()) and started_by_tests.exists():
                cloud.down()
                started_by_tests.unlink()
