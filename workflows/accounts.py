"""An account's life cycle past registering: confirming the address, resetting a forgotten
password, and deleting the account with everything stored for it.

Links carry secrets; the records keep only what checks them. A reset link's secret is stored as
its SHA-256 (256 random bits need no salt) and is spent by one conditional write, so it works once
and only until it expires. A confirmation link is signed with the dashboard's key and expires; it
may be followed twice (it only says what is already true).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pynamodb.exceptions import UpdateError

from gas import aws, keys, models, notifications
from gas.resources import Resources
from gas.settings import Settings
from workflows import jobs, tokens, users

CONFIRM_SALT = "gas-confirm-email"
# A second reset request this soon after the first sends nothing (no mailbox flooding).
RESET_RESEND_AFTER = timedelta(minutes=1)


class ResetRefused(ValueError):
    """The reset link is unknown, used or expired: one answer for all."""


class ConfirmationRefused(ValueError):
    """The confirmation link is not genuine, has expired, or names an address no longer used."""


class AccountBusy(ValueError):
    """The account cannot be deleted now; the message says why, for the researcher."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- confirming the address ----------------------------------------------------------------------


def needs_confirmation(settings: Settings, user: models.User) -> bool:
    """Whether uploads wait for this user to confirm their address."""
    return settings.require_email_confirmation and user.email_confirmed_at is None


def _confirm_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=CONFIRM_SALT)


def confirmation_link(settings: Settings, secret_key: str, user: models.User) -> str:
    """A signed link that confirms ``user``'s current address (it names both)."""
    token = _confirm_serializer(secret_key).dumps({"u": user.user_id, "e": user.email})
    return f"{settings.base_url.rstrip('/')}/confirm-email/{token}"


def send_confirmation(settings: Settings, secret_key: str, user: models.User) -> None:
    """E-mail the user a link that confirms their address."""
    link = confirmation_link(settings, secret_key, user)
    notifications.send(settings, user, notifications.confirm_address(settings, user, link))


def confirm(settings: Settings, secret_key: str, token: str) -> models.User:
    """Mark the address a confirmation link names as confirmed; raises ConfirmationRefused."""
    try:
        claims = _confirm_serializer(secret_key).loads(
            token, max_age=settings.email_confirmation_seconds
        )
        user_id, email = str(claims["u"]), str(claims["e"])
    except (BadSignature, KeyError, TypeError):
        raise ConfirmationRefused("The link is not valid or has expired.") from None
    user = users.get(settings, user_id)
    if user is None or user.email != email:
        raise ConfirmationRefused("The link is not valid or has expired.")
    if user.email_confirmed_at is None:
        user.update(actions=[models.User.email_confirmed_at.set(models.now())])
    return user


# -- registering an address that has an account -------------------------------------------------

# The owner hears of attempts to register their address at most this often (no mailbox flooding).
REGISTRATION_NOTICE_EVERY = timedelta(hours=1)


def notify_registration_attempt(settings: Settings, email: str) -> bool:
    """Tell the owner of ``email`` that someone tried to register it, with the links they may
    want; at most once per REGISTRATION_NOTICE_EVERY. Returns whether a message went out.

    With confirmation required, the register form answers this attempt exactly as it answers a
    new address ("we sent you a link"), so it does not tell who has an account; the owner learns
    of it here instead.
    """
    user = users.find_by_email(settings, email)
    if user is None:
        return False
    now = models.now()
    try:
        user.update(
            actions=[models.User.registration_notice_at.set(now)],
            condition=models.User.registration_notice_at.does_not_exist()
            | (models.User.registration_notice_at < now - REGISTRATION_NOTICE_EVERY),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False  # told within the hour
    notifications.send(settings, user, notifications.registration_attempt(settings, user))
    return True


# -- a forgotten password ------------------------------------------------------------------------


def reset_link(settings: Settings, user_id: str, secret: str) -> str:
    return f"{settings.base_url.rstrip('/')}/reset-password/{user_id}/{secret}"


def request_password_reset(settings: Settings, email: str) -> bool:
    """E-mail a single-use, expiring reset link if an account has this address.

    Returns whether a message went out; callers must answer the same either way, so nobody
    learns which addresses have accounts. A new link replaces the previous one.
    """
    user = users.find_by_email(settings, email)
    if user is None:
        return False
    now = models.now()
    pending = user.password_reset_expires_at
    if (
        user.password_reset_hash
        and pending is not None
        and pending - timedelta(seconds=settings.password_reset_seconds) + RESET_RESEND_AFTER > now
    ):
        return False  # one just went out
    secret = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=settings.password_reset_seconds)
    user.update(
        actions=[
            models.User.password_reset_hash.set(_digest(secret)),
            models.User.password_reset_expires_at.set(expires),
        ]
    )
    link = reset_link(settings, user.user_id, secret)
    notifications.send(settings, user, notifications.password_reset(settings, user, link))
    return True


