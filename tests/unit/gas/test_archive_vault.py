"""The Glacier vault backend against moto's Glacier and S3 (LocalStack has no vault API).

moto completes an Expedited retrieval after 2 s and a Standard one after 5 s; it never refuses
capacity, so InsufficientCapacityException is injected at the Glacier client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.glacier.models import glacier_backends

from gas import archive, aws
from gas.resources import Resources
from gas.settings import Settings

BODY = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n1\t12345\t.\tA\tG\n"
KEY = "results/0f0f0f0f-0000-4000-8000-000000000001/0f0f0f0f-0000-4000-8000-000000000002/x.vcf"


@pytest.fixture
def settings() -> Settings:
    # No endpoints: moto intercepts the AWS ones (a LocalStack endpoint would bypass it).
    return Settings(
        cloud="aws",
        endpoint_url=None,
        dynamodb_endpoint_url=None,
        access_key_id="testing",
        secret_access_key="testing",  # noqa: S106
        prefix="vaulttest",
        archive_backend="glacier-vault",
    )


@pytest.fixture
def cloud(settings: Settings) -> Iterator[tuple[archive.GlacierVaultBackend, str]]:
    with mock_aws():
        aws._cached_client.cache_clear()
        bucket = Resources.of(settings).results_bucket
        aws.client(settings, "s3").create_bucket(Bucket=bucket)
        aws.client(settings, "s3").put_object(Bucket=bucket, Key=KEY, Body=BODY)
        backend = archive.backend(settings)
        assert isinstance(backend, archive.GlacierVaultBackend)
        backend.ensure_vault()
        yield backend, bucket
    aws._cached_client.cache_clear()


def _wait_and_finish(backend: archive.GlacierVaultBackend, bucket: str, archive_id: str) -> float:
    began = time.monotonic()
    while backend.completed_retrieval(archive_id) is None:
        assert time.monotonic() - began < 15, "moto's retrieval never completed"
        time.sleep(0.25)
    backend.finish_restore(bucket, KEY, archive_id)
    return time.monotonic() - began


def test_archive_and_thaw_round_trip(cloud: tuple[archive.GlacierVaultBackend, str]) -> None:
    backend, bucket = cloud
    s3 = backend.s3
    record = backend.archive(bucket, KEY)
    assert record.archive_id
    with pytest.raises(ClientError, match="NoSuchKey|Not Found|404"):
        s3.get_object(Bucket=bucket, Key=KEY)  # it lives in the vault now

    retrieval = backend.request_retrieval(bucket, KEY, "Expedited", record.archive_id)
    job = backend.glacier.describe_job(accountId="-", vaultName=backend.vault, jobId=retrieval)
    assert job["ArchiveId"] == record.archive_id and job["Tier"] == "Expedited"
    assert backend.retrieval_tier(retrieval) == "Expedited"
    with pytest.raises(archive.ArchiveError):
        backend.finish_restore(bucket, KEY, record.archive_id)  # not retrieved yet

    _wait_and_finish(backend, bucket, record.archive_id)
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == BODY
    assert s3.head_object(Bucket=bucket, Key=KEY).get("StorageClass", "STANDARD") == "STANDARD"
    archives = backend.glacier.list_jobs(accountId="-", vaultName=backend.vault)["JobList"]
    assert [a["ArchiveId"] for a in archives] == [record.archive_id]
    # The archive is gone from the vault (moto's store: its DeleteArchive of a missing id crashes).
    vault = glacier_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].vaults[backend.vault]
    assert record.archive_id not in vault.archives
    # Finishing again (a retried task) changes nothing.
    backend.finish_restore(bucket, KEY, record.archive_id)
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == BODY


class _NoExpeditedCapacity:
    """The Glacier client of an account whose Expedited capacity is used up."""

    def __init__(self, glacier: Any) -> None:
        self._glacier = glacier
        self.refused = 0

    def initiate_job(self, **kwargs: Any) -> Any:
        if kwargs["jobParameters"].get("Tier") == "Expedited":
            self.refused += 1
            raise ClientError(
                {"Error": {"Code": "InsufficientCapacityException", "Message": "no capacity"}},
                "InitiateJob",
            )
        return self._glacier.initiate_job(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._glacier, name)


def test_expedited_without_capacity_falls_back_to_standard(
    cloud: tuple[archive.GlacierVaultBackend, str],
) -> None:
    backend, bucket = cloud
    record = backend.archive(bucket, KEY)
    backend.glacier = refusing = _NoExpeditedCapacity(backend.glacier)
    retrieval = backend.request_retrieval(bucket, KEY, "Expedited", record.archive_id)
    assert refusing.refused == 1
    assert backend.retrieval_tier(retrieval) == "Standard"
    took = _wait_and_finish(backend, bucket, record.archive_id)
    assert took >= 4  # moto's Standard tier, not its 2 s Expedited
    assert backend.s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == BODY


def test_archiving_again_reuses_the_uploaded_archive(
    cloud: tuple[archive.GlacierVaultBackend, str],
) -> None:
    backend, bucket = cloud
    # A retry after the upload but before the delete: the tag on the object names the archive.
    uploaded = backend.glacier.upload_archive(accountId="-", vaultName=backend.vault, body=BODY)
    backend.s3.put_object_tagging(
        Bucket=bucket,
        Key=KEY,
        Tagging={"TagSet": [{"Key": "gas-archive-id", "Value": uploaded["archiveId"]}]},
    )
    assert backend.archive(bucket, KEY).archive_id == uploaded["archiveId"]
    with pytest.raises(archive.ArchiveError):
        backend.archive(bucket, KEY)  # gone from S3: archived already


def test_retrievals_report_to_the_restore_events_topic_with_the_key(
    cloud: tuple[archive.GlacierVaultBackend, str],
) -> None:
    backend, bucket = cloud
    calls: list[dict[str, Any]] = []
    real = backend.glacier

    class Spy:
        def initiate_job(self, **kwargs: Any) -> Any:
            calls.append(kwargs["jobParameters"])
            return real.initiate_job(**kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    record = backend.archive(bucket, KEY)
    backend.glacier = Spy()
    backend.request_retrieval(bucket, KEY, "Standard", record.archive_id)
    (params,) = calls
    assert params["SNSTopic"].endswith(":vaulttest-restore-events")
    assert params["Description"] == f"gas:{bucket}/{KEY}"
