"""`gas up`: the whole service on one machine, in the foreground, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

import activities
from gas.settings import Settings
from infra import deploy
from infra.localcloud import LocalCloud, LocalCloudError
from infra.supervisor import Child, Supervisor, running_supervisor, stop_leftovers

# One worker of each kind: every activity and every queue.
WORKERS = activities.KINDS
# In the pid folder while a `gas up` that started the local cloud runs: one that dies leaves it,
# and the next `gas up` takes the cloud over (its Ctrl-C stops it, as the first one's would have).
CLOUD_STARTED = "local-cloud.started"


def pid_dir(settings: Settings) -> Path:
    """Where `gas up` records itself and its children (``infra.supervisor``)."""
    return settings.state_dir / "run" / "gas-up"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        # As waitress binds: a port left in TIME_WAIT by an earlier dashboard is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a listening TCP socket on ``port`` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local address HEX_IP:HEX_PORT, state 0A = LISTEN, inode
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(f"socket:[{fields[9]}]")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            continue
    return False


def _dashboard_up(url: str, port: int, dashboard: Child, timeout: float, sup: Supervisor) -> bool:
    """The dashboard this run started answers at ``url`` (not some other process on the port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sup.stopping.is_set():
        answered = False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our dashboard)
                answered = response.status < 500
        except urllib.error.HTTPError as exc:
            answered = exc.code < 500
        except OSError:
            pass
        proc = dashboard.proc
        # Where /proc tells, the answer must come from this run's dashboard process.
        unknown = not Path("/proc/net").is_dir()
        mine = proc is not None and proc.poll() is None and (unknown or _listens(proc.pid, port))
        if answered and mine:
            return True
        sup.check()
        time.sleep(0.3)
    return False


@click.command("up")
@click.option("--no-dashboard", is_flag=True, help="Run the workers only.")
@click.pass_obj
def up(settings: Settings, no_dashboard: bool) -> None:
    """Start the local cloud, deploy, and run one worker of each kind and the dashboard."""
    began = time.monotonic()
    pids = pid_dir(settings)
    other = running_supervisor(pids)
    if other is not None:
        raise click.ClickException(f"gas up is already running (pid {other}); stop it first")
    # Children of an earlier `gas up` that died without stopping them (kill -9, a crash).
    left = stop_leftovers(pids)
    if left:
        click.echo(f"stopped what an earlier gas up left running: {', '.join(left)}")
    if not no_dashboard and not _port_free(settings.web_host, settings.web_port):
        raise click.ClickException(
            f"port {settings.web_port} on {settings.web_host} is in use by another process, so "
            f"the dashboard cannot start; stop that process or set GAS_WEB_PORT"
        )
    cloud_marker = pids / CLOUD_STARTED
    inherited_cloud = cloud_marker.exists()
    # Recorded from here on, so that a second `gas up` refuses while this one still deploys.
    # Idle workers sit in a 60 s long poll; at Ctrl-C the cloud goes down with them, so waiting
    # that out buys nothing. Busy workers still get this long to finish their task.
    supervisor = Supervisor(say=click.echo, stop_grace=10, pid_dir=pids)
    cloud = None
    started_cloud = False
    if settings.is_local:
        cloud = LocalCloud(settings, progress=click.echo)
        try:
            started_cloud = cloud.up() or inherited_cloud
        except LocalCloudError as exc:
            raise click.ClickException(str(exc)) from exc
        if started_cloud:
            cloud_marker.touch()
    result = deploy.deploy(settings, progress=click.echo)
    click.echo("deployed" if result.changed else "deployment up to date")

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
            dashboard = supervisor.add(
                "dashboard", [sys.executable, "-m", "webapp"], env, logs / "dashboard.log"
            )
            url = settings.base_url.rstrip("/") + "/"
            if _dashboard_up(url, settings.web_port, dashboard, 60, supervisor):
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
            cloud_marker.unlink(missing_ok=True)
        click.echo("stopped")


def register(group: click.Group) -> None:
    group.add_command(up)
