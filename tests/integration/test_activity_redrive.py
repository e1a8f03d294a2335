"""A repeated task for a job that is already done (a redrive, a retry after a lost report) is
answered from the job's record, not redone, and its output still matches the activity's schema.

One test per activity and per queue handler, each run as the runtime runs it (input checked
against the input schema, output against the output schema), against the real local cloud.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import activities
from activities.base import TaskContext
from gas import keys, models, schemas
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.mailbox import wait_for_mail
from tests.integration.placed_jobs import completed_job
from workflows import users

pytestmark = pytest.mark.integration

WARNING_SECONDS = 60


def context(settings: Settings, kind: str, job_id: str) -> TaskContext:
    return TaskContext(
        settings=settings, owner=f"redrive-{keys.new_id()[:8]}", activity=kind, job_id=job_id
    )


def run_activity(settings: Settings, kind: str, task: dict[str, Any]) -> dict[str, Any]:
    """The activity's work as the runtime does it: schema in, run, schema out."""
    activity = activities.load(kind)
    schemas.check(task, activity.input_schema)
    output = activity.run(context(settings, kind, task.get("job_id", "")), task)
    schemas.check(output, activity.output_schema)
    return output


def handle_message(settings: Settings, kind: str, body: dict[str, Any]) -> None:
    handler = activities.load_handler(kind)
    handler.handle(context(settings, kind, ""), handler.setup(settings), body)


def annotate_task(job: models.Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "user_id": job.user_id,
        "input_key": job.input_key,
        "build": "auto",
        "retention_seconds": 600,
        "archive_warning_seconds": WARNING_SECONDS,
        "run_limit_seconds": 3600,
    }


def snapshot(job: models.Job) -> dict[str, Any]:
    """The record's fields a redrive must leave alone."""
    job.refresh()
    fields = ("status", "attempts", "worker", "started_at", "completed_at", "restored_at")
    return {name: getattr(job, name) for name in fields} | {"results": job.results.as_dict()}


def test_annotate_reports_a_finished_job_without_annotating_it_again(settings: Settings) -> None:
    finished = models.now() - timedelta(seconds=5)
    archive_after = finished + timedelta(seconds=600)
    _user, job = completed_job(
        settings, finished, archive_after=archive_after, variants_total=12, build="GRCh38"
    )
    before = snapshot(job)
    output = run_activity(settings, "annotate", annotate_task(job))
    assert output["tier"] == models.FREE
    assert output["variants"] == 12 and output["build"] == "GRCh38"
    assert output["results"] == job.results.as_dict()
    assert output["archive_at"] is not None
    # The warning the workflow waits for comes from the task's warning_seconds.
    assert output["archive_warning_at"] is not None
    assert snapshot(job) == before


def test_annotate_redrive_of_a_warned_or_premium_job_waits_for_no_warning(
    settings: Settings,
) -> None:
    finished = models.now() - timedelta(seconds=5)
    _user, warned = completed_job(
        settings,
        finished,
        archive_after=finished + timedelta(seconds=600),
        archive_warning_sent_at=finished,
    )
    output = run_activity(settings, "annotate", annotate_task(warned))
    assert output["archive_at"] is not None and output["archive_warning_at"] is None

    premium = users.ensure_user(settings, f"{keys.new_id()}@example.org", tier=models.PREMIUM)
    _user, job = completed_job(settings, finished, user=premium)
    output = run_activity(settings, "annotate", annotate_task(job))
    assert output["tier"] == models.PREMIUM
    assert output["archive_at"] is None and output["archive_warning_at"] is None


def test_archive_twice_archives_once(settings: Settings) -> None:
    finished = models.now() - timedelta(seconds=30)
    _user, job = completed_job(settings, finished, archive_after=finished)
    task = {"job_id": job.job_id, "user_id": job.user_id, "late_thaw": f"thaw-{job.job_id}"}
    first = run_activity(settings, "archive", task)
    assert first["archived"] is True and first["reason"] == "retention period over"
    archived_at = models.Job.get(job.job_id).archived_at
    again = run_activity(settings, "archive", task)
    assert again["archived"] is True and again["reason"] == "already archived"
    assert again["thaw_needed"] is False
    job.refresh()
    assert job.status == models.ARCHIVED and job.archived_at == archived_at


