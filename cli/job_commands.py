"""`gas admin submit`, `gas admin jobs`, `gas admin job ID`: any user's jobs, with AWS credentials.

The operator's view, straight to DynamoDB, S3 and Step Functions; researchers use `gas submit`,
`gas jobs` and `gas job` (cli/client_commands.py), which go through the dashboard's API.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from gas import builds, models
from gas.settings import Settings
from workflows import jobs, uploads, users


@click.command("submit")
@click.argument("vcf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "email", required=True, help="The researcher's e-mail (created if new).")
@click.option("--tier", type=click.Choice(models.TIERS), default=models.FREE, show_default=True)
@click.option("--build", type=click.Choice(builds.REQUESTABLE), default=builds.AUTO)
@click.pass_obj
def submit(settings: Settings, vcf: Path, email: str, tier: str, build: str) -> None:
    """Upload a VCF for a user and start its annotation job; prints the job id."""
    user = users.ensure_user(settings, email, tier)
    upload = uploads.put_file(settings, user, vcf)
    job = jobs.submit(settings, user, upload.key, vcf.name, build=build)
    click.echo(job.job_id)


@click.command("jobs")
@click.option("--user", "email", help="Only this user's jobs.")
@click.option("--limit", default=20, show_default=True)
@click.pass_obj
def list_jobs(settings: Settings, email: str | None, limit: int) -> None:
    """List jobs, newest first."""
    if email:
        user = users.find_by_email(settings, email)
        if user is None:
            raise click.ClickException(f"no user {email}")
        found = jobs.for_user(settings, user.user_id, limit)
    else:
        found = jobs.newest(settings, limit)
    for job in found:
        click.echo(job_line(job))


def job_line(job: models.Job) -> str:
    """One job in ``gas jobs``: id, status, submission time, file name."""
    return (
        f"{job.job_id}  {job.status:10}  {job.submitted_at:%Y-%m-%d %H:%M:%S}  {job.input_filename}"
    )


@click.command("job")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show_job(settings: Settings, job_id: str, as_json: bool) -> None:
    """One job: status, current state and the timeline of its execution."""
    try:
        job = jobs.get(settings, job_id)
    except jobs.JobNotFound:
        raise click.ClickException(f"no job {job_id}") from None
    record = job_record(job, jobs.detail(settings, job))
    if as_json:
        click.echo(json.dumps(record, indent=2, default=str))
    else:
        click.echo("\n".join(job_lines(record)))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def job_record(job: models.Job, info: dict[str, Any]) -> dict[str, Any]:
    """What ``gas job`` shows: the job's record and its execution ``info`` (jobs.detail)."""
    return {
        "job_id": job.job_id,
        "status": job.status,
        "input": job.input_filename,
        "submitted_at": _iso(job.submitted_at),
        "completed_at": _iso(job.completed_at),
        "variants": job.variants_total,
        "build": job.build,
        "failure": job.failure_reason,
        "archived_at": _iso(job.archived_at),
        "restore_tier": job.restore_tier,
        "restore_requested_at": _iso(job.restore_requested_at),
        "restored_at": _iso(job.restored_at),
        "results": job.results.as_dict() if job.results else None,
        "execution_arn": job.execution_arn,
        "execution_status": info["execution_status"],
        "current_state": info["current_state"],
        "timeline": info["timeline"],
    }


def job_lines(record: dict[str, Any]) -> list[str]:
    """``gas job`` for people: the fields that are set, then one line per step of the timeline."""
    lines = []
    for key in (
        "job_id",
        "status",
        "input",
        "variants",
        "build",
        "failure",
        "archived_at",
        "restore_tier",
        "restored_at",
        "execution_status",
        "current_state",
    ):
        if record[key] is not None:
            lines.append(f"{key:17} {record[key]}")
    lines.append("timeline:")
    for step in record["timeline"]:
        took = f"{step['duration_seconds']:.1f}s" if step["duration_seconds"] is not None else "…"
        extra = f"  attempts={step['attempts']}" if step["attempts"] > 1 else ""
        error = f"  error={step['error']}" if step["error"] else ""
        lines.append(f"  {step['state']:22} {step['status']:10} {took:>8}{extra}{error}")
    return lines


@click.group("admin")
def admin() -> None:
    """Operator commands on any user's jobs (AWS credentials, not an API token)."""


for _command in (submit, list_jobs, show_job):
    admin.add_command(_command)


def register(group: click.Group) -> None:
    group.add_command(admin)
