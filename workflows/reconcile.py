"""The reconciler: every job converges to a true end state, whatever was lost on the way.

A job's record says which workflow should be carrying it: a job execution while it is PENDING or
RUNNING and while a free job waits out its retention (COMPLETED with ``archive_after``), a thaw
while it is RESTORING or archived for a premium user. When that workflow is missing (an emulator
restart, a lost event), stopped, timed out, or failed without the job recording why, the
reconciler repairs the job: it starts the job's workflow again at the point the record allows
(annotate again; wait out only what is left of the retention, then archive; thaw again), or ends
the job FAILED with a reason a researcher can read (and e-mails it, in the words the workflow's
own failure e-mail uses: ``gas.notifications``). The definition chooses where a resumed
execution starts (``ChooseStartingPoint`` on ``resume_from``); this module only decides which.

It is cheap when nothing is wrong: one DynamoDB query per status and one ListExecutions (RUNNING)
per state machine; DescribeExecution only for a job whose workflow is not running. It is safe to
run from several places at once: every repair is a conditional write on the job (the resume count,
the thaw claim) before a start under a name derived from it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from gas import aws, models, notifications
from gas.resources import Resources
from gas.settings import GLACIER_VAULT, Settings
from workflows import executions, jobs, thaw

log = logging.getLogger("gas.reconciler")

# A workflow started less than this long ago may not be listed yet (or is being started now).
START_GRACE_SECONDS = 60
# After this many restarts of a job's workflows, the reconciler ends the job instead.
MAX_RESUMES = 3
LAST_RUN_KEY = "reconciler/last-run.json"

MISSING = "MISSING"  # no such execution (an emulator restart, or never started)
ENDED = ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")


class Action(StrEnum):
    NONE = "none"
    RESUME_ANNOTATION = "resume-annotation"
    RESUME_RETENTION = "resume-retention"
    STOP_WAITING = "stop-waiting"  # nothing is to be archived any more: results stay online
    THAW_AGAIN = "thaw-again"
    KEEP_ARCHIVED = "keep-archived"  # the thaw gave up: back to ARCHIVED, with the reason
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """What the reconciler saw of one job: its record and the state of its workflow."""

    status: str
    workflow_status: str  # RUNNING, one of ENDED, or MISSING
    waiting_for_archive: bool = False  # COMPLETED and archive_after set
    premium: bool = False
    resumes: int = 0
    data_present: bool = True  # the input (before results exist) or the results
    execution_error: str | None = None  # what a FAILED execution reported


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""  # for FAIL and KEEP_ARCHIVED: what the researcher reads

    @property
    def repairs(self) -> bool:
        return self.action is not Action.NONE


LOST_INPUT = (
    "The uploaded file was lost when the service restarted before the annotation finished; "
    "please upload it again."
)
LOST_RESULTS = "The results of this job were lost when the service restarted; please submit again."
ABORTED_REASON = "The job's workflow was stopped before the annotation finished."
TIMED_OUT_REASON = "The job's workflow ran out of time before the annotation finished."
GAVE_UP_REASON = (
    "The job's workflow was interrupted {n} times before the annotation finished; please retry."
)
NOT_RESTORED_REASON = "The archived results could not be brought back after {n} tries."


def decide(finding: Finding) -> Decision:
    """The repair for one job, from its status and its workflow's (pure; see the unit tests)."""
    status, workflow = finding.status, finding.workflow_status
    if workflow == "RUNNING":
        return Decision(Action.NONE)
    if status in (models.PENDING, models.RUNNING):
        if not finding.data_present:
            return Decision(Action.FAIL, LOST_INPUT)
        if workflow == "ABORTED":
            return Decision(Action.FAIL, ABORTED_REASON)
        if workflow == "TIMED_OUT":
            return Decision(Action.FAIL, TIMED_OUT_REASON)
        if workflow == "FAILED":
            reason = finding.execution_error or "the workflow failed"
            return Decision(Action.FAIL, f"The annotation could not be completed ({reason}).")
        # MISSING, or SUCCEEDED without the job recording it: run the annotation again.
        if finding.resumes >= MAX_RESUMES:
            return Decision(Action.FAIL, GAVE_UP_REASON.format(n=finding.resumes))
        return Decision(Action.RESUME_ANNOTATION)
    if status == models.COMPLETED and finding.waiting_for_archive:
        if not finding.data_present:
            return Decision(Action.FAIL, LOST_RESULTS)
        if finding.premium or finding.resumes >= MAX_RESUMES:
            # Upgraded meanwhile, or the archive keeps failing (the operator page lists the
            # failed executions): the results stay online, which is always safe.
            return Decision(Action.STOP_WAITING)
        return Decision(Action.RESUME_RETENTION)
    if status == models.RESTORING or (status == models.ARCHIVED and finding.premium):
        if not finding.data_present:
            return Decision(Action.FAIL, LOST_RESULTS)
        if finding.resumes >= MAX_RESUMES:
            if status == models.RESTORING:
                return Decision(Action.KEEP_ARCHIVED, NOT_RESTORED_REASON.format(n=finding.resumes))
            return Decision(Action.NONE)  # archived, and we stopped trying: a true state
        return Decision(Action.THAW_AGAIN)
    return Decision(Action.NONE)


