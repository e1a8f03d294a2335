"""`gas deploy` and `gas destroy`: the resources as code, to LocalStack or AWS alike."""

from __future__ import annotations

import time

import click

from gas.definitions import DefinitionError
from gas.settings import Settings
from infra import deploy as deployment


def _parameter(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict:
    pairs = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE")
        pairs[key] = setting
    return pairs


@click.command("deploy")
@click.option(
    "--parameter",
    "-p",
    "parameters",
    multiple=True,
    callback=_parameter,
    metavar="KEY=VALUE",
    help="A template parameter (the AWS fleet's SubnetIds, VpcId, SourceGitUrl, ...); repeatable. "
    "On an update, parameters not given keep their current values.",
)
@click.pass_obj
def deploy(settings: Settings, parameters: dict[str, str]) -> None:
    """Validate the workflow definitions and deploy the stack (idempotent)."""
    began = time.monotonic()
    try:
        result = deployment.deploy(settings, progress=click.echo, parameters=parameters)
    except DefinitionError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise click.ClickException(f"refused, nothing was deployed:\n{lines}") from exc
    except deployment.DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    took = time.monotonic() - began
    if result.changed:
        click.echo(f"deployed {result.stack} in {took:.1f} s: " + ", ".join(result.changes))
    else:
        click.echo(f"{result.stack} is up to date: nothing to change ({took:.1f} s)")


@click.command("destroy")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def destroy(settings: Settings, yes: bool) -> None:
    """Delete the stack, its buckets' contents and (locally) its tables."""
    if not yes:
        click.confirm(f"delete {settings.stack_name} and everything in it?", abort=True)
    deployment.destroy(settings)
    click.echo(f"deleted {settings.stack_name}")


def register(group: click.Group) -> None:
    group.add_command(deploy)
    group.add_command(destroy)
