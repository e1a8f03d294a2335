"""Users and jobs in DynamoDB, through pynamodb. All DynamoDB access goes through this module.

Table names come from the resource-name prefix, so call :func:`bind` once per process before use.
Job status only moves forward (see ``TRANSITIONS``); every status write is a conditional write, so
a stale or duplicate worker can never move a job backwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.pagination import ResultIterator

from gas.resources import Resources
from gas.settings import Settings

FREE, PREMIUM = "free", "premium"
TIERS = (FREE, PREMIUM)

PENDING, RUNNING, COMPLETED, FAILED = "PENDING", "RUNNING", "COMPLETED", "FAILED"
ARCHIVED, RESTORING = "ARCHIVED", "RESTORING"
CANCELLED = "CANCELLED"
STATUSES = (PENDING, RUNNING, COMPLETED, FAILED, ARCHIVED, RESTORING, CANCELLED)

# Which statuses a job may move to from which. Anything else is refused by DynamoDB itself.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    # An operator runs a failed job again (``gas jobs retry``).
    PENDING: (FAILED,),
    RUNNING: (PENDING, RUNNING),
    COMPLETED: (RUNNING, RESTORING),
    FAILED: (PENDING, RUNNING),
    ARCHIVED: (COMPLETED,),
    RESTORING: (ARCHIVED,),
    # A researcher stops a job that is queued, annotating, or waiting out its retention.
    CANCELLED: (PENDING, RUNNING, COMPLETED),
}

READ_ONLY, READ_WRITE = "read", "read-write"
TOKEN_SCOPES = (READ_ONLY, READ_WRITE)


def now() -> datetime:
    return datetime.now(UTC)


class ConditionRefused(Exception):
    """A conditional write was refused: the item is not as the condition requires."""


class AlreadyExists(ConditionRefused):
    """An item with this key is stored already."""


class TransitionRefused(ConditionRefused):
    """A status change was refused because the job is not in a state that allows it."""


def condition_failed(exc: PutError | UpdateError | DeleteError) -> bool:
    """Whether DynamoDB refused a write because its condition did not hold (not another fault)."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class ConditionalModel(Model):
    """A table whose conditional writes raise named errors, not pynamodb's generic ones."""

    def update_if(self, actions: list[Action], condition: Condition) -> None:
        """``update`` that raises ConditionRefused when ``condition`` does not hold."""
        try:
            self.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                raise ConditionRefused(str(exc)) from exc
            raise

    def delete_if(self, condition: Condition) -> None:
        """Delete the item only if ``condition`` holds; raises ConditionRefused otherwise."""
        try:
            self.delete(condition=condition)
        except DeleteError as exc:
            if condition_failed(exc):
                raise ConditionRefused(str(exc)) from exc
            raise

    def save_new(self) -> None:
        """Save an item whose key is not stored yet; raises AlreadyExists otherwise."""
        try:
            self.save(condition=type(self)._hash_key_attribute().does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                raise AlreadyExists(str(exc)) from exc
            raise


class UserByEmail(GlobalSecondaryIndex):
    class Meta:
        index_name = "email-index"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    email = UnicodeAttribute(hash_key=True)


class User(ConditionalModel):
    """A researcher (or operator) account."""

    class Meta:
        table_name = "gas-users"
        billing_mode = "PAY_PER_REQUEST"

    user_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    institution = UnicodeAttribute(default="")
    password_hash = UnicodeAttribute(null=True)
    tier = UnicodeAttribute(default=FREE)
    is_operator = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute(default=now)
    upgraded_at = UTCDateTimeAttribute(null=True)
    thaw_execution_arn = UnicodeAttribute(null=True)
    # When the owner of the address followed its confirmation link (workflows.accounts).
    email_confirmed_at = UTCDateTimeAttribute(null=True)
    # The one outstanding password-reset link: the SHA-256 of its secret, and when it stops working.
    password_reset_hash = UnicodeAttribute(null=True)
    password_reset_expires_at = UTCDateTimeAttribute(null=True)
    # When the password last changed (or was reset).
    password_changed_at = UTCDateTimeAttribute(null=True)
    # The dashboard sessions that are live, each as "<start, hex seconds>.<SHA-256 of its secret>"
    # (workflows.users): a session whose entry is gone is over at its next request.
    sessions = UnicodeSetAttribute(null=True)
    # When the owner was last told someone tried to register this address (at most hourly).
    registration_notice_at = UTCDateTimeAttribute(null=True)

    by_email = UserByEmail()

    @classmethod
    def find_by_email(cls, email: str) -> User | None:
        for user in cls.by_email.query(email.strip().lower(), limit=1):
            return user
        return None

    @property
    def is_premium(self) -> bool:
        return self.tier == PREMIUM


class JobsByUser(GlobalSecondaryIndex):
    """A user's jobs, newest first, without a scan."""

    class Meta:
        index_name = "user-jobs-index"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    user_id = UnicodeAttribute(hash_key=True)
    submitted_at = UTCDateTimeAttribute(range_key=True)


class JobsByStatus(GlobalSecondaryIndex):
    """Jobs in one status, newest first: the operator's failures and the archive backlog."""

    class Meta:
        index_name = "status-index"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    status = UnicodeAttribute(hash_key=True)
    submitted_at = UTCDateTimeAttribute(range_key=True)


class Job(ConditionalModel):
    """One annotation job: one upload, one Step Functions execution."""

    class Meta:
        table_name = "gas-jobs"
        billing_mode = "PAY_PER_REQUEST"

    job_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    tier = UnicodeAttribute(default=FREE)  # the tier at submission; the workflow re-reads it
    status = UnicodeAttribute(default=PENDING)
    input_key = UnicodeAttribute()
    input_filename = UnicodeAttribute(default="input.vcf")
    execution_arn = UnicodeAttribute(null=True)
    submitted_at = UTCDateTimeAttribute(default=now)
    started_at = UTCDateTimeAttribute(null=True)
    completed_at = UTCDateTimeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    worker = UnicodeAttribute(null=True)  # the task (token digest) that currently owns the job
    variants_done = NumberAttribute(default=0)
    variants_total = NumberAttribute(null=True)
    requested_build = UnicodeAttribute(default="auto")  # what the user asked for at submission
    build = UnicodeAttribute(null=True)  # the build the annotation used
    failure_error = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    results: MapAttribute[str, str] = MapAttribute(null=True)  # kind -> key in the results bucket
    summary: MapAttribute[str, Any] = MapAttribute(null=True)  # small figures for the charts
    result_sizes: MapAttribute[str, int] = MapAttribute(null=True)  # kind -> bytes, for downloads
    archive_after = UTCDateTimeAttribute(null=True)
    # When the free user was warned of the coming archive: at most once, whatever resumes.
    archive_warning_sent_at = UTCDateTimeAttribute(null=True)
    archived_at = UTCDateTimeAttribute(null=True)
    archive_backend = UnicodeAttribute(null=True)
    archive_id = UnicodeAttribute(null=True)  # vault archive id (glacier-vault backend)
    # kind -> vault archive id, when several were archived
    archive_ids: MapAttribute[str, str] = MapAttribute(null=True)
    # Read-only links: share id -> {created_at, expires_at, revoked_at} (workflows.shares).
    shares: MapAttribute[str, Any] = MapAttribute(null=True)
    restore_tier = UnicodeAttribute(null=True)
    restore_requested_at = UTCDateTimeAttribute(null=True)
    restored_at = UTCDateTimeAttribute(null=True)
    # The thaw's waiting task token, parked here until the "restore completed" callback uses it.
    restore_task_token = UnicodeAttribute(null=True)
    # The name of the thaw execution that brings this job back (claimed by exactly one thaw).
    thaw_execution = UnicodeAttribute(null=True)
    thaw_claimed_at = UTCDateTimeAttribute(null=True)
    # How often the reconciler started this job's workflows again (it names executions with it).
    resumes = NumberAttribute(default=0)
    resumed_at = UTCDateTimeAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)
    # The job this one was resubmitted from (same input, new job).
    resubmitted_from = UnicodeAttribute(null=True)

    by_user = JobsByUser()
    by_status = JobsByStatus()

    @classmethod
    def for_user(
        cls,
        user_id: str,
        limit: int | None = 20,
        last_key: dict | None = None,
        status: str | None = None,
        since: datetime | None = None,
    ) -> ResultIterator[Job]:
        """A page of the user's jobs, newest first; ``last_evaluated_key`` continues it.

        ``status`` filters after the read (a page may then hold fewer than ``limit``).
        """
        return cls.by_user.query(
            user_id,
            range_key_condition=None if since is None else cls.submitted_at >= since,
            filter_condition=None if status is None else cls.status == status,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=last_key,
        )

    def move_to(
        self,
        status: str,
        *,
        owner: str | None = None,
        allowed: tuple[str, ...] | None = None,
        when: Condition | None = None,
        **fields: object,
    ) -> None:
        """Set the status (and other fields) only if the job's current status allows it.

        With ``owner``, the write also requires that this task still owns the job, so a worker whose
        task was taken over after a lost heartbeat cannot overwrite its successor's work.
        ``allowed`` narrows or widens the statuses it may come from (the reconciler's repairs);
        ``when`` is a further condition the job must meet. A refusal is :class:`TransitionRefused`.
        """
        allowed = allowed or TRANSITIONS[status]
        condition = Job.status.is_in(*allowed)
        if when is not None:
            condition &= when
        if owner is not None and status != RUNNING:
            condition &= Job.worker == owner
        actions: list[Action] = [Job.status.set(status)]
        for name, value in fields.items():
            attr = getattr(Job, name)
            actions.append(attr.remove() if value is None else attr.set(value))
        try:
            self.update_if(actions, condition)
        except ConditionRefused as exc:
            raise TransitionRefused(
                f"job {self.job_id}: {status} refused (allowed only from {', '.join(allowed)})"
            ) from exc

    def park_restore_token(self, token: str, tier: str) -> bool:
        """Park a thaw's task token while the job is archived or restoring; False otherwise."""
        return self._update_if(
            [
                Job.restore_task_token.set(token),
                Job.restore_tier.set(tier),
                Job.restore_requested_at.set(now()),
            ],
            Job.status.is_in(ARCHIVED, RESTORING),
        )

    def clear_restore_token(self, token: str) -> bool:
        """Remove this token only: a newer one (the Standard fallback) parked meanwhile stays."""
        return self._update_if([Job.restore_task_token.remove()], Job.restore_task_token == token)

    def claim_for_thaw(self, execution_name: str, replacing: str | None = None) -> bool:
        """Make ``execution_name`` the one thaw that brings this archived job back.

        Exactly one claimant wins: the upgrade's thaw, an archive step that finished after the
        upgrade, or the reconciler replacing a thaw that is gone (``replacing``).
        """
        held = (
            Job.thaw_execution.does_not_exist()
            if replacing is None
            else Job.thaw_execution == replacing
        )
        return self._update_if(
            [Job.thaw_execution.set(execution_name), Job.thaw_claimed_at.set(now())],
            Job.status.is_in(ARCHIVED, RESTORING) & held,
        )

    def count_resume(self, expected: int, execution_arn: str) -> bool:
        """Record a resumed execution, if no one else resumed the job since ``expected``."""
        condition = Job.resumes == expected
        if expected == 0:  # jobs written before the counter existed have none
            condition = condition | Job.resumes.does_not_exist()
        return self._update_if(
            [
                Job.resumes.set(expected + 1),
                Job.execution_arn.set(execution_arn),
                Job.resumed_at.set(now()),
            ],
            condition,
        )

    def claim_archive_warning(self) -> bool:
        """Mark the archive warning sent, if the job still waits to be archived and no warning
        went out before (a resumed or retried workflow never warns twice)."""
        return self._update_if(
            [Job.archive_warning_sent_at.set(now())],
            (Job.status == COMPLETED)
            & Job.archive_after.exists()
            & Job.archive_warning_sent_at.does_not_exist(),
        )

    def release_archive_warning(self) -> None:
        """Undo :meth:`claim_archive_warning` when the e-mail was not sent, so a retry sends it."""
        self.update(actions=[Job.archive_warning_sent_at.remove()])

    def _update_if(self, actions: list[Action], condition: Condition) -> bool:
        """``update_if`` that answers False, not an exception, when the condition does not hold."""
        try:
            self.update_if(actions, condition)
        except ConditionRefused:
            return False
        return True


