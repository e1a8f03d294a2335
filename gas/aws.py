"""AWS clients, made in one place so every one of them honours the configured endpoints."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from gas.resources import Resources
from gas.settings import Settings

# Step Functions holds GetActivityTask for up to 60 s on AWS: the read timeout must outlast it.
LONG_POLL_READ_TIMEOUT = 70

_SERVICE_ENDPOINTS = {"dynamodb": "dynamodb_endpoint_url"}


def client(
    settings: Settings,
    service: str,
    *,
    read_timeout: float | None = None,
    connect_timeout: float | None = None,
    max_attempts: int | None = None,
) -> Any:
    """A boto3 client for ``service`` pointed where the settings say.

    Timeouts and attempts default to patient values; a probe (the health check) passes short ones.
    """
    return _cached_client(settings, service, read_timeout, connect_timeout, max_attempts)


@functools.lru_cache(maxsize=128)
def _cached_client(
    settings: Settings,
    service: str,
    read_timeout: float | None,
    connect_timeout: float | None,
    max_attempts: int | None,
) -> Any:
    endpoint = getattr(settings, _SERVICE_ENDPOINTS.get(service, "endpoint_url"))
    config = Config(
        retries={"max_attempts": max_attempts or 5, "mode": "standard"},
        read_timeout=read_timeout or 30,
        connect_timeout=connect_timeout or 5,
        max_pool_connections=32,
        # Path-style keeps bucket URLs on 127.0.0.1 locally; virtual-host style is AWS's default.
        s3={"addressing_style": "path"} if settings.is_local else {},
    )
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        region_name=settings.region,
    )
    return session.client(service, endpoint_url=endpoint, config=config)


@functools.lru_cache(maxsize=16)
def account_id(settings: Settings) -> str:
    """The AWS account the settings point at (LocalStack answers 000000000000); asked once."""
    return client(settings, "sts").get_caller_identity()["Account"]


def resources(settings: Settings) -> Resources:
    """The deployment's resource names with its account, so ARNs can be built."""
    return Resources.of(settings, account=account_id(settings))


def error_code(exc: ClientError) -> str:
    """The AWS error code of a refused call (e.g. ``NoSuchKey``); "" when it carries none."""
    return _error(exc).get("Code", "")


def error_message(exc: ClientError) -> str:
    """AWS's own words for a refused call, or the exception's text when it sent none."""
    return _error(exc).get("Message") or str(exc)


def _error(exc: ClientError) -> dict[str, str]:
    return exc.response.get("Error", {})


NOT_FOUND = ("404", "NoSuchKey", "NotFound")  # how S3 says a key is not there (HEAD has no body)


def is_not_found(exc: ClientError) -> bool:
    """S3 refused because the key (or bucket) is not there."""
    return error_code(exc) in NOT_FOUND


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether ``key`` is in ``bucket`` (a HEAD; archived objects count)."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_not_found(exc):
            return False
        raise
    return True


def is_transient(exc: ClientError) -> bool:
    """A throttle or a server-side error: worth retrying later, unlike a refusal."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = error_code(exc)
    return status >= 500 or status == 429 or "Throttl" in code or code == "SlowDown"


# Results and uploads move in 16 MiB parts, several at once: a 1M-record result is a few parts.
TRANSFER = TransferConfig(
    multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=8, use_threads=True
)
