"""``/api/v1``: the researcher's API, JSON over HTTPS with personal access tokens.

The same rules as the pages: a job that is not the token owner's answers 404, exactly like a
missing one; every read and write goes through ``workflows``. Tokens come as
``Authorization: Bearer gas_pat_…``; a read-only token is refused every method but GET. Errors are
``application/problem+json`` (RFC 9457). Each token has its own rate limit (``API_RATE_LIMIT``).
The document describing all of this is served at ``/api/v1/openapi.json`` (``webapp.api_spec``).
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from gas import builds, models, result_kinds
from webapp import api_spec, job_layer, page_tokens
from webapp import downloads as download_links
from webapp.extensions import csrf, limiter
from webapp.security import retry_after, settings
from workflows import downloads, jobs, results, tokens, uploads, usage

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PROBLEM_TYPE = "application/problem+json"
RESULT_KINDS = result_kinds.in_api()  # as the document lists them; requests read the declaration
DOWNLOAD_KINDS = (*RESULT_KINDS, "input")
BUILDS = builds.REQUESTABLE
MAX_PAGE = 100
MAX_FILENAME = 1000  # what a client may send; the name kept is cut to gas.filenames.MAX_LENGTH
MAX_VARIANTS_PER_PAGE = 500
MAX_GENES = 1000
NO_VARIANT_TABLE = (
    "The job has no variant table: it has not completed, its results are archived, or it was "
    "annotated before GAS wrote one."
)


def problem(status: int, detail: str, title: str | None = None, **headers: str) -> Response:
    """An RFC 9457 problem document."""
    body = {
        "type": "about:blank",
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    response.headers.update(headers)
    return response


def is_api_request() -> bool:
    return request.path.startswith(bp.url_prefix or "/api/v1")


def problem_for(exc: HTTPException) -> Response:
    """An HTTP error raised anywhere under /api/v1 (404, 405, 429 …) as a problem document."""
    response = problem(exc.code or 500, exc.description or "")
    for name, value in exc.get_headers():
        if name.lower() != "content-type":  # Allow (405), WWW-Authenticate …
            response.headers[name] = value
    if exc.code == 429:
        response.headers["Retry-After"] = retry_after()
    return response


def _token_key() -> str:
    # The limiter runs before authentication: key on the presented secret's digest, so each
    # token has its own budget, and requests without one share their address's.
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "api-token:" + hashlib.sha256(secret.strip().encode()).hexdigest()[:32]
    return "api-addr:" + get_remote_address()


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_token_key)(bp)


def init_app(app: Flask) -> None:
    """Tokens, not cookies, authenticate the API: no CSRF token applies to it."""
    app.config.setdefault("API_RATE_LIMIT", "600 per minute")
    # The API's bodies are a few short fields: a larger one is refused (413) unread.
    app.config.setdefault("API_MAX_BODY_BYTES", 64 * 1024)
    csrf.exempt(bp)


@bp.before_request
def limit_body() -> None:
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]


@bp.before_request
def authenticate() -> Response | None:
    if request.endpoint == "api.openapi":
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="gas"'}
    if scheme.lower() != "bearer" or not secret.strip():
        return problem(401, "Send a personal access token: Authorization: Bearer …", **challenge)
    try:
        g.api = tokens.authenticate(settings(), secret.strip())
    except tokens.TokenRefused as refused:
        return problem(401, f"The token was refused: {refused}.", **challenge)
    if request.method not in ("GET", "HEAD") and not g.api.token.can_write:
        return problem(403, "This token is read-only; create a read-write token to change things.")
    return None


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return problem_for(exc)


def _user() -> models.User:
    return g.api.user


def _own_job(job_id: str) -> models.Job:
    try:
        return jobs.get_own(settings(), _user(), job_id)
    except jobs.JobNotFound:
        raise _NotFound from None


class _NotFound(HTTPException):
    code = 404
    description = "No such job."


def job_view(job: models.Job) -> dict[str, Any]:
    """A job as the API shows it (DynamoDB fields only)."""
    # Only the kinds /downloads serves (and the document lists; gas.result_kinds' in_api).
    view = job_layer.job_view(job, result_kinds.in_api())
    del view["label"]  # a badge word for the pages
    return {**view, "url": url_for("api.get_job", job_id=job.job_id)}


def _json_body(*fields: str) -> dict[str, Any]:
    """The JSON object sent, holding no field but ``fields`` (as the document says)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _BadRequest("Send a JSON object with Content-Type: application/json.")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise _BadRequest(f"Unknown field {unknown[0][:40]!r}: send only {', '.join(fields)}.")
    return body


class _BadRequest(HTTPException):
    code = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)


def _conflict(exc: Exception) -> Response:
    return problem(409, str(exc))


