"""``/healthz``: 200 when the tables answer, 503 quickly when they do not; no session either way."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from gas.settings import Settings
from webapp import create_app


def _settings(dynamodb_endpoint: str | None = None) -> Settings:
    return Settings(
        cloud="aws",
        endpoint_url=None,
        dynamodb_endpoint_url=dynamodb_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        prefix="health",
        secret_key="unit-test-key",
    )


def _create_table(name: str) -> None:
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_every_table_reachable_is_200_without_a_session(aws_credentials) -> None:
    with mock_aws():
        _create_table("health-users")
        _create_table("health-jobs")
        _create_table("health-tokens")
        response = create_app(_settings()).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "reason": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_a_missing_table_is_503_naming_it(aws_credentials) -> None:
    with mock_aws():
        _create_table("health-users")
        response = create_app(_settings()).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["reason"] == "health-jobs: ResourceNotFoundException"


@pytest.fixture
def refused_endpoint() -> str:
    """An address on loopback where nothing listens: DynamoDB is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A listener that accepts connections and never answers: DynamoDB hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("endpoint", ["refused_endpoint", "silent_endpoint"])
def test_unreachable_dynamodb_is_503_within_the_probe_timeout(endpoint, request) -> None:
    client = create_app(_settings(request.getfixturevalue(endpoint))).test_client()
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["reason"].startswith("health-users: ")
    # One attempt with a 1 s timeout, not botocore's default 60 s read and 5 retries; the bound
    # is loose because a loaded CI machine stretches any wall-clock time (speed is benchmarked).
    assert elapsed < 10, elapsed
