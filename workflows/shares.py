"""Read-only share links for one job: signed, expiring, revocable, kept on the job record.

A link carries a token signed with the dashboard's secret key naming the job and the share; the
share itself (when it expires, whether it was revoked) lives on the job, so revoking works at once
and a token can never outlive its share, nor its job.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from gas import models
from gas.settings import Settings
from workflows import jobs

SALT = "gas-job-share"
DEFAULT_DAYS = 7
MAX_DAYS = 90
MAX_SHARES = 20  # live shares per job


class ShareRefused(ValueError):
    """The share cannot be made; the message says why, for the owner."""


class ShareNotFound(LookupError):
    """Bad, revoked or expired link, or a job that is gone: one answer for all."""


@dataclass(frozen=True)
class Share:
    share_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None and models.now() < self.expires_at


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def _parse(share_id: str, value: dict[str, str]) -> Share:
    revoked = value.get("revoked_at")
    return Share(
        share_id,
        datetime.fromisoformat(value["created_at"]),
        datetime.fromisoformat(value["expires_at"]),
        datetime.fromisoformat(revoked) if revoked else None,
    )


def shares_of(job: models.Job) -> list[Share]:
    """The job's shares, newest first (revoked and expired ones too, so the owner sees them)."""
    found = [_parse(k, v) for k, v in (job.shares.as_dict() if job.shares else {}).items()]
    return sorted(found, key=lambda s: s.created_at, reverse=True)


def create(secret_key: str, job: models.Job, days: int = DEFAULT_DAYS) -> tuple[Share, str]:
    """Share ``job`` read-only for ``days``; returns the share and the token of its link."""
    if not 1 <= days <= MAX_DAYS:
        raise ShareRefused(f"A link lasts 1 to {MAX_DAYS} days.")
    current = shares_of(job)
    if sum(1 for s in current if s.live) >= MAX_SHARES:
        raise ShareRefused(f"This job has {MAX_SHARES} live links; revoke one first.")
    now = models.now()
    share = Share(secrets.token_urlsafe(9), now, now + timedelta(days=days), None)
    stored = {
        s.share_id: _stored(s) for s in current if s.expires_at > now - timedelta(days=MAX_DAYS)
    }
    stored[share.share_id] = _stored(share)
    job.update(actions=[models.Job.shares.set(stored)])
    return share, token_for(secret_key, job.job_id, share.share_id)


def _stored(share: Share) -> dict[str, str]:
    value = {"created_at": share.created_at.isoformat(), "expires_at": share.expires_at.isoformat()}
    if share.revoked_at:
        value["revoked_at"] = share.revoked_at.isoformat()
    return value


def token_for(secret_key: str, job_id: str, share_id: str) -> str:
    """The signed token of a share's link."""
    return _serializer(secret_key).dumps({"j": job_id, "s": share_id})


def revoke(job: models.Job, share_id: str) -> bool:
    """Revoke one share of the job; False when it has no such share."""
    stored = job.shares.as_dict() if job.shares else {}
    if share_id not in stored:
        return False
    if "revoked_at" not in stored[share_id]:
        stored[share_id] = {**stored[share_id], "revoked_at": models.now().isoformat()}
        job.update(actions=[models.Job.shares.set(stored)])
    return True


def shared_job(settings: Settings, secret_key: str, token: str) -> tuple[models.Job, Share]:
    """The job a link shares, if the link is genuine and its share live; else ShareNotFound."""
    try:
        claims = _serializer(secret_key).loads(token)
        job_id, share_id = str(claims["j"]), str(claims["s"])
    except (BadSignature, KeyError, TypeError):
        raise ShareNotFound() from None
    try:
        job = jobs.get(settings, job_id)
    except jobs.JobNotFound:
        raise ShareNotFound() from None
    stored = job.shares.as_dict() if job.shares else {}
    if share_id not in stored:
        raise ShareNotFound()
    share = _parse(share_id, stored[share_id])
    if not share.live:
        raise ShareNotFound()
    return job, share
