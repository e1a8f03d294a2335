"""`gas local up | down | status | logs | reset`: the local cloud as plain processes."""

from __future__ import annotations

import json
import time

import click

from gas.settings import Settings
from infra.localcloud import LocalCloud, LocalCloudError


@click.group("local")
def local() -> None:
    """Run LocalStack and DynamoDB Local on this machine (no Docker needed)."""


@local.command("up")
@click.pass_obj
def up(settings: Settings) -> None:
    """Install what is missing, start both emulators and wait until they answer."""
    began = time.monotonic()
    try:
        started = LocalCloud(settings).up()
    except LocalCloudError as exc:
        raise click.ClickException(str(exc)) from exc
    if started:
        click.echo(f"local cloud up in {time.monotonic() - began:.1f} s")
    else:
        click.echo("local cloud already up; nothing to do")


@local.command("install")
@click.pass_obj
def install(settings: Settings) -> None:
    """Install LocalStack and DynamoDB Local if missing (no start); `up` does this too."""
    try:
        LocalCloud(settings).install()
    except LocalCloudError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("local cloud installed")


@local.command("down")
@click.pass_obj
def down(settings: Settings) -> None:
    """Stop the emulators that `gas local up` started, and nothing else."""
    stopped = LocalCloud(settings).down()
    click.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@local.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """Say what runs where. Exits 1 when the local cloud is not fully up."""
    cloud = LocalCloud(settings)
    report = cloud.status()
    data = cloud.data_status()
    if as_json:
        click.echo(json.dumps({**report, "data": data}, indent=2))
    else:
        for name, entry in report.items():
            state = "up" if entry["running"] and entry["answers"] else "down"
            pid = f" pid {entry['pid']}" if entry["pid"] else ""
            click.echo(f"{name:15} {state:5} {entry['endpoint']}{pid}  log: {entry['log']}")
        ddb, journal = data["dynamodb"], data["localstack"]
        click.echo(
            f"state folder {settings.state_dir}: DynamoDB {_size(ddb['bytes'])} in "
            f"{ddb['files']} files; S3 {journal['objects']} objects in {journal['buckets']} "
            f"buckets and {journal['executions']} ended executions, {_size(journal['bytes'])}"
        )
    if not all(e["running"] and e["answers"] for e in report.values()):
        raise SystemExit(1)


@local.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def reset(settings: Settings, yes: bool) -> None:
    """Stop the local cloud and delete its data, to start empty (installs are kept)."""
    cloud = LocalCloud(settings)
    if not yes:
        click.confirm(
            f"Delete every account, job, upload, result and archived object of the local cloud "
            f"in {settings.state_dir}?",
            abort=True,
        )
    stopped = cloud.down()
    removed = cloud.reset()
    if stopped:
        click.echo(f"stopped {', '.join(stopped)}")
    click.echo(f"deleted {', '.join(removed)}" if removed else "nothing to delete; already empty")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


@local.command("logs")
@click.argument("which", type=click.Choice(["localstack", "dynamodb-local", "all"]), default="all")
@click.option("-n", "--lines", default=40, show_default=True)
@click.pass_obj
def logs(settings: Settings, which: str, lines: int) -> None:
    """Show the end of the emulators' logs."""
    cloud = LocalCloud(settings)
    for emulator in cloud.emulators:
        if which not in ("all", emulator.name):
            continue
        click.echo(f"==> {emulator.log_file} <==")
        try:
            text = emulator.log_file.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            text = ["(no log yet)"]
        click.echo("\n".join(text))


def register(group: click.Group) -> None:
    group.add_command(local)