def test_record_failure_twice_keeps_the_first_reason(settings: Settings) -> None:
    _user, job = completed_job(settings, models.now(), status=models.RUNNING)
    task = {
        "job_id": job.job_id,
        "user_id": job.user_id,
        "error": "Annotate.InputMissing",
        "cause": "The uploaded file is no longer in storage; upload it again.",
    }
    assert run_activity(settings, "record-failure", task) == {
        "recorded": True,
        "status": models.FAILED,
    }
    again = {**task, "error": "States.Timeout", "cause": None}
    assert run_activity(settings, "record-failure", again) == {
        "recorded": False,
        "status": models.FAILED,
    }
    job.refresh()
    assert job.failure_error == "Annotate.InputMissing"
    assert job.failure_reason == task["cause"]


def test_notify_warns_of_the_archive_once(settings: Settings) -> None:
    finished = models.now()
    user, job = completed_job(settings, finished, archive_after=finished + timedelta(hours=1))
    task = {"event": "archive-soon", "job_id": job.job_id, "user_id": user.user_id}
    first = run_activity(settings, "notify", task)
    assert first["emailed"] is True and first["skipped"] is None
    again = run_activity(settings, "notify", task)
    assert again["emailed"] is False and again["skipped"] == "the warning was sent already"
    assert len(wait_for_mail(settings, user.email, "archived soon")) == 1


def test_notify_about_a_job_deleted_since_sends_nothing(settings: Settings) -> None:
    user, job = completed_job(settings, models.now())
    job.delete()
    task = {"event": "results-ready", "job_id": job.job_id, "user_id": user.user_id}
    assert run_activity(settings, "notify", task)["skipped"] == "the job was deleted"


def test_restore_of_a_restored_job_changes_nothing(settings: Settings) -> None:
    _user, job = completed_job(settings, models.now(), restored_at=models.now())
    before = snapshot(job)
    output = run_activity(settings, "restore", {"job_id": job.job_id, "user_id": job.user_id})
    assert output["restored"] is True and output["objects"] == 0
    assert snapshot(job) == before


def test_a_redelivered_restore_request_for_a_restored_job_requests_nothing(
    settings: Settings,
) -> None:
    _user, job = completed_job(settings, models.now(), restored_at=models.now())
    # The thaw that sent it has moved on: its token no longer waits (LocalStack says so).
    request = {"job_id": job.job_id, "tier": "Expedited", "task_token": f"gone-{keys.new_id()}"}
    handle_message(settings, "restore-requests", request)
    job.refresh()
    assert job.status == models.COMPLETED
    assert job.restore_task_token is None and job.restore_requested_at is None


def test_a_repeated_restore_event_answers_nothing(settings: Settings) -> None:
    finished = models.now() - timedelta(seconds=30)
    _user, job = completed_job(settings, finished, archive_after=finished)
    run_activity(
        settings,
        "archive",
        {"job_id": job.job_id, "user_id": job.user_id, "late_thaw": f"thaw-{job.job_id}"},
    )
    # The event of a retrieval whose thaw step was answered already: no token is parked.
    bucket = Resources.of(settings).results_bucket
    key = job.results.as_dict()["annotated"]
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectRestore:Completed",
                "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
            }
        ]
    }
    handle_message(settings, "restore-events", event)
    job.refresh()
    assert job.status == models.ARCHIVED and job.restore_task_token is None


def test_every_activity_and_handler_has_a_redrive_test() -> None:
    tested = {
        "annotate",
        "archive",
        "record-failure",
        "notify",
        "restore",
        "restore-requests",
        "restore-events",
    }
    assert set(activities.KINDS) == tested
