"""Timestamps as Step Functions reads them (a Wait state's TimestampPath)."""

from __future__ import annotations

from datetime import datetime, timedelta


def for_wait(when: datetime) -> str:
    """RFC 3339 in UTC with a Z, rounded up to the second: a wait never ends before ``when``."""
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def archive_waits(
    archive_after: datetime, warning_seconds: int, now: datetime, *, warned: bool = False
) -> dict[str, str | None]:
    """The two waits of a free job's retention: the archive warning, then the archive itself.

    ``archive_warning_at`` is None when there is to be no warning: none configured, one sent
    already (``warned``), or its time has passed (a late warning says less than none).
    """
    warning_at = archive_after - timedelta(seconds=warning_seconds)
    warn = warning_seconds > 0 and not warned and warning_at > now
    return {
        "archive_at": for_wait(archive_after),
        "archive_warning_at": for_wait(warning_at) if warn else None,
    }
