"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``).

Written out by hand, next to the code it describes; the integration tests validate the document
and check every API response they receive against it.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

# Plain modules (no numpy, pyarrow or pysam): the variant table's columns and the consequence
# vocabulary, declared once there.
from annotator import columns, terms
from gas import builds, models, result_kinds
from webapp import page_tokens

STRING_OR_NULL = {"type": ["string", "null"]}
JOB_ID_SHAPE = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# The shape of a page token (itsdangerous: base64url payload, a dot, base64url signature).
PAGE_SHAPE = r"^\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


# A file's name as the researcher has it: any characters, ending in a VCF suffix.
FILENAME: dict[str, Any] = {
    "type": "string",
    "minLength": 5,
    "maxLength": 1000,
    "pattern": r"\.[vV][cC][fF](\.[gG][zZ]|\.[bB][gG][zZ])?\s*$",
    "description": "the file's name, in any script (.vcf, .vcf.gz or .vcf.bgz)",
}

_JOB_FIELDS: dict[str, Any] = {
    "id": {"type": "string", "format": "uuid"},
    "status": {"type": "string", "enum": list(models.STATUSES)},
    "input_filename": {"type": "string"},
    "build": STRING_OR_NULL,
    "requested_build": {"type": "string", "enum": list(builds.REQUESTABLE)},
    "submitted_at": {"type": "string", "format": "date-time"},
    "started_at": TIME_OR_NULL,
    "completed_at": TIME_OR_NULL,
    "cancelled_at": TIME_OR_NULL,
    "archive_at": {**TIME_OR_NULL, "description": "when a free job's results go to the archive"},
    "archived_at": TIME_OR_NULL,
    "restored_at": TIME_OR_NULL,
    "variants_done": {"type": "integer", "minimum": 0},
    "variants_total": {"type": ["integer", "null"]},
    "failure_reason": STRING_OR_NULL,
    "results": {
        "type": "array",
        "items": {"type": "string", "enum": list(result_kinds.in_api())},
        "description": "the result files the job has (download them with /downloads/{kind})",
    },
    "resubmitted_from": {"type": ["string", "null"], "format": "uuid"},
    "sources": {
        "type": "array",
        "items": _ref("SourceUsed"),
        "description": "the annotation sources the job used, with their versions (a resubmitted "
        "job takes the current ones); empty before it is annotated",
    },
    "url": {"type": "string"},
}


def _variant_field(column: columns.Column) -> dict[str, Any]:
    """A variant table column as a JSON Schema: its type, its vocabulary where it has one."""
    required = column.name in ("chrom", "pos", "ref", "alt")
    kind = column.kind if required else [column.kind, "null"]
    field: dict[str, Any] = {"type": kind, "description": column.description}
    vocabulary = {
        "consequence": terms.TERM_NAMES,
        "impact": terms.IMPACTS,
        "pick_impact": terms.IMPACTS,
        "region": columns.REGION_CLASSES,
        "pick_region": columns.REGION_CLASSES,
    }.get(column.name)
    if vocabulary:
        field["enum"] = [*vocabulary, None]
    return field


