"""What an archive backend is, what it returns, and how it fails (shared by every backend)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from gas import result_kinds

# The big files go to the archive; the log, summary, gene summary and index stay online (small, and
# shown in the page). A job has the kinds its annotation stored: older jobs only ``annotated``,
# jobs before "store once" also the TSV; archive and thaw move what the job has stored, no more.
ARCHIVED_KINDS = result_kinds.archived()


def archived_kinds(results: dict[str, str]) -> list[str]:
    """The kinds of a job's stored results that go to (and come back from) the archive."""
    return [kind for kind in result_kinds.archived() if kind in results]


def archive_id_of(job: Any, kind: str) -> str | None:
    """The vault archive id of one archived result of ``job`` (None for storage classes)."""
    ids = job.archive_ids.as_dict() if getattr(job, "archive_ids", None) else {}
    return ids.get(kind) or (job.archive_id if kind == "annotated" else None)


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
