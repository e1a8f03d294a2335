"""Durable state for the local cloud's LocalStack: an on-disk journal and the hooks that fill it."""

from __future__ import annotations

import re
from pathlib import Path

# The one pin of LocalStack's version: pip installs from this file, and launch.py and the contract
# test read the version from it. Standard library only: LocalStack's own Python imports this.
REQUIREMENTS = Path(__file__).resolve().parent.parent / "localstack-requirements.txt"


def pinned_version() -> str:
    """The LocalStack version ``localstack-requirements.txt`` pins (``localstack-core…==X``)."""
    for line in REQUIREMENTS.read_text().splitlines():
        found = re.match(r"\s*localstack-core(\[[^\]]*\])?\s*==\s*([^\s#;]+)", line)
        if found:
            return found.group(2)
    raise RuntimeError(f"{REQUIREMENTS} pins no localstack-core version")
