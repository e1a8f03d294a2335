"""Reading the local cloud's SES mailbox (LocalStack's ``/_aws/ses``)."""

from __future__ import annotations

import pytest

from gas import mail
from gas.settings import Settings


class _Answer:
    def __init__(self, status: int, body: dict | None = None) -> None:
        self.status_code, self._body = status, body or {}

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(self.status_code)

    def json(self) -> dict:
        return self._body


def _message(to: str, subject: str, at: str) -> dict:
    return {
        "Id": subject,
        "Destination": {"ToAddresses": [to]},
        "Subject": subject,
        "Body": {"text_part": f"about {subject}"},
        "Timestamp": at,
    }


def test_the_mailbox_is_newest_first_and_filtered_by_recipient(monkeypatch) -> None:
    messages = [
        _message("a@example.org", "older", "2026-11-28T01:00:00"),
        _message("b@example.org", "other", "2026-11-28T01:00:01"),
        _message("A@example.org", "newer", "2026-11-28T01:00:02"),
    ]
    monkeypatch.setattr(
        mail.requests, "get", lambda *_a, **_k: _Answer(200, {"messages": messages})
    )
    got = mail.local_mailbox(Settings(), to="a@example.org")
    assert [m.subject for m in got] == ["newer", "older"]
    assert got[0].body == "about newer" and got[0].to == ("A@example.org",)


def test_a_mailbox_before_localstack_loaded_ses_is_empty(monkeypatch) -> None:
    monkeypatch.setattr(mail.requests, "get", lambda *_a, **_k: _Answer(404))
    assert mail.local_mailbox(Settings()) == []


def test_only_the_local_cloud_has_a_mailbox() -> None:
    with pytest.raises(RuntimeError, match="only the local cloud"):
        mail.local_mailbox(Settings(cloud="aws", endpoint_url=None))
