"""`gas annotate` and `gas reference …`: the annotator engine from the command line."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the annotator's commands to the ``gas`` group."""
