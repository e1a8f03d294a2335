"""What GAS tells a researcher by e-mail: the one home of every notification's subject and text.

The notify activity (the workflows' ``Notify…`` states) and the reconciler (a job it ends FAILED)
build their messages here and send them with :func:`gas.mail.send`, so a researcher reads the same
words whichever path told them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gas import mail, models
from gas.settings import Settings

# The events a Notify state names (definitions/schemas/notify.input.schema.json).
RESULTS_READY, JOB_FAILED, ARCHIVE_SOON, THAW_COMPLETE = (
    "results-ready",
    "job-failed",
    "archive-soon",
    "thaw-complete",
)
NO_REASON = "The annotation could not be completed."


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def results_ready(settings: Settings, user: models.User, job: models.Job) -> Message:
    """The annotation finished: a link to the results (and, for free users, until when)."""
    base = _base(settings)
    body = (
        f"{_hello(user)}"
        f"The annotation of {job.input_filename} has finished "
        f"({int(job.variants_total or 0):,} variants).\n"
        f"See the results: {base}/annotations/{job.job_id}\n"
    )
    if not user.is_premium:
        until = (
            f"until {when(job.archive_after)}"
            if job.archive_after
            else f"for {duration(settings.free_retention_seconds)}"
        )
        body += (
            f"\nFree accounts can download results {until}; after that they are archived. "
            f"Upgrade to Premium to keep them online: {base}/subscribe\n"
        )
    return Message(f"GAS: your annotation of {job.input_filename} is ready", body)


def job_failed(settings: Settings, user: models.User, job: models.Job) -> Message:
    """The job ended FAILED: the reason the job records, and where to go next."""
    base = _base(settings)
    body = (
        f"{_hello(user)}"
        f"The annotation of {job.input_filename} could not be completed.\n\n"
        f"Reason: {job.failure_reason or NO_REASON}\n\n"
        f"The job's page: {base}/annotations/{job.job_id}\n"
        f"To try again, upload the file (corrected, if the reason is in it): {base}/annotate\n"
    )
    return Message(f"GAS: the annotation of {job.input_filename} failed", body)


def archive_soon(
    settings: Settings, user: models.User, job: models.Job, now: datetime | None = None
) -> Message:
    """A free job's results go to the archive soon: when, how to keep them."""
    assert job.archive_after is not None
    base = _base(settings)
    left = (job.archive_after - (now or models.now())).total_seconds()
    body = (
        f"{_hello(user)}"
        f"The results of {job.input_filename} will be archived at {when(job.archive_after)}, "
        f"in about {duration(left)}.\n"
        f"Download them before then: {base}/annotations/{job.job_id}\n\n"
        f"Archived results come back only with Premium, which also keeps every result online. "
        f"Upgrade: {base}/subscribe\n"
    )
    return Message(f"GAS: the results of {job.input_filename} will be archived soon", body)


def thaw_complete(
    settings: Settings,
    user: models.User,
    outcomes: Iterable[Mapping[str, Any]],
    jobs: Mapping[str, models.Job],
) -> Message:
    """A thaw ended: which results are back online, and which are not yet."""
    base = _base(settings)
    restored: list[str] = []
    not_restored: list[str] = []
    for outcome in outcomes:
        job = jobs.get(str(outcome.get("job_id")))
        line = f"  {job.input_filename if job else outcome.get('job_id')}"
        if job:
            line += f": {base}/annotations/{job.job_id}"
        (not_restored if outcome.get("restored") is False else restored).append(line)
    body = _hello(user)
    if restored:
        body += f"These archived results are back online ({len(restored)}):\n"
        body += "\n".join(restored) + "\n"
    if not_restored:
        body += (
            f"\nThese could not be brought back yet ({len(not_restored)}); GAS tries again by "
            "itself, and each job's page shows where it stands:\n"
        )
        body += "\n".join(not_restored) + "\n"
    body += f"\nAll your jobs: {base}/annotations\n"
    subject = (
        "GAS: your archived results are back online"
        if restored
        else "GAS: your archived results could not be brought back yet"
    )
    return Message(subject, body)


# -- the account's own messages (workflows.accounts sends them) ---------------------------------


def confirm_address(settings: Settings, user: models.User, link: str) -> Message:
    """A link that confirms the address the user registered (or changed to)."""
    days = settings.email_confirmation_seconds / 86400
    return Message(
        "Confirm your e-mail address for GAS",
        f"{_hello(user)}"
        "Please confirm that this is your address by opening this link:\n\n"
        f"{link}\n\n"
        f"The link works for {days:g} days. Once the address is confirmed you can upload VCF "
        "files to annotate.\n\nIf you did not create a GAS account, ignore this message.\n",
    )


def registration_attempt(settings: Settings, user: models.User) -> Message:
    """Someone tried to register an address that has an account: tell its owner, not them."""
    base = _base(settings)
    return Message(
        "Someone tried to create a GAS account with your address",
        f"{_hello(user)}"
        "Someone (perhaps you) tried to create a GAS account with this address, which has one "
        f"already. To use it, log in:\n\n{base}/login\n\n"
        f"If you have forgotten your password, set a new one here:\n\n{base}/forgot-password\n\n"
        "If it was not you, ignore this message: nothing about your account has changed.\n",
    )


def password_reset(settings: Settings, user: models.User, link: str) -> Message:
    """A single-use link that sets a new password."""
    minutes = settings.password_reset_seconds // 60
    return Message(
        "Set a new GAS password",
        f"{_hello(user)}"
        "Someone (we hope you) asked to set a new password for your GAS account. "
        "Open this link to choose one:\n\n"
        f"{link}\n\n"
        f"The link works once, within {minutes} minutes. If you did not ask, ignore this "
        "message: your password stays as it is.\n",
    )


def send(settings: Settings, user: models.User, message: Message) -> str:
    """E-mail ``message`` to the user; returns SES's message ID."""
    return mail.send(settings, user.email, message.subject, message.body)


def when(moment: datetime) -> str:
    """A moment as a researcher reads it in an e-mail: UTC, to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    """A span in words, rounded to the unit that fits ("45 seconds", "3 hours", "2 days")."""
    seconds = max(0, round(seconds))
    for unit, size, up_to in (
        ("second", 1, 90),
        ("minute", 60, 90 * 60),
        ("hour", 3600, 36 * 3600),
    ):
        if seconds < up_to:
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    count = round(seconds / 86400)
    return f"{count} day{'' if count == 1 else 's'}"


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def _hello(user: models.User) -> str:
    return f"Hello {user.name or user.email},\n\n"
