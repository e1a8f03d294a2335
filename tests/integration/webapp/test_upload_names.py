"""A researcher's file name, in any script, from the upload to the job, its e-mail and its
downloads, with and without JavaScript; and the presigned POST's policy as the local cloud's S3
enforces it (one key, one content type).
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from gas import aws, keys, models
from gas.models import Job
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.mailbox import wait_for_mail
from tests.integration.processes import wait_for

pytestmark = pytest.mark.integration

UNICODE_NAME = "ünï名 (1).vcf"


@pytest.fixture(scope="module")
def worker_kinds() -> tuple[str, ...]:
    return ("annotate", "notify")


def _upload_form(client: FlaskClient) -> tuple[str, dict[str, str]]:
    """The upload page's form as a browser without JavaScript posts it: action and fields."""
    page = client.get("/annotate").get_data(as_text=True)
    action = unescape(re.search(r'<form id="upload-form"[^>]*action="([^"]+)"', page, re.S)[1])
    fields = {
        unescape(m[1]): unescape(m[2])
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    }
    return action, fields


def _without_javascript(client: FlaskClient, name: str, data: bytes) -> str:
    """Post ``name`` through the page's form to S3 and follow S3 back; returns the job's id."""
    action, fields = _upload_form(client)
    s3 = requests.post(
        action, data=fields, files={"file": (name, data)}, allow_redirects=False, timeout=30
    )
    assert s3.status_code == 303, s3.text[:300]
    back = urlsplit(s3.headers["Location"])
    submitted = client.get(f"{back.path}?{back.query}")
    assert submitted.status_code == 302, submitted.get_data(as_text=True)[:300]
    job_id = submitted.headers["Location"].rsplit("/", 1)[-1]
    assert keys.is_id(job_id), submitted.headers["Location"]
    # The file was moved from its own name to the upload's key: no key keeps the name.
    landed_key = parse_qs(back.query)["key"][0]
    assert landed_key.endswith("/" + name)
    listed = aws.client(client.application.config["GAS_SETTINGS"], "s3").list_objects_v2(
        Bucket=client.application.config["GAS_SETTINGS"].prefix + "-inputs",
        Prefix=landed_key.rsplit("/", 1)[0] + "/",
    )
    assert [o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", [])] == ["input.vcf"]
    return job_id


def _finished(job_id: str) -> Job:
    def done() -> Job | None:
        job = Job.get(job_id)
        return job if job.status in (models.COMPLETED, models.FAILED) else None

    job = wait_for(done, 120, interval=1, what=f"job {job_id} to finish")
    assert job.status == models.COMPLETED, job.failure_reason
    return job


def test_a_file_uploaded_without_javascript_keeps_its_name_in_the_job_and_its_email(
    settings: Settings, client: FlaskClient, make_user, login_as, workers, vcf: bytes
) -> None:
    user = make_user()
    login_as(user)
    job_id = _without_javascript(client, "test.vcf", vcf)
    assert Job.get(job_id).input_filename == "test.vcf"
    job = _finished(job_id)
    assert job.input_filename == "test.vcf"
    ready = wait_for_mail(settings, user.email, "is ready")
    assert ready[0].subject == "GAS: your annotation of test.vcf is ready"
    page = client.get(f"/annotations/{job_id}").get_data(as_text=True)
    assert "test.vcf" in page and "input.vcf" not in page


def test_any_unicode_name_is_kept_with_and_without_javascript(
    settings: Settings, client: FlaskClient, make_user, login_as, workers, vcf: bytes
) -> None:
    user = make_user()
    login_as(user)
    without = _without_javascript(client, UNICODE_NAME, vcf)
    # With JavaScript: the page asks for a POST per file and names the file to the dashboard.
    post = client.post("/annotate/uploads", json={"filename": "変異 データ.vcf"}).get_json()
    sent = requests.post(
        post["url"], data=post["fields"], files={"file": ("x.vcf", vcf)}, timeout=30
    )
    assert sent.status_code == 201, sent.text[:300]
    started = client.post(
        "/annotate/jobs", json={"key": post["key"], "filename": "変異 データ.vcf"}
    )
    assert started.status_code == 201, started.get_data(as_text=True)
    with_js = started.get_json()["job_id"]

    for job_id, name, stem in (
        (without, UNICODE_NAME, "ünï名 (1)"),
        (with_js, "変異 データ.vcf", "変異 データ"),
    ):
        job = _finished(job_id)
        assert job.input_filename == name
        assert wait_for_mail(settings, user.email, name)[0].subject == (
            f"GAS: your annotation of {name} is ready"
        )
        assert name in client.get(f"/annotations/{job_id}").get_data(as_text=True)
        # Downloads offer the name as RFC 6266 says: an ASCII filename and the exact filename*.
        for kind, offered in (("annotated", f"{stem}.annotated.vcf"), ("input", name)):
            link = client.get(f"/annotations/{job_id}/download/{kind}").headers["Location"]
            parts = urlsplit(link)
            if parts.path.startswith("/results/stream/"):
                # Made on request (the plain VCF): the dashboard streams it itself.
                streamed = client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
                status, headers = streamed.status_code, streamed.headers
            else:  # stored: a presigned S3 URL
                got = requests.get(link, timeout=30)
                status, headers = got.status_code, got.headers
            assert status == 200
            disposition = headers["Content-Disposition"]
            assert disposition.startswith('attachment; filename="')
            assert disposition.endswith(f"filename*=UTF-8''{quote(offered, safe='')}")
            assert disposition.isascii()
        export = client.get(f"/annotations/{job_id}/export/tsv")
        assert export.status_code == 200
        assert export.headers["Content-Disposition"].endswith(
            f"filename*=UTF-8''{quote(stem + '.filtered.tsv', safe='')}"
        )


# -- the policy, as S3 enforces it -------------------------------------------------------------


def _bucket(settings: Settings) -> str:
    return Resources.of(settings).inputs_bucket


def test_the_policy_allows_one_key_and_one_content_type(
    settings: Settings, api, make_user, make_token, vcf: bytes
) -> None:
    client = api(make_token(make_user()))
    upload = client.post("/api/v1/uploads", json={"filename": "calls.vcf"}).get_json()
    folder = upload["key"].rsplit("/", 1)[0] + "/"

    def post(**changed: str) -> requests.Response:
        fields = {**upload["fields"], **changed}
        return requests.post(upload["url"], data=fields, files={"file": ("f", vcf)}, timeout=30)

    # Another name in the upload's own folder, stored as a page a browser would render.
    html = post(key=folder + "inputEXTRA.html", **{"Content-Type": "text/html"})
    assert html.status_code == 403 and "Policy Condition failed" in html.text
    assert post(key=folder + "inputEXTRA.html").status_code == 403
    assert post(key=folder + "input.vcf.gz").status_code == 403
    assert post(**{"Content-Type": "text/html"}).status_code == 403
    s3 = aws.client(settings, "s3")
    assert s3.list_objects_v2(Bucket=_bucket(settings), Prefix=folder).get("KeyCount", 0) == 0
    assert post().status_code == 201
    stored = s3.head_object(Bucket=_bucket(settings), Key=upload["key"])
    assert stored["ContentType"] == "application/octet-stream"


def test_the_form_without_javascript_allows_its_folder_and_one_content_type(
    settings: Settings, client: FlaskClient, make_user, login_as, vcf: bytes
) -> None:
    login_as(make_user())
    action, fields = _upload_form(client)
    folder = fields["key"].removesuffix("${filename}")

    def post(name: str = "calls.vcf", **changed: str) -> requests.Response:
        return requests.post(
            action,
            data={**fields, **changed},
            files={"file": (name, vcf)},
            allow_redirects=False,
            timeout=30,
        )

    assert post(**{"Content-Type": "text/html"}).status_code == 403
    other_folder = keys.upload_folder(keys.new_id(), keys.new_id())
    assert post(key=other_folder + "${filename}").status_code == 403
    assert post(key="uploads/${filename}").status_code == 403
    s3 = aws.client(settings, "s3")
    assert s3.list_objects_v2(Bucket=_bucket(settings), Prefix=folder).get("KeyCount", 0) == 0
    assert post().status_code == 303
