"""The runtime's bookkeeping for queue messages and task tokens, with a stand-in queue."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from activities import runtime
from activities.base import QueueHandler, RunLimitExceeded, TaskContext, UnknownMessage
from activities.runtime import QueueWorker, TaskTokens
from gas.settings import Settings


class StandInQueue:
    """Just enough SQS: hands out the given bodies once each and records what happened."""

    def __init__(self, bodies: list[str]) -> None:
        self.messages = [
            {"Body": body, "ReceiptHandle": f"r{i}", "MessageId": f"m{i}"}
            for i, body in enumerate(bodies)
        ]
        self.deleted: list[str] = []
        self.visibility: list[tuple[str, int]] = []

    def receive_message(self, **_kwargs: Any) -> dict[str, Any]:
        return {"Messages": [self.messages.pop(0)]} if self.messages else {}

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
        self.deleted.append(ReceiptHandle)

    def change_message_visibility(self, **kwargs: Any) -> None:
        self.visibility.append((kwargs["ReceiptHandle"], kwargs["VisibilityTimeout"]))


def handle(_ctx: TaskContext, _deps: Any, body: dict[str, Any]) -> None:
    if body == {}:
        raise UnknownMessage("nothing")
    if "boom" in body:
        raise RuntimeError("DynamoDB is down")


def worker(bodies: list[str], **options: Any) -> tuple[QueueWorker, StandInQueue]:
    handler = QueueHandler(
        name="test", queue=lambda names: names.restore_events_queue, handle=handle
    )
    queue_worker = QueueWorker(Settings(), handler, wait_seconds=0, **options)
    queue_worker._sqs = queue = StandInQueue(bodies)
    queue_worker._queue_url = "http://queue/test"
    return queue_worker, queue


def test_handled_and_meaningless_messages_are_deleted_failing_ones_stay() -> None:
    queue_worker, queue = worker(["{}", "not json", '{"boom": 1}', '{"ok": 1}'])
    assert queue_worker.poll_once() == 4
    # r2 stays on the queue: it comes back after the visibility timeout, then the DLQ.
    assert queue.deleted == ["r0", "r1", "r3"]
    assert (queue_worker.dropped, queue_worker.failed) == (2, 1)
    assert queue.visibility == []


def test_a_failing_message_comes_back_sooner_when_asked() -> None:
    queue_worker, queue = worker(['{"boom": 1}'], retry_after_seconds=0)
    queue_worker.poll_once()
    assert queue.visibility == [("r0", 0)] and queue.deleted == []


class GoneStepFunctions:
    def send_task_success(self, **_kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "TaskTimedOut"}}, "SendTaskSuccess")

    def send_task_heartbeat(self, **_kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "SendTaskHeartbeat")


def test_a_token_no_longer_waiting_is_harmless_and_other_errors_are_raised() -> None:
    tokens = TaskTokens(Settings())
    tokens._sfn = GoneStepFunctions()
    assert tokens.succeed("token", {"key": "k"}) is False
    with pytest.raises(ClientError):
        tokens.heartbeat("token")
    assert "TaskTimedOut" in runtime.TOKEN_GONE


def test_a_task_past_its_run_limit_stops_with_a_final_error() -> None:
    context = TaskContext(settings=Settings(), owner="t", activity="annotate")
    context.bind_input({"job_id": "j", "run_limit_seconds": 30})
    assert context.run_limit_seconds == 30 and context.deadline is not None
    context.cancel("too long", RunLimitExceeded("too long"))
    with pytest.raises(RunLimitExceeded):
        context.check_cancelled()
    assert RunLimitExceeded.error_name == "Activity.RunLimitExceeded"