def _unconfirmed() -> Response | None:
    """The refusal for an account whose address is not confirmed yet (None: go ahead)."""
    if (refusal := job_layer.unconfirmed(settings(), _user())) is None:
        return None
    return problem(403, refusal, title=job_layer.UNCONFIRMED_TITLE)


# --- the document and who is asking ------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(api_spec.document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/me")
def me() -> Response:
    user, token = _user(), g.api.token
    return jsonify(
        {
            "user_id": user.user_id,
            "email": user.email,
            "name": user.name,
            "tier": user.tier,
            "token": {
                "name": token.name,
                "scope": token.scope,
                "expires_at": job_layer.iso(token.expires_at),
            },
        }
    )


@bp.get("/usage")
def get_usage() -> Response:
    return jsonify(usage.of(settings(), _user()).as_dict())


# --- uploads and jobs ----------------------------------------------------------------------------


def _optional_body(*fields: str) -> dict[str, Any]:
    """The JSON object sent, or {} for no body at all."""
    if not request.get_data(cache=True):
        return {}
    return _json_body(*fields)


def _filename(body: dict[str, Any]) -> str | None | Response:
    """The ``filename`` field: None when absent, a 400 problem when it is no file name."""
    if "filename" not in body:
        return None
    name = body["filename"]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_FILENAME:
        return problem(400, f"filename must be a file's name (1 to {MAX_FILENAME} characters).")
    return name


@bp.post("/uploads")
def create_upload() -> tuple[Response, int]:
    """A presigned POST for ``{"filename": …}``: send its fields and then the file to ``url``."""
    if refused := _unconfirmed():
        return refused, 403
    body = _optional_body("filename", "compressed")
    filename = _filename(body)
    compressed = body.get("compressed")
    if isinstance(filename, Response):
        return filename, 400
    if "compressed" in body and not isinstance(compressed, bool):
        return problem(400, "compressed must be true or false."), 400
    name = filename or ("input.vcf.gz" if compressed else "input.vcf")
    if problem_text := uploads.filename_problem(name):
        return problem(422, problem_text, title="Upload refused"), 422
    cfg = settings()
    post = uploads.presigned_post(cfg, _user(), name, compressed=compressed)
    expires = models.now() + timedelta(seconds=cfg.presigned_url_seconds)
    return jsonify({**job_layer.upload_view(post), "expires_at": expires.isoformat()}), 201


@bp.post("/jobs")
def submit_job() -> tuple[Response, int, dict[str, str]] | Response:
    if refused := _unconfirmed():
        return refused
    body = _json_body("upload_key", "filename", "build")
    key = body.get("upload_key")
    build = body.get("build", "auto")
    if not isinstance(key, str) or build not in BUILDS:
        return problem(400, "Send upload_key (a key from POST /uploads) and optionally build.")
    filename = _filename(body)
    if isinstance(filename, Response):
        return filename
    try:
        upload = uploads.own_upload(_user(), key)
    except uploads.NotYourUpload:
        return problem(404, "No such upload.")
    try:
        job = jobs.submit_upload(settings(), _user(), upload, build=build, filename=filename)
    except jobs.SubmitError as refused:
        return problem(422, str(refused), title="Upload refused")
    view = job_view(job)
    return jsonify(view), 201, {"Location": view["url"]}


@bp.get("/jobs")
def list_jobs() -> Response:
    # Exactly what the document allows: an empty value is not "absent".
    status = request.args.get("status")
    if status is not None and status not in models.STATUSES:
        return problem(400, f"status must be one of {', '.join(models.STATUSES)}.")
    given_limit = request.args.get("limit", "20")
    limit = int(given_limit) if re.fullmatch(r"[0-9]{1,4}", given_limit) else 0
    if not 1 <= limit <= MAX_PAGE:
        return problem(400, f"limit must be a whole number from 1 to {MAX_PAGE}.")
    secret, user_id, query = current_app.config["SECRET_KEY"], _user().user_id, {"status": status}
    after = None
    if (token := request.args.get("page")) is not None:
        try:
            after = page_tokens.loads(secret, token, user_id, query)
        except page_tokens.BadPageToken:
            return problem(
                400,
                "page is not a next_page this API gave out for this account and this status.",
            )
    page, next_key = jobs.page_for_user(settings(), user_id, limit, after=after, status=status)
    next_page = page_tokens.dumps(secret, user_id, query, next_key) if next_key else None
    return jsonify({"jobs": [job_view(job) for job in page], "next_page": next_page})


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    job = _own_job(job_id)
    view = job_view(job)
    view["queue_position"] = jobs.queue_position(settings(), job)
    execution: dict[str, Any] = {"status": None, "current_state": None, "timeline": []}
    try:
        detail = jobs.detail(settings(), job)
    except Exception:  # a throttled Step Functions read must not fail the job's record
        current_app.logger.exception("job %s: execution detail unavailable", job.job_id)
    else:
        execution = {
            "status": detail["execution_status"],
            "current_state": detail["current_state"],
            "timeline": detail["timeline"],
        }
    view["execution"] = execution
    return jsonify(view)


