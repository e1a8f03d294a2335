"""What a researcher reads in each e-mail the workflows (and the reconciler) send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gas import models, notifications
from gas.settings import Settings

SETTINGS = Settings(base_url="https://gas.example.org/")
JOB_ID = "0b6a1c9e-3f1d-4c55-9a43-6f0e2d7c8b11"
ARCHIVE_AT = datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)


def user(tier: str = models.FREE, name: str = "Ada") -> models.User:
    return models.User("u-1", email="ada@example.org", name=name, tier=tier)


def job(**fields: object) -> models.Job:
    return models.Job(
        JOB_ID,
        user_id="u-1",
        input_key="uploads/x",
        input_filename="tumour-17.vcf.gz",
        **fields,
    )


def test_the_failure_e_mail_names_the_file_the_reason_and_the_job_page() -> None:
    reason = "Line 12 has 7 columns; a VCF data line needs at least 8."
    message = notifications.job_failed(SETTINGS, user(), job(failure_reason=reason))
    assert message.subject == "GAS: the annotation of tumour-17.vcf.gz failed"
    assert message.body.startswith("Hello Ada,\n\n")
    assert f"Reason: {reason}\n" in message.body
    assert f"https://gas.example.org/annotations/{JOB_ID}\n" in message.body
    assert "https://gas.example.org/annotate\n" in message.body
    assert "Traceback" not in message.body


def test_a_failure_without_a_recorded_reason_still_says_something_readable() -> None:
    message = notifications.job_failed(SETTINGS, user(name=""), job())
    assert message.body.startswith("Hello ada@example.org,")
    assert f"Reason: {notifications.NO_REASON}" in message.body


def test_the_archive_warning_says_when_how_long_and_how_to_keep_the_results() -> None:
    now = ARCHIVE_AT - timedelta(minutes=59, seconds=50)
    message = notifications.archive_soon(SETTINGS, user(), job(archive_after=ARCHIVE_AT), now)
    assert message.subject == "GAS: the results of tumour-17.vcf.gz will be archived soon"
    assert "will be archived at 2026-11-28 09:30:00 UTC, in about 60 minutes." in message.body
    assert f"Download them before then: https://gas.example.org/annotations/{JOB_ID}" in (
        message.body
    )
    assert "Upgrade: https://gas.example.org/subscribe" in message.body


def test_results_ready_tells_a_free_user_until_when_and_a_premium_user_nothing_of_it() -> None:
    done = job(archive_after=ARCHIVE_AT, variants_total=1234)
    free = notifications.results_ready(SETTINGS, user(), done)
    assert free.subject == "GAS: your annotation of tumour-17.vcf.gz is ready"
    assert "(1,234 variants)" in free.body
    assert "download results until 2026-11-28 09:30:00 UTC" in free.body
    premium = notifications.results_ready(SETTINGS, user(models.PREMIUM), job(variants_total=1))
    assert "archived" not in premium.body and "/subscribe" not in premium.body


def test_the_restored_e_mail_lists_what_is_back_and_what_is_not_yet() -> None:
    back, stuck = job(), models.Job("1" * 8 + JOB_ID[8:], user_id="u-1", input_key="k")
    stuck.input_filename = "normal.vcf"
    outcomes = [
        {"job_id": back.job_id, "restored": True, "tier": "Expedited"},
        {"job_id": stuck.job_id, "restored": False, "error": "Archive.RetrievalRefused"},
        {"job_id": "gone", "restored": True},  # deleted meanwhile: named by its id
    ]
    jobs = {back.job_id: back, stuck.job_id: stuck}
    message = notifications.thaw_complete(SETTINGS, user(models.PREMIUM), outcomes, jobs)
    assert message.subject == "GAS: your archived results are back online"
    back_part, not_yet = message.body.split("could not be brought back yet")
    assert "back online (2)" in back_part
    assert f"tumour-17.vcf.gz: https://gas.example.org/annotations/{JOB_ID}" in back_part
    assert "  gone\n" in back_part
    assert "normal.vcf: https://gas.example.org/annotations/1111" in not_yet
    assert "tries again by itself" in message.body


def test_a_thaw_that_brought_nothing_back_does_not_say_it_did() -> None:
    outcomes = [{"job_id": JOB_ID, "restored": False}]
    message = notifications.thaw_complete(SETTINGS, user(), outcomes, {JOB_ID: job()})
    assert message.subject == "GAS: your archived results could not be brought back yet"
    assert "are back online" not in message.body


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (89, "89 seconds"),
        (3000, "50 minutes"),
        (3 * 3600, "3 hours"),
        (36 * 3600, "2 days"),
        (-5, "0 seconds"),
    ],
)
def test_durations_read_as_words(seconds: float, words: str) -> None:
    assert notifications.duration(seconds) == words


def test_every_e_mail_is_written_in_notifications() -> None:
    # mail.send is called from notifications.send only: no other module writes a message's words.
    import re

    from gas.settings import REPO_ROOT

    callers = [
        str(path.relative_to(REPO_ROOT))
        for package in ("gas", "workflows", "activities", "webapp", "cli", "infra", "annotator")
        for path in (REPO_ROOT / package).rglob("*.py")
        if re.search(r"\bmail\.send\(", path.read_text())
    ]
    assert callers == ["gas/notifications.py"]


def test_the_account_messages_carry_their_links() -> None:
    from gas import models, notifications
    from gas.settings import Settings

    settings = Settings(base_url="https://gas.example.org")
    user = models.User("u1", email="ada@example.org", name="Ada")
    confirm = notifications.confirm_address(settings, user, "https://gas.example.org/confirm/x")
    assert "https://gas.example.org/confirm/x" in confirm.body and confirm.body.startswith(
        "Hello Ada"
    )
    attempt = notifications.registration_attempt(settings, user)
    assert "https://gas.example.org/forgot-password" in attempt.body
    reset = notifications.password_reset(settings, user, "https://gas.example.org/reset/y")
    assert reset.subject == "Set a new GAS password" and "/reset/y" in reset.body