class TokensByUser(GlobalSecondaryIndex):
    """A user's access tokens, for the profile page (and revoking one by its id)."""

    class Meta:
        index_name = "user-tokens-index"
        projection = AllProjection()
        billing_mode = "PAY_PER_REQUEST"

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class AccessToken(ConditionalModel):
    """A personal access token for the API: only the SHA-256 of its secret is stored."""

    class Meta:
        table_name = "gas-tokens"
        billing_mode = "PAY_PER_REQUEST"

    token_hash = UnicodeAttribute(hash_key=True)  # hex SHA-256 of the whole secret
    token_id = UnicodeAttribute()  # what the profile page and revoking name it by
    user_id = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    scope = UnicodeAttribute(default=READ_ONLY)
    hint = UnicodeAttribute(default="")  # the secret's first characters, to recognise it
    created_at = UTCDateTimeAttribute(default=now)
    expires_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)

    by_user = TokensByUser()

    @property
    def can_write(self) -> bool:
        return self.scope == READ_WRITE


MODELS: tuple[type[Model], ...] = (User, Job, AccessToken)


def bind(settings: Settings) -> None:
    """Point the models at this deployment's tables and DynamoDB endpoint."""
    resources = Resources.of(settings)
    for model, table in (
        (User, resources.users_table),
        (Job, resources.jobs_table),
        (AccessToken, resources.tokens_table),
    ):
        meta: Any = model.Meta  # the attributes bound here are pynamodb's, not declared on each
        if (getattr(meta, "table_name", None), getattr(meta, "host", None)) == (
            table,
            settings.dynamodb_endpoint_url,
        ):
            continue  # already bound here: keep pynamodb's connection (and its pool)
        meta.table_name = table
        meta.region = settings.region
        meta.host = settings.dynamodb_endpoint_url
        meta.aws_access_key_id = settings.access_key_id
        meta.aws_secret_access_key = settings.secret_access_key
        # pynamodb caches its connection per model; a rebind must drop it.
        model._connection = None


def create_tables(settings: Settings) -> list[str]:
    """Create the tables that do not exist yet (the local cloud; on AWS CloudFormation does it)."""
    bind(settings)
    created = []
    for model in MODELS:
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
    return created


def delete_tables(settings: Settings) -> None:
    bind(settings)
    for model in MODELS:
        if model.exists():
            model.delete_table()


__all__ = [
    "ARCHIVED",
    "AccessToken",
    "CANCELLED",
    "AlreadyExists",
    "COMPLETED",
    "ConditionRefused",
    "DoesNotExist",
    "FAILED",
    "FREE",
    "Job",
    "PENDING",
    "PREMIUM",
    "PutError",
    "RESTORING",
    "RUNNING",
    "TransitionRefused",
    "UpdateError",
    "User",
    "bind",
    "condition_failed",
    "create_tables",
]
