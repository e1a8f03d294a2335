"""Jobs placed straight into a later point of their life, for tests that start there: the record
as the workflow would have left it, with placeholder result objects where it keeps them."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from annotator import columns
from annotator.outputs import write_outputs
from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from workflows import users


def put_input(settings: Settings, user: models.User, data: bytes, gz: bool = False) -> str:
    """Put ``data`` where a browser's upload of ``user``'s would be; returns its key."""
    key = keys.upload_key(user.user_id, keys.new_id(), compressed=gz)
    names = Resources.of(settings)
    aws.client(settings, "s3").put_object(Bucket=names.inputs_bucket, Key=key, Body=data)
    return key


def completed_job(
    settings: Settings,
    completed_at: datetime,
    *,
    user: models.User | None = None,
    with_execution: bool = False,
    **fields: Any,
) -> tuple[models.User, models.Job]:
    """A free user's (or ``user``'s) job COMPLETED at ``completed_at``, its results in S3.

    ``with_execution`` names the execution the job would have run under (lost, in these tests);
    ``fields`` set or override anything else on the record (``archive_after`` …).
    """
    user = user or users.ensure_user(settings, f"{keys.new_id()}@example.org")
    names = aws.resources(settings)
    job_id = keys.new_id()
    results = {kind: keys.result_key(user.user_id, job_id, kind) for kind in keys.RESULT_FILES}
    for key in results.values():
        aws.client(settings, "s3").put_object(Bucket=names.results_bucket, Key=key, Body=b"#\n")
    record: dict[str, Any] = {
        "user_id": user.user_id,
        "input_key": keys.upload_key(user.user_id, keys.new_id()),
        "status": models.COMPLETED,
        "results": results,
        "completed_at": completed_at,
        "submitted_at": completed_at - timedelta(seconds=30),
    }
    if with_execution:
        record["execution_arn"] = names.execution_arn(names.job_state_machine_name, job_id)
    record.update(fields)
    job = models.Job(job_id, **record)
    job.save()
    return user, job


def job_with_outputs(
    settings: Settings,
    user: models.User,
    annotated_text: str,
    work: Path,
    *,
    row_group_rows: int = 64,
    before_consequences: bool = False,
) -> tuple[models.Job, list[dict[str, str]]]:
    """A COMPLETED job of ``user``'s whose results are the standard outputs of annotated VCF
    text (written by annotator.outputs, stored at the job's keys), its summary counting alleles
    by consequence; returns (the job, its TSV rows). ``before_consequences``: its Parquet is
    written without the consequence columns, as results from before them are."""
    work.mkdir(parents=True, exist_ok=True)
    annotated = work / "annotated.vcf"
    annotated.write_text(annotated_text)
    names = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
    made = write_outputs(annotated, work / "std", names, row_group_rows=row_group_rows)
    if before_consequences:
        table = pq.read_table(made.files["parquet"])
        old = table.drop_columns(list(columns.CONSEQUENCE_COLUMNS))
        pq.write_table(old, made.files["parquet"], row_group_size=row_group_rows)
    job_id = keys.new_id()
    bucket = aws.resources(settings).results_bucket
    s3 = aws.client(settings, "s3")
    stored, sizes = {}, {}
    for kind, path in {"annotated": annotated, **made.files}.items():
        stored[kind] = keys.result_key(user.user_id, job_id, kind)
        s3.upload_file(str(path), bucket, stored[kind])
        sizes[kind] = path.stat().st_size
    finished = models.now()
    job = models.Job(
        job_id,
        user_id=user.user_id,
        status=models.COMPLETED,
        input_key=keys.upload_key(user.user_id, keys.new_id()),
        input_filename="consequences.vcf",
        build="GRCh38",
        results=stored,
        result_sizes=sizes,
        summary={
            "variants": made.records,
            "alleles": made.alleles,
            "by_region": {},
            "by_chromosome": {},
            "by_consequence": made.by_consequence,
        },
        submitted_at=finished - timedelta(seconds=20),
        completed_at=finished,
    )
    job.save()
    with open(made.files["tsv"], newline="") as handle:
        return job, list(csv.DictReader(handle, delimiter="\t"))
