"""Reading the storage service's "restore completed" events (gas.archive and the
restore-events handler), without a cloud."""

from __future__ import annotations

import json
from typing import Any

import pytest

from activities.base import TaskContext, UnknownMessage
from activities.restore_events import handle, job_for_key
from gas.archive import restored_objects as restored_keys
from gas.archive import vault
from gas.settings import Settings

BUCKET = "gas-results"
USER, JOB = "0f0f0f0f-0000-4000-8000-000000000001", "0f0f0f0f-0000-4000-8000-000000000002"
KEY = f"results/{USER}/{JOB}/annotated.vcf"


def s3_event(name: str, key: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": name,
                "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
            }
        ]
    }


def test_a_restore_completed_event_names_its_bucket_and_decoded_key() -> None:
    spaced = KEY.replace("annotated", "an notated")
    assert restored_keys(s3_event("ObjectRestore:Completed", spaced.replace(" ", "+"))) == [
        (BUCKET, spaced)
    ]


def test_other_s3_events_name_nothing() -> None:
    assert restored_keys(s3_event("ObjectRestore:Post", KEY)) == []
    assert restored_keys(s3_event("ObjectCreated:Put", KEY)) == []
    assert restored_keys({"Service": "Amazon S3", "Event": "s3:TestEvent"}) == []


def test_a_vault_notification_through_sns_names_the_key_of_its_description() -> None:
    note = {
        "Action": "ArchiveRetrieval",
        "StatusCode": "Succeeded",
        "JobDescription": f"{vault.DESCRIPTION_PREFIX}{BUCKET}/{KEY}",
        "JobId": "job-1",
    }
    envelope = {"Type": "Notification", "Message": json.dumps(note)}
    assert restored_keys(envelope) == [(BUCKET, KEY)]
    failed = {**note, "StatusCode": "Failed"}
    assert restored_keys({"Type": "Notification", "Message": json.dumps(failed)}) == []
    foreign = {**note, "JobDescription": "someone else's retrieval"}
    assert restored_keys(foreign) == []


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        ("another-bucket", KEY),
        (BUCKET, "uploads/x/y/input.vcf"),
        (BUCKET, "results/not-an-id/also-not/annotated.vcf"),
        (BUCKET, "results/too/short"),
    ],
)
def test_keys_that_are_no_job_result_are_unknown_without_a_lookup(bucket: str, key: str) -> None:
    with pytest.raises(UnknownMessage):
        job_for_key(bucket, key, BUCKET)


@pytest.mark.parametrize(
    "body", [{"Service": "Amazon S3", "Event": "s3:TestEvent"}, s3_event("ObjectRestore:Post", KEY)]
)
def test_a_test_event_or_an_event_without_a_completed_restore_is_dropped(body: dict) -> None:
    context = TaskContext(settings=Settings(), owner="m1", activity="restore-events")
    with pytest.raises(UnknownMessage):
        handle(context, None, body)
