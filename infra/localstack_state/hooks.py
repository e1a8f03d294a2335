"""Hooks into LocalStack's S3 and Step Functions providers that keep state in the journal.

Runs only inside LocalStack's own interpreter (see ``launch.py``). The community build keeps all
state in memory; these wrappers make it durable where GAS needs it:

- S3: after every successful mutating call, the object's current bytes and metadata are written
  to the journal (fsync + rename) before the response goes back; a deleted object or bucket is
  removed from it. When a bucket is created that the journal knows, its objects are put straight
  back into LocalStack's store, in-process and without event notifications.
- Step Functions: an execution that ends is journaled (DescribeExecution, history, list item)
  before its status-change event is published; after a restart, Describe/GetExecutionHistory/
  ListExecutions answer from the journal for executions LocalStack no longer has. Executions
  that were running are not kept: they read as not existing, for the reconciler to find.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from localstack.aws.api.s3 import NoSuchBucket
from localstack.aws.api.stepfunctions import ExecutionAlreadyExists, ExecutionDoesNotExist
from localstack.runtime import events
from localstack.services.s3.models import S3Object
from localstack.services.s3.provider import S3Provider
from localstack.services.stepfunctions.backend.execution import BaseExecutionWorkerCommunication
from localstack.services.stepfunctions.provider import StepFunctionsProvider

from infra.localstack_state.journal import Journal

LOG = logging.getLogger("gas.local_state")

# Fields of S3Object that are not the object's: multipart part offsets (meaningless once the
# parts are one file) and the storage layer's change stamp (set anew when the bytes are written).
_NOT_JOURNALED = {"parts", "internal_last_modified"}
_STRIPES = 256
_ATTEMPTS = 5

Targets = Callable[[dict[str, Any], Any], Iterable[tuple[str, str]]]


class _State:
    journal: Journal
    # Striped locks: a key's snapshot (read the store, write the record) is never interleaved with
    # another snapshot of the same key, so the last record written is the newest state.
    locks = [threading.Lock() for _ in range(_STRIPES)]


def _lock(bucket: str, key: str) -> threading.Lock:
    digest = hashlib.blake2b(f"{bucket}/{key}".encode(), digest_size=2).digest()
    return _State.locks[int.from_bytes(digest) % _STRIPES]


# -- S3 ---------------------------------------------------------------------------------------


def _snapshot(provider: S3Provider, context: Any, bucket: str, key: str) -> None:
    """Make the journal say what LocalStack's store says about ``bucket/key`` now.

    Only a bucket or object that LocalStack says is gone removes a record. Anything else (a
    LocalStack internal that moved, a full disk) is logged and raised: the write's caller gets an
    error, and the record stays as it was.
    """
    try:
        _write_snapshot(provider, context, bucket, key)
    except Exception:
        LOG.exception("S3 journal: %s/%s not journaled; its record is unchanged", bucket, key)
        raise


def _write_snapshot(provider: S3Provider, context: Any, bucket: str, key: str) -> None:
    journal = _State.journal.s3
    with _lock(bucket, key):
        try:
            _, s3_bucket = provider._get_cross_account_bucket(context, bucket)
        except NoSuchBucket:  # the bucket is gone: so is the object
            journal.delete(bucket, key)
            return
        for _ in range(_ATTEMPTS):
            s3_object = s3_bucket.objects.get(key)
            if not isinstance(s3_object, S3Object):  # absent, or a delete marker
                journal.delete(bucket, key)
                return
            # Under the storage's read lock the bytes cannot change; a writer that has written
            # them but not yet swapped in its S3Object shows up as a size/ETag mismatch: retry.
            with provider._storage_backend.open(bucket, s3_object, mode="r") as stored:
                current = s3_bucket.objects.get(key)
                if current is not s3_object:
                    continue
                meta = {k: v for k, v in vars(s3_object).items() if k not in _NOT_JOURNALED}
                md5 = hashlib.md5(usedforsecurity=False)
                stored.seek(0)
                body = _Hashing(stored, md5)
                size = journal.put(bucket, key, meta, body)
            etag = s3_object.etag or ""
            if size == s3_object.size and ("-" in etag or md5.hexdigest() == etag):
                return
            time.sleep(0.01)
        LOG.error("S3 journal: %s/%s kept changing; its record may be stale", bucket, key)


class _Hashing:
    """A reader that hashes what passes through it."""

    def __init__(self, source: Any, digest: Any) -> None:
        self.source, self.digest = source, digest

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        return data


def _replay(provider: S3Provider, context: Any, bucket: str) -> int:
    """Put the journaled objects of ``bucket`` back into LocalStack's store; returns how many."""
    _, s3_bucket = provider._get_cross_account_bucket(context, bucket)
    count = 0
    for record in _State.journal.s3.objects(bucket):
        s3_object = S3Object(key=record.key)
        with (
            record.open() as body,
            provider._storage_backend.open(bucket, s3_object, mode="w") as stored,
        ):
            stored.write(body)
        for name, value in record.meta.items():
            if name not in _NOT_JOURNALED:
                setattr(s3_object, name, value)
        s3_bucket.objects.set(s3_object.key, s3_object)
        count += 1
    return count


