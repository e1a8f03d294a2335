"""`gas login`, `gas submit`, `gas jobs`, `gas job`, `gas download`, `gas cancel`, `gas resubmit`,
`gas rm`: the researcher's commands, a client of the dashboard's ``/api/v1`` with a personal token.

No AWS credentials and no settings: only the URL and token that `gas login` keeps.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gas import builds, result_kinds

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what click.progressbar returns

# What the API accepts; kept here so the client needs neither the models nor boto3.
STATUSES = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "ARCHIVED", "RESTORING", "CANCELLED")
KINDS = (*result_kinds.in_api(), "input")
BUILDS = builds.REQUESTABLE

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(command: F) -> F:
    """An API or network error is one ``Error: …`` line and exit code 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        import requests

        from cli.api_client import ClientError, one_line

        try:
            return command(*args, **kwargs)
        except ClientError as exc:
            raise click.ClickException(one_line(exc)) from None
        except requests.RequestException as exc:  # any the client did not name itself
            raise click.ClickException(f"network error: {one_line(exc)}") from None

    return run  # type: ignore[return-value]


def _client():  # -> api_client.Client; imported here so `gas annotate` never loads requests
    from cli import api_client

    return api_client.Client(api_client.load_credentials())


def _json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def _when(iso: str | None) -> str:
    """An API timestamp as people read it: ``2026-11-27 12:30:05``."""
    return iso[:19].replace("T", " ") if iso else "-"


def job_line(job: dict[str, Any]) -> str:
    """One job in ``gas jobs``: id, status, submission time, file name."""
    return f"{job['id']}  {job['status']:10}  {_when(job['submitted_at'])}  {job['input_filename']}"


def job_lines(job: dict[str, Any]) -> list[str]:
    """``gas job ID`` for people: the fields that are set, then the execution's steps."""
    done, total = job.get("variants_done"), job.get("variants_total")
    rows = [
        ("id", job["id"]),
        ("status", job["status"]),
        ("input", job["input_filename"]),
        ("build", job.get("build") or job.get("requested_build")),
        ("queue position", job.get("queue_position")),
        ("submitted", _when(job.get("submitted_at"))),
        ("completed", job.get("completed_at") and _when(job["completed_at"])),
        ("cancelled", job.get("cancelled_at") and _when(job["cancelled_at"])),
        ("variants", f"{done}/{total}" if total is not None else None),
        ("failure", job.get("failure_reason")),
        ("results", ", ".join(job.get("results") or []) or None),
        ("archive at", job.get("archive_at") and _when(job["archive_at"])),
        ("archived", job.get("archived_at") and _when(job["archived_at"])),
        ("resubmitted from", job.get("resubmitted_from")),
    ]
    lines = [f"{name:17} {value}" for name, value in rows if value is not None]
    steps = (job.get("execution") or {}).get("timeline") or []
    if steps:
        lines.append("timeline:")
    for step in steps:
        took = step.get("duration_seconds")
        took_text = f"{took:.1f}s" if took is not None else "…"
        error = f"  error={step['error']}" if step.get("error") else ""
        lines.append(f"  {step['state']:22} {step['status']:10} {took_text:>8}{error}")
    return lines


class _Bar:
    """A click progress bar on stderr (stdout keeps ids and JSON), made once the size is known."""

    def __init__(self, label: str) -> None:
        self.label, self.done = label, 0
        self.bar: ProgressBar[int] | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command("login")
@click.argument("url")
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def login(url: str, token_stdin: bool, as_json: bool) -> None:
    """Keep a personal access token for the dashboard at URL (create one on your profile page)."""
    from cli import api_client

    base = api_client.normalize_url(url)
    if token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = click.prompt(f"Token (from {base}/profile)", hide_input=True, err=True).strip()
    if not token:
        raise click.UsageError("no token given")
    credentials = api_client.Credentials(base, token)
    me = api_client.Client(credentials).me()
    path = api_client.save_credentials(credentials)
    if as_json:
        _json({**me, "url": base, "credentials": str(path)})
        return
    scope = me["token"]["scope"]
    click.echo(f"Logged in to {base} as {me['email']} (token {me['token']['name']!r}, {scope}).")
    click.echo(f"Credentials saved in {path}.")


