"""A job archived while its user was upgrading is not left behind by the upgrade's thaw.

The real job workflow runs from its retention wait (as the reconciler resumes it) with a real
archive worker; the upgrade is made to land while the archive step is moving the results, after it
read the tier. Which thaw brings the job back is decided by the claim on the job record, and the
workflow itself starts the job's own thaw (``ThawResultsArchivedDuringUpgrade``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from activities import archive as archive_activity
from activities.runtime import ActivityWorker
from gas import archive, aws, models
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.placed_jobs import completed_job
from tests.integration.processes import wait_for
from workflows import executions, jobs

pytestmark = pytest.mark.integration


class UpgradeWhileArchiving:
    """The archive backend, with the user's upgrade landing during the move (after the check)."""

    def __init__(self, settings: Settings, user: models.User) -> None:
        self.store = archive.S3GlacierBackend(settings)
        self.name = self.store.name
        self.user = user

    def archive(self, bucket: str, key: str) -> Any:
        self.user.update(
            actions=[
                models.User.tier.set(models.PREMIUM),
                models.User.upgraded_at.set(models.now()),
            ]
        )
        return self.store.archive(bucket, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def archive_worker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """An in-process archive worker whose backend the test chooses per job."""
    chosen: dict[str, Any] = {}
    monkeypatch.setattr(archive_activity.archive, "backend", lambda s: chosen["backend"])
    worker = ActivityWorker(settings, archive_activity.ACTIVITY, lease_seconds=1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    yield chosen
    worker.stopping.set()  # its last long poll ends in the background


def completed_free_job(settings: Settings) -> tuple[models.User, models.Job]:
    """A free user's COMPLETED job whose retention is already over."""
    finished = models.now() - timedelta(seconds=5)
    return completed_job(settings, finished, archive_after=finished)


def run_from_retention(settings: Settings, job: models.Job) -> dict:
    names = Resources.of(settings)
    payload = jobs.execution_input(settings, job, resume_at_retention=True)
    arn = executions.start_once(
        settings, names.job_state_machine_name, f"{job.job_id}-race", payload
    )

    def ended() -> dict | None:
        described = executions.describe(settings, arn)
        return described if described and described["status"] != "RUNNING" else None

    described = wait_for(ended, 60, what="the job workflow to end")
    assert described["status"] == "SUCCEEDED", described
    return described


def thaw_of(settings: Settings, name: str) -> dict | None:
    names = aws.resources(settings)
    described = executions.describe(
        settings, names.execution_arn(names.thaw_state_machine_name, name)
    )
    if described is not None and described["status"] == "RUNNING":
        aws.client(settings, "stepfunctions").stop_execution(
            executionArn=described["executionArn"]
        )  # no restore workers run here; do not leave it waiting
    return described


def test_a_job_the_upgrades_thaw_missed_gets_a_thaw_of_its_own(
    settings: Settings, archive_worker: dict
) -> None:
    user, job = completed_free_job(settings)
    archive_worker["backend"] = UpgradeWhileArchiving(settings, user)
    described = run_from_retention(settings, job)
    output = json.loads(described["output"])
    assert output["archive"]["thaw_needed"] is True
    job.refresh()
    assert job.status == models.ARCHIVED and job.thaw_execution == f"thaw-{job.job_id}"
    thaw = thaw_of(settings, f"thaw-{job.job_id}")
    assert thaw is not None, "the workflow started no thaw for the job"
    assert json.loads(thaw["input"])["jobs"] == [{"job_id": job.job_id}]


def test_a_job_the_upgrades_thaw_claimed_is_left_to_it(
    settings: Settings, archive_worker: dict
) -> None:
    user, job = completed_free_job(settings)

    class ClaimedByTheUpgrade(UpgradeWhileArchiving):
        def archive(self, bucket: str, key: str) -> Any:
            archived = super().archive(bucket, key)
            # The upgrade's thaw lists and claims the job the moment it is ARCHIVED.
            threading.Timer(0.0, self._claim).start()
            return archived

        def _claim(self) -> None:
            wait_for(
                lambda: models.Job.get(job.job_id).status == models.ARCHIVED, 10, what="ARCHIVED"
            )
            models.Job.get(job.job_id).claim_for_thaw("thaw-by-the-upgrade")  # may lose: fine

    archive_worker["backend"] = ClaimedByTheUpgrade(settings, user)
    described = run_from_retention(settings, job)
    job.refresh()
    assert job.thaw_execution in ("thaw-by-the-upgrade", f"thaw-{job.job_id}")
    started = thaw_of(settings, f"thaw-{job.job_id}") is not None
    # Exactly one of the two claimants holds the job, and only the holder's thaw exists for it.
    assert started == (job.thaw_execution == f"thaw-{job.job_id}")
    assert json.loads(described["output"])["archive"]["thaw_needed"] is started


def test_a_free_users_archive_needs_no_thaw(settings: Settings, archive_worker: dict) -> None:
    _user, job = completed_free_job(settings)
    archive_worker["backend"] = archive.S3GlacierBackend(settings)
    described = run_from_retention(settings, job)
    assert json.loads(described["output"])["archive"]["thaw_needed"] is False
    job.refresh()
    assert job.status == models.ARCHIVED and job.thaw_execution is None
    assert thaw_of(settings, f"thaw-{job.job_id}") is None
