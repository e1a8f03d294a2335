"""What researchers were e-mailed, read back from the local cloud's SES mailbox (``/_aws/ses``)."""

from __future__ import annotations

from gas import mail
from gas.settings import Settings
from tests.integration.processes import wait_for


def mail_to(settings: Settings, to: str, about: str = "") -> list[mail.SentMail]:
    """The messages sent to ``to`` whose subject contains ``about``, oldest first."""
    found = [m for m in mail.local_mailbox(settings, to=to) if about in m.subject]
    return sorted(found, key=lambda m: m.sent_at)


def wait_for_mail(
    settings: Settings, to: str, about: str = "", count: int = 1, timeout: float = 30
) -> list[mail.SentMail]:
    """Wait for ``count`` messages to ``to`` about ``about``; returns them, oldest first."""

    def arrived() -> list[mail.SentMail] | None:
        found = mail_to(settings, to, about)
        return found if len(found) >= count else None

    return wait_for(arrived, timeout, interval=0.5, what=f"{count} e-mail(s) to {to} ({about})")
