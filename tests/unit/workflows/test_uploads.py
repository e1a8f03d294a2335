"""Uploads without a cloud: whose key is whose, names, tiers' limits and the signed POST.

Checking what arrived (HEAD and a ranged GET) is S3's part: tests/integration/webapp covers it.
"""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import urlsplit

import pytest

from gas import keys, models
from gas.settings import Settings
from workflows import uploads


def _user(tier: str = models.FREE) -> models.User:
    return models.User(keys.new_id(), email="u@example.org", tier=tier)


def test_own_upload_accepts_only_the_users_upload_keys() -> None:
    user, other = _user(), _user()
    upload_id = keys.new_id()
    upload = uploads.own_upload(user, keys.upload_key(user.user_id, upload_id, compressed=True))
    assert (upload.user_id, upload.upload_id) == (user.user_id, upload_id)
    for key in (
        keys.upload_key(other.user_id, upload_id),
        f"uploads/{user.user_id}/{upload_id}/../../etc/passwd",
        f"results/{user.user_id}/{upload_id}/input.vcf",
        "",
    ):
        with pytest.raises(uploads.NotYourUpload):
            uploads.own_upload(user, key)


@pytest.mark.parametrize("name", ["a.vcf", "A.VCF", "calls.vcf.gz", "calls.vcf.bgz", " x.vcf "])
def test_vcf_names_are_accepted(name: str) -> None:
    assert uploads.filename_problem(name) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [("", "Choose a VCF file"), ("notes.txt", "is not a VCF file"), ("x.vcf.zip", "must end in")],
)
def test_other_names_are_refused_in_words(name: str, words: str) -> None:
    assert words in (uploads.filename_problem(name) or "")


def test_the_limit_follows_the_tier() -> None:
    settings = Settings(free_upload_limit_bytes=10, premium_upload_limit_bytes=99)
    assert uploads.size_limit(settings, _user(models.FREE)) == 10
    assert uploads.size_limit(settings, _user(models.PREMIUM)) == 99


def test_the_head_of_a_gzip_stream_is_read_even_when_cut_short() -> None:
    body = gzip.compress(b"##fileformat=VCFv4.2\n" + b"1\t1\t.\tA\tG\t.\t.\t.\n" * 5000)
    head = uploads._decompressed_head(body[:200])
    assert uploads._looks_like_vcf(head)
    assert uploads._decompressed_head(b"not gzip at all") == b""
    assert uploads._looks_like_vcf(b"\xef\xbb\xbf##fileformat=VCFv4.3\n")  # a BOM is tolerated
    assert not uploads._looks_like_vcf(b"#CHROM\tPOS\n")


def _policy(post: uploads.PresignedUpload) -> list:
    return json.loads(base64.b64decode(post.fields["policy"]))["conditions"]


def test_the_presigned_post_signs_the_tiers_limit_one_key_and_one_content_type() -> None:
    # Signing is local: boto3 computes the policy without a call to S3.
    settings = Settings(prefix="lab", free_upload_limit_bytes=1234)
    user = _user()
    post = uploads.presigned_post(
        settings, user, "ünï名.vcf", redirect_url="http://dash/annotate/submit"
    )
    assert post.max_bytes == 1234
    assert post.key == post.fields["key"] == keys.upload_key(user.user_id, post.upload_id)
    assert uploads.own_upload(user, post.key).upload_id == post.upload_id
    assert urlsplit(post.url).path.rstrip("/").endswith("lab-inputs")
    assert post.fields["success_action_redirect"] == "http://dash/annotate/submit"
    assert post.fields["Content-Type"] == uploads.INPUT_CONTENT_TYPE
    conditions = _policy(post)
    assert {"key": post.key} in conditions  # exactly this key: no other name, no other folder
    assert {"Content-Type": "application/octet-stream"} in conditions
    assert ["content-length-range", 1, 1234] in conditions
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]
    # The name is nowhere in what goes to S3.
    assert "ünï" not in json.dumps(post.fields)
    gz = uploads.presigned_post(settings, user, "calls.VCF.BGZ")
    assert gz.key.endswith("/input.vcf.gz") and gz.fields["success_action_status"] == "201"
    assert uploads.presigned_post(settings, user, "a.vcf", compressed=True).key.endswith(".gz")


def test_the_form_without_javascript_lets_s3_name_the_file_in_the_uploads_folder() -> None:
    settings = Settings(prefix="lab")
    user = _user()
    post = uploads.presigned_form(settings, user, "http://dash/annotate/submit")
    folder = keys.upload_folder(user.user_id, post.upload_id)
    assert post.fields["key"] == folder + "${filename}"
    conditions = _policy(post)
    assert ["starts-with", "$key", folder] in conditions
    assert {"Content-Type": "application/octet-stream"} in conditions
    landed = uploads.own_landing(user, folder + "ünï 名.vcf")
    assert (landed.upload_id, landed.filename) == (post.upload_id, "ünï 名.vcf")
    for key in (
        keys.upload_folder(keys.new_id(), post.upload_id) + "a.vcf",
        folder + "a/b.vcf",
        folder,
        "uploads/x/y/a.vcf",
    ):
        with pytest.raises(uploads.NotYourUpload):
            uploads.own_landing(user, key)
