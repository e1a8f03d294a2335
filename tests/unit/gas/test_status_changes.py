"""Every job status change goes through Job.move_to (TRANSITIONS), and every process binds the
models once, at its entry point."""

from __future__ import annotations

import re

from gas import models
from gas.settings import REPO_ROOT

PACKAGES = ("gas", "workflows", "activities", "webapp", "cli", "infra", "annotator")


def _files_matching(pattern: str) -> list[str]:
    return sorted(
        str(path.relative_to(REPO_ROOT))
        for package in PACKAGES
        for path in (REPO_ROOT / package).rglob("*.py")
        if re.search(pattern, path.read_text())
    )


def test_only_move_to_writes_a_status() -> None:
    assert _files_matching(r"\.status\.set\(") == ["gas/models.py"]


def test_the_models_are_bound_at_the_entry_points_only() -> None:
    assert _files_matching(r"models\.bind\(") == [
        "activities/runtime.py",
        "cli/main.py",
        "webapp/__init__.py",
    ]


def test_every_status_says_where_it_may_come_from() -> None:
    assert set(models.TRANSITIONS) == set(models.STATUSES)
    for sources in models.TRANSITIONS.values():
        assert set(sources) <= set(models.STATUSES)
