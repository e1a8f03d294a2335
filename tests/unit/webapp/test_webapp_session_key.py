"""A dashboard built from default settings accepts only session cookies signed with its own key."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask import Flask, session
from flask.json.tag import TaggedJSONSerializer
from itsdangerous import URLSafeTimedSerializer

from gas.settings import Settings
from webapp import create_app

OLD_DEFAULT_KEY = "dev-only-not-secret"  # noqa: S105 (the key this test makes sure is gone)


def cookie(key: str) -> str:
    """A session cookie signed the way Flask signs its own, carrying a user id."""
    signer = URLSafeTimedSerializer(
        key,
        salt="cookie-session",
        serializer=TaggedJSONSerializer(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return signer.dumps({"_user_id": "victim@example.org", "_fresh": True, "probe": "forged"})


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = create_app(Settings.from_env({"GAS_STATE_DIR": str(tmp_path)}), TESTING=True)
    app.add_url_rule("/_probe", "probe", lambda: session.get("probe", "none"))
    return app


@pytest.mark.parametrize("key", [OLD_DEFAULT_KEY, "another-random-key-" + "x" * 40])
def test_a_cookie_signed_with_another_key_is_refused(app: Flask, key: str) -> None:
    client = app.test_client()
    client.set_cookie("gas_session", cookie(key))
    assert client.get("/_probe").get_data(as_text=True) == "none"


def test_a_cookie_signed_with_the_installation_key_is_read(app: Flask) -> None:
    # The control: the probe does see a session when the signature is right.
    client = app.test_client()
    client.set_cookie("gas_session", cookie(app.config["SECRET_KEY"]))
    assert client.get("/_probe").get_data(as_text=True) == "forged"
    assert app.config["SECRET_KEY"] != OLD_DEFAULT_KEY
