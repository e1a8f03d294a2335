"""The dashboard's session key: given, read from Secrets Manager, or kept once per installation.

Order: ``GAS_SECRET_KEY``; else ``GAS_SECRET_KEY_ARN`` (read once at start from Secrets Manager);
else, on the local cloud, ``<state>/secret-key``, generated on first use with mode 0600. There is
no built-in key: a dashboard exposed with ``GAS_WEB_HOST`` cannot be fed forged session cookies.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from gas.settings import Settings

FILE_NAME = "secret-key"
MIN_LENGTH = 32


class SecretKeyError(RuntimeError):
    """The session key cannot be had safely; the message says what to do."""


def load(settings: Settings) -> str:
    """The session key for these settings (see the module docstring for the order)."""
    if settings.secret_key:
        return settings.secret_key
    if settings.secret_key_arn:
        return from_secrets_manager(settings, settings.secret_key_arn)
    if not settings.is_local:
        raise SecretKeyError("set GAS_SECRET_KEY or GAS_SECRET_KEY_ARN when GAS_CLOUD=aws")
    return per_installation(settings.state_dir / FILE_NAME)


def from_secrets_manager(settings: Settings, arn: str) -> str:
    """The secret's string value (GetSecretValue), refused when it is too short to sign with."""
    from botocore.exceptions import BotoCoreError, ClientError

    from gas import aws

    try:
        found = aws.client(settings, "secretsmanager").get_secret_value(SecretId=arn)
    except (BotoCoreError, ClientError) as exc:
        raise SecretKeyError(f"cannot read the session key from {arn}: {exc}") from exc
    value = found.get("SecretString") or (found.get("SecretBinary") or b"").decode()
    if len(value) < MIN_LENGTH:
        raise SecretKeyError(f"the session key in {arn} is shorter than {MIN_LENGTH} characters")
    return value


def per_installation(path: Path) -> str:
    """The key in ``path``, created there (mode 0600, atomically) when there is none yet."""
    try:
        return _read_private(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (secrets.token_urlsafe(48) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link, not rename: if another process made the key meanwhile, theirs wins and is used.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_private(path)


def _read_private(path: Path) -> str:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise SecretKeyError(f"{path} is not a regular file")
    if info.st_mode & 0o077:
        raise SecretKeyError(
            f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run `chmod 600 {path}` if nobody else has read it, otherwise delete it (every "
            f"session is then logged out)"
        )
    if info.st_uid != os.getuid():
        raise SecretKeyError(f"{path} belongs to another user (uid {info.st_uid})")
    value = path.read_text().strip()
    if len(value) < MIN_LENGTH:
        raise SecretKeyError(f"{path} holds no usable key; delete it to make a new one")
    return value
