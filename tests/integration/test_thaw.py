"""Thaw on upgrade against the real local cloud: LocalStack (S3 Glacier class, SQS, Step Functions)
and DynamoDB Local, with real workers. Archived jobs are made the way the archive step leaves them
(results in the results bucket, moved to GLACIER), not by running whole annotations.

LocalStack 2026.3.0 restores a GLACIER object at once: RestoreObject itself emits
``s3:ObjectRestore:Post`` and ``s3:ObjectRestore:Completed`` (see its s3/provider.py), and it
accepts every tier, so the Expedited refusal is injected at the S3 client of the archive backend.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import activities
from activities import restore_events, restore_requests
from activities.base import QueueHandler
from activities.runtime import ActivityWorker, QueueWorker
from gas import archive, aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.mailbox import mail_to
from workflows import jobs as job_flows
from workflows import thaw, users

pytestmark = pytest.mark.integration

WAIT_TASK = "sendMessage.waitForTaskToken"


# -- fixtures --------------------------------------------------------------------------------


def _gas(settings: Settings, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "cli.main", *args],
        env=settings.subprocess_env(),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen, log: Path) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"worker did not stop on SIGTERM; log:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def workers(settings: Settings) -> Iterator[None]:
    """The restore and notify activity workers (the runtime `gas worker` runs), as threads.

    LocalStack holds an empty GetActivityTask for 60 s as AWS does, so a stopped worker finishes
    its last poll in the background (serving whatever it got) instead of being waited for here.
    """
    running = [
        ActivityWorker(settings, activities.load(kind), concurrency=3)
        for kind in ("restore", "notify")
    ]
    for worker in running:
        threading.Thread(target=worker.run, daemon=True, name=worker.activity.name).start()
    yield
    for worker in running:
        worker.stopping.set()


class _QueueWorkers:
    """The two restore queues' workers, as threads (``backend``: the archive the requests use)."""

    def __init__(self, settings: Settings, backend: Any = None) -> None:
        self.workers = [
            QueueWorker(settings, restore_requests.HANDLER, wait_seconds=1, dependencies=backend),
            QueueWorker(settings, restore_events.HANDLER, wait_seconds=1, dependencies=backend),
        ]
        self.threads = [threading.Thread(target=w.run, daemon=True) for w in self.workers]

    def __enter__(self) -> list[QueueWorker]:
        for thread in self.threads:
            thread.start()
        return self.workers

    def __exit__(self, *_exc: object) -> None:
        for worker in self.workers:
            worker.stopping.set()
        for thread in self.threads:
            thread.join(timeout=15)


# -- helpers ---------------------------------------------------------------------------------


def _names(settings: Settings) -> Resources:
    return aws.resources(settings)


def archived_user(
    settings: Settings, count: int, kinds: tuple[str, ...] = tuple(keys.RESULT_FILES)
) -> tuple[models.User, list[models.Job]]:
    """A free user with ``count`` jobs (with results of ``kinds``) whose big results were moved
    to GLACIER."""
    user = users.ensure_user(settings, f"{keys.new_id()}@example.org")
    names = _names(settings)
    s3 = aws.client(settings, "s3")
    store = archive.S3GlacierBackend(settings)
    made = []
    for index in range(count):
        job_id = keys.new_id()
        results = {kind: keys.result_key(user.user_id, job_id, kind) for kind in kinds}
        for kind, key in results.items():
            s3.put_object(Bucket=names.results_bucket, Key=key, Body=_content(job_id, kind))
        job = models.Job(
            job_id,
            user_id=user.user_id,
            input_key=keys.upload_key(user.user_id, keys.new_id()),
            input_filename=f"sample-{index}.vcf",
            status=models.COMPLETED,
            results=results,
            completed_at=models.now(),
        )
        job.save()
        for kind in archive.archived_kinds(results):
            store.archive(names.results_bucket, results[kind])
        job.move_to(models.ARCHIVED, archived_at=models.now(), archive_backend=store.name)
        made.append(job)
    return user, made


