"""`gas worker KIND`: serve one activity (or the restore-callback relay) until SIGTERM."""

from __future__ import annotations

import logging
import sys

import click

from gas.settings import Settings

KINDS = ["annotate", "notify", "archive", "record-failure", "restore", "callbacks"]


@click.command("worker")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--concurrency", default=1, show_default=True, help="Tasks served at once.")
@click.option("--grace", default=20.0, show_default=True, help="Seconds to finish on SIGTERM.")
@click.pass_obj
def worker(settings: Settings, kind: str, concurrency: int, grace: float) -> None:
    """Serve one activity: poll, heartbeat, finish or hand back work on SIGTERM."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    if kind == "callbacks":
        from activities import callbacks

        relay = callbacks.Relay(settings)
        relay.install_signal_handlers()
        relay.run()
        return
    import activities
    from activities.runtime import Worker

    try:
        activity = activities.load(kind)
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"the {kind} activity is not available: {exc}") from exc
    runtime = Worker(settings, activity, concurrency=concurrency, grace_seconds=grace)
    runtime.install_signal_handlers()
    runtime.run()


def register(group: click.Group) -> None:
    group.add_command(worker)
