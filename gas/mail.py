"""E-mail to researchers: sent through SES, and on the local cloud read back from its mailbox.

No mail leaves the machine on the local cloud: LocalStack keeps every message SES accepted and
serves them at ``/_aws/ses``. The operator page and the tests read them there, so someone trying
GAS locally still sees what a researcher would have received.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from gas import aws
from gas.settings import Settings

MAILBOX_PATH = "/_aws/ses"


@dataclass(frozen=True)
class SentMail:
    """One message as SES accepted it."""

    message_id: str
    to: tuple[str, ...]
    subject: str
    body: str
    sent_at: str  # ISO 8601, as LocalStack records it

    @classmethod
    def from_localstack(cls, raw: dict[str, Any]) -> SentMail:
        body = raw.get("Body") or {}
        return cls(
            message_id=str(raw.get("Id", "")),
            to=tuple((raw.get("Destination") or {}).get("ToAddresses") or ()),
            subject=str(raw.get("Subject") or ""),
            body=str(body.get("text_part") or body.get("html_part") or ""),
            sent_at=str(raw.get("Timestamp") or ""),
        )


def send(settings: Settings, to: str, subject: str, body: str) -> str:
    """Send one plain-text message; returns SES's message ID."""
    sent = aws.client(settings, "ses").send_email(
        Source=settings.mail_from,
        Destination={"ToAddresses": [to]},
        # UTF-8: a researcher's file name (in the subject and the text) may be in any script.
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
        },
    )
    return str(sent.get("MessageId", ""))


def local_mailbox(
    settings: Settings, to: str | None = None, timeout: float = 5.0
) -> list[SentMail]:
    """The messages the local cloud's SES accepted, newest first (optionally only those to `to`).

    Only the local cloud has a mailbox to read; on AWS the mail has left and this raises.
    """
    if not settings.is_local or not settings.endpoint_url:
        raise RuntimeError("only the local cloud keeps a mailbox of sent e-mail")
    response = requests.get(settings.endpoint_url.rstrip("/") + MAILBOX_PATH, timeout=timeout)
    if response.status_code == 404:
        # LocalStack serves the mailbox once its SES has loaded, at the first SES call: nothing
        # was sent since it started (the S3 router answers the path meanwhile).
        return []
    response.raise_for_status()
    messages = [SentMail.from_localstack(m) for m in response.json().get("messages", [])]
    if to is not None:
        wanted = to.lower()
        messages = [m for m in messages if any(a.lower() == wanted for a in m.to)]
    return sorted(messages, key=lambda m: m.sent_at, reverse=True)
