"""Annotate: stream the upload from S3, run the annotator engine, upload the results, record it.

Job status writes are conditional (see gas.models): this task must own the job to complete it, so a
worker whose heartbeat lapsed and whose task went to another worker cannot overwrite the result.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

import annotator
from activities.base import Activity, ActivityError, TaskContext, TransientError
from annotator import outputs
from gas import aws, keys, models, timestamps
from gas import sources as annotation_sources
from gas.resources import Resources

PROGRESS_EVERY_SECONDS = 2.0
SUMMARY_FIELDS = (
    "variants",
    "alleles",
    "build",
    "build_source",
    "genes_hit",
    "known_ids",
    "unknown_contig_records",
    "seconds",
)


class InputMissing(ActivityError):
    """The upload is not in the inputs bucket (deleted, or never finished uploading)."""

    error_name = "Annotate.InputMissing"


class ReferenceMissing(ActivityError):
    """This worker has no reference bundle for the build: an operator problem, retried elsewhere."""

    error_name = "Worker.Transient"


def run(ctx: TaskContext, task: dict[str, Any]) -> dict[str, Any]:
    settings = ctx.settings
    job = models.Job.get(task["job_id"])
    names = Resources.of(settings)
    if job.status == models.COMPLETED and job.results:
        # A repeated task for a job that is done (e.g. a redrive): report, do not redo.
        return _output(job, _tier(job.user_id), task["archive_warning_seconds"])
    job.move_to(
        models.RUNNING,
        worker=ctx.owner,
        started_at=models.now(),
        attempts=(job.attempts or 0) + 1,
        variants_done=0,
    )
    workdir = Path(tempfile.mkdtemp(prefix=f"gas-annotate-{job.job_id}-"))
    try:
        source = workdir / Path(task["input_key"]).name
        _download(settings, names.inputs_bucket, task["input_key"], source)
        ctx.check_cancelled()
        out_vcf, out_log, out_summary = (
            workdir / keys.RESULT_FILES[k] for k in ("annotated", "log", "summary")
        )
        last = [time.monotonic()]

        def progress(done: int) -> None:
            ctx.check_cancelled()
            if time.monotonic() - last[0] >= PROGRESS_EVERY_SECONDS:
                last[0] = time.monotonic()
                job.update(
                    actions=[models.Job.variants_done.set(done)],
                    condition=models.Job.worker == ctx.owner,
                )

        try:
            # Every registered source's current version (a resubmitted job gets today's).
            source_dirs = annotation_sources.for_annotation(settings)
        except annotation_sources.SourcesUnavailable as exc:
            raise TransientError(str(exc)) from exc
        try:
            result, standard = outputs.annotate_with_outputs(
                source,
                workdir / "outputs",
                # Only the stored kinds, as the engine goes: the plain VCF and the TSV are made
                # on request.
                keys.stored_output_files(),
                out_log,
                out_summary,
                out_vcf,
                build=task["build"],
                reference_dir=settings.reference_dir,
                default_build=settings.default_build,
                sources=source_dirs,
                progress=progress,
                # Large uploads on all the worker's cores (blocks in threads).
                threads=annotator.default_threads(source),
            )
        except annotator.ReferenceUnavailable as exc:
            raise ReferenceMissing(str(exc)) from exc
        ctx.check_cancelled()
        s3 = aws.client(settings, "s3")
        results, sizes = {}, {}
        made = {"log": out_log, "summary": out_summary, **standard.files}
        if not standard.sorted_input:
            # The .vcf.gz was sorted, so it no longer holds the plain VCF's order: keep that one.
            made["annotated"] = out_vcf
        for kind, path in made.items():
            key = keys.result_key(job.user_id, job.job_id, kind)
            s3.upload_file(str(path), names.results_bucket, key, Config=aws.TRANSFER)
            results[kind] = key
            sizes[kind] = path.stat().st_size
        sizes["annotated"] = standard.plain_bytes  # what its download is, stored or not
        summary = json.loads(out_summary.read_text())
        small = {k: summary[k] for k in SUMMARY_FIELDS if k in summary}
        small["by_region"] = summary.get("by_region", {})
        small["by_chromosome"] = summary.get("by_chromosome", {})
        small["sources"] = result.sources
        # Alleles by their most severe consequence: the engine's count when its summary has one,
        # else the outputs' (the same GAS_CONSEQUENCE values, counted as the tables were written).
        small["by_consequence"] = summary.get("by_consequence") or standard.by_consequence
        tier = _tier(job.user_id)
        finished = models.now()
        archive_after = _archive_after(task["retention_seconds"], tier, finished)
        job.move_to(
            models.COMPLETED,
            owner=ctx.owner,
            completed_at=finished,
            results=results,
            result_sizes=sizes,
            summary=small,
            variants_done=result.variants,
            variants_total=result.variants,
            build=result.build,
            failure_error=None,
            failure_reason=None,
            archive_after=archive_after,
            sources=result.sources,
        )
        return {
            "tier": tier,
            "variants": result.variants,
            "build": result.build,
            "results": results,
            **_waits(archive_after, task["archive_warning_seconds"], warned=False),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _download(settings: Any, bucket: str, key: str, target: Path) -> None:
    try:
        aws.client(settings, "s3").download_file(bucket, key, str(target), Config=aws.TRANSFER)
    except ClientError as exc:
        code = aws.error_code(exc)
        if aws.is_not_found(exc):
            raise InputMissing(
                "The uploaded file is no longer in storage; upload it again."
            ) from exc
        raise TransientError(f"could not read the upload from S3 ({code})") from exc


def _tier(user_id: str) -> str:
    try:
        return models.User.get(user_id).tier
    except models.DoesNotExist:
        return models.FREE


def _archive_after(retention_seconds: int, tier: str, finished: datetime) -> datetime | None:
    if tier == models.PREMIUM:
        return None
    return finished + timedelta(seconds=retention_seconds)


def _waits(archive_after: datetime | None, warning_seconds: int, *, warned: bool) -> dict[str, Any]:
    """The retention waits the workflow takes from this output (none for premium)."""
    if archive_after is None:
        return {"archive_at": None, "archive_warning_at": None}
    return timestamps.archive_waits(archive_after, warning_seconds, models.now(), warned=warned)


def _output(job: models.Job, tier: str, warning_seconds: int) -> dict[str, Any]:
    return {
        "tier": tier,
        "variants": int(job.variants_total or 0),
        "build": job.build or "",
        "results": job.results.as_dict(),
        **_waits(
            job.archive_after if tier == models.FREE else None,
            warning_seconds,
            warned=job.archive_warning_sent_at is not None,
        ),
    }


ACTIVITY = Activity(
    name="annotate",
    run=run,
    input_schema="annotate.input.schema.json",
    output_schema="annotate.output.schema.json",
)