@bp.get("/jobs/<job_id>/downloads/<kind>")
def download(job_id: str, kind: str) -> Response:
    job = _own_job(job_id)
    kinds = (*result_kinds.in_api(), "input")
    if kind not in kinds:
        return problem(404, f"kind must be one of {', '.join(kinds)}.")
    cfg = settings()
    if kind == "input":
        url = uploads.input_url(cfg, job.input_key, job.input_filename)
    else:
        if job.status in (models.ARCHIVED, models.RESTORING):
            return problem(409, "The results are archived; upgrade to Premium to restore them.")
        try:
            url = download_links.link(job, kind)
        except downloads.NotOffered:
            return problem(409, f"The job is {job.status.lower()}; it has no {kind} yet.")
    expires = models.now() + timedelta(seconds=cfg.presigned_url_seconds)
    return jsonify({"kind": kind, "url": url, "expires_at": expires.isoformat()})


@bp.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    job = _own_job(job_id)
    try:
        jobs.cancel(settings(), job)
    except jobs.JobConflict as exc:
        return _conflict(exc)
    return jsonify(job_view(jobs.get(settings(), job_id)))


@bp.post("/jobs/<job_id>/resubmit")
def resubmit_job(job_id: str) -> tuple[Response, int, dict[str, str]] | Response:
    job = _own_job(job_id)
    if refused := _unconfirmed():
        return refused
    try:
        new = jobs.resubmit(settings(), _user(), job)
    except jobs.SubmitError as exc:
        return _conflict(exc)
    view = job_view(new)
    return jsonify(view), 201, {"Location": view["url"]}


@bp.delete("/jobs/<job_id>")
def delete_job(job_id: str) -> Response:
    job = _own_job(job_id)
    try:
        jobs.delete(settings(), job)
    except jobs.JobConflict as exc:
        return _conflict(exc)
    return Response(status=204)


# --- a finished job's variants and genes ---------------------------------------------------------


def _bounded(name: str, default: int, largest: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        value = 0
    if not 1 <= value <= largest:
        raise _BadRequest(f"{name} must be a whole number from 1 to {largest}.")
    return value


@bp.get("/jobs/<job_id>/variants")
def list_variants(job_id: str) -> Response:
    """One page of the job's alleles, filtered and sorted as the variant browser does."""
    job = _own_job(job_id)
    per_page = _bounded("per_page", results.PER_PAGE, MAX_VARIANTS_PER_PAGE)
    try:
        query = results.VariantQuery.from_args(request.args)
    except results.BadQuery as bad:
        return problem(400, str(bad))
    try:
        page = results.query_page(settings(), job, query, per_page=per_page)
    except results.ResultUnavailable:
        return problem(409, NO_VARIANT_TABLE)
    except results.BadQuery as bad:  # a source column this job does not have
        return problem(400, str(bad))
    following = None
    if query.page < page.pages:
        args = query.to_args(page=query.page + 1)
        if per_page != results.PER_PAGE:
            args["per_page"] = per_page
        following = url_for("api.list_variants", job_id=job.job_id, **args)
    return jsonify(
        {
            "variants": page.rows,
            "matching": page.matching,
            "total": page.total,
            "page": query.page,
            "pages": page.pages,
            "per_page": per_page,
            "lacking": list(page.lacking),
            "source_columns": [
                {k: getattr(c, k) for k in ("name", "kind", "info", "number", "description")}
                | {"source": c.source}
                for c in page.source_columns
            ],
            "next_page": following,
        }
    )


@bp.get("/jobs/<job_id>/genes")
def list_genes(job_id: str) -> Response:
    """The genes the job's alleles touch, most alleles first, by region and by consequence."""
    job = _own_job(job_id)
    limit = _bounded("limit", 100, MAX_GENES)
    try:
        genes = results.genes(settings(), job)
    except results.ResultUnavailable:
        return problem(409, NO_VARIANT_TABLE)
    return jsonify(
        {
            "genes": [
                {
                    "gene": gene["gene"],
                    "gene_id": gene.get("gene_id"),
                    "alleles": gene["alleles"],
                    "by_region": gene.get("by_region", {}),
                    # absent from a gene summary written before consequences
                    "by_consequence": gene.get("by_consequence", {}),
                }
                for gene in genes[:limit]
            ],
            "total": len(genes),
        }
    )
