"""The ``gas`` command: one entry point for researchers, operators and developers."""

from __future__ import annotations

import click

from gas.settings import Settings, SettingsError


class _Commands(click.Group):
    """Loads the cloud commands (boto3, PynamoDB: ~0.4 s) only when one of them is asked for,
    so `gas annotate` and the API client commands on a researcher's machine start fast."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            _register()
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register()
        return super().list_commands(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def gas(ctx: click.Context) -> None:
    """GAS, the Genomics Annotation Service."""
    try:
        ctx.obj = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


_registered = False


def _register() -> None:
    # Each area of the CLI lives in its own module with a register(group) function.
    global _registered
    if _registered:
        return
    _registered = True
    from cli import (
        annotator_commands,
        client_commands,
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
        client_commands,
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
    from cli import annotator_commands, client_commands

    # Neither loads boto3: the engine and the API client start fast on a researcher's machine.
    annotator_commands.register(gas)
    client_commands.register(gas)
    gas()


if __name__ == "__main__":
    main()
