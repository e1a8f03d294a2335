"""The thaw's input and name, and the per-tier timeouts it takes from the settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gas import keys, models, schemas
from gas.settings import Settings, SettingsError
from workflows import thaw


def test_the_timeouts_per_tier_come_from_the_environment_and_reach_child_processes() -> None:
    settings = Settings.from_env(
        {"GAS_EXPEDITED_TIMEOUT_SECONDS": "30", "GAS_STANDARD_TIMEOUT_SECONDS": "120"}
    )
    assert (settings.expedited_timeout_seconds, settings.standard_timeout_seconds) == (30, 120)
    again = Settings.from_env(settings.subprocess_env({}))
    assert again.expedited_timeout_seconds == 30 and again.standard_timeout_seconds == 120
    defaults = Settings.from_env({})
    assert defaults.expedited_timeout_seconds < defaults.standard_timeout_seconds
    with pytest.raises(SettingsError, match="GAS_STANDARD_TIMEOUT_SECONDS"):
        Settings.from_env({"GAS_STANDARD_TIMEOUT_SECONDS": "0"})


def test_the_execution_input_matches_the_thaw_schema() -> None:
    user_id = keys.new_id()
    jobs = [models.Job(keys.new_id(), user_id=user_id, input_key="k") for _ in range(3)]
    payload = thaw.execution_input(Settings(), user_id, jobs)
    assert [j["job_id"] for j in payload["jobs"]] == [j.job_id for j in jobs]
    with pytest.raises(schemas.SchemaViolation):
        thaw.execution_input(Settings(), "not-a-user-id", jobs)


def test_one_upgrade_names_one_execution() -> None:
    user = models.User(keys.new_id(), email="a@example.org")
    user.upgraded_at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    name = thaw.execution_name(user)
    assert name == thaw.execution_name(user) and user.user_id in name
    assert len(name) <= 80  # Step Functions' limit on execution names
    user.upgraded_at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert thaw.execution_name(user) != name  # a later upgrade (after a downgrade) is another
