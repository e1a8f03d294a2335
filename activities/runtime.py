"""One runtime for everything that consumes work: Step Functions activity tasks and SQS messages.

Business code is a function of validated input: an activity (``activities.base.Activity``) returns
its output, a queue handler (``activities.base.QueueHandler``) handles one message. This runtime
owns the rest, once for both: it polls only when a slot is free, keeps the work leased while it
runs (activity heartbeats, SQS visibility extensions), reports outcomes through task tokens with
named errors, enforces a task's run limit, and on SIGTERM stops polling, lets work in hand finish
within a grace period and hands the rest back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import socket
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from activities.base import (
    Activity,
    InvalidTaskInput,
    QueueHandler,
    RunLimitExceeded,
    TaskCancelled,
    TaskContext,
    UnknownMessage,
    error_name_of,
)
from gas import aws, models, schemas
from gas.resources import Resources
from gas.settings import Settings

log = logging.getLogger("gas.worker")

# What Step Functions answers for a task token that no longer waits (timed out, taken over, done).
TOKEN_GONE = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
MAX_CAUSE = 32_000  # Step Functions allows 32,768 characters of cause


def log_event(event: str, **fields: Any) -> None:
    """One structured line per event."""
    record = {"ts": round(time.time(), 3), "event": event}
    record.update({k: v for k, v in fields.items() if v is not None})
    log.info(json.dumps(record, default=str))


def owner_of(token: str) -> str:
    """A short, stable id of one task attempt (the token itself is too long and secret-ish)."""
    return hashlib.sha256(token.encode()).hexdigest()[:20]


def cause_of(exc: BaseException) -> str:
    """The text a failure reports: the message of a named error, else the class and message."""
    text = str(exc).strip()
    if getattr(exc, "error_name", None):
        return text or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


class TaskTokens:
    """Sends what a task token waits for. Every method returns False when the token no longer
    waits (it timed out, went to another worker, or was answered): nothing is left to do then."""

    def __init__(self, settings: Settings) -> None:
        self._sfn = aws.client(settings, "stepfunctions")

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        return self._send("send_task_success", taskToken=token, output=json.dumps(output))

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._send(
            "send_task_failure", taskToken=token, error=error[:256], cause=cause[:MAX_CAUSE]
        )

    def heartbeat(self, token: str) -> bool:
        return self._send("send_task_heartbeat", taskToken=token)

    def _send(self, method: str, **kwargs: Any) -> bool:
        try:
            getattr(self._sfn, method)(**kwargs)
        except ClientError as exc:
            code = aws.error_code(exc)
            if code in TOKEN_GONE:
                log_event("task-token-gone", method=method, code=code)
                return False
            raise
        return True


@dataclass
class Work:
    """One unit of work in hand: an activity task or a queue message."""

    context: TaskContext
    payload: str
    receipt: str  # the task token, or the message's receipt handle
    reported: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Runtime(ABC):
    """Serve one source of work with ``concurrency`` slots until stopped."""

    kind: str  # the activity's or handler's name, for logs

    def __init__(
        self,
        settings: Settings,
        *,
        concurrency: int = 1,
        lease_seconds: float = 5.0,
        grace_seconds: float = 20.0,
        idle_poll_seconds: float = 0.5,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        models.bind(settings)  # the worker's one binding: handlers and workflows assume it
        self.concurrency = max(1, concurrency)
        self.lease_seconds = lease_seconds
        self.grace_seconds = grace_seconds
        self.idle_poll_seconds = idle_poll_seconds
        self.name = name or f"{socket.gethostname()}:{self.kind}:{id(self):x}"
        self.stopping = threading.Event()
        self.tokens = TaskTokens(settings)
        self._slots = threading.Semaphore(self.concurrency)
        self._in_flight: dict[str, Work] = {}
        self._in_flight_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="task")
        # Outcomes counted by the task threads, which finish at the same time: under a lock.
        self._tally: dict[str, int] = {"completed": 0, "failed": 0, "dropped": 0}
        self._tally_lock = threading.Lock()

    def _count(self, outcome: str) -> None:
        with self._tally_lock:
            self._tally[outcome] += 1

    @property
    def completed(self) -> int:
        """Units of work done."""
        return self._tally["completed"]

    @property
    def failed(self) -> int:
        """Units of work that failed (reported or left to come back)."""
        return self._tally["failed"]

    # -- what each source of work defines -------------------------------------------------------

    @abstractmethod
    def _receive(self) -> Work | None:
        """Take one unit of work (a long poll); None when there was none."""

    @abstractmethod
    def _handle(self, work: Work) -> None:
        """Do the work and report its outcome; raise to report a failure."""

    @abstractmethod
    def _keep_leased(self, work: Work) -> bool:
        """Extend the lease on the work; False when it is lost (taken over, gone)."""

    @abstractmethod
    def _report_failure(self, work: Work, error: str, cause: str) -> None:
        """Tell the source the work failed (or hand it back)."""

    # -- lifecycle ------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: object) -> None:
            log_event("shutdown-requested", activity=self.kind, signal=signum)
            # The poll in flight is left to return: abandoning it would leave a poll that Step
            # Functions can still hand a task to, stranding that task until its heartbeat times
            # out. Work it brings back is served, then the worker stops.
            self.stopping.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> None:
        """Poll and serve until stopped, then drain."""
        log_event(
            "worker-started", activity=self.kind, worker=self.name, concurrency=self.concurrency
        )
        idle = self.idle_poll_seconds
        while not self.stopping.is_set():
            # Poll only with a free slot, so work is never claimed just to wait in a queue.
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                work = self._receive()
            except Exception as exc:  # noqa: BLE001 - the poll loop must survive the network
                self._slots.release()
                log_event("poll-error", activity=self.kind, error=repr(exc))
                self.stopping.wait(min(idle * 4, 5.0))
                continue
            if work is None:
                self._slots.release()
                self.stopping.wait(idle)
                continue
            with self._in_flight_lock:
                self._in_flight[work.context.owner] = work
            future = self._pool.submit(self._serve, work)
            future.add_done_callback(self._release)
        self._drain()

    def _release(self, _future: Future) -> None:
        self._slots.release()

    def _drain(self) -> None:
        """Let work in hand finish within the grace period; hand the rest back."""
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline:
            with self._in_flight_lock:
                if not self._in_flight:
                    break
            time.sleep(0.1)
        with self._in_flight_lock:
            leftovers = list(self._in_flight.values())
        for work in leftovers:
            work.context.cancel("worker shutting down")
            self._once(
                work,
                self._report_failure,
                "Worker.Interrupted",
                f"the {self.kind} worker shut down before finishing; another worker will take it",
            )
        self._pool.shutdown(wait=True, cancel_futures=True)
        log_event(
            "worker-stopped",
            activity=self.kind,
            worker=self.name,
            completed=self.completed,
            failed=self.failed,
            handed_back=len(leftovers),
        )

    # -- one unit of work -----------------------------------------------------------------------

    def _serve(self, work: Work) -> None:
        ctx = work.context
        lease = threading.Thread(target=self._lease, args=(work,), daemon=True)
        began = time.monotonic()
        try:
            lease.start()
            self._handle(work)
            self._count("completed")
            log_event(
                "task-succeeded", seconds=round(time.monotonic() - began, 3), **ctx.log_fields()
            )
        except TaskCancelled as exc:
            # Taken over (lost lease) or being handed back on shutdown.
            log_event("task-abandoned", reason=str(exc), **ctx.log_fields())
            if not ctx.token_gone:
                self._once(work, self._report_failure, "Worker.Interrupted", str(exc))
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none kills the worker
            name, cause = error_name_of(exc), cause_of(exc)
            self._count("failed")
            log_event("task-failed", error=name, cause=cause, **ctx.log_fields())
            if name == "Activity.Unexpected":
                log.exception("unexpected error in %s", self.kind)
            self._once(work, self._report_failure, name, cause)
        finally:
            ctx.finished.set()
            with self._in_flight_lock:
                self._in_flight.pop(ctx.owner, None)

    def _lease(self, work: Work) -> None:
        """Keep the work leased while it runs, and stop it at its run limit."""
        ctx = work.context
        while not ctx.finished.wait(self.lease_seconds):
            if ctx.deadline is not None and time.monotonic() > ctx.deadline:
                reason = f"the task ran longer than the {ctx.run_limit_seconds} s it is allowed"
                ctx.cancel(reason, RunLimitExceeded(reason))
                log_event("run-limit-exceeded", **ctx.log_fields())
                return
            try:
                if not self._keep_leased(work):
                    ctx.token_gone = True
                    ctx.cancel("the lease was lost: the work was taken over")
                    log_event("lease-lost", **ctx.log_fields())
                    return
            except Exception as exc:  # noqa: BLE001 - a network blip must not stop the lease
                log_event("lease-error", error=repr(exc), **ctx.log_fields())

    def _once(self, work: Work, report: Any, *args: Any) -> None:
        """Report an outcome at most once per unit of work (shutdown and the task may race)."""
        with work.lock:
            if work.reported.is_set():
                return
            work.reported.set()
        try:
            report(work, *args)
        except ClientError as exc:
            log_event("report-refused", code=aws.error_code(exc), **work.context.log_fields())


class ActivityWorker(Runtime):
    """Serve one Step Functions activity."""

    def __init__(self, settings: Settings, activity: Activity, **options: Any) -> None:
        self.activity = activity
        self.kind = activity.name
        super().__init__(settings, **options)
        # Its own client: the long poll must not share a connection pool with task reports.
        self._poller = aws.client(
            settings, "stepfunctions", read_timeout=aws.LONG_POLL_READ_TIMEOUT
        )
        self._arn: str | None = None

    @property
    def activity_arn(self) -> str:
        if self._arn is None:
            names = aws.resources(self.settings)
            self._arn = names.activity_arn(self.activity.name)
        return self._arn

    def _receive(self) -> Work | None:
        response = self._poller.get_activity_task(
            activityArn=self.activity_arn, workerName=self.name
        )
        token = response.get("taskToken")
        if not token:
            return None
        context = TaskContext(
            settings=self.settings, owner=owner_of(token), activity=self.activity.name
        )
        return Work(context, response.get("input") or "{}", token)

    def _handle(self, work: Work) -> None:
        ctx = work.context
        try:
            payload = json.loads(work.payload)
        except json.JSONDecodeError as exc:
            raise InvalidTaskInput(f"task input is not JSON: {exc}") from exc
        ctx.bind_input(payload)
        log_event("task-started", **ctx.log_fields())
        try:
            schemas.check(payload, self.activity.input_schema)
        except schemas.SchemaViolation as exc:
            raise InvalidTaskInput(str(exc)) from exc
        output = self.activity.run(ctx, payload)
        schemas.check(output, self.activity.output_schema)
        ctx.check_cancelled()
        self._once(work, lambda w, out: self.tokens.succeed(w.receipt, out), output)

    def _keep_leased(self, work: Work) -> bool:
        return self.tokens.heartbeat(work.receipt)

    def _report_failure(self, work: Work, error: str, cause: str) -> None:
        self.tokens.fail(work.receipt, error, cause)


class QueueWorker(Runtime):
    """Serve one SQS queue with a :class:`QueueHandler`."""

    def __init__(
        self,
        settings: Settings,
        handler: QueueHandler,
        *,
        wait_seconds: int | None = None,
        visibility_seconds: int = 60,
        retry_after_seconds: int | None = None,
        dependencies: Any = None,
        **options: Any,
    ) -> None:
        self.handler = handler
        self.kind = handler.name
        super().__init__(settings, **options)
        # SQS holds a receive for up to 20 s; locally short polls keep shutdown quick.
        self.wait_seconds = (
            wait_seconds if wait_seconds is not None else (2 if settings.is_local else 20)
        )
        self.visibility_seconds = visibility_seconds
        # A failed message comes back after this long (None: the queue's visibility timeout).
        self.retry_after_seconds = retry_after_seconds
        self.dependencies = dependencies if dependencies is not None else handler.setup(settings)
        self._sqs = aws.client(settings, "sqs", read_timeout=self.wait_seconds + 10)
        self._queue_url: str | None = None

    @property
    def dropped(self) -> int:
        """Messages that named nothing this handler knows (deleted, not retried)."""
        return self._tally["dropped"]

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            queue = self.handler.queue(Resources.of(self.settings))
            self._queue_url = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        return self._queue_url

    def _receive(self) -> Work | None:
        received = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["ApproximateReceiveCount"],
        )
        for message in received.get("Messages", []):
            context = TaskContext(
                settings=self.settings, owner=message["MessageId"], activity=self.handler.name
            )
            return Work(context, message["Body"], message["ReceiptHandle"])
        return None

    def _handle(self, work: Work) -> None:
        ctx = work.context
        try:
            body = json.loads(work.payload)
            self.handler.handle(ctx, self.dependencies, body)
        except (UnknownMessage, json.JSONDecodeError) as exc:
            self._count("dropped")
            log_event("message-dropped", reason=str(exc), **ctx.log_fields())
        self._once(work, lambda w: self._delete(w))

    def _delete(self, work: Work) -> None:
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=work.receipt)

    def _keep_leased(self, work: Work) -> bool:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=work.receipt,
                VisibilityTimeout=self.visibility_seconds,
            )
        except ClientError as exc:
            if aws.error_code(exc) in ("ReceiptHandleIsInvalid", "MessageNotInflight"):
                return False
            raise
        return True

    def _report_failure(self, work: Work, error: str, cause: str) -> None:
        # Left on the queue: it comes back (sooner, if asked) and, after the queue's
        # maxReceiveCount, goes to the dead-letter queue.
        if error == "Worker.Interrupted":
            self._change_visibility(work, 0)  # handed back: at once
        elif self.retry_after_seconds is not None:
            self._change_visibility(work, self.retry_after_seconds)

    def _change_visibility(self, work: Work, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=work.receipt, VisibilityTimeout=seconds
        )

    def poll_once(self) -> int:
        """Receive and handle what is waiting now, in this thread; returns how many were handled.
        For tests and one-off drains."""
        handled = 0
        while (work := self._receive()) is not None:
            self._serve(work)
            handled += 1
        return handled
