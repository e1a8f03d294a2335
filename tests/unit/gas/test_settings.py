from pathlib import Path

import pytest

from gas.settings import Settings, SettingsError


def test_defaults_point_at_the_local_cloud() -> None:
    s = Settings.from_env({})
    assert s.is_local
    assert s.endpoint_url == "http://127.0.0.1:4566"
    assert s.dynamodb_endpoint_url == "http://127.0.0.1:8000"
    assert s.free_retention_seconds == 300
    assert s.free_upload_limit_bytes == 150 * 1024


def test_aws_uses_the_sdk_defaults_and_demands_a_secret_key() -> None:
    with pytest.raises(SettingsError, match="GAS_SECRET_KEY"):
        Settings.from_env({"GAS_CLOUD": "aws"})
    s = Settings.from_env({"GAS_CLOUD": "aws", "GAS_SECRET_KEY": "k" * 32})
    assert s.endpoint_url is None and s.dynamodb_endpoint_url is None
    assert s.access_key_id is None


def test_per_service_endpoint_and_ports() -> None:
    s = Settings.from_env(
        {"AWS_ENDPOINT_URL_DYNAMODB": "http://db:9", "GAS_LOCALSTACK_PORT": "4600"}
    )
    assert s.dynamodb_endpoint_url == "http://db:9"
    assert s.endpoint_url == "http://127.0.0.1:4600"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GAS_FREE_RETENTION_SECONDS", "soon"),
        ("GAS_FREE_RETENTION_SECONDS", "-1"),
        ("GAS_CLOUD", "azure"),
        ("GAS_ARCHIVE_BACKEND", "tape"),
        ("GAS_DEFAULT_BUILD", "hg18"),
    ],
)
def test_bad_values_are_refused_with_their_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_subprocess_env_round_trips(tmp_path: Path) -> None:
    s = Settings.from_env(
        {"GAS_PREFIX": "abc", "GAS_STATE_DIR": str(tmp_path), "GAS_FREE_RETENTION_SECONDS": "7"}
    )
    again = Settings.from_env(s.subprocess_env({}))
    assert again == s


def test_the_thaw_timeouts_per_tier_come_from_the_environment_and_reach_child_processes() -> None:
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


def test_the_archive_warning_defaults_to_a_fifth_of_the_retention_at_most_a_day() -> None:
    assert Settings.from_env({}).archive_warning_seconds == 60  # 300 s locally
    week = str(7 * 86400)
    assert Settings.from_env({"GAS_FREE_RETENTION_SECONDS": week}).archive_warning_seconds == 86400
    given = Settings.from_env({"GAS_ARCHIVE_WARNING_SECONDS": "0"})
    assert given.archive_warning_seconds == 0  # no warning at all
    assert given.subprocess_env({})["GAS_ARCHIVE_WARNING_SECONDS"] == "0"
    with pytest.raises(SettingsError, match="GAS_ARCHIVE_WARNING_SECONDS"):
        Settings.from_env({"GAS_ARCHIVE_WARNING_SECONDS": "-5"})


def test_email_confirmation_is_on_for_aws_off_locally_and_reaches_child_processes() -> None:
    assert Settings.from_env({}).require_email_confirmation is False
    aws = Settings.from_env({"GAS_CLOUD": "aws", "GAS_SECRET_KEY": "k" * 32})
    assert aws.require_email_confirmation is True
    assert Settings.from_env(aws.subprocess_env({})).require_email_confirmation is True
    local_on = Settings.from_env({"GAS_REQUIRE_EMAIL_CONFIRMATION": "yes"})
    assert local_on.require_email_confirmation is True
    off = Settings.from_env(
        {"GAS_CLOUD": "aws", "GAS_SECRET_KEY": "k" * 32, "GAS_REQUIRE_EMAIL_CONFIRMATION": "0"}
    )
    assert off.require_email_confirmation is False
    with pytest.raises(SettingsError, match="GAS_REQUIRE_EMAIL_CONFIRMATION"):
        Settings.from_env({"GAS_REQUIRE_EMAIL_CONFIRMATION": "perhaps"})


def test_account_link_lifetimes_come_from_the_environment() -> None:
    s = Settings.from_env(
        {"GAS_PASSWORD_RESET_SECONDS": "600", "GAS_EMAIL_CONFIRMATION_SECONDS": "3600"}
    )
    assert (s.password_reset_seconds, s.email_confirmation_seconds) == (600, 3600)
    assert Settings.from_env(s.subprocess_env({})) == s
    with pytest.raises(SettingsError, match="GAS_PASSWORD_RESET_SECONDS"):
        Settings.from_env({"GAS_PASSWORD_RESET_SECONDS": "0"})
