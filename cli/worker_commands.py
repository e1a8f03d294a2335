"""`gas worker KIND`: serve one activity or one queue until SIGTERM."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

import activities
from gas.settings import Settings


@click.command("worker")
@click.argument("kind", type=click.Choice(activities.KINDS))
@click.option("--concurrency", default=1, show_default=True, help="Tasks served at once.")
@click.option("--grace", default=20.0, show_default=True, help="Seconds to finish on SIGTERM.")
@click.pass_obj
def worker(settings: Settings, kind: str, concurrency: int, grace: float) -> None:
    """Serve one activity or queue: poll, keep the work leased, report, hand back on SIGTERM."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    from activities.runtime import ActivityWorker, QueueWorker, Runtime

    options: dict[str, Any] = {"concurrency": concurrency, "grace_seconds": grace}
    runtime: Runtime
    if kind in activities.HANDLERS:
        runtime = QueueWorker(settings, activities.load_handler(kind), **options)
    else:
        runtime = ActivityWorker(settings, activities.load(kind), **options)
    runtime.install_signal_handlers()
    runtime.run()


def register(group: click.Group) -> None:
    group.add_command(worker)
