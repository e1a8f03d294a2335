"""The callback relay (`gas worker callbacks`): the thaw's task tokens meet the storage's events.

Two queues feed it. ``{prefix}-restore-requests`` carries what the thaw's
``sqs:sendMessage.waitForTaskToken`` states post (job, tier, task token): the relay parks the token
on the job record, then asks the archive for the retrieval. ``{prefix}-restore-events`` carries the
storage service's "restore completed" events: the relay finds the job from the bucket and key and
sends ``SendTaskSuccess`` with the parked token. The token is parked *before* the retrieval is
asked for, because an emulator (LocalStack) completes the restore inside the RestoreObject call.

A message is deleted once handled or found meaningless (unknown key, duplicate event); one whose
handling raises stays on its queue, comes back after the visibility timeout and, after the queue's
``maxReceiveCount``, goes to the dead-letter queue.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from activities.runtime import log_event
from gas import archive, aws, keys, models
from gas.resources import Resources
from gas.settings import Settings

TOKEN_GONE = ("InvalidToken", "TaskDoesNotExist", "TaskTimedOut")
RESTORE_COMPLETED = "ObjectRestore:Completed"
VAULT_JOB_PREFIX = "gas:"  # the vault retrieval's JobDescription carries "gas:<key>"


def _transient(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = exc.response.get("Error", {}).get("Code", "")
    return status >= 500 or status == 429 or "Throttl" in code or code == "SlowDown"


class UnknownEvent(Exception):
    """A message that names nothing the relay knows: logged and dropped."""


def job_for_key(bucket: str, key: str, results_bucket: str) -> models.Job:
    """The job whose archived result lives at bucket/key; UnknownEvent for anything else."""
    if bucket != results_bucket:
        raise UnknownEvent(f"event for another bucket: {bucket}")
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "results" or not keys.is_id(parts[2]):
        raise UnknownEvent(f"not a result key: {key!r}")
    try:
        job = models.Job.get(parts[2])
    except models.DoesNotExist:
        raise UnknownEvent(f"no job for key {key!r}") from None
    if (
        job.user_id != parts[1]
        or key not in (job.results.as_dict() if job.results else {}).values()
    ):
        raise UnknownEvent(f"key {key!r} is not a result of job {job.job_id}")
    return job


def restored_keys(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every "restore completed" record in an event message (S3 or vault SNS)."""
    if body.get("Type") == "Notification" and "Message" in body:  # SNS envelope (vault backend)
        body = json.loads(body["Message"])
    if body.get("Action") == "ArchiveRetrieval":  # a Glacier vault job notification
        description = body.get("JobDescription") or ""
        if body.get("StatusCode") != "Succeeded" or not description.startswith(VAULT_JOB_PREFIX):
            return []
        bucket, _, key = description[len(VAULT_JOB_PREFIX) :].partition("/")
        return [(bucket, key)]
    found = []
    for record in body.get("Records") or []:
        if not str(record.get("eventName", "")).endswith(RESTORE_COMPLETED):
            continue
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name", "")
        # S3 event keys are URL-encoded (spaces as '+').
        key = unquote_plus((s3.get("object") or {}).get("key", ""))
        found.append((bucket, key))
    return found


