"""What the pages and the API show of annotation sources: the ones registered (the operator page)
and, for a job, the ones it used and, for a resubmitted job, how they differ from the original's.

The registry itself is gas.sources (read-only here); ``gas sources`` (cli/) changes it.
"""

from __future__ import annotations

from typing import Any

from gas import models
from gas import sources as registry
from gas.settings import Settings


def registered(settings: Settings) -> list[dict[str, Any]]:
    """Every registered source's current version (both builds), with its provenance."""
    index, _ = registry.read_index(settings)
    return registry.current(index)


def used(job: models.Job) -> list[dict[str, Any]]:
    """The sources a job's annotation used, each with its version and provenance ([] for a job
    not annotated yet, or annotated before sources)."""
    return [dict(s) for s in (job.sources or [])]


def against_original(job: models.Job, original: models.Job | None) -> list[dict[str, Any]]:
    """For a resubmitted job: each source it used beside the version the original used
    (``was``: None when the original did not use it); and those the original used that it did
    not (``version`` None). A job that is resubmitted always takes the current versions."""
    if original is None:
        return []
    before = {(s["name"], s["build"]): s for s in used(original)}
    out = []
    for s in used(job):
        was = before.pop((s["name"], s["build"]), None)
        out.append({**s, "was": None if was is None else was.get("version")})
    for (name, build), s in before.items():
        out.append({"name": name, "build": build, "version": None, "was": s.get("version")})
    return out