def _bucket_exists(provider: S3Provider, context: Any, bucket: str) -> bool:
    store = provider.get_store(context.account_id, context.region)
    return bucket in store.global_bucket_map or bucket in store.buckets


def _key_of(args: dict[str, Any], _response: Any) -> list[tuple[str, str]]:
    if "request" in args:
        return [(args["request"]["Bucket"], args["request"]["Key"])]
    return [(args["bucket"], args["key"])]


def _keys_of_delete(args: dict[str, Any], _response: Any) -> list[tuple[str, str]]:
    return [(args["bucket"], item["Key"]) for item in (args["delete"].get("Objects") or [])]


def _key_of_post(args: dict[str, Any], _response: Any) -> list[tuple[str, str]]:
    request = args["context"].request
    key = request.form.get("key") or ""
    if "${filename}" in key and "file" in request.files:
        key = key.replace("${filename}", request.files["file"].filename)
    return [(args["bucket"], key)] if key else []


S3_WRITES: dict[str, Targets] = {
    "put_object": _key_of,
    "post_object": _key_of_post,
    "copy_object": _key_of,
    "restore_object": _key_of,
    "complete_multipart_upload": _key_of,
    "delete_object": _key_of,
    "delete_objects": _keys_of_delete,
}


def _wrap_s3_write(name: str, targets: Targets) -> None:
    original = getattr(S3Provider, name)
    signature = inspect.signature(original)

    @functools.wraps(original)
    def wrapper(self: S3Provider, context: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, context, *args, **kwargs)
        bound = signature.bind(self, context, *args, **kwargs).arguments
        for bucket, key in targets(bound, response):
            _snapshot(self, context, bucket, key)
        return response

    setattr(S3Provider, name, wrapper)


def _wrap_create_bucket() -> None:
    original = S3Provider.create_bucket

    @functools.wraps(original)
    def create_bucket(self: S3Provider, context: Any, request: Any) -> Any:
        bucket = request["Bucket"]
        existed = _bucket_exists(self, context, bucket)
        response = original(self, context, request)
        if not existed:
            began = time.monotonic()
            count = _replay(self, context, bucket)
            if count:
                took = time.monotonic() - began
                LOG.info("S3 journal: %d objects of %s replayed in %.2f s", count, bucket, took)
        return response

    S3Provider.create_bucket = create_bucket


def _wrap_delete_bucket() -> None:
    original = S3Provider.delete_bucket

    signature = inspect.signature(original)

    @functools.wraps(original)
    def delete_bucket(self: S3Provider, context: Any, *args: Any, **kw: Any) -> Any:
        response = original(self, context, *args, **kw)
        _State.journal.s3.drop_bucket(
            signature.bind(self, context, *args, **kw).arguments["bucket"]
        )
        return response

    S3Provider.delete_bucket = delete_bucket


# -- Step Functions ----------------------------------------------------------------------------


def _journal_execution(execution: Any) -> None:
    if events.infra_stopping.is_set():
        # An execution that ends while LocalStack shuts down may have been broken by the shutdown
        # itself; left out, it reads as gone and the reconciler resumes its job.
        LOG.warning("not journaling %s: it ended during shutdown", execution.exec_arn)
        return
    if str(execution.sm_type) != "STANDARD":
        return
    try:
        _State.journal.executions.record(
            execution.exec_arn,
            dict(execution.to_describe_output()),
            list(execution.to_history_output()["events"]),
            dict(execution.to_execution_list_item()),
        )
    except Exception:
        LOG.exception("Step Functions journal: %s could not be written", execution.exec_arn)