def reset_is_open(settings: Settings, user_id: str, secret: str) -> bool:
    """Whether a reset link would still work (to show its form, or say it is spent)."""
    user = users.get(settings, user_id)
    if user is None or not user.password_reset_hash or user.password_reset_expires_at is None:
        return False
    return (
        hmac.compare_digest(user.password_reset_hash, _digest(secret))
        and user.password_reset_expires_at > models.now()
    )


def reset_password(
    settings: Settings, user_id: str, secret: str, password_hash: str
) -> models.User:
    """Spend a reset link to set a new password; raises ResetRefused for a used or expired one.

    One conditional write checks the secret and the expiry and removes the secret, so two tabs
    following the same link cannot both set a password.
    """
    user = users.get(settings, user_id)
    if user is None:
        raise ResetRefused("The link is not valid, was used already, or has expired.")
    User = models.User
    now = models.now()
    try:
        user.update_if(
            [
                User.password_hash.set(password_hash),
                User.password_changed_at.set(now),
                User.password_reset_hash.remove(),
                User.password_reset_expires_at.remove(),
                # A new password ends every session started with the old one.
                User.sessions.remove(),
                # The link came by e-mail: following it proves the address as well.
                User.email_confirmed_at.set(User.email_confirmed_at | now),
            ],
            (User.password_reset_hash == _digest(secret)) & (User.password_reset_expires_at > now),
        )
    except models.ConditionRefused:
        raise ResetRefused("The link is not valid, was used already, or has expired.") from None
    return user


# -- deleting the account ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedAccount:
    """What deleting an account removed."""

    jobs: int
    cancelled: int
    objects: int
    tokens: int


def all_jobs(settings: Settings, user: models.User) -> list[models.Job]:
    """Every job of the user's, newest first."""
    return list(models.Job.for_user(user.user_id, limit=None))


def _restoring(job: models.Job) -> bool:
    return job.status == models.RESTORING or (
        job.status == models.ARCHIVED and job.thaw_execution is not None
    )


def delete_account(settings: Settings, user: models.User) -> DeletedAccount:
    """Delete every job (cancelling running ones first), every upload, the tokens and the user.

    Jobs go through :func:`workflows.jobs.delete`, the same path as deleting one from its page
    (its shares live on its record and go with it). Refused, before anything is removed, while
    a thaw is bringing results back. The user record goes last, so a delete that fails half-way
    can be asked again.
    """
    found = all_jobs(settings, user)
    busy = [job for job in found if _restoring(job)]
    if busy:
        raise AccountBusy(
            f"{len(busy)} of your jobs are being restored from the archive; delete your account "
            "once the restore has finished (usually within minutes)."
        )
    cancelled = 0
    for job in found:
        if job.status in (models.PENDING, models.RUNNING):
            try:
                jobs.cancel(settings, job)
                cancelled += 1
            except jobs.JobConflict:
                job.refresh()  # it ended meanwhile: delete it as it is now
        jobs.delete(settings, job)
    objects = _delete_prefixes(settings, user.user_id)
    revoked = tokens.revoke_all(settings, user)
    user.delete()
    return DeletedAccount(jobs=len(found), cancelled=cancelled, objects=objects, tokens=revoked)


def _delete_prefixes(settings: Settings, user_id: str) -> int:
    """Whatever is left under the user's keys (uploads never submitted); how many objects."""
    names = Resources.of(settings)
    s3 = aws.client(settings, "s3")
    paginator = s3.get_paginator("list_objects_v2")
    removed = 0
    for bucket, prefix in (
        (names.inputs_bucket, keys.user_upload_prefix(user_id)),
        (names.results_bucket, keys.user_result_prefix(user_id)),
    ):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            found = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if found:  # a listing page holds at most 1000 keys, DeleteObjects' limit
                s3.delete_objects(Bucket=bucket, Delete={"Objects": found})
                removed += len(found)
    return removed