class Relay:
    """Serve both restore queues until stopped (SIGTERM: finish the batch in hand, then exit)."""

    def __init__(
        self,
        settings: Settings,
        *,
        backend: Any = None,
        wait_seconds: int | None = None,
        batch: int = 10,
        retry_after_seconds: int | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend or archive.backend(settings)
        # SQS holds a receive for up to 20 s; locally short polls keep shutdown quick.
        self.wait_seconds = (
            wait_seconds if wait_seconds is not None else (2 if settings.is_local else 20)
        )
        self.batch = batch
        # A failed message comes back after this long (None: the queue's visibility timeout).
        self.retry_after_seconds = retry_after_seconds
        self.stopping = threading.Event()
        self.names = Resources.of(settings, account="")
        self._sqs = aws.client(settings, "sqs", read_timeout=self.wait_seconds + 10)
        self._sfn = aws.client(settings, "stepfunctions")
        self.handled = {"requests": 0, "events": 0, "dropped": 0}
        models.bind(settings)

    # -- lifecycle -----------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: object) -> None:
            log_event("shutdown-requested", activity="callbacks", signal=signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> None:
        """Long-poll the three queues (one thread each) until stopped."""
        loops = [
            threading.Thread(
                target=self._serve,
                args=(self.names.restore_requests_queue, self.handle_request),
                name="restore-requests",
                daemon=True,
            ),
            threading.Thread(
                target=self._serve,
                args=(self.names.restore_events_queue, self.handle_event),
                name="restore-events",
                daemon=True,
            ),
            threading.Thread(
                target=self._serve,
                args=(self.names.execution_events_queue, self.handle_execution_event),
                name="execution-events",
                daemon=True,
            ),
        ]
        log_event("relay-started", activity="callbacks", prefix=self.settings.prefix)
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
        log_event("relay-stopped", activity="callbacks", **self.handled)

    def _serve(self, queue: str, handle: Callable[[dict[str, Any]], None]) -> None:
        url = None
        while not self.stopping.is_set():
            try:
                url = url or self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                self.poll_once(url, handle)
            except Exception as exc:  # noqa: BLE001 - the loop must survive the network
                log_event("relay-poll-error", queue=queue, error=repr(exc))
                self.stopping.wait(2.0)

    def poll_once(self, url: str, handle: Callable[[dict[str, Any]], None]) -> int:
        """Receive one batch and handle each message; returns how many were deleted."""
        received = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=self.batch,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["ApproximateReceiveCount"],
        )
        deleted = 0
        for message in received.get("Messages", []):
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount")
            try:
                handle(json.loads(message["Body"]))
            except (UnknownEvent, json.JSONDecodeError) as exc:
                self.handled["dropped"] += 1
                log_event("relay-message-dropped", queue=url.rsplit("/", 1)[-1], reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - left on the queue: retried, then the DLQ
                log_event(
                    "relay-message-failed",
                    queue=url.rsplit("/", 1)[-1],
                    error=repr(exc),
                    receives=receives,
                )
                if self.retry_after_seconds is not None:
                    self._sqs.change_message_visibility(
                        QueueUrl=url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=self.retry_after_seconds,
                    )
                continue
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            deleted += 1
        return deleted

    # -- execution status changes (EventBridge) -------------------------------------------------

    def handle_execution_event(self, body: dict[str, Any]) -> None:
        """A job whose execution was stopped or timed out before any state could record it
        (an operator's StopExecution, the execution's own timeout) is marked FAILED, so the job
        list never shows it running forever. Failures the workflow catches are recorded by its
        RecordFailure state, not here."""
        detail = body.get("detail") or {}
        status = detail.get("status")
        machine = detail.get("stateMachineArn", "")
        if status not in ("ABORTED", "TIMED_OUT") or not machine.endswith(
            f":{self.names.job_state_machine_name}"
        ):
            return  # other changes need nothing from the relay
        job_id = re.sub(r"-retry-\d+$", "", detail.get("name", ""))
        try:
            job = models.Job.get(job_id)
        except models.DoesNotExist as exc:
            raise UnknownEvent(f"no job for execution {detail.get('name')!r}") from exc
        if job.execution_arn and job.execution_arn != detail.get("executionArn"):
            return  # an older execution of a job that was retried since
        if job.status not in (models.PENDING, models.RUNNING):
            return
        reason = {
            "ABORTED": "The job's workflow was stopped before the annotation finished.",
            "TIMED_OUT": "The job's workflow ran out of time before the annotation finished.",
        }[status]
        try:
            job.move_to(
                models.FAILED,
                completed_at=models.now(),
                failure_error=f"Execution.{status.title().replace('_', '')}",
                failure_reason=reason,
            )
        except models.TransitionRefused:
            return
        log_event(
            "job-failed-by-execution-status",
            job_id=job.job_id,
            status=status,
            execution=detail.get("executionArn"),
        )

    # -- restore requests (from the thaw) ------------------------------------------------------

    def handle_request(self, request: dict[str, Any]) -> None:
        """Park the thaw's task token on the job, then ask the archive for the retrieval."""
        token, tier = request["task_token"], request["tier"]
        try:
            job = models.Job.get(request["job_id"])
        except models.DoesNotExist:
            self._fail(token, "Restore.JobNotFound", f"no job {request['job_id']}")
            return
        fields = {"job_id": job.job_id, "user_id": job.user_id, "tier": tier}
        if job.status == models.COMPLETED:  # restored already (a redelivered request)
            self._succeed(token, {"key": None, "tier": tier, "already_restored": True})
            return
        if job.status not in (models.ARCHIVED, models.RESTORING) or not job.results:
            self._fail(token, "Restore.JobNotArchived", f"job {job.job_id} is {job.status}")
            return
        try:
            job.update(
                actions=[
                    models.Job.restore_task_token.set(token),
                    models.Job.restore_tier.set(tier),
                    models.Job.restore_requested_at.set(models.now()),
                ],
                condition=models.Job.status.is_in(models.ARCHIVED, models.RESTORING),
            )
        except models.UpdateError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
            job.refresh()  # restored (or failed) meanwhile: answer from the job's status now
            self.handle_request(request)
            return
        bucket = self.names.results_bucket
        results = job.results.as_dict()
        keys_to_restore = [results[kind] for kind in archive.ARCHIVED_KINDS if kind in results]
        try:
            retrievals = [
                self.backend.request_retrieval(bucket, key, tier, job.archive_id)
                for key in keys_to_restore
            ]
        except archive.ExpeditedUnavailable as exc:
            self._clear_token(job, token)
            log_event("restore-expedited-refused", **fields)
            self._fail(token, exc.error_name, str(exc))
            return
        except (archive.ArchiveError, ClientError) as exc:
            if isinstance(exc, ClientError) and _transient(exc):
                raise  # left on the queue: retried after the visibility timeout
            # The archive will never give this one back: fail its branch now, not at the timeout.
            self._clear_token(job, token)
            log_event("restore-request-refused", error=repr(exc), **fields)
            self._fail(token, "Archive.RetrievalRefused", f"{type(exc).__name__}: {exc}")
            return
        actual = self._tier_used(retrievals, tier)
        if actual != tier:  # the vault backend fell back to Standard itself
            job.update(actions=[models.Job.restore_tier.set(actual)])
            log_event("restore-expedited-refused", fallback=actual, **fields)
        # Refused when RESTORING already (a retry, the Standard fallback) or restored meanwhile.
        with contextlib.suppress(models.TransitionRefused):
            job.move_to(models.RESTORING)
        log_event("restore-requested", retrievals=retrievals, **fields)
        self.handled["requests"] += 1

    # -- restore-completed events (from the storage service) -----------------------------------

    def handle_event(self, body: dict[str, Any]) -> None:
        """Complete the waiting thaw step of every job whose retrieval finished."""
        if body.get("Event") == "s3:TestEvent":
            raise UnknownEvent("S3 test event")
        found = restored_keys(body)
        if not found:
            raise UnknownEvent(f"no restore-completed record in {str(body)[:200]}")
        for bucket, key in found:
            job = job_for_key(bucket, key, self.names.results_bucket)
            token = job.restore_task_token
            if not token:
                # Delivered twice, or the thaw has moved on: nothing waits for this event.
                log_event("restore-event-duplicate", job_id=job.job_id, key=key)
                self.handled["dropped"] += 1
                continue
            sent = self._succeed(token, {"key": key, "tier": job.restore_tier})
            self._clear_token(job, token)
            log_event("restore-completed", job_id=job.job_id, key=key, callback_sent=sent)
            self.handled["events"] += 1

    # -- helpers -------------------------------------------------------------------------------

    def _tier_used(self, retrievals: list[str], asked: str) -> str:
        tier_of = getattr(self.backend, "retrieval_tier", None)  # only the vault backend has it
        if tier_of is None or not retrievals:
            return asked
        return tier_of(retrievals[0])

    def _clear_token(self, job: models.Job, token: str) -> None:
        # Only this token: a newer one (the Standard fallback) parked meanwhile must stay.
        try:
            job.update(
                actions=[models.Job.restore_task_token.remove()],
                condition=models.Job.restore_task_token == token,
            )
        except models.UpdateError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise

    def _succeed(self, token: str, output: dict[str, Any]) -> bool:
        return self._report("send_task_success", taskToken=token, output=json.dumps(output))

    def _fail(self, token: str, error: str, cause: str) -> bool:
        return self._report("send_task_failure", taskToken=token, error=error, cause=cause[:32000])

    def _report(self, method: str, **kwargs: Any) -> bool:
        """Send one callback; False when the token is no longer waiting (harmless)."""
        try:
            getattr(self._sfn, method)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in TOKEN_GONE:
                log_event("callback-token-gone", method=method, code=code)
                return False
            raise
        return True
