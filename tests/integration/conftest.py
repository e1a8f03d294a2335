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
    yield session_settings
    deploy.destroy(session_settings)
