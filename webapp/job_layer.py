"""What the pages and the API both say about a job, written once: its view, the confirmation
check before an upload, and the words for each status. Page tokens are :mod:`webapp.page_tokens`
(one serializer, one salt). Both faces are thin over these and over :mod:`workflows`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_wtf import FlaskForm

from gas import models
from gas.result_kinds import available
from gas.settings import Settings
from workflows import accounts, uploads

# Badge words for each job status.
STATUS_WORDS = {
    models.PENDING: "queued",
    models.RUNNING: "running",
    models.COMPLETED: "completed",
    models.FAILED: "failed",
    models.ARCHIVED: "archived",
    models.RESTORING: "restoring",
    models.CANCELLED: "cancelled",
}

# Why an upload is refused until the address is confirmed, on the pages and in the API.
UNCONFIRMED = (
    "Confirm your e-mail address first: open the link we sent to {email}, "
    "or ask for a new one on the dashboard's upload page."
)
UNCONFIRMED_TITLE = "E-mail address not confirmed"


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def job_view(job: models.Job, result_kinds: tuple[str, ...]) -> dict[str, Any]:
    """A job's DynamoDB fields as both faces show them; ``result_kinds`` are the kinds the face
    offers (the results browser's extra outputs have no API route)."""
    return {
        "id": job.job_id,
        "status": job.status,
        "label": STATUS_WORDS.get(job.status, job.status.lower()),
        "input_filename": job.input_filename,
        "build": job.build,
        "requested_build": job.requested_build or "auto",
        "submitted_at": iso(job.submitted_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at),
        "cancelled_at": iso(job.cancelled_at),
        "archive_at": iso(job.archive_after),
        "archived_at": iso(job.archived_at),
        "restored_at": iso(job.restored_at),
        "variants_done": int(job.variants_done or 0),
        "variants_total": int(job.variants_total) if job.variants_total is not None else None,
        "failure_reason": job.failure_reason,
        # Stored or made on request from what is stored (gas.result_kinds).
        "results": sorted(
            k for k in available(job.results.as_dict() if job.results else {}) if k in result_kinds
        ),
        "resubmitted_from": job.resubmitted_from,
        # The annotation sources (and versions) the job used: provenance to cite.
        "sources": [source_used(s) for s in (job.sources or [])],
    }


_SOURCE_USED = ("name", "build", "version", "match", "file", "sha256", "added_at", "records")


def source_used(used: dict[str, Any]) -> dict[str, Any]:
    """One source a job used, as the API's SourceUsed describes it."""
    out = {k: used.get(k) for k in _SOURCE_USED}
    out["fields"] = list(used.get("fields") or [])
    out["matched_alleles"] = int(used.get("matched_alleles") or 0)
    for k in ("version", "records"):
        value = out[k]
        out[k] = None if value is None else int(value)
    return out


def upload_view(post: uploads.PresignedUpload) -> dict[str, Any]:
    """A presigned POST as the upload page's script and the API's clients both receive it."""
    return {"url": post.url, "fields": post.fields, "key": post.key, "max_bytes": post.max_bytes}


def unconfirmed(settings: Settings, user: models.User) -> str | None:
    """Why ``user`` may not upload yet (None: go ahead): the one confirmation check."""
    if not accounts.needs_confirmation(settings, user):
        return None
    return UNCONFIRMED.format(email=user.email)


class ResendConfirmationForm(FlaskForm):
    """Just the CSRF token: one button sends the link again (the upload page and the profile)."""
