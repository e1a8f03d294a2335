"""The dashboard's pages against the local cloud: accounts, upload to S3, list, job page."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError
from flask.testing import FlaskClient

from gas import aws, keys, models
from gas.models import Job, User
from gas.resources import Resources

pytestmark = pytest.mark.integration

# The password conftest's users have.
PASSWORD = "correct horse battery"


def _upload_form(client: FlaskClient) -> tuple[str, dict[str, str]]:
    page = client.get("/annotate").get_data(as_text=True)
    action = unescape(re.search(r'<form id="upload-form"[^>]*action="([^"]+)"', page, re.S)[1])
    fields = {
        unescape(m[1]): unescape(m[2])
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    }
    return action, fields


def _post_to_s3(action: str, fields: dict[str, str], name: str, data: bytes) -> requests.Response:
    return requests.post(
        action, data=fields, files={"file": (name, data)}, allow_redirects=False, timeout=30
    )


def test_register_log_out_and_in(client: FlaskClient) -> None:
    response = client.post(
        "/register",
        data={
            "name": "Rosalind",
            "email": "Rosalind.F@Example.org",
            "institution": "King's",
            "password": "double helix 1953",
            "confirm": "double helix 1953",
        },
    )
    assert response.status_code == 302
    user = User.find_by_email("rosalind.f@example.org")
    assert user is not None and user.tier == models.FREE
    assert user.password_hash.startswith("scrypt:")
    assert "Rosalind" in client.get("/profile").get_data(as_text=True)
    client.post("/logout")
    assert client.get("/profile").status_code == 302
    wrong = client.post("/login", data={"email": user.email, "password": "nope nope nope"})
    assert "Wrong e-mail or password" in wrong.get_data(as_text=True)
    right = client.post(
        "/login?next=/profile", data={"email": user.email, "password": "double helix 1953"}
    )
    assert right.headers["Location"] == "/profile"


def test_a_second_account_with_the_same_email_is_refused(client: FlaskClient, make_user) -> None:
    user = make_user()
    response = client.post(
        "/register",
        data={
            "name": "X",
            "email": user.email.upper(),
            "password": "0123456789ab",
            "confirm": "0123456789ab",
        },
    )
    assert response.status_code == 200
    assert "An account with this e-mail exists" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_no_open_redirect_after_login(client: FlaskClient, make_user, target: str) -> None:
    user = make_user()
    response = client.post(
        "/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/annotations"


def test_upload_goes_to_s3_and_comes_back_as_a_job(
    client: FlaskClient, make_user, login_as, vcf: bytes
) -> None:
    user = make_user()
    login_as(user)
    action, fields = _upload_form(client)
    # The form (without JavaScript) has S3 store the file under its own name in the upload's
    # folder; the dashboard moves it to the upload's key.
    folder = fields["key"].removesuffix("${filename}")
    owner, upload_id, _ = keys.parse_landing_key(folder + "x")
    assert owner == user.user_id
    s3 = _post_to_s3(action, fields, "calls.vcf", vcf)
    assert s3.status_code == 303, s3.text
    back = urlsplit(s3.headers["Location"])
    assert back.path == "/annotate/submit"
    assert parse_qs(back.query)["key"] == [folder + "calls.vcf"]
    submitted = client.get(f"{back.path}?{back.query}")
    assert submitted.status_code == 302, submitted.get_data(as_text=True)
    key = keys.upload_key(user.user_id, upload_id)
    job_id = keys.job_id_for_upload(key)
    assert submitted.headers["Location"] == f"/annotations/{job_id}"
    job = Job.get(job_id)
    assert job.user_id == user.user_id and job.input_filename == "calls.vcf"
    # The same redirect followed twice is the same job.
    again = client.get(f"{back.path}?{back.query}")
    assert again.headers["Location"] == f"/annotations/{job_id}"
    page = client.get(f"/annotations/{job_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "calls.vcf" in html
    # No worker runs here: the graph is drawn from the ASL with Annotate not yet done.
    assert 'data-state="Annotate"' in html and 'data-state="ArchiveResults"' in html
    listing = client.get("/annotations").get_data(as_text=True)
    assert job_id in listing


def test_s3_refuses_a_file_over_the_free_limit(
    client: FlaskClient, make_user, login_as, settings
) -> None:
    login_as(make_user())
    action, fields = _upload_form(client)
    too_big = b"##fileformat=VCFv4.2\n" + b"#" * settings.free_upload_limit_bytes
    response = _post_to_s3(action, fields, "big.vcf", too_big)
    assert response.status_code == 400
    assert "EntityTooLarge" in response.text


def test_premium_users_get_the_premium_limit(client, make_user, login_as, settings) -> None:
    login_as(make_user(tier=models.PREMIUM))
    page = client.get("/annotate").get_data(as_text=True)
    assert f'data-max-bytes="{settings.premium_upload_limit_bytes}"' in page


def test_a_file_that_is_not_a_vcf_gets_a_clear_message_and_no_job(
    client: FlaskClient, make_user, login_as, settings
) -> None:
    user = make_user()
    login_as(user)
    action, fields = _upload_form(client)
    s3 = _post_to_s3(action, fields, "notes.vcf", b"just some notes, not variants\n")
    assert s3.status_code == 303, s3.text
    location = urlsplit(s3.headers["Location"])
    response = client.get(f"{location.path}?{location.query}", follow_redirects=True)
    assert "does not start with a ##fileformat=VCF line" in response.get_data(as_text=True)
    # The uploader (not some brand-new user) has no job, and the refused file was deleted.
    assert not list(Job.for_user(user.user_id))
    folder = fields["key"].removesuffix("${filename}")
    for key in (folder + "notes.vcf", folder + "input.vcf"):
        with pytest.raises(ClientError) as gone:
            aws.client(settings, "s3").head_object(
                Bucket=Resources.of(settings).inputs_bucket, Key=key
            )
        assert aws.error_code(gone.value) in ("404", "NoSuchKey", "NotFound")


def test_a_wrong_extension_gets_a_clear_message(client, make_user, login_as) -> None:
    login_as(make_user())
    action, fields = _upload_form(client)
    s3 = _post_to_s3(action, fields, "variants.txt", b"##fileformat=VCFv4.2\n")
    location = urlsplit(s3.headers["Location"])
    response = client.get(f"{location.path}?{location.query}", follow_redirects=True)
    assert "is not a VCF file: the name must end in .vcf" in response.get_data(as_text=True)


def test_jobs_list_is_newest_first_and_paginated(client, make_user, make_job, login_as, app):
    user = make_user()
    jobs = [make_job(user) for _ in range(app.config["JOBS_PER_PAGE"] + 2)]
    login_as(user)
    first = client.get("/annotations").get_data(as_text=True)
    shown = re.findall(r'<tr data-job-id="([^"]+)"', first)
    assert shown == [j.job_id for j in reversed(jobs)][: app.config["JOBS_PER_PAGE"]]
    older = unescape(re.search(r'rel="next" href="([^"]+)"', first)[1])
    second = client.get(older).get_data(as_text=True)
    assert re.findall(r'<tr data-job-id="([^"]+)"', second) == [j.job_id for j in jobs[1::-1]]
    assert client.get("/annotations?page=forged").status_code == 404


def test_live_status_reads_only_the_users_own_jobs(client, make_user, make_job, login_as):
    user, other = make_user(), make_user()
    mine = make_job(user, status=models.RUNNING, variants_done=5, variants_total=10)
    theirs = make_job(other, status=models.RUNNING)
    login_as(user)
    data = client.get(f"/annotations/status?ids={mine.job_id},{theirs.job_id},junk").get_json()
    assert list(data["jobs"]) == [mine.job_id]
    assert data["jobs"][mine.job_id]["label"] == "running"
    mine.move_to(models.COMPLETED)
    data = client.get(f"/annotations/status?ids={mine.job_id}").get_json()
    assert data["jobs"][mine.job_id]["status"] == models.COMPLETED


def test_archived_job_page_offers_the_upgrade(client, make_user, make_job, login_as):
    user = make_user()
    job = make_job(user, status=models.ARCHIVED)
    login_as(user)
    page = client.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert "Upgrade to Premium to restore them" in page
    download = client.get(f"/annotations/{job.job_id}/download/annotated")
    assert download.status_code == 302 and download.headers["Location"].endswith(job.job_id)


def test_restoring_job_page_says_the_tier_and_time(client, make_user, make_job, login_as):
    user = make_user(tier=models.PREMIUM)
    job = make_job(user, status=models.RESTORING, restore_tier="Expedited")
    login_as(user)
    page = client.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert "Expedited retrieval" in page and "1–5 minutes" in page


def test_security_headers_and_cookie_flags(client, make_user) -> None:
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/annotations")
    for header in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"):
        assert header in page.headers
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_upgrade_moves_the_user_to_premium_once(client, make_user, login_as) -> None:
    user = make_user()
    login_as(user)
    response = client.post("/subscribe", follow_redirects=True)
    assert "Welcome to Premium" in response.get_data(as_text=True)
    user.refresh()
    assert user.tier == models.PREMIUM
    assert 'id="plan"><span class="plan plan-premium">Premium' in client.get("/profile").get_data(
        as_text=True
    )
    again = client.post("/subscribe", follow_redirects=True)
    assert "You are already on Premium" in again.get_data(as_text=True)


def test_a_declined_payment_leaves_the_user_free(settings, make_user) -> None:
    from webapp import create_app
    from webapp.subscribe import PaymentDeclined

    class Declining:
        def charge_premium(self, user: User) -> str:
            raise PaymentDeclined("card expired")

    app = create_app(
        settings,
        TESTING=True,
        WTF_CSRF_ENABLED=False,
        LOGIN_RATE_LIMIT="10000 per minute",
        PAYMENT_PROVIDER=Declining(),
    )
    client = app.test_client()
    user = make_user()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    response = client.post("/subscribe", follow_redirects=True)
    assert "The payment was declined: card expired" in response.get_data(as_text=True)
    user.refresh()
    assert user.tier == models.FREE
