"""CSRF on every form and the login rate limit, with the protections switched on."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from webapp import create_app

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def guarded_app(settings) -> Flask:
    return create_app(settings, TESTING=True, LOGIN_RATE_LIMIT="3 per minute")


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)[1]


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/register",
        "/logout",
        "/profile",
        "/subscribe",
        "/operator/jobs/x/retry",
        "/forgot-password",
        "/profile/delete",
        "/profile/password",
        "/confirm-email/send",
        "/profile/sessions/end",
        "/annotate/uploads",
    ],
)
def test_a_post_without_the_csrf_token_is_refused(guarded_app: Flask, make_user, path) -> None:
    client = guarded_app.test_client()
    user = make_user(operator=True)
    login_page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": _token(login_page)},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    response = client.post(path, data={"name": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 400


def test_logging_in_with_the_token_works(guarded_app: Flask, make_user) -> None:
    client = guarded_app.test_client()
    user = make_user()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.8"},
    )
    assert response.status_code == 302


def test_login_attempts_are_rate_limited(guarded_app: Flask, make_user) -> None:
    client = guarded_app.test_client()
    user = make_user()
    token = _token(client.get("/login").get_data(as_text=True))
    codes = [
        client.post(
            "/login",
            data={"email": user.email, "password": "wrong password", "csrf_token": token},
            environ_base={"REMOTE_ADDR": "10.0.0.7"},
        ).status_code
        for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    # Another address is not held back by this one's failures.
    other = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.6"},
    )
    assert other.status_code == 302


def _retry_after(response) -> int:
    """The Retry-After of a 429, in seconds (it must be there, and sensible)."""
    assert response.status_code == 429
    value = int(response.headers["Retry-After"])
    assert 1 <= value <= 60
    return value


def test_one_attacker_behind_a_nat_locks_out_neither_the_nat_nor_the_victim(
    guarded_app: Flask, make_user
) -> None:
    """The limit counts failures per (account, address): hammering one account from an address
    holds back that pair only."""
    attacker, colleague, victim_at_home = (guarded_app.test_client() for _ in range(3))
    victim, colleague_user = make_user(), make_user()
    nat, home = {"REMOTE_ADDR": "10.0.1.1"}, {"REMOTE_ADDR": "10.0.1.2"}
    token = _token(attacker.get("/login").get_data(as_text=True))
    guesses = [
        attacker.post(
            "/login",
            data={"email": victim.email, "password": f"guess {n}", "csrf_token": token},
            environ_base=nat,
        )
        for n in range(5)
    ]
    assert [r.status_code for r in guesses] == [200, 200, 200, 429, 429]
    _retry_after(guesses[-1])
    # Someone else behind the same address logs in to their own account.
    token = _token(colleague.get("/login").get_data(as_text=True))
    assert (
        colleague.post(
            "/login",
            data={"email": colleague_user.email, "password": PASSWORD, "csrf_token": token},
            environ_base=nat,
        ).status_code
        == 302
    )
    # The victim, from another address, with the right password.
    token = _token(victim_at_home.get("/login").get_data(as_text=True))
    assert (
        victim_at_home.post(
            "/login",
            data={"email": victim.email, "password": PASSWORD, "csrf_token": token},
            environ_base=home,
        ).status_code
        == 302
    )


def test_an_address_that_tries_many_accounts_is_held_back(settings, make_user) -> None:
    sprayed = create_app(
        settings, TESTING=True, LOGIN_RATE_LIMIT="3 per minute", LOGIN_ADDRESS_RATE_LIMIT="5/minute"
    )
    client = sprayed.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    codes = [
        client.post(
            "/login",
            data={"email": make_user().email, "password": "Summer2026!", "csrf_token": token},
            environ_base={"REMOTE_ADDR": "10.0.2.1"},
        )
        for _ in range(7)
    ]
    assert [r.status_code for r in codes] == [200] * 5 + [429] * 2
    _retry_after(codes[-1])


def test_every_429_says_when_to_come_back(settings, guarded_app: Flask, make_user) -> None:
    client = guarded_app.test_client()
    user = make_user()
    token = _token(client.get("/login").get_data(as_text=True))
    page = None
    for _ in range(4):
        page = client.post(
            "/login",
            data={"email": user.email, "password": "wrong", "csrf_token": token},
            environ_base={"REMOTE_ADDR": "10.0.3.1"},
        )
    assert page.mimetype == "text/html"
    _retry_after(page)
    limited = create_app(settings, TESTING=True, API_RATE_LIMIT="2 per minute")
    api = limited.test_client()
    for _ in range(3):
        answer = api.get("/api/v1/me", headers={"Authorization": "Bearer gas_pat_nothing"})
    assert answer.mimetype == "application/problem+json"
    _retry_after(answer)


def test_password_reset_requests_and_links_are_rate_limited_like_login(
    guarded_app: Flask, make_user
) -> None:
    client = guarded_app.test_client()
    token = _token(client.get("/forgot-password").get_data(as_text=True))
    asked = [
        client.post(
            "/forgot-password",
            data={"email": "nobody-at-all@example.org", "csrf_token": token},
            environ_base={"REMOTE_ADDR": "10.0.0.5"},
        ).status_code
        for _ in range(5)
    ]
    assert asked == [302, 302, 302, 429, 429]
    user = make_user()
    guesses = [
        client.post(
            f"/reset-password/{user.user_id}/guess-{n}",
            data={"new_password": "0123456789ab", "confirm": "0123456789ab", "csrf_token": token},
            environ_base={"REMOTE_ADDR": "10.0.0.4"},
        ).status_code
        for n in range(5)
    ]
    assert guesses == [410, 410, 410, 429, 429]
