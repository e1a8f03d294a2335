"""The dashboard against the real local cloud: apps, clients and users made through the models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from gas import keys, models
from gas.models import Job, User
from gas.settings import Settings
from webapp import create_app

PASSWORD = "correct horse battery"
# Cheap hashing for fixtures only: the app itself always hashes with scrypt.
_FIXTURE_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


@pytest.fixture(scope="session")
def app(settings: Settings) -> Flask:
    """The dashboard with CSRF off and a loose login limit, so tests can post forms directly."""
    # The limiter is one extension for every app in the process: raise the limit, never disable it.
    return create_app(
        settings, TESTING=True, WTF_CSRF_ENABLED=False, LOGIN_RATE_LIMIT="10000 per minute"
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user(settings: Settings) -> Callable[..., User]:
    """A stored user (free by default)."""

    def make(tier: str = models.FREE, operator: bool = False, name: str = "Ada") -> User:
        user_id = keys.new_id()
        user = User(
            user_id,
            email=f"{user_id[:8]}@example.org",
            name=name,
            institution="Test Institute",
            password_hash=_FIXTURE_HASH,
            tier=tier,
            is_operator=1 if operator else 0,
        )
        user.save()
        return user

    return make


@pytest.fixture
def make_job(settings: Settings) -> Callable[..., Job]:
    """A stored job of ``user``'s in ``status``, with no execution behind it."""

    def make(user: User, status: str = models.COMPLETED, **fields: object) -> Job:
        upload_id = keys.new_id()
        key = keys.upload_key(user.user_id, upload_id)
        job_id = keys.job_id_for_upload(key)
        values: dict[str, object] = {
            "user_id": user.user_id,
            "tier": user.tier,
            "status": status,
            "input_key": key,
            "input_filename": "sample.vcf",
            "submitted_at": datetime.now(UTC),
        }
        if status in (models.COMPLETED, models.ARCHIVED):
            values["completed_at"] = datetime.now(UTC)
            values["archive_after"] = datetime.now(UTC) + timedelta(minutes=5)
        values.update(fields)
        job = Job(job_id, **values)
        job.save()
        return job

    return make


def login(client: FlaskClient, user: User) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


@pytest.fixture
def login_as(client: FlaskClient) -> Iterator[Callable[[User], None]]:
    yield lambda user: login(client, user)


@pytest.fixture(scope="session")
def openapi(app: Flask):
    """The served OpenAPI document, validated once, as a response checker for the API tests."""
    from openapi_spec_validator import validate

    from tests.integration.webapp.api_client import OpenApiChecker

    document = app.test_client().get("/api/v1/openapi.json").get_json()
    validate(document)
    return OpenApiChecker(document)


@pytest.fixture
def api(app: Flask, openapi):
    """``api(token)``: an API client sending ``token`` whose every response is checked."""
    from tests.integration.webapp.api_client import ApiClient

    return lambda token=None: ApiClient(app.test_client(), openapi, token)


@pytest.fixture
def make_token(settings: Settings):
    """A stored access token of ``user``'s; returns its secret."""
    from workflows import tokens

    def make(user: User, scope: str = models.READ_WRITE, **kwargs: object) -> str:
        secret, _ = tokens.create(settings, user, name="test", scope=scope, **kwargs)
        return secret

    return make
