"""The account a researcher expects, against the real local cloud (SES's mailbox included):
changing a password, a forgotten one, confirming the address before uploading, deleting it all.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gas import aws, keys, mail, models
from gas.models import Job, User
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.processes import wait_out_draining
from tests.integration.webapp.api_client import ApiClient
from tests.integration.webapp.test_api import upload_through_api
from webapp import create_app
from workflows import accounts, jobs, shares, tokens, uploads

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"  # what conftest's users have
NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"https?://\S+")


def _mail_to(settings: Settings, email: str, subject: str, count: int = 1) -> list[mail.SentMail]:
    """The messages with ``subject`` sent to ``email``, once ``count`` of them have arrived."""
    deadline = time.monotonic() + 10
    while True:
        found = [m for m in mail.local_mailbox(settings, to=email) if m.subject == subject]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _link_path(message: mail.SentMail) -> str:
    url = LINK.search(message.body)
    assert url, message.body
    return "/" + url[0].split("/", 3)[3]


def _log_in(client: FlaskClient, email: str, password: str) -> int:
    return client.post("/login", data={"email": email, "password": password}).status_code


# -- change password -------------------------------------------------------------------------


def test_change_password_needs_the_current_one_and_ends_other_sessions(
    app: Flask, client: FlaskClient, make_user, login_as
) -> None:
    user = make_user()
    login_as(user)
    other = app.test_client()
    assert _log_in(other, user.email, PASSWORD) == 302
    wrong = client.post(
        "/profile/password",
        data={
            "current_password": "not it at all",
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert "That is not your current password" in wrong.get_data(as_text=True)
    short = client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm": "short"},
    )
    assert "At least 10 characters" in short.get_data(as_text=True)
    changed = client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert client.get("/profile").status_code == 200  # this session goes on
    assert other.get("/profile").status_code == 302  # the other one is over
    fresh = app.test_client()
    assert "Wrong e-mail or password" in fresh.post(
        "/login", data={"email": user.email, "password": PASSWORD}
    ).get_data(as_text=True)
    assert _log_in(fresh, user.email, NEW_PASSWORD) == 302


def _copied(client: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser holding a copy of ``client``'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("gas_session", client.get_cookie("gas_session").value)
    return thief


def test_a_cookie_copied_before_logout_stops_working(
    app: Flask, client: FlaskClient, make_user, login_as
) -> None:
    user = make_user()
    login_as(user)
    thief = _copied(client, app)
    assert thief.get("/annotations").status_code == 200  # the copy works while the session does
    assert client.post("/logout").status_code == 302
    after = thief.get("/annotations")
    assert after.status_code == 302 and after.location.startswith("/login")
    # Logging out ends this session only: one on another device goes on.
    laptop, phone = app.test_client(), app.test_client()
    assert _log_in(laptop, user.email, PASSWORD) == 302
    assert _log_in(phone, user.email, PASSWORD) == 302
    assert phone.post("/logout").status_code == 302
    assert laptop.get("/annotations").status_code == 200


def test_log_out_everywhere_ends_every_session_at_once(
    app: Flask, client: FlaskClient, make_user, login_as
) -> None:
    user = make_user()
    login_as(user)
    other = app.test_client()
    assert _log_in(other, user.email, PASSWORD) == 302
    thief = _copied(client, app)
    assert 'id="end-sessions"' in client.get("/profile").get_data(as_text=True)
    ended = client.post("/profile/sessions/end")
    assert ended.status_code == 302 and ended.location.startswith("/login")
    for browser in (client, other, thief):
        assert browser.get("/annotations").status_code == 302
    assert _log_in(app.test_client(), user.email, PASSWORD) == 302  # a new login works


def test_a_password_change_ends_a_copy_of_the_changing_session_too(
    app: Flask, client: FlaskClient, make_user, login_as
) -> None:
    user = make_user()
    login_as(user)
    thief = _copied(client, app)
    changed = client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert client.get("/annotations").status_code == 200  # the changer goes on, in a new session
    assert thief.get("/annotations").status_code == 302


# -- a forgotten password ----------------------------------------------------------------------


def test_forgotten_password_link_works_once(
    app: Flask, settings: Settings, client: FlaskClient, make_user
) -> None:
    user = make_user()
    signed_in = app.test_client()
    assert _log_in(signed_in, user.email, PASSWORD) == 302
    login_page = client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in login_page

    asked = client.post("/forgot-password", data={"email": user.email.upper()})
    assert asked.status_code == 302
    answer = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "we have sent it a link" in answer
    stored = User.get(user.user_id)
    assert stored.password_reset_hash and len(stored.password_reset_hash) == 64
    (message,) = _mail_to(settings, user.email, "Set a new GAS password")
    path = _link_path(message)
    secret = path.rsplit("/", 1)[1]
    assert secret not in stored.password_reset_hash  # only its digest is kept

    assert client.get(path).status_code == 200
    mismatch = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": "something else"})
    assert "The passwords differ" in mismatch.get_data(as_text=True)
    done = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert User.get(user.user_id).email_confirmed_at is not None  # the mail reached its owner

    # Single use: the page and the form both refuse the link now.
    assert client.get(path).status_code == 410
    again = client.post(
        path, data={"new_password": "yet another one!", "confirm": "yet another one!"}
    )
    assert again.status_code == 410
    with pytest.raises(accounts.ResetRefused):
        accounts.reset_password(settings, user.user_id, secret, "x")
    # The old password is gone, the new one works, and a session from before is over.
    assert _log_in(app.test_client(), user.email, PASSWORD) == 200
    assert _log_in(app.test_client(), user.email, NEW_PASSWORD) == 302
    assert signed_in.get("/profile").status_code == 302


def test_a_reset_link_expires(
    app: Flask, settings: Settings, client: FlaskClient, make_user
) -> None:
    user = make_user()
    assert accounts.request_password_reset(settings, user.email)
    (message,) = _mail_to(settings, user.email, "Set a new GAS password")
    path = _link_path(message)
    secret = path.rsplit("/", 1)[1]
    # A minute later, it is still one link; a second request sends nothing.
    assert not accounts.request_password_reset(settings, user.email)
    stored = User.get(user.user_id)
    stored.update(actions=[User.password_reset_expires_at.set(models.now() - timedelta(seconds=1))])
    assert client.get(path).status_code == 410
    assert (
        client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
        == 410
    )
    # The conditional write itself refuses it, not only the page.
    with pytest.raises(accounts.ResetRefused):
        accounts.reset_password(settings, user.user_id, secret, "x")
    assert _log_in(app.test_client(), user.email, PASSWORD) == 302
    # An expired link does not hold back a new one, and the new one works.
    assert accounts.request_password_reset(settings, user.email)
    # (The mailbox's times are whole seconds: tell the two apart by their links.)
    sent = _mail_to(settings, user.email, "Set a new GAS password", count=2)
    (newest,) = [m for m in sent if _link_path(m) != path]
    assert (
        client.post(
            _link_path(newest), data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        ).status_code
        == 302
    )


def test_the_answer_is_the_same_for_an_unknown_address(
    settings: Settings, client: FlaskClient, make_user
) -> None:
    known = make_user()
    unknown = f"nobody-{keys.new_id()[:8]}@example.org"
    answers = []
    for email in (known.email, unknown):
        asked = client.post("/forgot-password", data={"email": email})
        answers.append(
            client.get(asked.headers["Location"]).get_data(as_text=True).replace(email, "…")
        )
    assert answers[0] == answers[1]
    assert _mail_to(settings, known.email, "Set a new GAS password")
    assert mail.local_mailbox(settings, to=unknown) == []
    assert client.get(f"/reset-password/{known.user_id}/guessed").status_code == 410
    assert client.get("/reset-password/not-an-id/guessed").status_code == 410


# -- confirming the address before the first upload -----------------------------------------------


@pytest.fixture(scope="module")
def confirming_app(settings: Settings) -> Flask:
    """The dashboard as on AWS: uploads wait for a confirmed address."""
    return create_app(
        dataclasses.replace(settings, require_email_confirmation=True),
        TESTING=True,
        WTF_CSRF_ENABLED=False,
        LOGIN_RATE_LIMIT="10000 per minute",
    )


def test_uploads_wait_for_a_confirmed_address_on_pages_and_api(
    confirming_app: Flask, settings: Settings, openapi, vcf: bytes
) -> None:
    client = confirming_app.test_client()
    email = f"barbara-{keys.new_id()[:8]}@example.org"
    registered = client.post(
        "/register",
        data={
            "name": "Barbara",
            "email": email,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    # No session until the address is confirmed and its owner logs in.
    assert registered.status_code == 302 and registered.headers["Location"] == "/login"
    assert client.get("/annotate").status_code == 302
    user = User.find_by_email(email)
    assert user.email_confirmed_at is None
    (first,) = _mail_to(settings, email, "Confirm your e-mail address for GAS")
    assert _log_in(client, email, NEW_PASSWORD) == 302

    # The pages refuse, and say what to do.
    page = client.get("/annotate").get_data(as_text=True)
    assert "Confirm your e-mail address first" in page and 'id="upload-form"' not in page
    assert "Send the link again" in page
    assert client.post("/annotate/uploads", json={}).status_code == 403
    upload = uploads.put_file(settings, user, _vcf_file(vcf))
    submitted = client.get("/annotate/submit", query_string={"key": upload.key})
    assert submitted.status_code == 302
    assert "confirm your e-mail address" in client.get("/annotate").get_data(as_text=True).lower()
    assert jobs.job_for_upload(settings, upload) is None
    profile = client.get("/profile").get_data(as_text=True)
    assert 'id="email-unconfirmed"' in profile

    # So does the API, with a documented problem.
    api = ApiClient(
        confirming_app.test_client(),
        openapi,
        tokens.create(settings, user, name="t", scope=models.READ_WRITE)[0],
    )
    for refused in (
        api.post("/api/v1/uploads"),
        api.post("/api/v1/jobs", json={"upload_key": upload.key}),
    ):
        assert refused.status_code == 403
        assert "Confirm your e-mail address" in refused.get_json()["detail"]

    # The button sends the link again; either link confirms.
    assert client.post("/confirm-email/send").status_code == 302
    second = _mail_to(settings, email, "Confirm your e-mail address for GAS", count=2)
    assert len(second) == 2
    assert client.get("/confirm-email/forged-token").status_code == 302
    assert User.get(user.user_id).email_confirmed_at is None
    confirmed = client.get(_link_path(first))
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/annotate"
    assert User.get(user.user_id).email_confirmed_at is not None

    assert 'id="upload-form"' in client.get("/annotate").get_data(as_text=True)
    assert client.post("/annotate/uploads", json={}).status_code == 201
    key = upload_through_api(api, "calls.vcf", vcf)
    assert api.post("/api/v1/jobs", json={"upload_key": key}).status_code == 201


def test_registering_an_address_that_has_an_account_answers_as_for_a_new_one(
    confirming_app: Flask, settings: Settings, make_user
) -> None:
    """With confirmation required, the form tells nobody which addresses have accounts: the
    answer is the same, no account or session is made, and the owner hears of it (hourly)."""
    owner = make_user()

    def register(email: str) -> tuple[int, str, list[str]]:
        client = confirming_app.test_client()
        form = {"name": "Mallory", "email": email, "password": NEW_PASSWORD}
        answer = client.post("/register", data={**form, "confirm": NEW_PASSWORD})
        with client.session_transaction() as flashed:
            messages = [text for _, text in flashed.get("_flashes", [])]
        assert client.get("/annotate").status_code == 302  # not logged in
        return answer.status_code, answer.headers["Location"], messages

    new = f"newcomer-{keys.new_id()[:8]}@example.org"
    status, location, said = register(new)
    assert register(owner.email) == (status, location, [m.replace(new, owner.email) for m in said])
    assert User.get(owner.user_id).password_hash == owner.password_hash  # nothing changed
    (notice,) = _mail_to(
        settings, owner.email, "Someone tried to create a GAS account with your address"
    )
    assert f"{settings.base_url}/forgot-password" in notice.body
    register(owner.email)  # within the hour: no second message
    time.sleep(2)
    assert len(_mail_to(settings, owner.email, notice.subject, count=2)) == 1


def test_a_confirmation_link_expires(settings: Settings, make_user) -> None:
    user = make_user()
    short = dataclasses.replace(settings, email_confirmation_seconds=1)
    link = accounts.confirmation_link(short, "key", user)
    token = link.rsplit("/", 1)[1]
    time.sleep(2.1)
    with pytest.raises(accounts.ConfirmationRefused):
        accounts.confirm(short, "key", token)
    with pytest.raises(accounts.ConfirmationRefused):
        accounts.confirm(settings, "another key", token)
    assert accounts.confirm(settings, "key", token).email_confirmed_at is not None


def _vcf_file(vcf: bytes):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "calls.vcf"
    path.write_bytes(vcf)
    return path


# -- deleting the account ------------------------------------------------------------------------


def _keys_under(settings: Settings, user_id: str) -> list[str]:
    names = Resources.of(settings)
    s3 = aws.client(settings, "s3")
    found = []
    for bucket, prefix in (
        (names.inputs_bucket, keys.user_upload_prefix(user_id)),
        (names.results_bucket, keys.user_result_prefix(user_id)),
    ):
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        found += [obj["Key"] for obj in listed.get("Contents", [])]
    return found


def _put_results(settings: Settings, job: Job) -> None:
    names = Resources.of(settings)
    s3 = aws.client(settings, "s3")
    results = {}
    for kind in ("annotated", "log", "summary"):
        key = keys.result_key(job.user_id, job.job_id, kind)
        s3.put_object(Bucket=names.results_bucket, Key=key, Body=b"result")
        results[kind] = key
    s3.put_object(Bucket=names.inputs_bucket, Key=job.input_key, Body=b"input")
    job.update(actions=[Job.results.set(results)])


def test_deleting_the_account_removes_every_object_and_record(
    app: Flask,
    settings: Settings,
    client: FlaskClient,
    make_user,
    make_job: Callable[..., Job],
    login_as,
    vcf: bytes,
) -> None:
    user = make_user()
    bystander = make_user()
    theirs = make_job(bystander, models.COMPLETED)
    _put_results(settings, theirs)

    waiting = make_job(user, models.COMPLETED)  # a free job waiting out its retention
    failed = make_job(user, models.FAILED, archive_after=None)
    _put_results(settings, waiting)
    _put_results(settings, failed)
    shares.create(app.config["SECRET_KEY"], waiting)
    # A queued job with a real execution behind it (no worker runs here: an earlier module's may
    # still be draining), and an upload that never became a job.
    wait_out_draining(settings)
    queued = jobs.submit_upload(settings, user, uploads.put_file(settings, user, _vcf_file(vcf)))
    uploads.put_file(settings, user, _vcf_file(vcf))
    tokens.create(settings, user, name="script", scope=models.READ_WRITE)
    assert len(_keys_under(settings, user.user_id)) == 10

    login_as(user)
    wrong = client.post("/profile/delete", data={"delete_password": "not my password"})
    assert "nothing was deleted" in wrong.get_data(as_text=True)
    assert User.get(user.user_id) and len(_keys_under(settings, user.user_id)) == 10

    deleted = client.post("/profile/delete", data={"delete_password": PASSWORD})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/login"
    said = client.get("/login").get_data(as_text=True)
    assert "Your account was deleted, with its 3 jobs (1 running or queued first cancelled)" in said
    assert client.get("/profile").status_code == 302  # logged out

    assert _keys_under(settings, user.user_id) == []
    with pytest.raises(models.DoesNotExist):
        User.get(user.user_id)
    for job in (waiting, failed, queued):
        with pytest.raises(models.DoesNotExist):
            Job.get(job.job_id)
    assert list(Job.for_user(user.user_id, limit=None)) == []
    assert list(models.AccessToken.by_user.query(user.user_id)) == []
    # (The queued job's execution was stopped, but LocalStack reports it RUNNING until its
    # activity wait ends, as in test_api_job_controls: not asserted.)
    # Nobody else's things were touched.
    assert Job.get(theirs.job_id).status == models.COMPLETED
    assert len(_keys_under(settings, bystander.user_id)) == 4
    assert _log_in(app.test_client(), user.email, PASSWORD) == 200


def test_an_account_is_not_deleted_while_a_restore_runs(
    settings: Settings, client: FlaskClient, make_user, make_job, login_as
) -> None:
    user = make_user(tier=models.PREMIUM)
    kept = make_job(user, models.FAILED)
    make_job(user, models.RESTORING)
    login_as(user)
    refused = client.post("/profile/delete", data={"delete_password": PASSWORD})
    assert refused.status_code == 302
    assert "being restored" in client.get("/profile").get_data(as_text=True)
    assert User.get(user.user_id) and Job.get(kept.job_id)


# -- the upload page's script: several presigned POSTs, then one job each --------------------------


def test_the_upload_pages_json_routes_make_one_job_per_file(
    client: FlaskClient, make_user, login_as, vcf: bytes
) -> None:
    import requests

    user = make_user()
    login_as(user)
    # Asked for all at once, as the page does: none is lost to another's session write.
    names = ["file0.vcf", "ﬁle1.vcf", "файл2.vcf"]
    posts = [client.post("/annotate/uploads", json={"filename": n}).get_json() for n in names]
    started = []
    for name, post in zip(names, posts, strict=True):
        key = post["key"]
        assert keys.parse_upload_key(key)[0] == user.user_id
        sent = requests.post(
            post["url"], data=post["fields"], files={"file": ("f.vcf", vcf)}, timeout=30
        )
        assert sent.status_code == 201, sent.text[:300]
        answer = client.post("/annotate/jobs", json={"key": key, "filename": name})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        started.append(answer.get_json())
        assert client.post("/annotate/jobs", json={"key": key}).get_json() == started[-1]
    assert [s["input_filename"] for s in started] == names
    assert all(s["url"] == f"/annotations/{s['job_id']}" for s in started)
    # Somebody else's upload key, and a file that is not a VCF, are refused with a reason.
    other = keys.upload_key(keys.new_id(), keys.new_id())
    assert client.post("/annotate/jobs", json={"key": other}).status_code == 404
    post = client.post("/annotate/uploads", json={"filename": "notes.vcf"}).get_json()
    key = post["key"]
    requests.post(post["url"], data=post["fields"], files={"file": ("n.vcf", b"hi")}, timeout=30)
    refused = client.post("/annotate/jobs", json={"key": key, "filename": "notes.vcf"})
    assert refused.status_code == 422 and "not a VCF file" in refused.get_json()["error"]
