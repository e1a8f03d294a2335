"""What an activity and a queue handler are, the context they run in, and their named errors.

Error names are stable strings the ASL ``Retry``/``Catch`` rules match on; they never carry the
message text. ``Worker.*`` errors are retried by the workflows; everything else is final.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from gas.resources import Resources
from gas.settings import Settings


class ActivityError(Exception):
    """A failure an activity reports on purpose; the message is for the person who reads it."""

    error_name = "Activity.Failed"


class TransientError(ActivityError):
    """Try again later (another worker, after a back-off)."""

    error_name = "Worker.Transient"


class TaskCancelled(Exception):
    """The task was taken over (lost heartbeat) or is being handed back on shutdown."""

    error_name = "Worker.Interrupted"


class InvalidTaskInput(ActivityError):
    """The task's input does not match the activity's input schema."""

    error_name = "Activity.InvalidInput"


class RunLimitExceeded(ActivityError):
    """The task ran longer than the limit its workflow gave it (``run_limit_seconds``)."""

    error_name = "Activity.RunLimitExceeded"


class UnknownMessage(Exception):
    """A queue message that names nothing this handler knows: logged and deleted, not retried."""


# Transport errors mean "the cloud hiccupped", not "the work is bad".
_TRANSIENT = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError)


def error_name_of(exc: BaseException) -> str:
    """The stable error name Step Functions will see for an exception."""
    name = getattr(type(exc), "error_name", None)
    if isinstance(name, str) and name:
        return name
    if isinstance(exc, _TRANSIENT):
        return "Worker.Transient"
    return "Activity.Unexpected"


@dataclass
class TaskContext:
    """What the runtime tells an activity about the task it runs."""

    settings: Settings
    owner: str  # a stable id of this task attempt; conditional writes use it
    activity: str
    job_id: str | None = None
    execution: str | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str | None = None
    # Set when the task must stop with a final error rather than be handed back.
    cancel_error: ActivityError | None = None
    token_gone: bool = False
    run_limit_seconds: int | None = None  # from the task input; the workflow sets it
    deadline: float | None = None  # time.monotonic() past which the runtime stops the task

    def bind_input(self, payload: dict[str, Any]) -> None:
        self.job_id = payload.get("job_id")
        self.execution = payload.get("execution")
        limit = payload.get("run_limit_seconds")
        if isinstance(limit, int) and limit > 0:
            self.run_limit_seconds = limit
            self.deadline = time.monotonic() + limit

    def cancel(self, reason: str, error: ActivityError | None = None) -> None:
        self.cancel_reason = reason
        self.cancel_error = error
        self.cancelled.set()

    def check_cancelled(self) -> None:
        """Raise if the runtime asked this task to stop; call it between steps."""
        if self.cancelled.is_set():
            if self.cancel_error is not None:
                raise self.cancel_error
            raise TaskCancelled(self.cancel_reason or "task cancelled")

    def log_fields(self) -> dict[str, Any]:
        return {
            "activity": self.activity,
            "job_id": self.job_id,
            "execution": self.execution,
            "task": self.owner,
        }


@dataclass(frozen=True)
class Activity:
    """One activity: its name (as in resources), its schemas, and the function that does it."""

    name: str
    run: Callable[[TaskContext, dict[str, Any]], dict[str, Any]]
    input_schema: str
    output_schema: str


@dataclass(frozen=True)
class QueueHandler:
    """One SQS queue's consumer: the queue's name (from resources) and what handles a message.

    ``handle`` raises :class:`UnknownMessage` for a message to drop; any other exception leaves
    the message on its queue to come back after its visibility timeout (then the dead-letter
    queue). ``setup`` makes, once per worker, what every message needs (e.g. the archive backend).
    """

    name: str
    queue: Callable[[Resources], str]
    handle: Callable[[TaskContext, Any, dict[str, Any]], None]
    setup: Callable[[Settings], Any] = lambda _settings: None
