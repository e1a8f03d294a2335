"""The ``gas`` command: one entry point for researchers, operators and developers."""

from __future__ import annotations

import os
import sys

import click

from gas.settings import Settings, SettingsError

# Before anything imports numpy: its OpenBLAS would start a thread per core that spins for a
# while (~0.1 CPU s per process, taken from the annotation's other core, or from the same core
# when pinned); nothing gas runs uses BLAS. An explicit setting is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Commands whose process ends without the interpreter's teardown once their output is flushed:
# after annotating, freeing the bundle, arrays and modules one by one costs ~40 ms.
QUICK_EXIT = frozenset({"annotate"})


class _Commands(click.Group):
    """Loads the cloud commands (boto3, PynamoDB: ~0.4 s) only when one of them is asked for,
    so `gas annotate` and the API client commands on a researcher's machine start fast."""

    chosen: str | None = None  # the command this process runs

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            from cli import client_commands  # no boto3 either

            client_commands.register(self)
        if name not in self.commands:
            _register()
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register()
        return super().list_commands(ctx)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name, command, rest = super().resolve_command(ctx, args)
        self.chosen = name
        return name, command, rest


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def gas(ctx: click.Context) -> None:
    """GAS, the Genomics Annotation Service."""
    try:
        ctx.obj = Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    # The command line's one binding of the models (it names tables; it reaches nothing). The
    # command is resolved before this runs: only one that loaded the models uses them, and the
    # researcher's commands must not load PynamoDB.
    models = sys.modules.get("gas.models")
    if models is not None:
        models.bind(ctx.obj)


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
    from cli import annotator_commands

    # The engine loads no boto3 and `gas annotate` registers nothing else (see _Commands).
    annotator_commands.register(gas)
    try:
        gas()
    except SystemExit as exc:
        if gas.chosen in QUICK_EXIT:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.code if isinstance(exc.code, int) else int(exc.code is not None))
        raise


if __name__ == "__main__":
    main()