# -- one run -----------------------------------------------------------------------------------


@dataclass
class Repair:
    job_id: str
    status: str
    workflow: str
    workflow_status: str
    action: str
    reason: str = ""
    done: bool = False  # False in a dry run, or when another reconciler got there first


@dataclass
class Report:
    started_at: str
    seconds: float = 0.0
    dry_run: bool = False
    jobs_checked: int = 0
    executions_described: int = 0
    repairs: list[Repair] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reconciler:
    """One deployment's reconciler (see the module docstring)."""

    def __init__(self, settings: Settings, *, grace_seconds: float = START_GRACE_SECONDS) -> None:
        self.settings = settings
        self.grace = timedelta(seconds=grace_seconds)
        self.names = aws.resources(settings)
        self.s3 = aws.client(settings, "s3")
        self._users: dict[str, bool] = {}

    def run(self, *, dry_run: bool = False) -> Report:
        """Check every job that should have a live workflow; repair those that have none."""
        began = time.monotonic()
        report = Report(started_at=_iso(models.now()), dry_run=dry_run)
        running_jobs = executions.running(self.settings, self.names.job_state_machine_name)
        running_thaws = executions.running(self.settings, self.names.thaw_state_machine_name)
        for job in self._candidates():
            report.jobs_checked += 1
            repair = self._check(job, running_jobs, running_thaws, report)
            if repair is None:
                continue
            if not dry_run:
                repair.done = self._repair(job, repair)
            report.repairs.append(repair)
            _log_repair(repair, dry_run)
        report.seconds = round(time.monotonic() - began, 3)
        if not dry_run:
            self.save(report)
        return report

    # -- what to look at ------------------------------------------------------------------------

    def _candidates(self) -> Iterator[models.Job]:
        for status in (models.PENDING, models.RUNNING, models.RESTORING):
            yield from models.Job.by_status.query(status)
        yield from models.Job.by_status.query(
            models.COMPLETED, filter_condition=models.Job.archive_after.exists()
        )
        archived = list(models.Job.by_status.query(models.ARCHIVED))
        self._load_tiers({job.user_id for job in archived})
        yield from (job for job in archived if self._users.get(job.user_id))

    def _load_tiers(self, user_ids: set[str]) -> None:
        missing = [uid for uid in user_ids if uid not in self._users]
        for user in models.User.batch_get(missing):
            self._users[user.user_id] = user.is_premium

    def _premium(self, user_id: str) -> bool:
        if user_id not in self._users:
            self._load_tiers({user_id})
        return self._users.get(user_id, False)

    # -- one job --------------------------------------------------------------------------------

    def _check(
        self,
        job: models.Job,
        running_jobs: dict[str, str],
        running_thaws: dict[str, str],
        report: Report,
    ) -> Repair | None:
        thawing = job.status in (models.RESTORING, models.ARCHIVED)
        if thawing:
            workflow, started = job.thaw_execution or "", job.thaw_claimed_at
            arn = self.names.execution_arn(self.names.thaw_state_machine_name, workflow)
            running = running_thaws
        else:
            arn = job.execution_arn or ""
            workflow = arn.rsplit(":", 1)[-1]
            started = max(filter(None, (job.submitted_at, job.resumed_at)))
            running = running_jobs
        if workflow and workflow in running:
            return None
        if started is not None and models.now() - started < self.grace:
            return None  # being started right now, or not listed yet
        workflow_status, error = MISSING, None
        if workflow:
            described = executions.describe(self.settings, arn)
            report.executions_described += 1
            if described is not None:
                workflow_status = described["status"]
                error = described.get("error")
        if workflow_status == "RUNNING":
            return None
        finding = Finding(
            status=job.status,
            workflow_status=workflow_status,
            waiting_for_archive=job.status == models.COMPLETED and job.archive_after is not None,
            premium=self._premium(job.user_id),
            resumes=int(job.resumes or 0),
            data_present=self._data_present(job),
            execution_error=error,
        )
        decision = decide(finding)
        if not decision.repairs:
            return None
        return Repair(
            job_id=job.job_id,
            status=job.status,
            workflow=workflow or "(none)",
            workflow_status=workflow_status,
            action=decision.action.value,
            reason=decision.reason,
        )

    def _data_present(self, job: models.Job) -> bool:
        """Whether what the job's next step needs is still stored (the input, or the results)."""
        if job.status in (models.PENDING, models.RUNNING):
            return self._exists(self.names.inputs_bucket, job.input_key)
        if job.archive_backend == GLACIER_VAULT:
            return True  # in the vault, not in S3: the retrieval itself will tell
        results = job.results.as_dict() if job.results else {}
        return bool(results) and all(
            self._exists(self.names.results_bucket, key) for key in results.values()
        )

    def _exists(self, bucket: str, key: str) -> bool:
        return aws.object_exists(self.s3, bucket, key)

    # -- repairs --------------------------------------------------------------------------------

    def _repair(self, job: models.Job, repair: Repair) -> bool:
        action = Action(repair.action)
        try:
            if action is Action.RESUME_ANNOTATION:
                return self._resume(job, at_retention=False)
            if action is Action.RESUME_RETENTION:
                return self._resume(job, at_retention=True)
            if action is Action.THAW_AGAIN:
                return self._thaw_again(job)
            if action is Action.STOP_WAITING:
                job.update(
                    actions=[models.Job.archive_after.remove()],
                    condition=models.Job.status == models.COMPLETED,
                )
                return True
            if action is Action.KEEP_ARCHIVED:
                job.move_to(
                    models.ARCHIVED,
                    allowed=(models.RESTORING,),
                    failure_reason=repair.reason,
                    thaw_execution=None,
                    restore_task_token=None,
                )
                return True
            if action is Action.FAIL:
                job.move_to(
                    models.FAILED,
                    allowed=(job.status,),
                    completed_at=job.completed_at or models.now(),
                    failure_error=f"Reconciler.{repair.workflow_status.title()}",
                    failure_reason=repair.reason,
                )
                self._tell_failed(job)
                return True
        except (models.TransitionRefused, models.UpdateError):
            return False  # the job moved meanwhile (another reconciler, a worker)
        return False

    def _tell_failed(self, job: models.Job) -> None:
        """E-mail the researcher why the job failed, as its workflow's NotifyFailure would have.

        The repair is done whether or not the e-mail goes: a failure to send is logged only.
        """
        try:
            user = models.User.get(job.user_id)
            notifications.send(
                self.settings, user, notifications.job_failed(self.settings, user, job)
            )
        except Exception:
            log.exception("job %s: the failure e-mail could not be sent", job.job_id)

    def _resume(self, job: models.Job, *, at_retention: bool) -> bool:
        count = int(job.resumes or 0)
        name = f"{job.job_id}-resume-{count + 1}"
        machine = self.names.job_state_machine_name
        payload = jobs.execution_input(self.settings, job, resume_at_retention=at_retention)
        if not job.count_resume(count, self.names.execution_arn(machine, name)):
            return False  # another reconciler resumed it first
        executions.start_once(self.settings, machine, name, payload)
        return True

    def _thaw_again(self, job: models.Job) -> bool:
        count = int(job.resumes or 0)
        name = f"thaw-{job.job_id}-{count + 1}"
        if not job.claim_for_thaw(name, replacing=job.thaw_execution):
            return False
        if not job.count_resume(count, job.execution_arn or ""):
            return False
        thaw.start(self.settings, name, [job], job.user_id)
        return True

    # -- the last run, for the operator page ----------------------------------------------------

    def save(self, report: Report) -> None:
        """Keep ``report`` as the last run, which the operator page shows."""
        self.s3.put_object(
            Bucket=self.names.results_bucket,
            Key=LAST_RUN_KEY,
            Body=json.dumps(report.as_dict()).encode(),
            ContentType="application/json",
        )


def last_run(settings: Settings) -> dict[str, Any] | None:
    """The report of the reconciler's last run (not a dry run), or None before the first."""
    names = Resources.of(settings)
    try:
        body = aws.client(settings, "s3").get_object(Bucket=names.results_bucket, Key=LAST_RUN_KEY)[
            "Body"
        ]
    except ClientError as exc:
        if aws.error_code(exc) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    return json.loads(body.read())


def _log_repair(repair: Repair, dry_run: bool) -> None:
    record = {"ts": round(time.time(), 3), "event": "job-repaired", "dry_run": dry_run}
    record.update(asdict(repair))
    log.info(json.dumps(record))


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
