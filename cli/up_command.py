"""`gas up`: the whole service on one machine, in the foreground, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

import click

import activities
from gas.settings import Settings
from infra import deploy
from infra.localcloud import LocalCloud, LocalCloudError
from infra.supervisor import Supervisor

# One worker of each kind: every activity and every queue.
WORKERS = activities.KINDS


def _wait_for(url: str, timeout: float, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stopping.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our dashboard)
                if response.status < 500:
                    return True
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return True
        except OSError:
            pass
        supervisor.check()
        time.sleep(0.3)
    return False


@click.command("up")
@click.option("--no-dashboard", is_flag=True, help="Run the workers only.")
@click.pass_obj
def up(settings: Settings, no_dashboard: bool) -> None:
    """Start the local cloud, deploy, and run one worker of each kind and the dashboard."""
    began = time.monotonic()
    cloud = None
    started_cloud = False
    if settings.is_local:
        cloud = LocalCloud(settings, progress=click.echo)
        try:
            started_cloud = cloud.up()
        except LocalCloudError as exc:
            raise click.ClickException(str(exc)) from exc
    result = deploy.deploy(settings, progress=click.echo)
    click.echo("deployed" if result.changed else "deployment up to date")

    # Idle workers sit in a 60 s long poll; at Ctrl-C the cloud goes down with them, so waiting
    # that out buys nothing. Busy workers still get this long to finish their task.
    supervisor = Supervisor(say=click.echo, stop_grace=10)
    env = settings.subprocess_env()
    env["PYTHONUNBUFFERED"] = "1"
    logs = settings.state_dir / "logs"
    try:
        for kind in WORKERS:
            supervisor.add(
                f"worker {kind}",
                [sys.executable, "-m", "cli.main", "worker", kind],
                env,
                logs / f"worker-{kind}.log",
            )
        # At start and then periodically: jobs whose workflow did not survive a restart resume.
        supervisor.add(
            "reconciler",
            [
                sys.executable,
                "-m",
                "cli.main",
                "reconcile",
                "--every",
                str(settings.reconcile_interval_seconds),
            ],
            env,
            logs / "reconciler.log",
        )
        if not no_dashboard:
            supervisor.add(
                "dashboard", [sys.executable, "-m", "webapp"], env, logs / "dashboard.log"
            )
            url = settings.base_url.rstrip("/") + "/"
            if _wait_for(url, 60, supervisor):
                took = time.monotonic() - began
                click.echo(f"GAS is up in {took:.1f} s. Dashboard: {url}  (Ctrl-C stops it all)")
            else:
                click.echo(f"the dashboard did not answer at {url}; see {logs / 'dashboard.log'}")
        click.echo(f"logs: {logs}")
        supervisor.run()
    finally:
        supervisor.stop_all()
        if started_cloud and cloud is not None:
            click.echo("stopping the local cloud…")
            cloud.down()
        click.echo("stopped")


def register(group: click.Group) -> None:
    group.add_command(up)
