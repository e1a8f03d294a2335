"""The reconciler's decision for every (job status, workflow status) pair, without a cloud."""

from __future__ import annotations

import pytest

from gas import models
from workflows.reconcile import MAX_RESUMES, Action, Finding, decide

WORKFLOW_STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "MISSING"]

# (job status, waiting for archive, premium) -> workflow status -> action, with data present.
EXPECTED = {
    (models.PENDING, False, False): {
        "RUNNING": Action.NONE,
        "SUCCEEDED": Action.RESUME_ANNOTATION,  # ended without recording a result
        "FAILED": Action.FAIL,
        "ABORTED": Action.FAIL,
        "TIMED_OUT": Action.FAIL,
        "MISSING": Action.RESUME_ANNOTATION,
    },
    (models.RUNNING, False, False): {
        "RUNNING": Action.NONE,
        "SUCCEEDED": Action.RESUME_ANNOTATION,
        "FAILED": Action.FAIL,
        "ABORTED": Action.FAIL,
        "TIMED_OUT": Action.FAIL,
        "MISSING": Action.RESUME_ANNOTATION,
    },
    (models.COMPLETED, True, False): {
        "RUNNING": Action.NONE,
        "SUCCEEDED": Action.RESUME_RETENTION,
        "FAILED": Action.RESUME_RETENTION,  # the archive step kept failing: try again, bounded
        "ABORTED": Action.RESUME_RETENTION,
        "TIMED_OUT": Action.RESUME_RETENTION,
        "MISSING": Action.RESUME_RETENTION,
    },
    (models.COMPLETED, True, True): {
        "RUNNING": Action.NONE,
        **{s: Action.STOP_WAITING for s in WORKFLOW_STATUSES if s != "RUNNING"},
    },
    # Premium users' completed jobs and free users' archived jobs are at rest: nothing to check.
    (models.COMPLETED, False, True): {s: Action.NONE for s in WORKFLOW_STATUSES},
    (models.COMPLETED, False, False): {s: Action.NONE for s in WORKFLOW_STATUSES},
    (models.ARCHIVED, False, False): {s: Action.NONE for s in WORKFLOW_STATUSES},
    (models.FAILED, False, False): {s: Action.NONE for s in WORKFLOW_STATUSES},
    # A premium user's archived job, and any restoring job, need a running thaw.
    (models.ARCHIVED, False, True): {
        "RUNNING": Action.NONE,
        **{s: Action.THAW_AGAIN for s in WORKFLOW_STATUSES if s != "RUNNING"},
    },
    (models.RESTORING, False, True): {
        "RUNNING": Action.NONE,
        **{s: Action.THAW_AGAIN for s in WORKFLOW_STATUSES if s != "RUNNING"},
    },
}


@pytest.mark.parametrize("workflow", WORKFLOW_STATUSES)
@pytest.mark.parametrize("job", list(EXPECTED), ids=lambda k: "-".join(map(str, k)))
def test_every_pair_has_its_repair(job: tuple[str, bool, bool], workflow: str) -> None:
    status, waiting, premium = job
    finding = Finding(status, workflow, waiting_for_archive=waiting, premium=premium)
    assert decide(finding).action is EXPECTED[job][workflow]


@pytest.mark.parametrize(
    ("workflow", "words"),
    [("ABORTED", "stopped"), ("TIMED_OUT", "ran out of time"), ("FAILED", "States.Runtime")],
)
def test_an_ended_annotation_fails_with_a_reason_a_researcher_can_read(
    workflow: str, words: str
) -> None:
    finding = Finding(models.RUNNING, workflow, execution_error="States.Runtime")
    decision = decide(finding)
    assert decision.action is Action.FAIL and words in decision.reason


@pytest.mark.parametrize(
    ("status", "waiting", "premium"),
    [
        (models.PENDING, False, False),
        (models.COMPLETED, True, False),
        (models.RESTORING, False, True),
        (models.ARCHIVED, False, True),
    ],
)
def test_lost_data_ends_the_job_failed_saying_so(status: str, waiting: bool, premium: bool) -> None:
    finding = Finding(
        status, "MISSING", waiting_for_archive=waiting, premium=premium, data_present=False
    )
    decision = decide(finding)
    assert decision.action is Action.FAIL
    assert "lost" in decision.reason and "restarted" in decision.reason


def test_lost_data_is_no_concern_while_the_workflow_runs() -> None:
    finding = Finding(models.RUNNING, "RUNNING", data_present=False)
    assert decide(finding).action is Action.NONE


def test_repairs_are_bounded() -> None:
    tired = {"resumes": MAX_RESUMES}
    annotation = decide(Finding(models.PENDING, "MISSING", **tired))
    assert annotation.action is Action.FAIL and str(MAX_RESUMES) in annotation.reason
    waiting = decide(Finding(models.COMPLETED, "FAILED", waiting_for_archive=True, **tired))
    assert waiting.action is Action.STOP_WAITING  # the results stay online
    restoring = decide(Finding(models.RESTORING, "FAILED", premium=True, **tired))
    assert restoring.action is Action.KEEP_ARCHIVED and "could not be brought back" in (
        restoring.reason
    )
    archived = decide(Finding(models.ARCHIVED, "FAILED", premium=True, **tired))
    assert archived.action is Action.NONE
