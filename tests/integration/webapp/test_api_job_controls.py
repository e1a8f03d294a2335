"""Cancel, resubmit and delete through the API, with real workers and workflows.

A cancelled job's execution is stopped and it is never archived, whether it was annotating or
waiting out its retention; a deleted job leaves no object and no record behind.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from flask import Flask

from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from tests.inputs import sites_vcf
from tests.integration.processes import wait_for
from tests.integration.webapp.api_client import ApiClient
from tests.integration.webapp.test_api import upload_through_api
from webapp import create_app

pytestmark = pytest.mark.integration

RETENTION = 6
RECORDS = 1_500_000  # big enough that the annotate step lasts a few seconds


@pytest.fixture(scope="module")
def short_settings(settings: Settings) -> Settings:
    """Free results wait only a few seconds before archiving, so a test can watch it not happen."""
    return dataclasses.replace(settings, free_retention_seconds=RETENTION)


@pytest.fixture(scope="module")
def short_app(short_settings: Settings) -> Flask:
    return create_app(short_settings, TESTING=True, WTF_CSRF_ENABLED=False)


@pytest.fixture(scope="module")
def worker_settings(short_settings: Settings) -> Settings:
    return short_settings


@pytest.fixture(scope="module")
def worker_kinds() -> tuple[str, ...]:
    return ("annotate", "notify", "archive", "record-failure")


@pytest.fixture
def client(short_app: Flask, openapi, make_token):
    def make(user: models.User) -> ApiClient:
        return ApiClient(short_app.test_client(), openapi, make_token(user))

    return make


@pytest.fixture(scope="module")
def big_vcf() -> bytes:
    return sites_vcf(RECORDS, seed=13)


def _status(job_id: str, *wanted: str):
    def reached():
        job = models.Job.get(job_id)
        return job if job.status in wanted else None

    return reached


def _execution_status(settings: Settings, job: models.Job) -> str:
    sfn = aws.client(settings, "stepfunctions")
    return sfn.describe_execution(executionArn=job.execution_arn)["status"]


def _objects(settings: Settings, user: models.User) -> list[tuple[str, str]]:
    """(key, storage class) of every object stored for the user, inputs and results."""
    names = Resources.of(settings)
    s3 = aws.client(settings, "s3")
    found = []
    for bucket, prefix in (
        (names.inputs_bucket, f"uploads/{user.user_id}/"),
        (names.results_bucket, f"results/{user.user_id}/"),
    ):
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        found += [(obj["Key"], obj.get("StorageClass", "STANDARD")) for obj in listed]
    return found


def test_cancel_during_annotation(short_settings, client, make_user, workers, big_vcf) -> None:
    user = make_user(tier=models.PREMIUM)
    api = client(user)
    key = upload_through_api(api, "big.vcf", big_vcf)
    job_id = api.post("/api/v1/jobs", json={"upload_key": key}).get_json()["id"]
    wait_for(_status(job_id, models.RUNNING), 60, interval=0.1, what="annotation to start")
    refused = api.delete(f"/api/v1/jobs/{job_id}")
    assert refused.status_code == 409 and "finished" in refused.get_json()["detail"]

    cancelled = api.post(f"/api/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == models.CANCELLED
    assert cancelled.get_json()["cancelled_at"]
    # The worker that was annotating cannot move it on; nothing is left to cancel. (The execution
    # is stopped, but LocalStack reports it RUNNING until the activity wait ends: not asserted.)
    time.sleep(5)
    assert models.Job.get(job_id).status == models.CANCELLED
    assert api.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 409
    assert api.get(f"/api/v1/jobs?status={models.CANCELLED}").get_json()["jobs"][0]["id"] == job_id


def test_cancel_during_the_retention_wait_is_never_archived(
    short_settings, client, make_user, workers, vcf
) -> None:
    user = make_user()
    api = client(user)
    job_id = api.post(
        "/api/v1/jobs", json={"upload_key": upload_through_api(api, "sample.vcf", vcf)}
    ).get_json()["id"]
    done = wait_for(_status(job_id, models.COMPLETED), 90, what="the annotation")
    assert done.archive_after is not None
    waiting = api.get(f"/api/v1/jobs/{job_id}").get_json()
    assert waiting["execution"]["status"] == "RUNNING"

    cancelled = api.post(f"/api/v1/jobs/{job_id}/cancel").get_json()
    assert cancelled["status"] == models.CANCELLED and cancelled["archive_at"] is None
    assert models.Job.get(job_id).archive_after is None
    # Well past the moment it would have been archived: still CANCELLED, every object online.
    time.sleep(RETENTION + 4)
    assert models.Job.get(job_id).status == models.CANCELLED
    stored = _objects(short_settings, user)
    expected = 1 + len(models.Job.get(job_id).results.as_dict())  # the input and every result
    assert len(stored) == expected and {cls for _, cls in stored} == {"STANDARD"}
    # The results stay readable until the researcher deletes the job.
    assert api.get(f"/api/v1/jobs/{job_id}/downloads/annotated").status_code == 200


def test_resubmit_then_delete_removes_every_object_and_record(
    short_settings, client, make_user, workers, vcf
) -> None:
    user = make_user(tier=models.PREMIUM)
    api = client(user)
    key = upload_through_api(api, "sample.vcf", vcf)
    first = api.post("/api/v1/jobs", json={"upload_key": key, "filename": "sample.vcf"}).get_json()[
        "id"
    ]
    wait_for(_status(first, models.COMPLETED), 90, what="the first job")

    again = api.post(f"/api/v1/jobs/{first}/resubmit")
    assert again.status_code == 201
    second = again.get_json()
    assert second["id"] != first and second["resubmitted_from"] == first
    assert second["input_filename"] == "sample.vcf"
    wait_for(_status(second["id"], models.COMPLETED), 90, what="the resubmitted job")
    # Two inputs and two result sets, each exactly what its job records.
    expected = sum(1 + len(models.Job.get(j).results.as_dict()) for j in (first, second["id"]))
    assert len(_objects(short_settings, user)) == expected

    for job_id in (first, second["id"]):
        wait_for(
            lambda job_id=job_id: (
                _execution_status(short_settings, models.Job.get(job_id)) == "SUCCEEDED"
            ),
            30,
        )
        assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 204
        assert api.get(f"/api/v1/jobs/{job_id}").status_code == 404
        with pytest.raises(models.DoesNotExist):
            models.Job.get(job_id)
    assert _objects(short_settings, user) == []
    assert api.get("/api/v1/usage").get_json()["objects"] == 0
    assert api.get("/api/v1/jobs").get_json()["jobs"] == []


def test_deleting_a_job_waiting_out_its_retention_stops_its_workflow(
    short_settings, client, make_user, workers, vcf
) -> None:
    user = make_user()
    api = client(user)
    job_id = api.post(
        "/api/v1/jobs", json={"upload_key": upload_through_api(api, "sample.vcf", vcf)}
    ).get_json()["id"]
    wait_for(_status(job_id, models.COMPLETED), 90, what="the annotation")
    assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 204
    assert _objects(short_settings, user) == []
    time.sleep(RETENTION + 2)  # past the archive time: nothing came back
    assert _objects(short_settings, user) == []


def test_the_job_page_cancels_and_deletes(short_app, make_user, make_job, short_settings) -> None:
    from tests.integration.webapp.conftest import login

    user = make_user()
    job = make_job(user, models.PENDING)
    page = short_app.test_client()
    login(page, user)
    shown = page.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'id="cancel-job"' in shown and 'id="delete-job"' not in shown
    assert "Waiting for a worker" in shown and "ahead" in shown
    page.post(f"/annotations/{job.job_id}/cancel")
    assert models.Job.get(job.job_id).status == models.CANCELLED
    after = page.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert 'id="cancel-job"' not in after and 'id="delete-job"' in after
    gone = page.post(f"/annotations/{job.job_id}/delete")
    assert gone.status_code == 302 and gone.headers["Location"] == "/annotations"
    with pytest.raises(models.DoesNotExist):
        models.Job.get(job.job_id)
    assert keys.is_id(job.job_id)
