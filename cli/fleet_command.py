"""`gas fleet`: scale local worker processes on the backlog, with the AWS fleet's policy."""

from __future__ import annotations

from pathlib import Path

import click

from gas.scaling import ScalingPolicy
from gas.settings import Settings
from infra.fleet import Fleet
from workflows import operations


@click.command("fleet")
@click.option(
    "--activity",
    default="annotate",
    show_default=True,
    type=click.Choice(["annotate", "archive", "restore"]),
)
@click.option("--min", "minimum", default=0, show_default=True)
@click.option("--max", "maximum", default=4, show_default=True)
@click.option("--tasks-per-worker", default=2.0, show_default=True)
@click.option("--scale-out-cooldown", default=10.0, show_default=True)
@click.option("--scale-in-cooldown", default=30.0, show_default=True)
@click.option("--grace", default=60.0, show_default=True, help="Seconds a worker has to drain.")
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write backlog and worker count over time to this CSV.",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the workers' logs go (default: the state folder's logs).",
)
@click.pass_obj
def fleet(
    settings: Settings,
    activity: str,
    minimum: int,
    maximum: int,
    tasks_per_worker: float,
    scale_out_cooldown: float,
    scale_in_cooldown: float,
    grace: float,
    record: Path | None,
    log_dir: Path | None,
) -> None:
    """Run between --min and --max workers of one activity, scaled on its backlog."""
    policy = ScalingPolicy(
        minimum, maximum, tasks_per_worker, scale_out_cooldown, scale_in_cooldown
    )

    def signal() -> tuple[int, int]:
        waiting = operations.backlog(settings).get(activity, 0)
        busy = operations.in_progress(settings).get(activity, 0)
        return waiting, busy

    click.echo(
        f"fleet of {activity} workers: {minimum}..{maximum}, "
        f"{tasks_per_worker:g} task(s) per worker; Ctrl-C stops it"
    )
    Fleet(
        settings,
        activity,
        policy,
        signal,
        record=record,
        say=click.echo,
        grace=grace,
        log_dir=log_dir,
    ).run()


def register(group: click.Group) -> None:
    group.add_command(fleet)
