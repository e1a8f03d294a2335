"""No input makes the API (or the pages beside it) answer 500: page tokens of another account or
another query, tampered ones, bodies nested too deep or too large, paths and methods no route has.

Every API response here goes through ``ApiClient``, so each must also be what the document says.
"""

from __future__ import annotations

import pytest
from flask import Flask

from gas import models
from tests.integration.webapp.conftest import login

pytestmark = pytest.mark.integration


def _next_page(client, query: str = "") -> str:
    answer = client.get(f"/api/v1/jobs?limit=1{query}")
    assert answer.status_code == 200
    token = answer.get_json()["next_page"]
    assert token
    return token


@pytest.fixture
def two_accounts(api, make_user, make_job, make_token):
    """(mine, theirs): API clients of two accounts with three jobs each."""
    clients = []
    for _ in range(2):
        user = make_user()
        for _ in range(3):
            make_job(user, models.COMPLETED)
        clients.append(api(make_token(user, scope=models.READ_ONLY)))
    return clients


def test_another_accounts_page_token_is_a_400_problem(two_accounts) -> None:
    mine, theirs = two_accounts
    foreign = mine.get(f"/api/v1/jobs?limit=1&page={_next_page(theirs)}")
    assert foreign.status_code == 400
    assert foreign.mimetype == "application/problem+json"
    assert "page" in foreign.get_json()["detail"]
    # Mine still works, page after page.
    assert mine.get(f"/api/v1/jobs?limit=1&page={_next_page(mine)}").status_code == 200


def test_a_page_token_belongs_to_its_query(two_accounts) -> None:
    mine, _ = two_accounts
    everything = _next_page(mine)
    assert mine.get(f"/api/v1/jobs?limit=1&page={everything}").status_code == 200
    assert mine.get(f"/api/v1/jobs?status=COMPLETED&page={everything}").status_code == 400
    completed = _next_page(mine, "&status=COMPLETED")
    assert mine.get(f"/api/v1/jobs?status=COMPLETED&page={completed}").status_code == 200
    assert mine.get(f"/api/v1/jobs?page={completed}").status_code == 400


def test_a_tampered_page_token_is_a_400_problem(two_accounts) -> None:
    mine, _ = two_accounts
    token = _next_page(mine)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in (flipped, token + "x", "forged", "a.b", "..", "%00"):
        answer = mine.get(f"/api/v1/jobs?page={bad}")
        assert answer.status_code == 400, bad
        assert answer.mimetype == "application/problem+json"


def test_the_jobs_page_refuses_another_accounts_page_token(
    app: Flask, api, make_user, make_job, make_token
) -> None:
    """The HTML list pages the same way: a token from someone else's list is no page (404)."""
    pages = []
    for _ in range(2):
        user = make_user()
        for _ in range(3):
            make_job(user, models.COMPLETED)
        client = app.test_client()
        login(client, user)
        pages.append((client, user))
    app.config["JOBS_PER_PAGE"], per_page = 1, app.config["JOBS_PER_PAGE"]
    try:
        (mine, _), (theirs, _) = pages
        first = theirs.get("/annotations").get_data(as_text=True)
        token = first.split("?page=", 1)[1].split('"', 1)[0]
        assert theirs.get(f"/annotations?page={token}").status_code == 200
        assert mine.get(f"/annotations?page={token}").status_code == 404
    finally:
        app.config["JOBS_PER_PAGE"] = per_page


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_body_nested_100000_deep_is_a_problem_not_a_recursion_error(
    api, make_user, make_token
) -> None:
    client = api(make_token(make_user()))
    json = {"Content-Type": "application/json"}
    # 200 KB: past the API's body size, refused unread.
    deepest = client.post("/api/v1/jobs", data=_nested(100_000), headers=json)
    assert deepest.status_code == 413 and deepest.mimetype == "application/problem+json"
    # Within the size, past the depth (and Python's recursion limit): refused unparsed.
    for body in (_nested(5_000), '{"upload_key": ' + _nested(5_000) + "}", _nested(40)):
        answer = client.post("/api/v1/jobs", data=body, headers=json)
        assert answer.status_code == 400
        assert answer.mimetype == "application/problem+json"
        assert "nested" in answer.get_json()["detail"]
    # Sensible nesting still reaches the checks of the route itself.
    plain = client.post("/api/v1/jobs", json={"upload_key": "uploads/x", "build": "auto"})
    assert plain.status_code == 404  # no such upload of the account's


def test_the_upload_pages_json_route_refuses_deep_bodies_too(app: Flask, make_user) -> None:
    client = app.test_client()
    login(client, make_user())
    answer = client.post(
        "/annotate/jobs", data=_nested(100_000), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400


def test_a_body_too_large_is_a_413_problem(api, make_user, make_token) -> None:
    client = api(make_token(make_user()))
    big = '{"upload_key": "' + "x" * (256 * 1024) + '"}'
    answer = client.post("/api/v1/jobs", data=big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"


def test_404_and_405_under_the_api_are_problems(app: Flask, make_user, make_token) -> None:
    """Raw test client: these paths and methods are not in the document (that is the point)."""
    client = app.test_client()
    auth = {"Authorization": f"Bearer {make_token(make_user())}"}
    missing = client.get("/api/v1/no-such-thing", headers=auth)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.get_json()["status"] == 404
    for method in ("PUT", "PATCH", "DELETE"):
        wrong = client.open("/api/v1/jobs", method=method, headers=auth)
        assert wrong.status_code == 405, method
        assert wrong.mimetype == "application/problem+json"
        assert wrong.get_json()["status"] == 405
        assert set(wrong.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    # Without a token too: the method is wrong before anyone is asked who they are.
    assert client.put("/api/v1/me").mimetype == "application/problem+json"
    # Outside the API the pages keep their HTML.
    assert client.put("/annotations").mimetype == "text/html"