@click.command("submit")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--build", type=click.Choice(BUILDS), default="auto", show_default=True)
@click.option(
    "--wait", is_flag=True, help="Wait for every job to end; exit 1 if any did not complete."
)
@click.option("--interval", default=3.0, show_default=True, help="Seconds between polls (--wait).")
@click.option("--timeout", type=float, help="Give up waiting after this many seconds (--wait).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def submit(
    files: tuple[Path, ...],
    build: str,
    wait: bool,
    interval: float,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Upload VCF files (plain or gzipped) and start one annotation job for each; prints job ids."""
    from cli.api_client import SUCCEEDED, ClientError

    client = _client()
    submitted: list[dict[str, Any]] = []
    failed_files = 0
    for path in files:
        bar = _Bar(path.name)
        try:
            job = client.upload(path, build=build, progress=bar)
        except ClientError as exc:
            # One file refused (too large, not a VCF …) must not lose the others' jobs.
            bar.close()
            click.echo(f"Error: {path}: {exc}", err=True)
            failed_files += 1
            continue
        bar.close()
        submitted.append(job)
        if not as_json:
            click.echo(f"{job['id']}  {path.name}")
    if wait and submitted:
        submitted = _wait_for(client, submitted, interval, timeout, quiet=as_json)
    if as_json:
        _json(submitted)
    unsuccessful = [job for job in submitted if wait and job["status"] not in SUCCEEDED]
    if failed_files or unsuccessful:
        sys.exit(1)


def _wait_for(
    client: Any,
    jobs: list[dict[str, Any]],
    interval: float,
    timeout: float | None,
    quiet: bool,
) -> list[dict[str, Any]]:
    """Poll each job until it reaches an end state; returns the jobs as they ended."""
    from cli.api_client import END_STATES, ClientError

    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        for job in jobs:
            if job["id"] in final:
                continue
            polled = client.job(job["id"])
            if polled["status"] in END_STATES:
                final[job["id"]] = polled
                if not quiet:
                    reason = f"  {polled['failure_reason']}" if polled.get("failure_reason") else ""
                    click.echo(f"{polled['id']}  {polled['status']}{reason}")
        if len(final) == len(jobs):
            return [final[job["id"]] for job in jobs]
        if deadline is not None and time.monotonic() > deadline:
            waiting = ", ".join(job["id"] for job in jobs if job["id"] not in final)
            raise ClientError(f"still not finished after {timeout:g} s: {waiting}")
        time.sleep(interval)


@click.command("jobs")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this status.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def list_jobs(status: str | None, limit: int, as_json: bool) -> None:
    """Your jobs, newest first."""
    found = _client().jobs(limit, status)
    if as_json:
        _json(found)
    else:
        for job in found:
            click.echo(job_line(job))


@click.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def show_job(job_id: str, as_json: bool) -> None:
    """One of your jobs: status, progress, results and the steps of its execution."""
    job = _client().job(job_id)
    if as_json:
        _json(job)
    else:
        click.echo("\n".join(job_lines(job)))


@click.command("download")
@click.argument("job_id")
@click.option("--kind", type=click.Choice(KINDS), default="annotated", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File or folder to write (default: the offered name, here); - for standard output.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def download(job_id: str, kind: str, output: Path | None, as_json: bool) -> None:
    """Download one of a job's files: the annotated VCF, the log, the summary or the input."""
    from cli.api_client import download_name, stream_to

    response = _client().download(job_id, kind)
    what = f"download of {kind}"
    if output is not None and str(output) == "-":
        for _ in stream_to(response, sys.stdout.buffer, what):
            pass
        return
    target = output or Path(download_name(response))
    if target.is_dir():
        target = target / download_name(response)
    total = int(response.headers.get("Content-Length") or 0) or None
    # Written beside the target and renamed at the end: an interrupted download leaves no
    # truncated file under the real name.
    fd, tmp = tempfile.mkstemp(dir=target.parent.resolve(), prefix=f".{target.name}.")
    written = 0
    bar: ProgressBar[int]
    try:
        with os.fdopen(fd, "wb") as out, _progress(total, target.name) as bar:
            for size in stream_to(response, out, what):
                written += size
                bar.update(size)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if as_json:
        _json({"id": job_id, "kind": kind, "path": str(target), "bytes": written})
    else:
        click.echo(f"{target}  {written} bytes")


class _NoBar:
    """What stands in for a progress bar when the size is not known (a chunked answer)."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, size: int) -> None:
        return None


def _progress(total: int | None, label: str) -> Any:
    if total is None:
        return _NoBar()
    return click.progressbar(length=total, label=label, file=sys.stderr)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@click.command("cancel")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def cancel(job_id: str, as_json: bool) -> None:
    """Stop a job that is queued or running; it ends CANCELLED."""
    job = _client().cancel(job_id)
    if as_json:
        _json(job)
    else:
        click.echo(f"{job['id']}  {job['status']}")


@click.command("resubmit")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def resubmit(job_id: str, as_json: bool) -> None:
    """Start a new job with the same input; prints the new job's id."""
    job = _client().resubmit(job_id)
    if as_json:
        _json(job)
    else:
        click.echo(f"{job['id']}  {job['status']}  (resubmitted from {job_id})")


@click.command("rm")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_one_line_errors
def remove(job_id: str, as_json: bool) -> None:
    """Delete a job that has ended: its input, its results and its record."""
    _client().remove(job_id)
    if as_json:
        _json({"id": job_id, "deleted": True})
    else:
        click.echo(f"{job_id}  deleted")


COMMANDS = (login, submit, list_jobs, show_job, download, cancel, resubmit, remove)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)