def _content(job_id: str, kind: str) -> bytes:
    return f"##fileformat=VCFv4.2\n## {kind} of job {job_id}\n".encode()


def wait_for_execution(settings: Settings, arn: str, timeout: float = 90) -> dict[str, Any]:
    sfn = aws.client(settings, "stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.5)
    pytest.fail(f"thaw {arn} still running after {timeout}s")


def queue_url(settings: Settings, name: str) -> str:
    return aws.client(settings, "sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queue_depth(settings: Settings, name: str) -> int:
    attrs = aws.client(settings, "sqs").get_queue_attributes(
        QueueUrl=queue_url(settings, name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def drain_events(settings: Settings) -> None:
    """Handle what is on the events queue already (S3's s3:TestEvent, leftovers)."""
    QueueWorker(settings, restore_events.HANDLER, wait_seconds=0).poll_once()


def restore_completed_event(bucket: str, key: str) -> str:
    """An S3 event notification as S3 sends it for a finished restore."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectRestore:Completed",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
    }
    return json.dumps({"Records": [record]})


class _RefuseExpedited:
    """The S3 client as an account out of Expedited capacity sees it (all else passes through)."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.refused: list[str] = []

    def restore_object(self, **kwargs: Any) -> Any:
        if kwargs["RestoreRequest"]["GlacierJobParameters"]["Tier"] == "Expedited":
            self.refused.append(kwargs["Key"])
            raise ClientError(
                {
                    "Error": {
                        "Code": "GlacierExpeditedRetrievalNotAvailable",
                        "Message": "Glacier expedited retrievals are currently not available",
                    }
                },
                "RestoreObject",
            )
        return self._s3.restore_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


# -- the thaw --------------------------------------------------------------------------------


def test_upgrade_thaws_every_archived_job_through_the_callback(
    settings: Settings, workers: None, tmp_path: Path
) -> None:
    user, archived = archived_user(settings, 3)
    names = _names(settings)
    s3 = aws.client(settings, "s3")
    with pytest.raises(ClientError, match="InvalidObjectState"):
        s3.get_object(Bucket=names.results_bucket, Key=archived[0].results.as_dict()["annotated"])

    logs = [tmp_path / "restore-requests.log", tmp_path / "restore-events.log"]
    queue_workers = [
        _gas(settings, log, "worker", kind)
        for log, kind in zip(logs, ("restore-requests", "restore-events"), strict=True)
    ]
    try:
        began = time.monotonic()
        arn = thaw.upgrade(settings, user)
        assert arn is not None
        described = wait_for_execution(settings, arn)
        took = time.monotonic() - began
    finally:
        for process, log in zip(queue_workers, logs, strict=True):
            _stop(process, log)
    assert described["status"] == "SUCCEEDED", described
    print(f"thaw of 3 jobs: {took:.1f}s")

    user.refresh()
    assert user.tier == models.PREMIUM
    assert user.thaw_execution_arn == arn
    executions = aws.client(settings, "stepfunctions").list_executions(
        stateMachineArn=names.state_machine_arn(names.thaw_state_machine_name)
    )["executions"]
    assert [e["executionArn"] for e in executions if user.user_id in e["name"]] == [arn]

    for job in archived:
        job.refresh()
        assert job.status == models.COMPLETED
        assert job.restored_at is not None
        assert job.restore_tier == "Expedited"
        assert job.archived_at is None and job.restore_task_token is None
        results = job.results.as_dict()
        assert len(archive.archived_kinds(results)) == 4  # the VCF, .vcf.gz, TSV and Parquet
        for kind in archive.archived_kinds(results):
            assert s3.head_object(Bucket=names.results_bucket, Key=results[kind]).get(
                "StorageClass", "STANDARD"
            ) == ("STANDARD")
        with urllib.request.urlopen(job_flows.result_url(settings, job, "annotated")) as got:  # noqa: S310
            assert got.read() == _content(job.job_id, "annotated")

    # The history shows each job's wait on the callback (task token), not a poll.
    events = job_flows.history(settings, arn)
    waits = [
        e["taskScheduledEventDetails"]
        for e in events
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == WAIT_TASK
    ]
    assert len(waits) == 3
    assert all(w["resourceType"] == "sqs" for w in waits)
    callbacks = [
        e
        for e in events
        if e["type"] == "TaskSucceeded" and e["taskSucceededEventDetails"]["resourceType"] == "sqs"
    ]
    assert len(callbacks) == 3
    steps = [s["state"] for s in job_flows.timeline(events, described["status"])]
    assert steps.count("RequestExpeditedRetrieval") == 3
    assert steps.count("RestoreResults") == 3
    assert "RequestStandardRetrieval" not in steps
    assert steps[-2:] == ["NotifyThawComplete", "ThawComplete"]
    assert all("worker-stopped" in log.read_text() for log in logs)
    # The researcher is told, naming each result that is back, with its link.
    (restored,) = mail_to(settings, user.email, "back online")
    assert restored.subject == "GAS: your archived results are back online"
    assert "back online (3)" in restored.body
    for job in archived:
        assert f"{job.input_filename}: {settings.base_url}/annotations/{job.job_id}" in (
            restored.body
        )
    assert "could not be brought back" not in restored.body


def test_expedited_refused_falls_back_to_standard_and_the_job_says_so(
    settings: Settings, workers: None
) -> None:
    user, (job,) = archived_user(settings, 1)
    backend = archive.S3GlacierBackend(settings)
    backend.s3 = refusing = _RefuseExpedited(backend.s3)
    with _QueueWorkers(settings, backend):
        arn = thaw.upgrade(settings, user)
        assert arn is not None
        described = wait_for_execution(settings, arn)
    assert described["status"] == "SUCCEEDED", described
    first = archive.archived_kinds(job.results.as_dict())[0]  # the first retrieval asked for
    # The queue is the module's: a late request of an earlier test's thaw may pass through too.
    mine = [key for key in refusing.refused if job.job_id in key]
    assert mine == [job.results.as_dict()[first]]
    job.refresh()
    assert job.status == models.COMPLETED
    assert job.restore_tier == "Standard"
    events = job_flows.history(settings, arn)
    steps = job_flows.timeline(events, described["status"])
    expedited = next(s for s in steps if s["state"] == "RequestExpeditedRetrieval")
    assert expedited["error"] == "Archive.ExpeditedUnavailable"
    assert [s["state"] for s in steps].count("RequestStandardRetrieval") == 1
    shown = subprocess.run(  # noqa: S603 - our own CLI: what an operator sees
        [sys.executable, "-m", "cli.main", "admin", "job", job.job_id, "--json"],
        env=settings.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    record = json.loads(shown.stdout)
    assert record["status"] == models.COMPLETED and record["restore_tier"] == "Standard"
    assert record["restore_requested_at"] and record["restored_at"]


def test_a_job_the_archive_cannot_give_back_is_reported_and_the_others_restore(
    settings: Settings, workers: None
) -> None:
    user, (lost, kept) = archived_user(settings, 2)
    names = _names(settings)
    lost_key = lost.results.as_dict()["annotated"]
    aws.client(settings, "s3").delete_object(Bucket=names.results_bucket, Key=lost_key)
    with _QueueWorkers(settings):
        arn = thaw.upgrade(settings, user)
        assert arn is not None
        described = wait_for_execution(settings, arn)
    assert described["status"] == "SUCCEEDED", described
    (map_exit,) = [e for e in job_flows.history(settings, arn) if e["type"] == "MapStateExited"]
    after_map = json.loads(map_exit["stateExitedEventDetails"]["output"])
    outcomes = {o["job_id"]: o for o in after_map["outcomes"]}
    assert outcomes[lost.job_id]["restored"] is False
    assert outcomes[lost.job_id]["error"] == "Archive.RetrievalRefused"
    assert outcomes[kept.job_id]["restored"] is True
    lost.refresh()
    kept.refresh()
    assert (lost.status, kept.status) == (models.ARCHIVED, models.COMPLETED)
    assert lost.restore_task_token is None
    (told,) = mail_to(settings, user.email, "back online")
    back, not_yet = told.body.split("could not be brought back yet (1)")
    assert kept.input_filename in back and lost.input_filename not in back
    assert f"{lost.input_filename}: {settings.base_url}/annotations/{lost.job_id}" in not_yet


def test_the_same_restore_event_twice_restores_once(
    settings: Settings, workers: None, caplog: pytest.LogCaptureFixture
) -> None:
    # A job from before the standard outputs: one archived object, so one real event.
    user, (job,) = archived_user(settings, 1, kinds=("annotated", "log", "summary"))
    names = _names(settings)
    sqs = aws.client(settings, "sqs")
    events_url = queue_url(settings, names.restore_events_queue)
    drain_events(settings)
    requests = QueueWorker(settings, restore_requests.HANDLER, wait_seconds=1)
    events_worker = QueueWorker(settings, restore_events.HANDLER, wait_seconds=1)
    arn = thaw.upgrade(settings, user)
    assert arn is not None

    # Serve the queues by hand: the request (LocalStack's restore emits the real event at once)...
    deadline = time.monotonic() + 60
    while job.restore_task_token is None:
        assert time.monotonic() < deadline, "the thaw posted no restore request"
        requests.poll_once()
        job.refresh()
    # ...then the real event, delivered twice. An earlier test's late event may come first: it
    # is not this test's to deliver again, so it is taken off the queue and passed over.
    archived_key = job.results.as_dict()["annotated"]
    message: dict[str, Any] | None = None
    while message is None:
        assert time.monotonic() < deadline, "LocalStack sent no restore-completed event"
        received = sqs.receive_message(
            QueueUrl=events_url, WaitTimeSeconds=1, MaxNumberOfMessages=10
        ).get("Messages", [])
        for got in received:
            sqs.delete_message(QueueUrl=events_url, ReceiptHandle=got["ReceiptHandle"])
            if archived_key in got["Body"]:
                message = got
    assert "ObjectRestore:Completed" in message["Body"]
    for _ in range(2):
        sqs.send_message(QueueUrl=events_url, MessageBody=message["Body"])

    def logged(event: str) -> int:
        # This job's lines only: a late event of an earlier test's thaw may share the queue.
        return sum(
            f'"event": "{event}"' in line and job.job_id in line
            for line in caplog.text.splitlines()
        )

    with caplog.at_level(logging.INFO, logger="gas.worker"):
        while logged("restore-completed") + logged("restore-event-duplicate") < 2:
            assert time.monotonic() < deadline
            events_worker.poll_once()
    assert logged("restore-completed") == 1
    assert logged("restore-event-duplicate") == 1

    described = wait_for_execution(settings, arn)
    assert described["status"] == "SUCCEEDED", described
    events = job_flows.history(settings, arn)
    assert sum(1 for e in events if e["type"] == "ActivityScheduled") == 2  # restore + notify
    job.refresh()
    assert job.status == models.COMPLETED
    assert queue_depth(settings, names.restore_events_queue) == 0
    assert queue_depth(settings, names.restore_events_dlq) == 0


def test_an_event_for_an_unknown_key_is_logged_and_dropped(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    names = _names(settings)
    sqs = aws.client(settings, "sqs")
    events_url = queue_url(settings, names.restore_events_queue)
    drain_events(settings)
    unknown = [
        keys.result_key(keys.new_id(), keys.new_id(), "annotated"),
        "somewhere/else.txt",
    ]
    for key in unknown:
        sqs.send_message(
            QueueUrl=events_url, MessageBody=restore_completed_event(names.results_bucket, key)
        )
    events_worker = QueueWorker(settings, restore_events.HANDLER, wait_seconds=1)
    deadline = time.monotonic() + 20
    with caplog.at_level(logging.INFO, logger="gas.worker"):
        while events_worker.dropped < len(unknown):
            assert time.monotonic() < deadline
            events_worker.poll_once()
    assert events_worker.dropped == 2 and events_worker.failed == 0
    drops = [r.getMessage() for r in caplog.records if "message-dropped" in r.getMessage()]
    assert len(drops) == 2
    assert any(unknown[0] in d for d in drops) and any(unknown[1] in d for d in drops)
    assert queue_depth(settings, names.restore_events_queue) == 0
    assert queue_depth(settings, names.restore_events_dlq) == 0


def test_an_event_that_keeps_failing_goes_to_the_dead_letter_queue(settings: Settings) -> None:
    names = _names(settings)
    sqs = aws.client(settings, "sqs")
    events_url = queue_url(settings, names.restore_events_queue)
    drain_events(settings)
    body = restore_completed_event(names.results_bucket, "results/poison/pill.vcf")
    sqs.send_message(QueueUrl=events_url, MessageBody=body)
    receives = 0

    def keeps_failing(_ctx: Any, _unused: Any, _body: dict[str, Any]) -> None:
        nonlocal receives
        receives += 1
        raise RuntimeError("Step Functions unreachable")

    failing = QueueHandler(
        name="restore-events", queue=lambda n: n.restore_events_queue, handle=keeps_failing
    )
    worker = QueueWorker(settings, failing, wait_seconds=1, retry_after_seconds=0)
    deadline = time.monotonic() + 30
    while queue_depth(settings, names.restore_events_queue):
        assert time.monotonic() < deadline, f"still on the queue after {receives} receives"
        worker.poll_once()
    assert receives == 5  # RestoreEventsMaxReceives in infra/template.yaml
    dlq = queue_url(settings, names.restore_events_dlq)
    (dead,) = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"]
    assert dead["Body"] == body
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=dead["ReceiptHandle"])


def test_upgrading_twice_starts_one_thaw(settings: Settings) -> None:
    user, _jobs = archived_user(settings, 1)
    names = _names(settings)
    # Two requests at once, each with its own copy of the user (as two web workers would have).
    copies = [models.User.get(user.user_id) for _ in range(2)]
    arns: list[str | None] = [None, None]
    barrier = threading.Barrier(2)

    def upgrade(index: int) -> None:
        barrier.wait()
        arns[index] = thaw.upgrade(settings, copies[index])

    threads = [threading.Thread(target=upgrade, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [arn for arn in arns if arn]
    assert len(started) == 1, arns
    assert thaw.upgrade(settings, models.User.get(user.user_id)) is None  # and once more later
    sfn = aws.client(settings, "stepfunctions")
    mine = [
        e
        for e in sfn.list_executions(
            stateMachineArn=names.state_machine_arn(names.thaw_state_machine_name)
        )["executions"]
        if user.user_id in e["name"]
    ]
    assert [e["executionArn"] for e in mine] == started
    sfn.stop_execution(executionArn=started[0])  # no relay runs here; do not leave it waiting


def test_upgrading_a_user_with_nothing_archived_starts_no_thaw(settings: Settings) -> None:
    user = users.ensure_user(settings, f"{keys.new_id()}@example.org")
    assert thaw.upgrade(settings, user) is None
    user.refresh()
    assert user.tier == models.PREMIUM and user.thaw_execution_arn is None


def test_gas_upgrade_prints_the_thaw_once(settings: Settings) -> None:
    user, _jobs = archived_user(settings, 1)

    def gas_upgrade(email: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "cli.main", "upgrade", email],
            env=settings.subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    first = gas_upgrade(user.email.upper())  # e-mails are matched case-insensitively
    assert first.returncode == 0, first.stderr
    arn = first.stdout.strip()
    assert arn.startswith("arn:aws:states:") and user.user_id in arn
    again = gas_upgrade(user.email)
    assert again.returncode == 0 and again.stdout == ""
    assert "no thaw to start" in again.stderr
    assert gas_upgrade("nobody@example.org").returncode != 0
    aws.client(settings, "stepfunctions").stop_execution(executionArn=arn)
