"""The ``gas`` command: one entry point for researchers, operators and developers."""

from __future__ import annotations

import click

from gas.settings import Settings, SettingsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def gas(ctx: click.Context) -> None:
    """GAS, the Genomics Annotation Service."""
    try:
        ctx.obj = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


def _register() -> None:
    # Each area of the CLI lives in its own module with a register(group) function.
    from cli import (
        annotator_commands,
        deploy_commands,
        fleet_command,
        job_commands,
        local_commands,
        metrics_commands,
        reconcile_command,
        thaw_commands,
        up_command,
        worker_commands,
    )

    for module in (
        local_commands,
        deploy_commands,
        job_commands,
        worker_commands,
        fleet_command,
        up_command,
        thaw_commands,
        annotator_commands,
        metrics_commands,
        reconcile_command,
    ):
        module.register(gas)


def main() -> None:
    """Console-script entry point."""
    _register()
    gas()


if __name__ == "__main__":
    main()
