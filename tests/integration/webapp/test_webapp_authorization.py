"""The authorization matrix: every route × (anonymous, owner, another user, operator).

Someone else's job answers 404, exactly like a job that does not exist, so ids never leak; pages
that need an account send the anonymous to the login page.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import pytest
from flask import Flask

from annotator.outputs import write_outputs
from gas import aws, keys, models
from gas.models import Job, User
from gas.resources import Resources
from workflows import shares

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
ROLES = ("anonymous", "owner", "other", "operator")
LOGIN = "login"  # expected: a redirect to the login page


@dataclass
class Cast:
    owner: User
    other: User
    operator: User
    job: Job
    failed_job: Job
    share: str  # the token of a read-only link to ``job``


@pytest.fixture(scope="module")
def cast(app: Flask, make_user_once, make_job_once, tmp_path_factory) -> Cast:
    owner = make_user_once()
    job = make_job_once(owner, models.COMPLETED)
    _store_variant_table(app.config["GAS_SETTINGS"], job, tmp_path_factory.mktemp("outputs"))
    _share, token = shares.create(app.config["SECRET_KEY"], job)
    return Cast(
        owner=owner,
        other=make_user_once(),
        operator=make_user_once(operator=True),
        job=job,
        failed_job=make_job_once(owner, models.FAILED),
        share=token,
    )


def _store_variant_table(settings, job: Job, work) -> None:
    """A real (tiny) variant table and gene summary at the job's keys, so exports answer 200."""
    source = work / "annotated.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "17\t7675088\trs1\tC\tT\t.\t.\tGAS_REGION=CDS;GAS_GENE=TP53\n"
    )
    names = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
    made = write_outputs(source, work, names)
    s3 = aws.client(settings, "s3")
    for kind in ("parquet", "genes"):
        s3.upload_file(
            str(made.files[kind]), Resources.of(settings).results_bucket, job.results[kind]
        )


@pytest.fixture(scope="module")
def make_user_once(settings):
    from werkzeug.security import generate_password_hash

    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")

    def make(operator: bool = False) -> User:
        user_id = keys.new_id()
        user = User(
            user_id,
            email=f"{user_id[:8]}@example.org",
            password_hash=hashed,
            is_operator=1 if operator else 0,
        )
        user.save()
        return user

    return make


