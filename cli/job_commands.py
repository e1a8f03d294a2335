"""`gas submit`, `gas jobs`, `gas job ID`: jobs from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gas import models
from gas.settings import Settings
from workflows import jobs, uploads, users


@click.command("submit")
@click.argument("vcf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "email", required=True, help="The researcher's e-mail (created if new).")
@click.option("--tier", type=click.Choice(models.TIERS), default=models.FREE, show_default=True)
@click.option("--build", type=click.Choice(["auto", "GRCh38", "GRCh37"]), default="auto")
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
        click.echo(
            f"{job.job_id}  {job.status:10}  {job.submitted_at:%Y-%m-%d %H:%M:%S}  "
            f"{job.input_filename}"
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
    info = jobs.detail(settings, job)
    record = {
        "job_id": job.job_id,
        "status": job.status,
        "input": job.input_filename,
        "submitted_at": job.submitted_at.isoformat(),
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
        "variants": job.variants_total,
        "build": job.build,
        "failure": job.failure_reason,
        "archived_at": job.archived_at.isoformat() if job.archived_at else None,
        "restore_tier": job.restore_tier,
        "restore_requested_at": (
            job.restore_requested_at.isoformat() if job.restore_requested_at else None
        ),
        "restored_at": job.restored_at.isoformat() if job.restored_at else None,
        "results": job.results.as_dict() if job.results else None,
        "execution_arn": job.execution_arn,
        "execution_status": info["execution_status"],
        "current_state": info["current_state"],
        "timeline": info["timeline"],
    }
    if as_json:
        click.echo(json.dumps(record, indent=2, default=str))
        return
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
            click.echo(f"{key:17} {record[key]}")
    click.echo("timeline:")
    for step in info["timeline"]:
        took = f"{step['duration_seconds']:.1f}s" if step["duration_seconds"] is not None else "…"
        extra = f"  attempts={step['attempts']}" if step["attempts"] > 1 else ""
        error = f"  error={step['error']}" if step["error"] else ""
        click.echo(f"  {step['state']:22} {step['status']:10} {took:>8}{extra}{error}")


def register(group: click.Group) -> None:
    for command in (submit, list_jobs, show_job):
        group.add_command(command)
