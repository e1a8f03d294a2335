"""Every download kind, through the job page, a share link and the API, byte for byte what the
annotation used to store, for a job stored once (plain VCF and TSV made on request) and for one
stored the old way (every file stored)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from annotator import annotate_file
from annotator.outputs import write_outputs
from gas import archive, aws, keys, models, result_kinds
from gas.models import Job, User
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.webapp.conftest import login
from tests.integration.webapp.test_results_browser import _records, _share

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def old_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What the annotate step used to store: every file, the plain VCF and the TSV included."""
    work = tmp_path_factory.mktemp("old-outputs")
    source = work / "sample.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "\n".join(_records())
        + "\n"
    )
    annotated = work / "annotated.vcf"
    annotate_file(
        source,
        annotated,
        work / "annotation.log",
        work / "summary.json",
        build="GRCh38",
        reference_dir=REPO / ".gas" / "reference",
    )
    names = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
    made = write_outputs(annotated, work / "std", names, row_group_rows=40)
    return {
        "annotated": annotated,
        "log": work / "annotation.log",
        "summary": work / "summary.json",
        **made.files,
    }


def _place(settings: Settings, user: User, files: dict[str, Path]) -> Job:
    key = keys.upload_key(user.user_id, keys.new_id())
    job_id = keys.job_id_for_upload(key)
    s3 = aws.client(settings, "s3")
    bucket = Resources.of(settings).results_bucket
    stored = {}
    for kind, path in files.items():
        stored[kind] = keys.result_key(user.user_id, job_id, kind)
        s3.upload_file(str(path), bucket, stored[kind])
    job = Job(
        job_id,
        user_id=user.user_id,
        status=models.COMPLETED,
        input_key=key,
        input_filename="sample.vcf",
        build="GRCh38",
        results=stored,
        completed_at=models.now(),
    )
    job.save()
    return job


def _fetch(client: FlaskClient, url: str) -> tuple[bytes, str]:
    """(bytes, file name offered) of a download link: a presigned S3 GET or a dashboard stream."""
    parts = urlsplit(url)
    if parts.path.startswith("/results/stream/"):
        response = client.get(parts.path + ("?" + parts.query if parts.query else ""))
        assert response.status_code == 200
        return response.get_data(), response.headers["Content-Disposition"]
    with urllib.request.urlopen(url) as got:  # noqa: S310 (the local cloud's presigned URL)
        return got.read(), got.headers["Content-Disposition"]


@pytest.mark.parametrize("layout", ["stored-once", "old"])
def test_every_download_is_byte_identical_to_the_old_outputs(
    app: Flask,
    settings: Settings,
    make_user: Callable[..., User],
    make_token,
    api,
    old_outputs: dict[str, Path],
    layout: str,
) -> None:
    stored_kinds = set(result_kinds.stored()) if layout == "stored-once" else set(old_outputs)
    job = _place(settings, make_user(), {k: p for k, p in old_outputs.items() if k in stored_kinds})
    user = models.User.get(job.user_id)
    if layout == "stored-once":
        assert "annotated" not in job.results.as_dict() and "tsv" not in job.results.as_dict()
    owner = app.test_client()
    login(owner, user)
    page = owner.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    token = _share(app.test_client(), user, job)
    holder = app.test_client()
    for kind, path in old_outputs.items():
        expected = path.read_bytes()
        name = "sample" + result_kinds.get(kind).download_name
        assert f"/annotations/{job.job_id}/download/{kind}" in page
        for client, route in (
            (owner, f"/annotations/{job.job_id}/download/{kind}"),
            (holder, f"/shared/{token}/download/{kind}"),
        ):
            response = client.get(route)
            assert response.status_code == 302, (kind, route)
            body, disposition = _fetch(client, response.headers["Location"])
            assert body == expected, (layout, kind, route)
            assert name in disposition
    secret = make_token(user)
    for kind in result_kinds.in_api():
        answer = api(secret).get(f"/api/v1/jobs/{job.job_id}/downloads/{kind}")
        assert answer.status_code == 200, answer.get_json()
        body, _ = _fetch(app.test_client(), answer.get_json()["url"])
        assert body == old_outputs[kind].read_bytes()
    listed = api(secret).get(f"/api/v1/jobs/{job.job_id}").get_json()["results"]
    assert listed == sorted(result_kinds.in_api())
    # Archive and thaw move what the job stores, nothing made on request.
    moved = archive.archived_kinds(job.results.as_dict())
    if layout == "stored-once":
        assert moved == ["annotated_gz", "parquet"]
    else:
        assert moved == ["annotated_gz", "tsv", "annotated", "parquet"]


def test_a_stream_link_is_signed_and_expires(app: Flask, settings: Settings) -> None:
    client = app.test_client()
    assert client.get("/results/stream/forged").status_code == 404