@pytest.fixture(scope="module")
def make_job_once(settings):
    def make(user: User, status: str) -> Job:
        key = keys.upload_key(user.user_id, keys.new_id())
        job_id = keys.job_id_for_upload(key)
        results = {kind: keys.result_key(user.user_id, job_id, kind) for kind in keys.RESULT_FILES}
        job = Job(
            job_id,
            user_id=user.user_id,
            status=status,
            input_key=key,
            results=results,
            failure_reason="test" if status == models.FAILED else None,
        )
        job.save()
        return job

    return make


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# (method, path, then what anonymous, owner, other and operator get): a status code, LOGIN
# (a redirect to the login page) or None (not checked here). Paths name {job} and {key}.
MATRIX: list[tuple[str, str, object, object, object, object]] = [
    ("GET", "/", 302, 302, 302, 302),
    ("GET", "/healthz", 200, 200, 200, 200),  # the balancer's probe: no login, nothing personal
    ("GET", "/login", 200, 302, 302, 302),
    ("GET", "/register", 200, 302, 302, 302),
    ("POST", "/logout", 302, 302, 302, 302),
    ("GET", "/profile", LOGIN, 200, 200, 200),
    ("POST", "/profile/tokens", LOGIN, 200, 200, 200),
    ("POST", "/profile/tokens/{token}/revoke", LOGIN, 302, 302, 302),
    ("POST", "/profile/password", LOGIN, 200, 200, 200),
    # Log out everywhere: the session ends, whoever asks, and the login page follows.
    ("POST", "/profile/sessions/end", LOGIN, 302, 302, 302),
    # The account's own pages (test_accounts walks them); an empty form changes nothing.
    ("POST", "/profile/delete", LOGIN, 200, 200, 200),
    ("GET", "/forgot-password", 200, 200, 200, 200),
    ("POST", "/forgot-password", 200, 200, 200, 200),
    ("GET", "/reset-password/{token}/not-a-secret", 410, 410, 410, 410),
    ("POST", "/reset-password/{token}/not-a-secret", 410, 410, 410, 410),
    ("GET", "/confirm-email/not-a-token", 302, 302, 302, 302),
    ("POST", "/confirm-email/send", LOGIN, 302, 302, 302),
    ("POST", "/annotate/uploads", LOGIN, 201, 201, 201),
    ("POST", "/annotate/jobs", LOGIN, 404, 404, 404),  # no upload key
    ("GET", "/annotate", LOGIN, 200, 200, 200),
    ("GET", "/annotate/submit?key={key}", LOGIN, 302, 404, 404),
    ("GET", "/annotations", LOGIN, 200, 200, 200),
    ("GET", "/annotations/status?ids={job}", LOGIN, 200, 200, 200),
    ("GET", "/annotations/{job}", LOGIN, 200, 404, 404),
    ("GET", "/annotations/{job}/status", LOGIN, 200, 404, 404),
    ("GET", "/annotations/{job}/workflow", LOGIN, 200, 404, 404),
    ("GET", "/annotations/{job}/log", LOGIN, 200, 404, 404),
    ("GET", "/annotations/{job}/download/annotated", LOGIN, 302, 404, 404),
    ("GET", "/annotations/{job}/download/log", LOGIN, 302, 404, 404),
    ("GET", "/annotations/{job}/download/summary", LOGIN, 302, 404, 404),
    ("GET", "/annotations/{job}/download/input", LOGIN, 302, 404, 404),
    ("GET", "/annotations/{job}/download/secrets", LOGIN, 404, 404, 404),
    ("GET", "/annotations/not-a-job", LOGIN, 404, 404, 404),
    ("GET", "/annotations/{job}/export/tsv", LOGIN, 200, 404, 404),
    ("GET", "/annotations/{job}/export/vcf.gz", LOGIN, 200, 404, 404),
    ("GET", "/annotations/{job}/export/xlsx", LOGIN, 404, 404, 404),
    ("GET", "/annotations/{job}/genes?q=TP", LOGIN, 200, 404, 404),
    ("POST", "/annotations/{job}/shares", LOGIN, 302, 404, 404),
    ("POST", "/annotations/{job}/shares/no-such-share/revoke", LOGIN, 404, 404, 404),
    # A share link: that job's results page and downloads for anyone holding it.
    ("GET", "/shared/{share}", 200, 200, 200, 200),
    ("GET", "/shared/{share}/download/annotated", 302, 302, 302, 302),
    ("GET", "/shared/{share}/download/input", 404, 404, 404, 404),
    ("GET", "/shared/{share}/export/tsv", 200, 200, 200, 200),
    ("GET", "/shared/{share}/genes?q=TP", 200, 200, 200, 200),
    ("GET", "/shared/not-a-share-token", 404, 404, 404, 404),
    # A made-on-request download's stream: its signed token is the authorisation (a forged or
    # expired one is a 404 for anyone); test_result_downloads follows real ones.
    ("GET", "/results/stream/not-a-token", 404, 404, 404, 404),
    ("POST", "/annotations/{job}/cancel", LOGIN, 302, 404, 404),
    ("POST", "/annotations/{job}/resubmit", LOGIN, 302, 404, 404),
    # The owner's delete would remove the cast's job: test_api_job_controls deletes.
    ("POST", "/annotations/{job}/delete", LOGIN, None, 404, 404),
    ("GET", "/subscribe", LOGIN, 200, 200, 200),
    ("POST", "/subscribe", LOGIN, None, None, None),
    ("GET", "/operator", LOGIN, 404, 404, 200),
    ("POST", "/operator/jobs/{job}/retry", LOGIN, 404, 404, 302),
    ("POST", "/operator/executions/redrive", LOGIN, 404, 404, 302),
]

CASES = [
    pytest.param(method, path, role, expected, id=f"{method} {path} as {role}")
    for method, path, *answers in MATRIX
    for role, expected in zip(ROLES, answers, strict=True)
    if expected is not None
]