def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    # As LocalStack's own, with the journal write between the status change and its event, so
    # nobody hears of an end that a crash could still lose.
    self._reflect_execution_status()
    _journal_execution(self.execution)
    self.execution.publish_execution_status_change_event()


def _from_journal_when_missing(name: str, answer: Callable[[dict[str, Any], dict], Any]) -> None:
    original = getattr(StepFunctionsProvider, name)
    signature = inspect.signature(original)

    @functools.wraps(original)
    def wrapper(self: StepFunctionsProvider, context: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, context, *args, **kwargs)
        except ExecutionDoesNotExist:
            bound = signature.bind(self, context, *args, **kwargs).arguments
            record = _State.journal.executions.get(bound["execution_arn"])
            if record is None:
                raise
            return answer(record, bound)

    setattr(StepFunctionsProvider, name, wrapper)


def _history(record: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    events_ = list(record["history"])
    if args.get("reverse_order"):
        events_.reverse()
    return {"events": events_}


def _wrap_list_executions() -> None:
    original = StepFunctionsProvider.list_executions
    signature = inspect.signature(original)

    @functools.wraps(original)
    def list_executions(self: StepFunctionsProvider, context: Any, *a: Any, **kw: Any) -> Any:
        response = original(self, context, *a, **kw)
        args = signature.bind(self, context, *a, **kw).arguments
        status = args.get("status_filter")
        # Journaled executions have all ended; paging over both is not supported (not needed).
        if status == "RUNNING" or args.get("next_token") or response.get("nextToken"):
            return response
        known = {item["executionArn"] for item in response["executions"]}
        extra = [
            item
            for item in _State.journal.executions.list_items(args["state_machine_arn"], status)
            if item["executionArn"] not in known
        ]
        if extra:
            merged = sorted(
                [*response["executions"], *extra], key=lambda i: i["startDate"], reverse=True
            )
            response["executions"] = merged[: args.get("max_results") or 1000]
        return response

    StepFunctionsProvider.list_executions = list_executions


def _wrap_start_execution() -> None:
    original = StepFunctionsProvider.start_execution
    signature = inspect.signature(original)

    @functools.wraps(original)
    def start_execution(self: StepFunctionsProvider, context: Any, *a: Any, **kw: Any) -> Any:
        args = signature.bind(self, context, *a, **kw).arguments
        machine, name = args.get("state_machine_arn") or "", args.get("name")
        if name and machine.count(":") == 6 and ":stateMachine:" in machine:
            arn = f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
            # As on AWS: a name an ended execution used cannot start another one.
            if arn not in self.get_store(context).executions and (
                _State.journal.executions.exists(arn)
            ):
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
        return original(self, context, *a, **kw)

    StepFunctionsProvider.start_execution = start_execution


def _wrap_delete_state_machine() -> None:
    original = StepFunctionsProvider.delete_state_machine
    signature = inspect.signature(original)

    @functools.wraps(original)
    def delete_state_machine(self: StepFunctionsProvider, context: Any, *a: Any, **kw: Any) -> Any:
        response = original(self, context, *a, **kw)
        arn = signature.bind(self, context, *a, **kw).arguments["state_machine_arn"]
        _State.journal.executions.drop_state_machine(arn)
        return response

    StepFunctionsProvider.delete_state_machine = delete_state_machine


def install(journal: Journal) -> None:
    """Wrap the providers' methods; call before LocalStack loads its services."""
    _State.journal = journal
    for name, targets in S3_WRITES.items():
        _wrap_s3_write(name, targets)
    _wrap_create_bucket()
    _wrap_delete_bucket()
    BaseExecutionWorkerCommunication.terminated = _terminated
    _from_journal_when_missing("describe_execution", lambda record, _args: record["describe"])
    _from_journal_when_missing("get_execution_history", _history)
    _wrap_list_executions()
    _wrap_start_execution()
    _wrap_delete_state_machine()
