"""The activity worker runtime: polling, heartbeats, error mapping and shutdown, once for all.

An activity is a function of validated input to output (see ``activities.base.Activity``). This
runtime owns the task token: it polls only when a slot is free, beats the heartbeat from its own
thread, sends success or a named failure, and on SIGTERM stops polling, lets in-flight tasks finish
within a grace period and hands the rest back with a retryable error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from activities.base import (
    Activity,
    InvalidTaskInput,
    TaskCancelled,
    TaskContext,
    error_name_of,
)
from gas import aws, schemas
from gas.resources import Resources
from gas.settings import Settings

log = logging.getLogger("gas.worker")

HEARTBEAT_GONE = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
MAX_CAUSE = 32_000  # Step Functions allows 32,768 characters of cause


def log_event(event: str, **fields: Any) -> None:
    """One structured line per event."""
    record = {"ts": round(time.time(), 3), "event": event}
    record.update({k: v for k, v in fields.items() if v is not None})
    log.info(json.dumps(record, default=str))


def owner_of(task_token: str) -> str:
    """A short, stable id of one task attempt (the token itself is too long and secret-ish)."""
    return hashlib.sha256(task_token.encode()).hexdigest()[:20]


class _Task:
    def __init__(self, token: str, raw_input: str, context: TaskContext) -> None:
        self.token = token
        self.raw_input = raw_input
        self.context = context
        self.reported = threading.Event()  # set once success/failure has been sent
        self.lock = threading.Lock()


class Worker:
    """Serve one activity with ``concurrency`` slots until stopped."""

    def __init__(
        self,
        settings: Settings,
        activity: Activity,
        *,
        concurrency: int = 1,
        heartbeat_seconds: float = 5.0,
        grace_seconds: float = 20.0,
        idle_poll_seconds: float = 0.5,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self.activity = activity
        self.concurrency = max(1, concurrency)
        self.heartbeat_seconds = heartbeat_seconds
        self.grace_seconds = grace_seconds
        self.idle_poll_seconds = idle_poll_seconds
        self.name = name or f"{socket.gethostname()}:{activity.name}:{id(self):x}"
        self.stopping = threading.Event()
        self._slots = threading.Semaphore(self.concurrency)
        self._in_flight: dict[str, _Task] = {}
        self._in_flight_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="task")
        # Separate clients: the long poll must not share a connection pool with task reports.
        self._poller = aws.client(
            settings, "stepfunctions", read_timeout=aws.LONG_POLL_READ_TIMEOUT
        )
        self._sfn = aws.client(settings, "stepfunctions")
        self._arn: str | None = None
        self.completed = 0
        self.failed = 0

    @property
    def activity_arn(self) -> str:
        if self._arn is None:
            names = Resources.of(self.settings, aws.account_id(self.settings))
            self._arn = names.activity_arn(self.activity.name)
        return self._arn

    # -- lifecycle -----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: object) -> None:
            log_event("shutdown-requested", activity=self.activity.name, signal=signum)
            # The poll in flight is left to return (up to 60 s): abandoning it would leave a
            # poll that Step Functions can still hand a task to, stranding that task until its
            # heartbeat times out. A task it brings back is served, then the worker stops.
            self.stopping.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> None:
        """Poll and serve until stopped, then drain."""
        log_event(
            "worker-started",
            activity=self.activity.name,
            worker=self.name,
            concurrency=self.concurrency,
        )
        idle = self.idle_poll_seconds
        while not self.stopping.is_set():
            # Poll only with a free slot, so a task is never claimed just to wait in a queue.
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                task = self._poll()
            except Exception as exc:  # noqa: BLE001 - the poll loop must survive the network
                self._slots.release()
                log_event("poll-error", activity=self.activity.name, error=repr(exc))
                self.stopping.wait(min(idle * 4, 5.0))
                continue
            if task is None:
                self._slots.release()
                # The poll came back empty (AWS and LocalStack hold it up to 60 s first).
                self.stopping.wait(idle)
                continue
            future = self._pool.submit(self._serve, task)
            future.add_done_callback(self._release)
        self._drain()

    def _release(self, _future: Future) -> None:
        self._slots.release()

    def _poll(self) -> _Task | None:
        response = self._poller.get_activity_task(
            activityArn=self.activity_arn, workerName=self.name
        )
        token = response.get("taskToken")
        if not token:
            return None
        owner = owner_of(token)
        context = TaskContext(settings=self.settings, owner=owner, activity=self.activity.name)
        task = _Task(token, response.get("input") or "{}", context)
        with self._in_flight_lock:
            self._in_flight[owner] = task
        return task

    def _drain(self) -> None:
        """Let in-flight tasks finish within the grace period; hand the rest back."""
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline:
            with self._in_flight_lock:
                if not self._in_flight:
                    break
            time.sleep(0.1)
        with self._in_flight_lock:
            leftovers = list(self._in_flight.values())
        for task in leftovers:
            task.context.cancel("worker shutting down")
            self._fail(
                task,
                "Worker.Interrupted",
                f"the {self.activity.name} worker shut down before finishing; another worker "
                "will take the task",
            )
        self._pool.shutdown(wait=True, cancel_futures=True)
        log_event(
            "worker-stopped",
            activity=self.activity.name,
            worker=self.name,
            completed=self.completed,
            failed=self.failed,
            handed_back=len(leftovers),
        )

    # -- one task ------------------------------------------------------------------------------

    def _serve(self, task: _Task) -> None:
        ctx = task.context
        beat = threading.Thread(target=self._heartbeat, args=(task,), daemon=True)
        began = time.monotonic()
        try:
            try:
                payload = json.loads(task.raw_input)
            except json.JSONDecodeError as exc:
                raise InvalidTaskInput(f"task input is not JSON: {exc}") from exc
            ctx.bind_input(payload)
            log_event("task-started", **ctx.log_fields())
            beat.start()
            try:
                schemas.check(payload, self.activity.input_schema)
            except schemas.SchemaViolation as exc:
                raise InvalidTaskInput(str(exc)) from exc
            output = self.activity.run(ctx, payload)
            schemas.check(output, self.activity.output_schema)
            if ctx.cancelled.is_set():
                raise TaskCancelled(ctx.cancel_reason or "task cancelled")
            self._succeed(task, output)
            self.completed += 1
            log_event(
                "task-succeeded", seconds=round(time.monotonic() - began, 3), **ctx.log_fields()
            )
        except TaskCancelled as exc:
            # The task belongs to someone else now (lost heartbeat) or we are handing it back.
            log_event("task-abandoned", reason=str(exc), **ctx.log_fields())
            if not ctx.token_gone:
                self._fail(task, "Worker.Interrupted", str(exc))
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none kills the worker
            name = error_name_of(exc)
            cause = _cause(exc)
            self.failed += 1
            log_event("task-failed", error=name, cause=cause, **ctx.log_fields())
            if name == "Activity.Unexpected":
                log.exception("unexpected error in %s", self.activity.name)
            self._fail(task, name, cause)
        finally:
            ctx.finished.set()
            with self._in_flight_lock:
                self._in_flight.pop(ctx.owner, None)

    def _heartbeat(self, task: _Task) -> None:
        ctx = task.context
        while not ctx.finished.wait(self.heartbeat_seconds):
            try:
                self._sfn.send_task_heartbeat(taskToken=task.token)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in HEARTBEAT_GONE:
                    # Step Functions gave the task to another worker: stop work, stop beating.
                    ctx.token_gone = True
                    ctx.cancel(f"heartbeat refused ({code}): the task was taken over")
                    log_event("heartbeat-lost", code=code, **ctx.log_fields())
                    return
                log_event("heartbeat-error", error=repr(exc), **ctx.log_fields())
            except Exception as exc:  # noqa: BLE001 - a network blip must not stop the beat
                log_event("heartbeat-error", error=repr(exc), **ctx.log_fields())

    def _succeed(self, task: _Task, output: dict[str, Any]) -> None:
        with task.lock:
            if task.reported.is_set():
                return
            task.reported.set()
            self._report(task, "send_task_success", output=json.dumps(output))

    def _fail(self, task: _Task, error: str, cause: str) -> None:
        with task.lock:
            if task.reported.is_set():
                return
            task.reported.set()
            self._report(task, "send_task_failure", error=error[:256], cause=cause[:MAX_CAUSE])

    def _report(self, task: _Task, method: str, **kwargs: Any) -> None:
        try:
            getattr(self._sfn, method)(taskToken=task.token, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            # Too late: the task timed out and went to another worker. Nothing to do.
            log_event("report-refused", method=method, code=code, **task.context.log_fields())


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    if getattr(exc, "error_name", None):
        return text or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