_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
        },
    },
    "Job": _obj(list(_JOB_FIELDS), **_JOB_FIELDS),
    "TimelineStep": _obj(
        [
            "state",
            "type",
            "status",
            "started_at",
            "ended_at",
            "duration_seconds",
            "attempts",
            "error",
            "cause",
        ],
        state={"type": "string"},
        type={"type": "string"},
        status={
            "type": "string",
            "enum": ["running", "succeeded", "retried", "failed", "waiting"],
        },
        started_at={"type": "string", "format": "date-time"},
        ended_at=TIME_OR_NULL,
        duration_seconds={"type": ["number", "null"]},
        attempts={"type": "integer"},
        error=STRING_OR_NULL,
        cause=STRING_OR_NULL,
    ),
    "JobDetail": _obj(
        [*_JOB_FIELDS, "queue_position", "execution"],
        **_JOB_FIELDS,
        queue_position={
            "type": ["integer", "null"],
            "description": "queued jobs ahead of this one, while it waits for a worker",
        },
        execution=_obj(
            ["status", "current_state", "timeline"],
            status=STRING_OR_NULL,
            current_state=STRING_OR_NULL,
            timeline={"type": "array", "items": _ref("TimelineStep")},
        ),
    ),
    "JobList": _obj(
        ["jobs", "next_page"],
        jobs={"type": "array", "items": _ref("Job")},
        next_page={
            "type": ["string", "null"],
            "format": "gas-page-token",
            "description": "pass as ?page= (with the same status) for the next page; null on "
            "the last",
        },
    ),
    "NewUpload": _obj(
        [],
        filename=FILENAME,
        compressed={
            "type": "boolean",
            "description": "whether the file is gzip/bgzip-compressed (default: as its name says)",
        },
    ),
    "Upload": _obj(
        ["url", "fields", "key", "max_bytes", "expires_at"],
        url={"type": "string", "description": "POST a multipart form here"},
        fields={
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "send every one as a form field, as given (the key and the content "
            "type among them; the policy allows no other), then the file as the last field",
        },
        key={
            "type": "string",
            "description": "the key the file is stored under: upload_key for POST /jobs",
        },
        max_bytes={"type": "integer", "description": "the largest file the tier allows"},
        expires_at={"type": "string", "format": "date-time"},
    ),
    "SubmitJob": _obj(
        ["upload_key"],
        upload_key={"type": "string", "description": "the key the file was uploaded to"},
        filename={**FILENAME, "description": f"{FILENAME['description']}; kept on the job"},
        build={"type": "string", "enum": list(builds.REQUESTABLE), "default": builds.AUTO},
    ),
    "Download": _obj(
        ["kind", "url", "expires_at"],
        kind={"type": "string", "enum": [*result_kinds.in_api(), "input"]},
        url={"type": "string", "description": "a short-lived presigned GET"},
        expires_at={"type": "string", "format": "date-time"},
    ),
    "Usage": _obj(
        [
            "tier",
            "bytes_online",
            "bytes_archived",
            "objects",
            "jobs_this_month",
            "upload_limit_bytes",
            "retention_seconds",
        ],
        tier={"type": "string", "enum": list(models.TIERS)},
        bytes_online={"type": "integer"},
        bytes_archived={"type": "integer"},
        objects={"type": "integer"},
        jobs_this_month={"type": "integer"},
        upload_limit_bytes={"type": "integer"},
        retention_seconds={
            "type": ["integer", "null"],
            "description": "how long results stay online; null: they stay (premium)",
        },
    ),
    "Variant": {
        **_obj(list(columns.NAMES), **{c.name: _variant_field(c) for c in columns.TABLE}),
        # The job's annotation sources add their columns (VariantPage.source_columns).
        "additionalProperties": {
            "type": ["string", "number", "boolean", "null"],
            "description": "a column of one of the job's annotation sources, <prefix>_<field>",
        },
    },
    "SourceUsed": _obj(
        [
            "name",
            "build",
            "version",
            "match",
            "file",
            "sha256",
            "added_at",
            "records",
            "fields",
            "matched_alleles",
        ],
        name={"type": "string"},
        build={"type": "string", "enum": list(builds.NAMES)},
        version={"type": ["integer", "null"]},
        match={"type": ["string", "null"], "enum": ["allele", "position", "overlap", None]},
        file={"type": ["string", "null"], "description": "the file it was built from"},
        sha256={"type": ["string", "null"], "description": "that file's SHA-256"},
        added_at={"type": ["string", "null"], "description": "when it was registered"},
        records={"type": ["integer", "null"]},
        fields={"type": "array", "items": {"type": "string"}},
        matched_alleles={"type": "integer", "description": "this job's alleles it matched"},
    ),
    "SourceColumn": _obj(
        ["name", "kind", "info", "number", "description", "source"],
        name={"type": "string", "description": "the column (<prefix>_<field>)"},
        kind={"type": "string", "enum": ["string", "integer", "float", "flag"]},
        info={"type": "string", "description": "its INFO field in the annotated VCF"},
        number={"type": "string", "description": "that field's Number"},
        description={"type": "string", "description": "the source's own header text"},
        source={"type": "string"},
    ),
    "VariantPage": _obj(
        [
            "variants",
            "matching",
            "total",
            "page",
            "pages",
            "per_page",
            "lacking",
            "source_columns",
            "next_page",
        ],
        variants={"type": "array", "items": _ref("Variant")},
        matching={"type": "integer", "description": "alleles the filters match"},
        total={"type": "integer", "description": "alleles in the job"},
        page={"type": "integer", "minimum": 1},
        pages={"type": "integer", "minimum": 1},
        per_page={"type": "integer"},
        lacking={
            "type": "array",
            "items": {"type": "string", "enum": list(columns.CONSEQUENCE_COLUMNS)},
            "description": "consequence columns the query uses that the job does not have (it "
            "was annotated before GAS called consequences); their filters match nothing",
        },
        source_columns={
            "type": "array",
            "items": _ref("SourceColumn"),
            "description": "the job's annotation-source columns, after the fixed ones in each "
            "variant; filter them with where=",
        },
        next_page={
            "type": ["string", "null"],
            "description": "the next page's URL, filters kept; null on the last",
        },
    ),
    "Gene": _obj(
        ["gene", "gene_id", "alleles", "by_region", "by_consequence"],
        gene={"type": "string"},
        gene_id=STRING_OR_NULL,
        alleles={"type": "integer", "description": "alleles that list this gene"},
        by_region={**_COUNTS, "description": "those alleles by region class"},
        by_consequence={
            **_COUNTS,
            "propertyNames": {"enum": list(terms.TERM_NAMES)},
            "description": "those alleles by their most severe consequence (empty for a job "
            "annotated before consequences)",
        },
    ),
    "GeneList": _obj(
        ["genes", "total"],
        genes={"type": "array", "items": _ref("Gene")},
        total={"type": "integer", "description": "genes the job's alleles touch"},
    ),
    "Me": _obj(
        ["user_id", "email", "name", "tier", "token"],
        user_id={"type": "string"},
        email={"type": "string"},
        name={"type": "string"},
        tier={"type": "string", "enum": list(models.TIERS)},
        token=_obj(
            ["name", "scope", "expires_at"],
            name={"type": "string"},
            scope={"type": "string", "enum": list(models.TOKEN_SCOPES)},
            expires_at=TIME_OR_NULL,
        ),
    ),
}


