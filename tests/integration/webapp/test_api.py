"""/api/v1 against the real local cloud: the document, tokens, paging, and a job through the API.

Every API response here goes through ``ApiClient``, which checks it against the served OpenAPI
document (tests/integration/webapp/api_client.py).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from gas import models
from gas.settings import Settings
from tests.integration.processes import wait_for
from tests.integration.webapp.conftest import login
from workflows import tokens

pytestmark = pytest.mark.integration


def test_the_document_is_openapi_31_and_describes_every_route(app: Flask, openapi) -> None:
    assert openapi.document["openapi"] == "3.1.0"
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {
        (path, method) for path, ops in openapi.document["paths"].items() for method in ops
    }
    assert served == documented


def _created_secret(page: str) -> str:
    found = re.search(r'<code id="new-token">(gas_pat_[A-Za-z0-9_-]+)</code>', page)
    assert found, "the new token is shown on the page"
    return found.group(1)


def test_token_life_cycle(app: Flask, api, make_user, settings: Settings) -> None:
    user = make_user()
    page = app.test_client()
    login(page, user)
    created = page.post(
        "/profile/tokens", data={"token_name": "laptop", "scope": models.READ_ONLY}
    ).get_data(as_text=True)
    secret = _created_secret(created)
    # Shown once: the profile never shows it again, and only its digest is stored.
    again = page.get("/profile").get_data(as_text=True)
    assert secret not in again and "laptop" in again and "never" in again
    stored = models.AccessToken.get(tokens.digest(secret))
    assert secret not in str(stored.attribute_values)
    assert stored.scope == models.READ_ONLY and stored.last_used_at is None

    reader = api(secret)
    me = reader.get("/api/v1/me").get_json()
    assert me["email"] == user.email and me["token"]["scope"] == models.READ_ONLY
    assert models.AccessToken.get(tokens.digest(secret)).last_used_at is not None
    assert "UTC" in page.get("/profile").get_data(as_text=True).split('class="last-used"')[1][:40]
    assert reader.get("/api/v1/jobs").status_code == 200
    # Read-only: every write is refused, before anything happens.
    refused = reader.post("/api/v1/uploads")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert reader.post("/api/v1/jobs", json={"upload_key": "x"}).status_code == 403

    writer_page = page.post(
        "/profile/tokens",
        data={"token_name": "ci", "scope": models.READ_WRITE, "expires_in_days": "30"},
    ).get_data(as_text=True)
    writer = api(_created_secret(writer_page))
    assert writer.post("/api/v1/uploads").status_code == 201

    # Revoked from the profile page: refused from then on.
    token_id = stored.token_id
    assert page.post(f"/profile/tokens/{token_id}/revoke").status_code == 302
    gone = reader.get("/api/v1/me")
    assert gone.status_code == 401 and "revoked" in gone.get_json()["detail"]
    assert gone.headers["WWW-Authenticate"].startswith("Bearer")
    assert writer.get("/api/v1/me").status_code == 200

    # Another user cannot revoke it.
    other = app.test_client()
    login(other, make_user())
    writer_id = tokens.for_user(settings, user)[0].token_id
    other.post(f"/profile/tokens/{writer_id}/revoke")
    assert writer.get("/api/v1/me").status_code == 200


def test_an_expired_token_is_refused(api, make_user, make_token) -> None:
    secret = make_token(make_user(), expires_in_days=1)
    assert api(secret).get("/api/v1/me").status_code == 200
    stored = models.AccessToken.get(tokens.digest(secret))
    stored.update(actions=[models.AccessToken.expires_at.set(models.now() - timedelta(seconds=1))])
    expired = api(secret).get("/api/v1/me")
    assert expired.status_code == 401 and "expired" in expired.get_json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer gas_pat_" + "x" * 43, "Bearer not-a-token"],
)
def test_requests_without_a_valid_token_get_401_problems(api, header) -> None:
    response = api(None).get("/api/v1/jobs", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.get_json()["status"] == 401


def test_the_document_needs_no_token(api) -> None:
    assert api(None).get("/api/v1/openapi.json").status_code == 200


def test_each_token_has_its_own_rate_limit(settings: Settings, openapi, make_user, make_token):
    from tests.integration.webapp.api_client import ApiClient
    from webapp import create_app

    limited = create_app(settings, TESTING=True, API_RATE_LIMIT="3 per minute")
    first, second = (make_token(make_user()) for _ in range(2))
    client = ApiClient(limited.test_client(), openapi, first)
    assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200] * 3
    spent = client.get("/api/v1/me")
    assert spent.status_code == 429 and spent.mimetype == "application/problem+json"
    assert spent.headers["Retry-After"]
    assert ApiClient(limited.test_client(), openapi, second).get("/api/v1/me").status_code == 200


def test_jobs_list_filters_by_status_and_pages(api, make_user, make_job, make_token) -> None:
    user = make_user()
    done = [make_job(user, models.COMPLETED) for _ in range(3)]
    failed = make_job(user, models.FAILED, failure_reason="bad file")
    make_job(make_user(), models.COMPLETED)  # someone else's: never listed
    client = api(make_token(user, scope=models.READ_ONLY))

    seen, page = [], None
    while True:
        answer = client.get("/api/v1/jobs?limit=2" + (f"&page={page}" if page else "")).get_json()
        seen += [job["id"] for job in answer["jobs"]]
        page = answer["next_page"]
        if not page:
            break
    assert sorted(seen) == sorted([j.job_id for j in done] + [failed.job_id])
    assert len(seen) == len(set(seen))

    only_failed = client.get("/api/v1/jobs?status=FAILED&limit=100").get_json()["jobs"]
    assert [(j["id"], j["failure_reason"]) for j in only_failed] == [(failed.job_id, "bad file")]
    assert client.get("/api/v1/jobs?status=DONE").status_code == 400
    assert client.get("/api/v1/jobs?limit=0").status_code == 400
    assert client.get("/api/v1/jobs?page=forged").status_code == 400


def test_a_queued_job_says_how_many_are_ahead(api, make_user, make_job, make_token) -> None:
    user = make_user()
    ahead = models.Job.by_status.count(models.PENDING)
    job = make_job(user, models.PENDING)
    detail = api(make_token(user)).get(f"/api/v1/jobs/{job.job_id}").get_json()
    assert detail["queue_position"] == ahead
    assert detail["execution"] == {"status": None, "current_state": None, "timeline": []}


def test_submitting_someone_elses_upload_or_garbage_is_refused(api, make_user, make_token):
    client = api(make_token(make_user()))
    theirs = api(make_token(make_user())).post("/api/v1/uploads").get_json()["key"]
    assert client.post("/api/v1/jobs", json={"upload_key": theirs}).status_code == 404
    assert client.post("/api/v1/jobs", json={"upload_key": 7}).status_code == 400
    assert client.post("/api/v1/jobs", data="not json").status_code == 400
    mine = client.post("/api/v1/uploads").get_json()["key"]
    never_sent = client.post("/api/v1/jobs", json={"upload_key": mine})
    assert never_sent.status_code == 422 and "did not arrive" in never_sent.get_json()["detail"]


# --- a whole job through the API alone ---------------------------------------------------------


def upload_through_api(client, filename: str, data: bytes) -> str:
    """POST /uploads, then send the file to S3 as any HTTP client would; returns the key."""
    upload = client.post("/api/v1/uploads", json={"filename": filename}).get_json()
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=30
    )
    assert sent.status_code == 201, sent.text[:300]
    return upload["key"]


def test_the_whole_path_through_the_api(app, api, make_user, make_token, workers, vcf) -> None:
    user = make_user(tier=models.PREMIUM)
    client = api(make_token(user))
    key = upload_through_api(client, "sample.vcf", vcf)
    submitted = client.post("/api/v1/jobs", json={"upload_key": key, "filename": "sample.vcf"})
    assert submitted.status_code == 201
    job = submitted.get_json()
    assert submitted.headers["Location"] == job["url"] == f"/api/v1/jobs/{job['id']}"
    # The same upload twice is the same job.
    assert client.post("/api/v1/jobs", json={"upload_key": key}).get_json()["id"] == job["id"]

    def finished():
        polled = client.get(job["url"]).get_json()
        return polled if polled["status"] in (models.COMPLETED, models.FAILED) else None

    done = wait_for(finished, 120, interval=1, what="the job to finish")
    assert done["status"] == models.COMPLETED, done["failure_reason"]
    assert done["results"] == ["annotated", "log", "summary"]
    assert [s["state"] for s in done["execution"]["timeline"]][:2] == [
        "ChooseStartingPoint",
        "Annotate",
    ]
    assert client.get("/api/v1/jobs?status=COMPLETED").get_json()["jobs"][0]["id"] == job["id"]

    page = app.test_client()
    login(page, user)

    def fetch(url: str) -> tuple[int, bytes]:
        # A file made on request (the plain VCF) is the dashboard's signed stream; the rest S3's.
        parts = urlsplit(url)
        if parts.path.startswith("/results/stream/"):
            streamed = app.test_client().get(parts.path)
            return streamed.status_code, streamed.get_data()
        got = requests.get(url, timeout=30)
        return got.status_code, got.content

    for kind in ("annotated", "log", "summary", "input"):
        link = client.get(f"/api/v1/jobs/{job['id']}/downloads/{kind}").get_json()
        through_api = fetch(link["url"])
        through_page = page.get(f"/annotations/{job['id']}/download/{kind}")
        assert through_page.status_code == 302
        from_page = fetch(through_page.headers["Location"])
        assert through_api[0] == from_page[0] == 200
        assert through_api[1] == from_page[1] and through_api[1]
    assert (
        requests.get(
            client.get(f"/api/v1/jobs/{job['id']}/downloads/input").get_json()["url"], timeout=30
        ).content
        == vcf
    )
    assert client.get(f"/api/v1/jobs/{job['id']}/downloads/secrets").status_code == 404

    used = client.get("/api/v1/usage").get_json()
    assert used["bytes_online"] >= len(vcf) and used["bytes_archived"] == 0
    assert used["jobs_this_month"] == 1 and used["retention_seconds"] is None
    stored = 1 + len(models.Job.get(job["id"]).results.as_dict())  # the input and every result
    assert used["tier"] == models.PREMIUM and used["objects"] == stored


def test_an_upload_larger_than_the_tier_allows_is_refused_by_s3(api, make_user, make_token):
    client = api(make_token(make_user()))
    upload = client.post("/api/v1/uploads", json={"filename": "big.vcf"}).get_json()
    too_big = b"##fileformat=VCFv4.2\n" + b"#" * upload["max_bytes"]
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("big.vcf", too_big)}, timeout=30
    )
    assert sent.status_code == 400 and "EntityTooLarge" in sent.text
