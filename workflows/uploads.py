"""Uploads to the inputs bucket: the browser's presigned POST, the CLI's put, checking what arrived.

The POST policy is what enforces the tier's size limit and the key (built from ids only); S3 then
redirects the browser back to the dashboard's submit route with the key it stored. Ownership is
checked once, by :func:`own_upload`; an :class:`Upload` is the proof of it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from gas import aws, keys
from gas.models import PREMIUM, User
from gas.resources import Resources
from gas.settings import Settings

# Names a researcher's file may have; anything else is refused before and after the upload.
ALLOWED_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz")
FILENAME_FIELD = "x-amz-meta-filename"
MAX_FILENAME = 200
SNIFF_BYTES = 64 * 1024


class UploadProblem(ValueError):
    """The upload cannot become a job; the message says why, in words a researcher reads."""


class NotYourUpload(UploadProblem):
    """The key is not an upload key of this user's (or not an upload key at all)."""


@dataclass(frozen=True)
class Upload:
    """An upload key known to be the user's: only :func:`own_upload` makes one."""

    key: str
    user_id: str
    upload_id: str


def own_upload(user: User, key: str) -> Upload:
    """The user's upload at ``key``; raises NotYourUpload for any other key."""
    try:
        owner, upload_id = keys.parse_upload_key(key)
    except keys.InvalidKey:
        raise NotYourUpload("That upload is not one of yours.") from None
    if owner != user.user_id:
        raise NotYourUpload("That upload is not one of yours.")
    return Upload(key=key, user_id=owner, upload_id=upload_id)


@dataclass(frozen=True)
class PresignedUpload:
    """What the upload form needs: where to post, the signed fields, and the limits to show."""

    url: str
    fields: dict[str, str]
    key_prefix: str  # the form's key is this plus ".vcf" or ".vcf.gz"
    upload_id: str
    max_bytes: int


def inputs_bucket(settings: Settings) -> str:
    return Resources.of(settings).inputs_bucket


def size_limit(settings: Settings, user: User) -> int:
    """The largest upload the user's tier allows, in bytes."""
    if user.tier == PREMIUM:
        return settings.premium_upload_limit_bytes
    return settings.free_upload_limit_bytes


def presigned_post(
    settings: Settings, user: User, redirect_url: str | None = None
) -> PresignedUpload:
    """A presigned POST for one new upload of ``user``'s, expiring per the settings.

    Without ``redirect_url`` (the API's clients), S3 answers the POST with 201 instead of a
    redirect to the dashboard.
    """
    upload_id = keys.new_id()
    key = keys.upload_key(user.user_id, upload_id)
    # The key's stem comes from ids; only the ".gz" suffix is the browser's to choose, and the
    # submit route accepts nothing but the two upload-key forms. Ending the key in ${filename} is
    # how boto3 is told to sign a starts-with condition on the key instead of an exact one.
    stem = key.removesuffix(".vcf")
    limit = size_limit(settings, user)
    success = (
        {"success_action_redirect": redirect_url}
        if redirect_url
        else {"success_action_status": "201"}
    )
    conditions: list[Any] = [
        ["content-length-range", 1, limit],
        success,
        ["starts-with", f"${FILENAME_FIELD}", ""],
    ]
    post = aws.client(settings, "s3").generate_presigned_post(
        Bucket=inputs_bucket(settings),
        Key=stem + "${filename}",
        Fields=dict(success),
        Conditions=conditions,
        ExpiresIn=settings.presigned_url_seconds,
    )
    fields = dict(post["fields"], key=key)
    return PresignedUpload(
        url=post["url"],
        fields=fields,
        key_prefix=stem,
        upload_id=upload_id,
        max_bytes=limit,
    )


def filename_problem(filename: str) -> str | None:
    """Why a file name is refused, or None when it names a VCF."""
    name = (filename or "").strip().lower()
    if not name:
        return "Choose a VCF file to upload."
    if not name.endswith(ALLOWED_SUFFIXES):
        return (
            f"{filename!r} is not a VCF file: the name must end in "
            + ", ".join(ALLOWED_SUFFIXES)
            + "."
        )
    return None


def _looks_like_vcf(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"##fileformat=VCF")


def _decompressed_head(head: bytes) -> bytes:
    # A partial gzip stream: decompress what there is, ignoring the missing end.
    try:
        return zlib.decompressobj(wbits=31).decompress(head, 4096)
    except zlib.error:
        return b""


def check_upload(settings: Settings, user: User, upload: Upload) -> str:
    """Check that the upload arrived, fits the user's plan and holds a VCF; return its file name.

    Raises UploadProblem with a readable message otherwise.
    """
    key = upload.key
    s3 = aws.client(settings, "s3")
    try:
        head = s3.head_object(Bucket=inputs_bucket(settings), Key=key)
    except ClientError:
        raise UploadProblem("The upload did not arrive; please upload the file again.") from None
    filename = (head.get("Metadata", {}).get("filename") or "input.vcf")[:MAX_FILENAME]
    problem = filename_problem(filename)
    if problem:
        raise UploadProblem(problem)
    if head["ContentLength"] > size_limit(settings, user):
        raise UploadProblem("The file is larger than your plan allows.")
    body = s3.get_object(
        Bucket=inputs_bucket(settings), Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}"
    )["Body"].read()
    compressed = body[:2] == b"\x1f\x8b"
    if compressed != key.endswith(".gz"):
        raise UploadProblem(
            "The file's name and content disagree: compressed VCFs must end in .vcf.gz "
            "and plain VCFs in .vcf."
        )
    text = _decompressed_head(body) if compressed else body
    if not _looks_like_vcf(text):
        raise UploadProblem(
            f"{filename} is not a VCF file: it does not start with a ##fileformat=VCF line."
        )
    return filename


def put_file(settings: Settings, user: User, path: Path) -> Upload:
    """Put a local VCF into the inputs bucket as a new upload of the user's (``gas submit``)."""
    with path.open("rb") as vcf:
        compressed = vcf.read(2) == b"\x1f\x8b"
    key = keys.upload_key(user.user_id, keys.new_id(), compressed=compressed)
    aws.client(settings, "s3").upload_file(str(path), inputs_bucket(settings), key)
    return own_upload(user, key)


def discard(settings: Settings, key: str) -> None:
    """Remove an upload that will not become a job."""
    aws.client(settings, "s3").delete_object(Bucket=inputs_bucket(settings), Key=key)


def input_url(settings: Settings, input_key: str) -> str:
    """A presigned GET for a job's input file, expiring per the settings."""
    return aws.client(settings, "s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": inputs_bucket(settings), "Key": input_key},
        ExpiresIn=settings.presigned_url_seconds,
    )


__all__ = [
    "ALLOWED_SUFFIXES",
    "NotYourUpload",
    "PresignedUpload",
    "Upload",
    "UploadProblem",
    "check_upload",
    "discard",
    "filename_problem",
    "input_url",
    "own_upload",
    "presigned_post",
    "put_file",
    "size_limit",
]
