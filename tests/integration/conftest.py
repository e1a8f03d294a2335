"""The real local cloud for integration tests.

The session starts LocalStack and DynamoDB Local (or reuses ones already running), deploys the
whole stack into a resource-name prefix unique to this session, and removes it all at the end.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from gas import models
from gas.settings import Settings
from infra import deploy
from infra.localcloud import LocalCloud
from tests.cloud import shared_local_cloud
from tests.integration.processes import WorkerProcess, stop_draining, stop_later

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    """LocalStack + DynamoDB Local, up for the whole run (shared by every test process)."""
    with shared_local_cloud() as cloud:
        yield cloud


@pytest.fixture(scope="session")
def settings(local_cloud: LocalCloud) -> Iterator[Settings]:
    """Settings for a stack deployed under this session's own prefix (removed afterwards)."""
    prefix = f"t{secrets.token_hex(4)}"
    session_settings = local_cloud.settings.with_prefix(prefix)
    deploy.deploy(session_settings)
    models.bind(session_settings)
    _SESSION_STACK.append(session_settings)
    yield session_settings
    stop_draining()
    _SESSION_STACK.clear()
    deploy.destroy(session_settings)


# The session's stack, once deployed: each module starts bound to it (see below).
_SESSION_STACK: list[Settings] = []


@pytest.fixture(scope="module", autouse=True)
def _models_bound_to_the_session_stack() -> None:
    """A process binds the models once (its entry point); these tests deploy several stacks in
    one process, and a module that binds its own leaves them there. The next module starts bound
    to the session's stack again."""
    if _SESSION_STACK:
        models.bind(_SESSION_STACK[0])


# -- activity workers: one `gas worker KIND` process per kind, for a module ------------------------
# A module that needs other kinds or another stack overrides `worker_kinds` or `worker_settings`.


@pytest.fixture(scope="module")
def worker_kinds() -> tuple[str, ...]:
    """The kinds a module's `workers` run: what a job needs to complete, be told, or fail."""
    return ("annotate", "notify", "record-failure")


@pytest.fixture(scope="module")
def worker_settings(settings: Settings) -> Settings:
    """The stack the module's `workers` serve."""
    return settings


@pytest.fixture(scope="module")
def workers(
    worker_settings: Settings, worker_kinds: tuple[str, ...], tmp_path_factory
) -> Iterator[dict[str, WorkerProcess]]:
    """The module's workers as processes, by kind; stopped when the module ends."""
    log_dir = tmp_path_factory.mktemp("workers")
    running = {
        kind: WorkerProcess(worker_settings, kind, log_dir, interchangeable=True)
        for kind in worker_kinds
    }
    yield running
    stop_later(list(running.values()))