def _json(schema: str, description: str, **links: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if links:
        answer["links"] = links
    return answer


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: where a value of this response goes next (clients and fuzzers follow)."""
    return {"operationId": operation_id, "description": description, "parameters": parameters}


# What one job's answer leads to: the same job's other operations.
_JOB_LINKS = {
    name: _link(op, f"{what} this job", job_id="$response.body#/id")
    for name, op, what in (
        ("GetJob", "getJob", "read"),
        ("CancelJob", "cancelJob", "cancel"),
        ("ResubmitJob", "resubmitJob", "resubmit"),
        ("DeleteJob", "deleteJob", "delete"),
        ("Download", "getDownload", "download a file of"),
    )
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


# Every operation may answer these.
COMMON_PROBLEMS = {
    "401": _problem("no token, an unknown, revoked or expired one"),
    "429": _problem("the token's rate limit is spent; see Retry-After"),
}
WRITE_PROBLEMS = {"403": _problem("a read-only token")}
# Uploading and starting jobs also wait for a confirmed e-mail address (where that is required).
SUBMIT_PROBLEMS = {
    "403": _problem("a read-only token, or an account whose e-mail address is not confirmed yet")
}
JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "a job's id (anything else is no job: 404)",
    "schema": {"type": "string", "format": "uuid", "pattern": JOB_ID_SHAPE},
}


def _op(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    write: bool = False,
    job: bool = False,
    submits: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    answers = {**responses, **COMMON_PROBLEMS, **(WRITE_PROBLEMS if write else {})}
    if submits:
        answers.update(SUBMIT_PROBLEMS)
    if job:
        answers["404"] = _problem("no such job (or not yours: the same answer)")
    if "requestBody" in extra:
        answers["413"] = _problem("a body larger than the API takes (64 KiB)")
    operation = {"operationId": operation_id, "summary": summary, "responses": answers, **extra}
    if job:
        operation.setdefault("parameters", []).insert(0, JOB_ID)
    return operation


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def _choices(vocabulary: tuple[str, ...], description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "enum": list(vocabulary)},
        "description": description,
    }


VARIANT_FILTERS = [
    _query(
        "gene",
        {"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$"},
        "a gene name or ID the allele lists (any case)",
    ),
    _query("region", {"type": "string", "enum": list(columns.REGION_CLASSES)}, "region class"),
    _query(
        "chrom",
        {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
        "a chromosome, with or without chr",
    ),
    _query(
        "start",
        {"type": "integer", "minimum": 0, "maximum": columns.MAX_POSITION},
        "first position; needs chrom (without it: 400)",
    ),
    _query(
        "end",
        {"type": "integer", "minimum": 0, "maximum": columns.MAX_POSITION},
        "last position, not before start; needs chrom (without it, or before start: 400)",
    ),
    _query("known", {"type": "string", "enum": ["known", "novel"]}, "with an ID, or without"),
    _query(
        "consequence",
        _choices(terms.TERM_NAMES, "SO terms"),
        "the allele's most severe consequence is any of these (repeat the parameter, or "
        "separate terms with commas)",
        style="form",
        explode=True,
    ),
    _query(
        "impact",
        _choices(terms.IMPACTS, "impacts"),
        "the allele's impact is any of these, e.g. impact=HIGH&impact=MODERATE (or "
        "impact=HIGH,MODERATE)",
        style="form",
        explode=True,
    ),
    _query(
        "where",
        {
            "type": "array",
            "items": {
                "type": "string",
                "pattern": columns.WHERE_PATTERN,
            },
            "maxItems": 20,
        },
        "a filter on one of the job's annotation-source columns, column:op:value (repeatable; "
        "all must hold): numbers lt, le, gt, ge, eq, ne (gnomad_af:le:0.01); text contains "
        "(any case), is, not (clinvar_clnsig:contains:Pathogenic); any column has or missing "
        "(no value); an allele without a value matches only missing",
        style="form",
        explode=True,
    ),
    _query(
        "sort",
        {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,80}$", "default": "chrom"},
        "the column to sort by: a fixed one ("
        + ", ".join(columns.NAMES)
        + "; chrom: genomic order; consequences and impacts: by severity) or a source column",
    ),
    _query("order", {"type": "string", "enum": ["asc", "desc"], "default": "asc"}, "order"),
    _query("page", {"type": "integer", "minimum": 1, "default": 1}, "page number"),
    _query(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        "alleles per page",
    ),
]

PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "the document", "content": {"application/json": {}}}
            },
        }
    },
    "/me": {"get": _op("getMe", "Who the token speaks for", {"200": _json("Me", "the account")})},
    "/usage": {
        "get": _op(
            "getUsage",
            "Storage online and archived, jobs this month, the tier's limits",
            {"200": _json("Usage", "the account's usage")},
        )
    },
    "/uploads": {
        "post": _op(
            "createUpload",
            "A presigned POST for one VCF: its policy allows one key, one content type and the "
            "tier's size",
            {
                "400": _problem("a body that is not a JSON object, a bad filename or compressed"),
                "422": _problem("the name is not a VCF file's"),
                "201": _json(
                    "Upload",
                    "where and how to send the file",
                    SubmitJob={
                        "operationId": "submitJob",
                        "description": "start the job of this upload, once the file is sent",
                        "requestBody": {"upload_key": "$response.body#/key"},
                    },
                ),
            },
            write=True,
            submits=True,
            requestBody={
                "required": False,
                "content": {"application/json": {"schema": _ref("NewUpload")}},
            },
        )
    },
    "/jobs": {
        "get": _op(
            "listJobs",
            "The account's jobs, newest first",
            {
                "200": _json(
                    "JobList",
                    "one page of jobs",
                    NextPage=_link(
                        "listJobs",
                        "the next page of the same list",
                        page="$response.body#/next_page",
                        status="$request.query.status",
                    ),
                    GetFirstJob=_link(
                        "getJob", "the page's first job", job_id="$response.body#/jobs/0/id"
                    ),
                ),
                "400": _problem("a bad status, limit or page"),
            },
            parameters=[
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": list(models.STATUSES)},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
                {
                    "name": "page",
                    "in": "query",
                    "description": (
                        "where the list goes on: the next_page of an earlier answer, given for "
                        "this account and the same status (see the NextPage link); an opaque "
                        "signed token, so any other value is refused with 400"
                    ),
                    "schema": {
                        "type": "string",
                        "format": "gas-page-token",
                        "pattern": PAGE_SHAPE,
                        "maxLength": page_tokens.MAX_LENGTH,
                    },
                },
            ],
        ),
        "post": _op(
            "submitJob",
            "Start the annotation job of an upload (the same upload twice is one job)",
            {
                "201": _json("Job", "the job", **_JOB_LINKS),
                "400": _problem(
                    "no upload_key, an unknown build, a bad filename, or a body that is not a "
                    "JSON object (or is nested more than 32 levels deep)"
                ),
                "404": _problem("no such upload of the account's"),
                "422": _problem("the upload is missing, too large, or not a VCF"),
            },
            write=True,
            submits=True,
            requestBody={
                "required": True,
                "content": {"application/json": {"schema": _ref("SubmitJob")}},
            },
        ),
    },
    "/jobs/{job_id}": {
        "get": _op(
            "getJob",
            "One job, with its queue position and its execution's timeline",
            {"200": _json("JobDetail", "the job", **_JOB_LINKS)},
            job=True,
        ),
        "delete": _op(
            "deleteJob",
            "Delete the job's input, results and record (refused while it runs)",
            {
                "204": {"description": "deleted"},
                "409": _problem("queued, running or restoring"),
            },
            write=True,
            job=True,
        ),
    },
    "/jobs/{job_id}/cancel": {
        "post": _op(
            "cancelJob",
            "Stop the job's workflow; a cancelled job is never archived",
            {
                "200": _json("Job", "the cancelled job", **_JOB_LINKS),
                "409": _problem("nothing to cancel: the job has ended"),
            },
            write=True,
            job=True,
        )
    },
    "/jobs/{job_id}/resubmit": {
        "post": _op(
            "resubmitJob",
            "A new job with the same input",
            {
                "201": _json("Job", "the new job", **_JOB_LINKS),
                "409": _problem("the input is gone"),
            },
            write=True,
            submits=True,
            job=True,
        )
    },
    "/jobs/{job_id}/variants": {
        "get": _op(
            "listVariants",
            "One page of the job's alleles (one row per ALT allele), filtered and sorted as the "
            "dashboard's variant browser does; filters combine (all must hold)",
            {
                "200": _json("VariantPage", "the page"),
                "400": _problem("a filter, sort or page that cannot be"),
                "409": _problem("no variant table: not completed, archived, or annotated before"),
            },
            job=True,
            parameters=list(VARIANT_FILTERS),
        )
    },
    "/jobs/{job_id}/genes": {
        "get": _op(
            "listGenes",
            "The genes the job's alleles touch, most alleles first, by region class and by "
            "consequence",
            {
                "200": _json("GeneList", "the genes"),
                "400": _problem("a bad limit"),
                "409": _problem("no gene summary: not completed, archived, or annotated before"),
            },
            job=True,
            parameters=[
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                    "at most this many genes",
                )
            ],
        )
    },
    "/jobs/{job_id}/downloads/{kind}": {
        "get": _op(
            "getDownload",
            "A short-lived URL for a result file or the input",
            {
                "200": _json("Download", "the URL"),
                "409": _problem("not ready, or archived"),
            },
            job=True,
            parameters=[
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": [*result_kinds.in_api(), "input"]},
                }
            ],
        )
    },
}


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GAS, the Genomics Annotation Service",
            "version": "1.0.0",
            "description": (
                "Upload VCF files, annotate them, download the results. Authenticate with a "
                "personal access token from your profile page: `Authorization: Bearer gas_pat_…`."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"token": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "gas_pat_…"}
            },
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a copy: callers may change it)."""
    return copy.deepcopy(_document())
