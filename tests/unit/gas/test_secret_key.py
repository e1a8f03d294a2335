"""The per-installation session key: made once, private, refused when others can read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from unittest import mock

import pytest

from gas import secret_key
from gas.secret_key import SecretKeyError
from gas.settings import Settings, SettingsError


def local(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"GAS_STATE_DIR": str(tmp_path), **env})


def test_made_once_per_installation_with_mode_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a typical umask would make a plain file world-readable
    try:
        first = secret_key.load(local(tmp_path))
    finally:
        os.umask(old)
    path = tmp_path / "secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 64
    assert secret_key.load(local(tmp_path)) == first
    assert secret_key.load(local(tmp_path / "other")) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "secret-key"]  # no tmp file


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    secret_key.load(local(tmp_path))
    (tmp_path / "secret-key").chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        secret_key.load(local(tmp_path))


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret-key"
    path.touch(mode=0o600)
    with pytest.raises(SecretKeyError, match="no usable key"):
        secret_key.load(local(tmp_path))


def test_a_given_key_wins_and_no_file_is_made(tmp_path: Path) -> None:
    assert secret_key.load(local(tmp_path, GAS_SECRET_KEY="k" * 40)) == "k" * 40
    assert not (tmp_path / "secret-key").exists()


def test_the_key_is_not_passed_to_children_unless_given(tmp_path: Path) -> None:
    env = local(tmp_path).subprocess_env({"GAS_SECRET_KEY": "stale"})
    assert "GAS_SECRET_KEY" not in env
    given = local(tmp_path, GAS_SECRET_KEY="k" * 40).subprocess_env({})
    assert given["GAS_SECRET_KEY"] == "k" * 40


def test_aws_reads_the_key_once_from_secrets_manager() -> None:
    settings = Settings.from_env({"GAS_CLOUD": "aws", "GAS_SECRET_KEY_ARN": "arn:secret"})
    client = mock.Mock()
    client.get_secret_value.return_value = {"SecretString": "s" * 48}
    with mock.patch("gas.aws.client", return_value=client) as made:
        assert secret_key.load(settings) == "s" * 48
    made.assert_called_once_with(settings, "secretsmanager")
    client.get_secret_value.assert_called_once_with(SecretId="arn:secret")


def test_aws_refuses_a_short_secret() -> None:
    settings = Settings.from_env({"GAS_CLOUD": "aws", "GAS_SECRET_KEY_ARN": "arn:secret"})
    client = mock.Mock()
    client.get_secret_value.return_value = {"SecretString": "short"}
    with mock.patch("gas.aws.client", return_value=client), pytest.raises(SecretKeyError):
        secret_key.load(settings)


def test_aws_needs_a_key_or_an_arn() -> None:
    with pytest.raises(SettingsError, match="GAS_SECRET_KEY_ARN"):
        Settings.from_env({"GAS_CLOUD": "aws"})
    assert Settings.from_env({"GAS_CLOUD": "aws", "GAS_SECRET_KEY_ARN": "a"}).secret_key == ""