# The API with a token of each role's (no token: 401). Paths name {job}; None: not checked here.
API_MATRIX: list[tuple[str, str, object, object, object, object]] = [
    ("GET", "/api/v1/openapi.json", 200, 200, 200, 200),
    ("GET", "/api/v1/me", 401, 200, 200, 200),
    ("GET", "/api/v1/usage", 401, 200, 200, 200),
    ("POST", "/api/v1/uploads", 401, 201, 201, 201),
    ("GET", "/api/v1/jobs", 401, 200, 200, 200),
    ("POST", "/api/v1/jobs", 401, 400, 400, 400),
    ("GET", "/api/v1/jobs/{job}", 401, 200, 404, 404),
    ("GET", "/api/v1/jobs/{job}/downloads/annotated", 401, 200, 404, 404),
    ("GET", "/api/v1/jobs/{job}/downloads/input", 401, 200, 404, 404),
    ("GET", "/api/v1/jobs/{job}/variants?impact=HIGH", 401, 200, 404, 404),
    ("GET", "/api/v1/jobs/{job}/genes", 401, 200, 404, 404),
    ("POST", "/api/v1/jobs/{job}/cancel", 401, 409, 404, 404),
    ("POST", "/api/v1/jobs/{job}/resubmit", 401, 409, 404, 404),
    # The owner's delete would remove the cast's job: test_api_job_controls deletes.
    ("DELETE", "/api/v1/jobs/{job}", 401, None, 404, 404),
    ("GET", "/api/v1/jobs/not-a-job", 401, 404, 404, 404),
]

API_CASES = [
    pytest.param(method, path, role, expected, id=f"{method} {path} with {role}'s token")
    for method, path, *answers in API_MATRIX
    for role, expected in zip(ROLES, answers, strict=True)
    if expected is not None
]


def test_the_matrix_covers_every_route(app: Flask) -> None:
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    covered = {row[1].split("?")[0] for row in MATRIX + API_MATRIX}
    covered = {
        p.replace("{job}", "<job_id>")
        .replace("{share}", "<token>")
        .replace("{token}", "<token_id>")
        .replace("/download/annotated", "/download/<kind>")
        .replace("/downloads/annotated", "/downloads/<kind>")
        .replace("/export/tsv", "/export/<fmt>")
        .replace("/no-such-share/", "/<share_id>/")
        .replace("/<token_id>/not-a-secret", "/<user_id>/<secret>")
        .replace("/not-a-token", "/<token>")
        for p in covered
    }
    assert routes - covered == set()


@pytest.mark.parametrize(("method", "path", "role", "expected"), API_CASES)
def test_api_authorization(api, cast: Cast, method, path, role, expected) -> None:
    """Another user's token (an operator's too) gets 404 on every job route, like a missing job."""
    from workflows import tokens

    secret = None
    if role != "anonymous":
        user = getattr(cast, role)
        secret, _ = tokens.create(settings_of(api), user, name="matrix", scope=models.READ_WRITE)
    body = {"json": {}} if (method, path) == ("POST", "/api/v1/jobs") else {}
    response = api(secret).request(method, path.format(job=cast.job.job_id), **body)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected == 404:
        assert cast.job.job_id not in response.get_data(as_text=True)
        assert Job.get(cast.job.job_id).status == models.COMPLETED  # untouched


def settings_of(api) -> object:
    return api().client.application.config["GAS_SETTINGS"]


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES)
def test_authorization(app: Flask, cast: Cast, method, path, role, expected) -> None:
    if path == "/operator" and role == "operator" and not _has("workflows.operations"):
        pytest.skip("workflows.operations (backlog, failures, retry) has not landed yet")
    client = app.test_client()
    if role != "anonymous":
        user = getattr(cast, role)
        login = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert login.status_code == 302
    url = path.format(
        job=cast.job.job_id, key=cast.job.input_key, share=cast.share, token=keys.new_id()
    )
    response = client.open(url, method=method)
    if expected == LOGIN:
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    else:
        assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected == 404:
        # Nothing about the job leaks into the answer.
        assert cast.job.job_id not in response.get_data(as_text=True)


def test_the_status_endpoint_leaks_nothing_to_others(app: Flask, cast: Cast) -> None:
    client = app.test_client()
    client.post("/login", data={"email": cast.other.email, "password": PASSWORD})
    assert client.get(f"/annotations/status?ids={cast.job.job_id}").get_json() == {"jobs": {}}


def test_operator_cannot_retry_a_job_that_has_not_failed(app: Flask, cast: Cast) -> None:
    client = app.test_client()
    client.post("/login", data={"email": cast.operator.email, "password": PASSWORD})
    response = client.post(f"/operator/jobs/{cast.job.job_id}/retry", follow_redirects=False)
    assert response.status_code == 302
    assert Job.get(cast.job.job_id).status == models.COMPLETED
