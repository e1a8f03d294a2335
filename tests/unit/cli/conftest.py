"""The `gas` command through click's CliRunner, with an environment of the test's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cli import main


@pytest.fixture(scope="session")
def gas() -> click.Group:
    """The ``gas`` group with every area's commands registered (as the console script does)."""
    if not main.gas.commands:
        main._register()
    return main.gas


@pytest.fixture
def run(gas: click.Group, tmp_path: Path) -> Callable[..., Result]:
    """Invoke ``gas ARGS`` with a state folder and ports nothing listens on."""

    def invoke(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> Result:
        environment = {
            "GAS_STATE_DIR": str(tmp_path / "state"),
            "GAS_LOCALSTACK_PORT": "9",
            "GAS_DYNAMODB_PORT": "9",
            "GAS_CLOUD": "local",
            "GAS_PREFIX": "clitest",
            **(env or {}),
        }
        return CliRunner().invoke(gas, list(args), env=environment, **kwargs)

    return invoke
