"""One rule for every download of a result, shared by the job page, share links and the API.

A kind the job has stored is a short-lived presigned GET. A kind made on request (the plain VCF
from the bgzipped one, the TSV from the Parquet table; ``gas.result_kinds``' ``made_from``) is
streamed by the dashboard from the stored object, a block at a time, so the web process's memory
stays flat whatever the result's size and the bytes are those the annotation used to store. A link
to such a stream is signed and expires like a presigned URL, so whoever the page, the share link
or the API hands it to needs nothing else.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow.parquet as pq
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from annotator import tsv
from gas import aws, models, result_kinds
from gas.resources import Resources
from gas.settings import Settings
from workflows import jobs, results

READ_BYTES = 1 << 20  # compressed bytes read from S3 at a time
_SALT = "result-stream"


class NotOffered(LookupError):
    """The job neither stores this kind nor the kind it is made from."""


@dataclass(frozen=True)
class Plan:
    """How one download is served: a stored object (``key``) or made from ``source_key``."""

    kind: result_kinds.ResultKind
    filename: str
    key: str | None
    source_key: str | None

    @property
    def stored(self) -> bool:
        return self.key is not None


def plan(job: models.Job, kind: str) -> Plan:
    """The rule: what the job stores is served as stored (old jobs keep their plain VCF and TSV);
    otherwise a made-on-request kind is made from its stored source."""
    have = job.results.as_dict() if job.results else {}
    try:
        declared = result_kinds.get(kind)
    except KeyError as exc:
        raise NotOffered(kind) from exc
    name = jobs.download_filename(job, kind)
    if kind in have:
        return Plan(declared, name, have[kind], None)
    if declared.made_from and declared.made_from in have:
        return Plan(declared, name, None, have[declared.made_from])
    raise NotOffered(kind)


def offered(job: models.Job) -> tuple[str, ...]:
    """The kinds a job's downloads offer, in the page's order."""
    return result_kinds.available(job.results.as_dict() if job.results else {})


def stream_token(secret: str, job_id: str, kind: str) -> str:
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps([job_id, kind])


def read_stream_token(secret: str, token: str, max_age: int) -> tuple[str, str]:
    """(job_id, kind) of a stream link; NotOffered when forged or expired."""
    try:
        job_id, kind = URLSafeTimedSerializer(secret, salt=_SALT).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired, ValueError, TypeError) as exc:
        raise NotOffered("link") from exc
    return str(job_id), str(kind)


def stream(settings: Settings, chosen: Plan) -> Iterator[bytes]:
    """The bytes of a made-on-request download, a block at a time."""
    if chosen.source_key is None:
        raise NotOffered(chosen.kind.name)
    if chosen.kind.made_from == "annotated_gz":
        return _gunzip(settings, chosen.source_key)
    if chosen.kind.made_from == "parquet":
        return _tsv(settings, chosen.source_key)
    raise NotOffered(chosen.kind.name)


def _gunzip(settings: Settings, key: str) -> Iterator[bytes]:
    """The stored .vcf.gz decompressed: BGZF is a series of gzip members, each one inflated."""
    bucket = Resources.of(settings).results_bucket
    body = aws.client(settings, "s3").get_object(Bucket=bucket, Key=key)["Body"]
    try:
        inflate = zlib.decompressobj(31)
        for data in body.iter_chunks(READ_BYTES):
            while data:
                out = inflate.decompress(data)
                if out:
                    yield out
                if not inflate.eof:
                    break
                data = inflate.unused_data
                inflate = zlib.decompressobj(31)
    finally:
        body.close()


def _tsv(settings: Settings, key: str) -> Iterator[bytes]:
    """The TSV the annotation used to store, row group by row group from the Parquet table."""
    path = f"{Resources.of(settings).results_bucket}/{key}"
    with results._filesystem(settings).open_input_file(path) as handle:
        table = pq.ParquetFile(handle)
        names = tsv.tsv_names(table.schema_arrow)  # with the job's source columns, if any
        yield tsv.tsv_header(names)
        for group in range(table.num_row_groups):
            rows = table.read_row_group(group, columns=list(names))
            if rows.num_rows:
                yield bytes(tsv.tsv_text(rows, names))
