"""Timestamps as Step Functions reads them (a Wait state's TimestampPath)."""

from __future__ import annotations

from datetime import datetime, timedelta


def for_wait(when: datetime) -> str:
    """RFC 3339 in UTC with a Z, rounded up to the second: a wait never ends before ``when``."""
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
