"""Uploads to the inputs bucket: the browser's presigned POST, the CLI's put, checking what arrived.

The POST policy is what enforces the tier's size limit, the key (built from ids only) and the
content type; S3 then redirects the browser back to the dashboard's submit route with the key it
stored. Ownership is checked once, by :func:`own_upload`; an :class:`Upload` is the proof of it.

The researcher's file name is never S3 metadata (S3 hands non-ASCII metadata back RFC 2047
encoded): the client gives it when it asks for the POST and when it starts the job, and it is
kept on the job's record. Only the upload form without JavaScript, which cannot know the file
before it is posted, lets S3 put the file's name into the key (``${filename}``): :func:`land`
reads it from there and moves the file to its place.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from gas import aws, filenames, keys
from gas.models import PREMIUM, User
from gas.resources import Resources
from gas.settings import Settings

# Names a researcher's file may have; anything else is refused before and after the upload.
ALLOWED_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz")
COMPRESSED_SUFFIXES = (".gz", ".bgz")
# The one content type an input is stored with: never one a browser would render.
INPUT_CONTENT_TYPE = "application/octet-stream"
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
class Landed:
    """Where the upload form without JavaScript had S3 put a file: the upload's folder and the
    file's own name. Only :func:`own_landing` makes one."""

    key: str
    user_id: str
    upload_id: str
    filename: str


def own_landing(user: User, key: str) -> Landed:
    """The user's file at ``key`` in one of their upload folders; NotYourUpload otherwise."""
    try:
        owner, upload_id, name = keys.parse_landing_key(key)
    except keys.InvalidKey:
        raise NotYourUpload("That upload is not one of yours.") from None
    if owner != user.user_id:
        raise NotYourUpload("That upload is not one of yours.")
    return Landed(key=key, user_id=owner, upload_id=upload_id, filename=filenames.clean(name))


@dataclass(frozen=True)
class PresignedUpload:
    """What a client needs: where to post, every form field to send as given (the key and the
    content type among them; the file goes last), the key the file is stored under, and the
    limit to show."""

    url: str
    fields: dict[str, str]
    key: str
    upload_id: str
    max_bytes: int


def inputs_bucket(settings: Settings) -> str:
    return Resources.of(settings).inputs_bucket


def size_limit(settings: Settings, user: User) -> int:
    """The largest upload the user's tier allows, in bytes."""
    if user.tier == PREMIUM:
        return settings.premium_upload_limit_bytes
    return settings.free_upload_limit_bytes


def is_compressed_name(filename: str) -> bool:
    return filename.strip().lower().endswith(COMPRESSED_SUFFIXES)


def presigned_post(
    settings: Settings,
    user: User,
    filename: str,
    redirect_url: str | None = None,
    compressed: bool | None = None,
) -> PresignedUpload:
    """A presigned POST for one new upload of ``filename``: its policy allows exactly one key
    (``input.vcf``, or ``input.vcf.gz`` when ``compressed``, by default as the name says), one
    content type and the tier's size. Without ``redirect_url`` S3 answers with 201."""
    upload_id = keys.new_id()
    if compressed is None:
        compressed = is_compressed_name(filename)
    key = keys.upload_key(user.user_id, upload_id, compressed=compressed)
    return _post(settings, user, key, upload_id, redirect_url)


def presigned_form(settings: Settings, user: User, redirect_url: str) -> PresignedUpload:
    """The POST of the upload form without JavaScript: the key is the upload's folder plus the
    file's own name (S3 fills in ``${filename}``; the policy fixes the folder, the content type
    and the size). S3 sends the browser to ``redirect_url`` with the key; :func:`land` follows."""
    upload_id = keys.new_id()
    folder = keys.upload_folder(user.user_id, upload_id)
    # boto3 signs a starts-with condition on the folder for a key ending in ${filename}.
    return _post(settings, user, folder + "${filename}", upload_id, redirect_url)


