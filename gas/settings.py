"""GAS configuration, read once from the environment and passed in from there.

Defaults point at the local cloud (LocalStack on :4566, DynamoDB Local on :8000). On AWS, set
``GAS_CLOUD=aws`` and the usual AWS variables; no other code changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from gas import builds

REPO_ROOT = Path(__file__).resolve().parents[1]

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


# The archive backends GAS_ARCHIVE_BACKEND may name (gas.archive implements them).
S3_GLACIER, GLACIER_VAULT = "s3-glacier", "glacier-vault"


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {value}")
    return value


# Workers beat every 5 s (activities.runtime): a shorter heartbeat limit would time them out.
MIN_HEARTBEAT_SECONDS = 10


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _heartbeat(env: Mapping[str, str]) -> int:
    value = _int(env, "GAS_ANNOTATE_HEARTBEAT_SECONDS", 20)
    if value < MIN_HEARTBEAT_SECONDS:
        raise SettingsError(
            f"GAS_ANNOTATE_HEARTBEAT_SECONDS must be at least {MIN_HEARTBEAT_SECONDS}, got {value}"
        )
    return value


# The archive warning's default is a fifth of the retention, but never more than this.
MAX_DEFAULT_ARCHIVE_WARNING_SECONDS = 24 * 3600


def _archive_warning(env: Mapping[str, str], retention_seconds: int) -> int:
    default = min(retention_seconds // 5, MAX_DEFAULT_ARCHIVE_WARNING_SECONDS)
    value = _int(env, "GAS_ARCHIVE_WARNING_SECONDS", default)
    if value < 0:
        raise SettingsError("GAS_ARCHIVE_WARNING_SECONDS must not be negative (0: no warning)")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything GAS needs to know about where it runs."""

    cloud: str = "local"  # "local" (LocalStack + DynamoDB Local) or "aws"
    region: str = "us-east-1"
    endpoint_url: str | None = "http://127.0.0.1:4566"
    dynamodb_endpoint_url: str | None = "http://127.0.0.1:8000"
    access_key_id: str | None = "test"
    secret_access_key: str | None = "test"  # noqa: S105 (LocalStack's dummy key)

    prefix: str = "gas"
    state_dir: Path = field(default_factory=lambda: REPO_ROOT / ".gas")
    localstack_port: int = 4566
    dynamodb_port: int = 8000
    web_host: str = "127.0.0.1"
    web_port: int = 5000
    base_url: str = "http://127.0.0.1:5000"

    free_retention_seconds: int = 300
    free_upload_limit_bytes: int = 150 * 1024
    premium_upload_limit_bytes: int = 2 * 1024**3
    presigned_url_seconds: int = 300
    # How long a thaw waits for one retrieval's callback, per tier (AWS: minutes vs. hours).
    expedited_timeout_seconds: int = 900
    standard_timeout_seconds: int = 43200
    # A job may wait this long for an annotate worker (a backlog is not a failure) ...
    annotate_wait_limit_seconds: int = 24 * 3600
    # ... and run this long once one has it; a silent worker is caught by the heartbeat.
    annotate_run_limit_seconds: int = 3600
    annotate_heartbeat_seconds: int = 20
    # How often `gas up` runs the reconciler.
    reconcile_interval_seconds: int = 30

    archive_backend: str = "s3-glacier"  # or "glacier-vault"
    default_build: str = builds.DEFAULT
    reference_dir: Path = field(default_factory=lambda: REPO_ROOT / ".gas" / "reference")
    known_sites: Path | None = None

    mail_from: str = "gas@example.org"
    # Notifications the workflow sends: a free job's warning comes this long before its archive
    # (0: no warning). Default: a fifth of the retention, at most a day (300 s locally: 60 s).
    archive_warning_seconds: int = 60
    # The dashboard's session key: given outright, or (AWS) a Secrets Manager ARN; when neither,
    # the local cloud keeps one per installation in the state folder (gas.secret_key).
    secret_key: str = ""
    secret_key_arn: str = ""

    # Accounts (webapp.auth, workflows.accounts): how long a password-reset link and an e-mail
    # confirmation link work, and whether uploads wait for a confirmed address (on by default on
    # AWS; off on the local cloud, where no mail leaves the machine).
    password_reset_seconds: int = 3600
    email_confirmation_seconds: int = 7 * 24 * 3600
    require_email_confirmation: bool = False

    @property
    def is_local(self) -> bool:
        return self.cloud == "local"

    @property
    def stack_name(self) -> str:
        return f"{self.prefix}-stack"

    def with_prefix(self, prefix: str) -> Settings:
        """The same settings, deploying into another resource-name prefix."""
        return replace(self, prefix=prefix)

    def subprocess_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """An environment that makes a child process read back these same settings."""
        env = dict(os.environ if base is None else base)
        env.update(
            {
                "GAS_CLOUD": self.cloud,
                "AWS_DEFAULT_REGION": self.region,
                "GAS_PREFIX": self.prefix,
                "GAS_STATE_DIR": str(self.state_dir),
                "GAS_LOCALSTACK_PORT": str(self.localstack_port),
                "GAS_DYNAMODB_PORT": str(self.dynamodb_port),
                "GAS_WEB_HOST": self.web_host,
                "GAS_WEB_PORT": str(self.web_port),
                "GAS_BASE_URL": self.base_url,
                "GAS_FREE_RETENTION_SECONDS": str(self.free_retention_seconds),
                "GAS_FREE_UPLOAD_LIMIT_BYTES": str(self.free_upload_limit_bytes),
                "GAS_PREMIUM_UPLOAD_LIMIT_BYTES": str(self.premium_upload_limit_bytes),
                "GAS_EXPEDITED_TIMEOUT_SECONDS": str(self.expedited_timeout_seconds),
                "GAS_STANDARD_TIMEOUT_SECONDS": str(self.standard_timeout_seconds),
                "GAS_ANNOTATE_WAIT_LIMIT_SECONDS": str(self.annotate_wait_limit_seconds),
                "GAS_ANNOTATE_RUN_LIMIT_SECONDS": str(self.annotate_run_limit_seconds),
                "GAS_ANNOTATE_HEARTBEAT_SECONDS": str(self.annotate_heartbeat_seconds),
                "GAS_RECONCILE_INTERVAL_SECONDS": str(self.reconcile_interval_seconds),
                "GAS_ARCHIVE_BACKEND": self.archive_backend,
                "GAS_DEFAULT_BUILD": self.default_build,
                "GAS_REFERENCE_DIR": str(self.reference_dir),
                "GAS_MAIL_FROM": self.mail_from,
                "GAS_ARCHIVE_WARNING_SECONDS": str(self.archive_warning_seconds),
                "GAS_PASSWORD_RESET_SECONDS": str(self.password_reset_seconds),
                "GAS_EMAIL_CONFIRMATION_SECONDS": str(self.email_confirmation_seconds),
                "GAS_REQUIRE_EMAIL_CONFIRMATION": str(self.require_email_confirmation).lower(),
            }
        )
        # Only what was given: a child without GAS_SECRET_KEY reads the same per-installation file.
        for name, value in (
            ("GAS_SECRET_KEY", self.secret_key),
            ("GAS_SECRET_KEY_ARN", self.secret_key_arn),
        ):
            if value:
                env[name] = value
            else:
                env.pop(name, None)
        if self.known_sites:
            env["GAS_KNOWN_SITES"] = str(self.known_sites)
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.dynamodb_endpoint_url:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint_url
        if self.access_key_id and self.secret_access_key:
            env["AWS_ACCESS_KEY_ID"] = self.access_key_id
            env["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from an environment (``os.environ`` by default)."""
        env = os.environ if env is None else env
        cloud = env.get("GAS_CLOUD", "local")
        if cloud not in ("local", "aws"):
            raise SettingsError(f"GAS_CLOUD must be 'local' or 'aws', got {cloud!r}")
        local = cloud == "local"
        ls_port = _int(env, "GAS_LOCALSTACK_PORT", 4566)
        ddb_port = _int(env, "GAS_DYNAMODB_PORT", 8000)
        web_port = _int(env, "GAS_WEB_PORT", 5000)
        web_host = env.get("GAS_WEB_HOST", "127.0.0.1")

        # On AWS the SDK finds its own endpoints and credentials; locally they are the emulators.
        endpoint = env.get("AWS_ENDPOINT_URL") or (f"http://127.0.0.1:{ls_port}" if local else None)
        ddb_endpoint = env.get("AWS_ENDPOINT_URL_DYNAMODB") or (
            f"http://127.0.0.1:{ddb_port}" if local else None
        )
        key_id = env.get("AWS_ACCESS_KEY_ID") or (
            LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"] if local else None
        )
        secret = env.get("AWS_SECRET_ACCESS_KEY") or (
            LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] if local else None
        )
        state_dir = Path(env.get("GAS_STATE_DIR") or REPO_ROOT / ".gas")
        backend = env.get("GAS_ARCHIVE_BACKEND", "s3-glacier")
        if backend not in (S3_GLACIER, GLACIER_VAULT):
            raise SettingsError(
                f"GAS_ARCHIVE_BACKEND must be 's3-glacier' or 'glacier-vault', got {backend!r}"
            )
        build = env.get("GAS_DEFAULT_BUILD", builds.DEFAULT)
        if build not in builds.NAMES:
            raise SettingsError(f"GAS_DEFAULT_BUILD must be {builds.spoken()}, got {build!r}")
        secret_key = env.get("GAS_SECRET_KEY") or ""
        secret_key_arn = env.get("GAS_SECRET_KEY_ARN") or ""
        if not local and not (secret_key or secret_key_arn):
            raise SettingsError(
                "GAS_SECRET_KEY or GAS_SECRET_KEY_ARN must be set when GAS_CLOUD=aws"
            )
        known = env.get("GAS_KNOWN_SITES")
        retention = _int(env, "GAS_FREE_RETENTION_SECONDS", 300)
        if retention < 0:
            raise SettingsError("GAS_FREE_RETENTION_SECONDS must not be negative")
        return cls(
            cloud=cloud,
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
            endpoint_url=endpoint,
            dynamodb_endpoint_url=ddb_endpoint,
            access_key_id=key_id,
            secret_access_key=secret,
            prefix=env.get("GAS_PREFIX", "gas"),
            state_dir=state_dir,
            localstack_port=ls_port,
            dynamodb_port=ddb_port,
            web_host=web_host,
            web_port=web_port,
            base_url=env.get("GAS_BASE_URL") or f"http://{web_host}:{web_port}",
            free_retention_seconds=retention,
            free_upload_limit_bytes=_int(env, "GAS_FREE_UPLOAD_LIMIT_BYTES", 150 * 1024),
            premium_upload_limit_bytes=_int(env, "GAS_PREMIUM_UPLOAD_LIMIT_BYTES", 2 * 1024**3),
            presigned_url_seconds=_int(env, "GAS_PRESIGNED_URL_SECONDS", 300),
            expedited_timeout_seconds=_positive(env, "GAS_EXPEDITED_TIMEOUT_SECONDS", 900),
            standard_timeout_seconds=_positive(env, "GAS_STANDARD_TIMEOUT_SECONDS", 43200),
            annotate_wait_limit_seconds=_positive(
                env, "GAS_ANNOTATE_WAIT_LIMIT_SECONDS", 24 * 3600
            ),
            annotate_run_limit_seconds=_positive(env, "GAS_ANNOTATE_RUN_LIMIT_SECONDS", 3600),
            annotate_heartbeat_seconds=_heartbeat(env),
            reconcile_interval_seconds=_positive(env, "GAS_RECONCILE_INTERVAL_SECONDS", 30),
            archive_backend=backend,
            default_build=build,
            reference_dir=Path(env.get("GAS_REFERENCE_DIR") or state_dir / "reference"),
            known_sites=Path(known) if known else None,
            mail_from=env.get("GAS_MAIL_FROM", "gas@example.org"),
            archive_warning_seconds=_archive_warning(env, retention),
            secret_key=secret_key,
            secret_key_arn=secret_key_arn,
            password_reset_seconds=_positive(env, "GAS_PASSWORD_RESET_SECONDS", 3600),
            email_confirmation_seconds=_positive(
                env, "GAS_EMAIL_CONFIRMATION_SECONDS", 7 * 24 * 3600
            ),
            require_email_confirmation=_flag(env, "GAS_REQUIRE_EMAIL_CONFIRMATION", not local),
        )
