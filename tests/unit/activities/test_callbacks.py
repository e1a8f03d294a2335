"""The callback relay's message handling, without a cloud: event parsing and queue bookkeeping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from activities import callbacks
from activities.callbacks import Relay, UnknownEvent, job_for_key, restored_keys
from gas.settings import Settings

BUCKET = "gas-results"
KEY = "results/0f0f0f0f-0000-4000-8000-000000000001/0f0f0f0f-0000-4000-8000-000000000002/a b.vcf"


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
    encoded = KEY.replace(" ", "+")
    assert restored_keys(s3_event("ObjectRestore:Completed", encoded)) == [(BUCKET, KEY)]


def test_other_s3_events_name_nothing() -> None:
    assert restored_keys(s3_event("ObjectRestore:Post", KEY)) == []
    assert restored_keys(s3_event("ObjectCreated:Put", KEY)) == []
    assert restored_keys({"Service": "Amazon S3", "Event": "s3:TestEvent"}) == []


def test_a_vault_notification_through_sns_names_the_key_of_its_description() -> None:
    note = {
        "Action": "ArchiveRetrieval",
        "StatusCode": "Succeeded",
        "JobDescription": f"gas:{BUCKET}/{KEY}",
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
    with pytest.raises(UnknownEvent):
        job_for_key(bucket, key, BUCKET)


class FakeQueue:
    """Just enough SQS: hands out the given bodies once and records deletions."""

    def __init__(self, bodies: list[str]) -> None:
        self.messages = [
            {"Body": body, "ReceiptHandle": f"r{i}", "Attributes": {"ApproximateReceiveCount": "1"}}
            for i, body in enumerate(bodies)
        ]
        self.deleted: list[str] = []

    def receive_message(self, **_kwargs: Any) -> dict[str, Any]:
        handed, self.messages = self.messages, []
        return {"Messages": handed}

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
        self.deleted.append(ReceiptHandle)


def test_handled_and_meaningless_messages_are_deleted_failing_ones_stay() -> None:
    relay = Relay(Settings(), wait_seconds=0)
    relay._sqs = queue = FakeQueue(["{}", "not json", '{"boom": 1}', '{"ok": 1}'])

    def handle(body: dict[str, Any]) -> None:
        if body == {}:
            raise UnknownEvent("nothing")
        if "boom" in body:
            raise RuntimeError("DynamoDB is down")

    assert relay.poll_once("http://q/gas-restore-events", handle) == 3
    # r2 stays on the queue: it comes back after the visibility timeout, then the DLQ.
    assert queue.deleted == ["r0", "r1", "r3"]
    assert relay.handled["dropped"] == 2


def test_a_test_event_or_an_empty_event_is_dropped() -> None:
    relay = Relay(Settings(), wait_seconds=0)
    with pytest.raises(UnknownEvent):
        relay.handle_event({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    with pytest.raises(UnknownEvent):
        relay.handle_event(s3_event("ObjectRestore:Post", KEY))


def test_a_callback_for_a_token_no_longer_waiting_is_harmless() -> None:
    from botocore.exceptions import ClientError

    class GoneSfn:
        def send_task_success(self, **_kwargs: Any) -> None:
            raise ClientError({"Error": {"Code": "TaskTimedOut"}}, "SendTaskSuccess")

    relay = Relay(Settings(), wait_seconds=0)
    relay._sfn = GoneSfn()
    assert relay._succeed("token", {"key": KEY}) is False
    assert "TaskTimedOut" in callbacks.TOKEN_GONE