def _post(
    settings: Settings, user: User, key: str, upload_id: str, redirect_url: str | None
) -> PresignedUpload:
    limit = size_limit(settings, user)
    success = (
        {"success_action_redirect": redirect_url}
        if redirect_url
        else {"success_action_status": "201"}
    )
    fields = {**success, "Content-Type": INPUT_CONTENT_TYPE}
    # Every field but the key needs its own condition (boto3 adds the key's).
    conditions: list[Any] = [
        ["content-length-range", 1, limit],
        success,
        {"Content-Type": INPUT_CONTENT_TYPE},
    ]
    post = aws.client(settings, "s3").generate_presigned_post(
        Bucket=inputs_bucket(settings),
        Key=key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=settings.presigned_url_seconds,
    )
    return PresignedUpload(
        url=post["url"],
        fields=dict(post["fields"]),
        key=key,
        upload_id=upload_id,
        max_bytes=limit,
    )


def filename_problem(filename: str | None) -> str | None:
    """Why a file name is refused, or None when it names a VCF."""
    name = (filename or "").strip().lower()
    if not name:
        return "Choose a VCF file to upload."
    if not name.endswith(ALLOWED_SUFFIXES):
        return (
            f"{filenames.clean(filename)} is not a VCF file: the name must end in "
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


def check_upload(settings: Settings, user: User, upload: Upload, filename: str | None) -> str:
    """Check that the upload arrived, fits the user's plan and holds a VCF; return the name to
    keep (``filename`` as the researcher gave it, made safe; the key's own name when none).

    Raises UploadProblem with a readable message otherwise.
    """
    key = upload.key
    filename = filenames.clean(filename or key.rsplit("/", 1)[-1])
    problem = filename_problem(filename)
    if problem:
        raise UploadProblem(problem)
    s3 = aws.client(settings, "s3")
    try:
        head = s3.head_object(Bucket=inputs_bucket(settings), Key=key)
    except ClientError:
        raise UploadProblem("The upload did not arrive; please upload the file again.") from None
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
    aws.client(settings, "s3").upload_file(
        str(path), inputs_bucket(settings), key, ExtraArgs={"ContentType": INPUT_CONTENT_TYPE}
    )
    return own_upload(user, key)


def land(settings: Settings, landed: Landed) -> Upload:
    """Move a file the form without JavaScript posted (at its own name in the upload's folder) to
    the upload's key; raises UploadProblem (and removes the file) for a name that is no VCF's."""
    problem = filename_problem(landed.filename)
    if problem:
        discard(settings, landed.key)
        raise UploadProblem(problem)
    compressed = is_compressed_name(landed.filename)
    key = keys.upload_key(landed.user_id, landed.upload_id, compressed=compressed)
    if key != landed.key:
        s3, bucket = aws.client(settings, "s3"), inputs_bucket(settings)
        try:
            s3.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource={"Bucket": bucket, "Key": landed.key},
                ContentType=INPUT_CONTENT_TYPE,
                MetadataDirective="REPLACE",
            )
        except ClientError as exc:
            if aws.is_not_found(exc):
                raise UploadProblem(
                    "The upload did not arrive; please upload the file again."
                ) from None
            raise
        s3.delete_object(Bucket=bucket, Key=landed.key)
    return Upload(key=key, user_id=landed.user_id, upload_id=landed.upload_id)


def discard(settings: Settings, key: str) -> None:
    """Remove an upload that will not become a job."""
    aws.client(settings, "s3").delete_object(Bucket=inputs_bucket(settings), Key=key)


def input_url(settings: Settings, input_key: str, filename: str | None = None) -> str:
    """A presigned GET for a job's input file, expiring per the settings; offered as a download
    under ``filename`` when given."""
    params = {"Bucket": inputs_bucket(settings), "Key": input_key}
    if filename:
        params["ResponseContentDisposition"] = filenames.content_disposition(filename)
    return aws.client(settings, "s3").generate_presigned_url(
        "get_object", Params=params, ExpiresIn=settings.presigned_url_seconds
    )


__all__ = [
    "ALLOWED_SUFFIXES",
    "INPUT_CONTENT_TYPE",
    "Landed",
    "NotYourUpload",
    "PresignedUpload",
    "Upload",
    "UploadProblem",
    "check_upload",
    "discard",
    "filename_problem",
    "input_url",
    "is_compressed_name",
    "land",
    "own_landing",
    "own_upload",
    "presigned_form",
    "presigned_post",
    "put_file",
    "size_limit",
]
