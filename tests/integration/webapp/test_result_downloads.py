"""Every download kind, through the job page, a share link and the API, byte for byte what the
annotation used to store, for a job stored once (plain VCF and TSV made on request) and for one
stored the old way (every file stored)."""

from __future__ import annotations

import hashlib
import os
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from flask import Flask
from flask.testing import FlaskClient

import activities
from activities import archive as archive_step
from activities.base import TaskContext
from activities.runtime import ActivityWorker
from annotator import annotate_file
from annotator.outputs import write_outputs
from gas import archive, aws, keys, models, result_kinds
from gas.models import Job, User
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.test_thaw import _QueueWorkers, drain_events, wait_for_execution
from tests.integration.webapp.conftest import login
from tests.integration.webapp.test_results_browser import _records, _share
from workflows import thaw

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


class _Rss:
    """The process's resident memory, sampled in a thread: the peak above where it started."""

    def __init__(self) -> None:
        self.start = self.peak = self._now()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _now() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self.stop.wait(0.01):
            self.peak = max(self.peak, self._now())

    def __enter__(self) -> _Rss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def grew(self) -> int:
        return self.peak - self.start


def _streamed(client: FlaskClient, route: str) -> tuple[int, str]:
    """(bytes, sha256) of a made-on-request download, read a piece at a time as a browser would."""
    response = client.get(route)
    assert response.status_code == 302
    parts = urlsplit(response.headers["Location"])
    assert parts.path.startswith("/results/stream/")
    streamed = client.get(parts.path, buffered=False)
    assert streamed.status_code == 200 and streamed.is_streamed
    total, digest = 0, hashlib.sha256()
    for piece in streamed.response:
        total += len(piece)
        digest.update(piece)
    streamed.close()
    return total, digest.hexdigest()


def test_a_large_result_streams_with_flat_memory(
    app: Flask, settings: Settings, make_user: Callable[..., User], tmp_path: Path
) -> None:
    """400 MB of plain VCF and 400 MB of TSV, made on request: the web process grows by a few
    blocks, never by the result."""
    from annotator import outputs

    header = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    line = b"chr1\t12345\t.\tA\tG\t.\t.\tGAS_GENE=ABC;GAS_REGION=intron;" + b"X" * 180 + b"\n"
    block, repeats = line * 4096, 400  # 1 MiB-ish blocks
    expected = hashlib.sha256(header)
    gz = tmp_path / "annotated.vcf.gz"
    with outputs._Bgzf(gz, 2) as out:
        out.write(header)
        for _ in range(repeats):
            out.write(block)
            expected.update(block)
    n = 32_768
    rows = pa.table(
        [
            pa.array([0] * n, pa.int32())
            if name == "chrom_index"
            else pa.array(range(1000, 1000 + n), pa.int64())
            if outputs.SCHEMA.field(name).type == pa.int64()
            else pa.array([f"value-of-{name}"] * n, pa.string())
            for name in outputs.SCHEMA.names
        ],
        schema=outputs.SCHEMA,
    )
    parquet, groups = tmp_path / "variants.parquet", 40
    tsv = hashlib.sha256(outputs.tsv_header())
    piece = bytes(outputs.tsv_text(rows))
    with pq.ParquetWriter(parquet, outputs.SCHEMA, compression="zstd") as writer:
        for _ in range(groups):
            writer.write_table(rows, row_group_size=len(rows))
            tsv.update(piece)
    user = make_user()
    job = _place(settings, user, {"annotated_gz": gz, "parquet": parquet})
    client = app.test_client()
    login(client, user)
    _streamed(client, f"/annotations/{job.job_id}/download/annotated")  # warm: imports, pools
    with _Rss() as rss:
        total, digest = _streamed(client, f"/annotations/{job.job_id}/download/annotated")
    assert (total, digest) == (len(header) + repeats * len(block), expected.hexdigest())
    assert rss.grew < 64 << 20, f"grew {rss.grew >> 20} MiB streaming {total >> 20} MiB"
    _streamed(client, f"/annotations/{job.job_id}/download/tsv")
    with _Rss() as rss:
        total, digest = _streamed(client, f"/annotations/{job.job_id}/download/tsv")
    assert digest == tsv.hexdigest() and total > 250 << 20
    assert rss.grew < 96 << 20, f"grew {rss.grew >> 20} MiB streaming {total >> 20} MiB"


def test_an_old_layout_job_downloads_archives_and_thaws_byte_for_byte(
    app: Flask, settings: Settings, make_user: Callable[..., User], old_outputs: dict[str, Path]
) -> None:
    """A job stored the old way (every file) through its whole life after this change: every
    download as before, the archive step moves all four big files it stores to the Glacier class,
    the page refuses downloads meanwhile, and after an upgrade's thaw (the real workflow, its
    workers, LocalStack's restore events) every download is the old bytes again."""
    user = make_user()
    job = _place(settings, user, old_outputs)
    client = app.test_client()
    login(client, user)

    def every_download_is_the_old_bytes() -> None:
        for kind, path in old_outputs.items():
            response = client.get(f"/annotations/{job.job_id}/download/{kind}")
            assert response.status_code == 302, kind
            body, _ = _fetch(client, response.headers["Location"])
            assert body == path.read_bytes(), kind

    every_download_is_the_old_bytes()

    context = TaskContext(settings=settings, owner=keys.new_id(), activity="archive")
    task = {"job_id": job.job_id, "user_id": user.user_id, "late_thaw": f"thaw-{job.job_id}"}
    report = archive_step.run(context, task)
    assert report["archived"] and report["objects"] == 4, report
    job.refresh()
    assert job.status == models.ARCHIVED
    bucket, s3 = Resources.of(settings).results_bucket, aws.client(settings, "s3")
    results = job.results.as_dict()
    for kind in ("annotated", "annotated_gz", "tsv", "parquet"):
        assert s3.head_object(Bucket=bucket, Key=results[kind])["StorageClass"] == "GLACIER"
    refused = client.get(f"/annotations/{job.job_id}/download/annotated")
    assert refused.status_code == 302 and "/download/" not in refused.headers["Location"]

    drain_events(settings)
    activity_workers = [
        ActivityWorker(settings, activities.load(kind), concurrency=2)
        for kind in ("restore", "notify")
    ]
    for worker in activity_workers:
        threading.Thread(target=worker.run, daemon=True).start()
    try:
        with _QueueWorkers(settings):
            arn = thaw.upgrade(settings, models.User.get(user.user_id))
            assert arn is not None
            assert wait_for_execution(settings, arn, timeout=120)["status"] == "SUCCEEDED"
    finally:
        # The activity workers' last long poll ends in the background (see test_thaw's workers).
        for worker in activity_workers:
            worker.stopping.set()
    job.refresh()
    assert job.status == models.COMPLETED and job.restored_at is not None
    every_download_is_the_old_bytes()
