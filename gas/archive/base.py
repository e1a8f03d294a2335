"""What an archive backend is, what it returns, and how it fails (shared by every backend)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

ARCHIVED_KINDS = ("annotated",)  # the log and summary stay online: small, and shown in the page


class ArchiveError(Exception):
    error_name = "Archive.Failed"


class ExpeditedUnavailable(ArchiveError):
    """Expedited retrieval capacity was refused; fall back to Standard."""

    error_name = "Archive.ExpeditedUnavailable"


@dataclass(frozen=True)
class Archived:
    key: str
    archive_id: str | None = None  # the vault backend's id; None for storage classes


class ArchiveBackend(Protocol):
    name: str

    def archive(self, bucket: str, key: str) -> Archived: ...

    def request_retrieval(self, bucket: str, key: str, tier: str, archive_id: str | None) -> str:
        """Ask for the object back; returns the retrieval's id (the key, or a vault job id)."""
        ...

    def finish_restore(self, bucket: str, key: str, archive_id: str | None) -> None:
        """Once retrieved: put the object back in standard storage at its key."""
        ...
