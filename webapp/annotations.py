"""Upload, the jobs list (live status from DynamoDB), the job page, downloads and the log."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from gas import models, result_kinds
from gas.models import Job
from webapp import downloads as download_links
from webapp import graph, job_layer, page_tokens, results
from webapp.security import own_job_or_404, settings
from workflows import downloads, jobs, uploads
from workflows import sources as annotation_sources

bp = Blueprint("annotations", __name__)

STATUS_WORDS = job_layer.STATUS_WORDS
# Results can be read in these statuses; archived ones must be restored first.
READABLE = (models.COMPLETED,)
# Typical Glacier-class retrieval times, by retrieval tier, for the "restoring" message.
RESTORE_TIMES = {
    "Expedited": "1–5 minutes",
    "Standard": "3–5 hours",
    "Bulk": "5–12 hours",
}
MAX_STATUS_IDS = 50
REMEMBERED_UPLOADS = 5


def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("annotations.list_jobs"))
    return redirect(url_for("auth.login"))


def status_view(job: Job) -> dict[str, Any]:
    """What the list and the live endpoint show for one job (DynamoDB fields only)."""
    view = job_layer.job_view(job, result_kinds.names())
    return {"job_id": view["id"]} | {
        key: view[key]
        for key in (
            "status",
            "label",
            "variants_done",
            "variants_total",
            "completed_at",
            "archive_at",
        )
    }


# --- upload -----------------------------------------------------------------------------------


def _remember_upload(upload_id: str) -> None:
    session["uploads"] = [upload_id, *session.get("uploads", [])][:REMEMBERED_UPLOADS]


def needs_confirmation() -> bool:
    return job_layer.unconfirmed(settings(), current_user.record) is not None


def _unconfirmed_message() -> str:
    return job_layer.unconfirmed(settings(), current_user.record) or ""


@bp.route("/annotate")
@login_required
def annotate() -> str:
    cfg = settings()
    if needs_confirmation():
        return render_template(
            "annotations/confirm_first.html",
            email=current_user.record.email,
            resend_form=job_layer.ResendConfirmationForm(),
        )
    # Without JavaScript the form posts the file straight to S3, named by S3 itself (the page
    # cannot know the file before it is chosen); upload.js asks for one POST per file instead.
    post = uploads.presigned_form(
        cfg, current_user.record, redirect_url=cfg.base_url.rstrip("/") + "/annotate/submit"
    )
    _remember_upload(post.upload_id)
    return render_template(
        "annotations/annotate.html",
        post=post,
        allowed=uploads.ALLOWED_SUFFIXES,
        limit_kb=post.max_bytes // 1024,
    )


@bp.route("/annotate/submit")
@login_required
def submit() -> Response:
    """Where S3 sends the browser after the upload: turn the upload into a job (idempotent)."""
    cfg, user = settings(), current_user.record
    try:
        landed = uploads.own_landing(user, request.args.get("key", ""))
    except uploads.NotYourUpload:
        abort(404)
    if needs_confirmation():
        flash(_unconfirmed_message(), "error")
        return redirect(url_for("annotations.annotate"))
    # The same redirect followed again (a reload): the file has moved, the job is there.
    job = jobs.job_for_upload_id(cfg, user, landed.upload_id)
    if job is not None:
        return redirect(url_for("annotations.job_page", job_id=job.job_id))
    if landed.upload_id not in session.get("uploads", []):
        # Only uploads this session's form started can be submitted by following a link.
        flash("That upload was not started from this session; please upload again.", "error")
        return redirect(url_for("annotations.annotate"))
    try:
        upload = uploads.land(cfg, landed)
        job = jobs.submit_upload(cfg, user, upload, filename=landed.filename)
    except uploads.UploadProblem as refused:
        flash(str(refused), "error")
        return redirect(url_for("annotations.annotate"))
    except jobs.SubmitError as refused:
        flash(str(refused), "error")
        return redirect(url_for("annotations.annotate"))
    flash(f"{job.input_filename} was uploaded; its annotation job has started.", "success")
    return redirect(url_for("annotations.job_page", job_id=job.job_id))


# The upload page's script: one presigned POST per file (sent from the page with progress
# events), then one job per upload. JSON in and out; CSRFProtect checks the X-CSRFToken header,
# so no other site can submit for the user, and the session need not remember these uploads
# (the page asks for several at once: their session writes would overwrite one another).


def _filename(body: dict[str, Any]) -> str | None:
    name = body.get("filename")
    return name if isinstance(name, str) and name.strip() else None


@bp.post("/annotate/uploads")
@login_required
def new_upload() -> tuple[Response, int]:
    """A presigned POST for one more file of the page's batch, ``{"filename": …}`` (S3 answers
    it with 201); its policy allows the one key and content type it names."""
    if needs_confirmation():
        return jsonify({"error": _unconfirmed_message()}), 403
    body = request.get_json(silent=True)
    filename = _filename(body if isinstance(body, dict) else {}) or "input.vcf"
    if problem := uploads.filename_problem(filename):
        return jsonify({"error": problem}), 422
    post = uploads.presigned_post(settings(), current_user.record, filename)
    return jsonify(job_layer.upload_view(post)), 201


@bp.post("/annotate/jobs")
@login_required
def submit_json() -> tuple[Response, int]:
    """Start the job of one upload the page sent to S3; the same upload twice is one job."""
    if needs_confirmation():
        return jsonify({"error": _unconfirmed_message()}), 403
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        upload = uploads.own_upload(current_user.record, str(body.get("key", "")))
    except uploads.NotYourUpload:
        return jsonify({"error": "No such upload of yours; please upload the file again."}), 404
    try:
        job = jobs.submit_upload(settings(), current_user.record, upload, filename=_filename(body))
    except jobs.SubmitError as refused:
        return jsonify({"error": str(refused)}), 422
    return jsonify(
        {
            "job_id": job.job_id,
            "input_filename": job.input_filename,
            "url": url_for("annotations.job_page", job_id=job.job_id),
        }
    ), 201


# --- list and live status -----------------------------------------------------------------------


@bp.route("/annotations")
@login_required
def list_jobs() -> str:
    secret, user_id = current_app.config["SECRET_KEY"], current_user.user_id
    last_key = None
    token = request.args.get("page")
    if token:
        try:
            last_key = page_tokens.loads(secret, token, user_id, {})
        except page_tokens.BadPageToken:
            abort(404)
    page, next_key = jobs.page_for_user(
        settings(), user_id, current_app.config["JOBS_PER_PAGE"], after=last_key
    )
    next_token = page_tokens.dumps(secret, user_id, {}, next_key) if next_key else None
    return render_template(
        "annotations/list.html",
        jobs=[(job, status_view(job)) for job in page],
        next_token=next_token,
        first_page=token is None,
    )


@bp.route("/annotations/status")
@login_required
def statuses() -> Response:
    """Live status of some of the user's jobs: DynamoDB only, so the list can poll it."""
    ids = request.args.get("ids", "").split(",")
    found = jobs.own_jobs(settings(), current_user.record, ids, limit=MAX_STATUS_IDS)
    return jsonify({"jobs": {job.job_id: status_view(job) for job in found}})


@bp.route("/annotations/<job_id>/status")
@login_required
def job_status(job_id: str) -> Response:
    return jsonify(status_view(own_job_or_404(job_id)))


# --- the job page --------------------------------------------------------------------------------


class DetailCache:
    """Execution details kept for a few seconds per (job, status, progress).

    Step Functions' read APIs allow a few calls a second per account: a job page viewed by many
    tabs (or reloaded) must not turn every view into a DescribeExecution + GetExecutionHistory.
    """

    def __init__(self, ttl_seconds: float = 5.0, max_entries: int = 2048) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(job: Job) -> tuple[Any, ...]:
        return (job.job_id, job.status, job.variants_done, job.attempts)

    def get(self, job: Job) -> dict[str, Any] | None:
        with self._lock:
            hit = self._entries.get(self.key(job))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    def put(self, job: Job, detail: dict[str, Any]) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # crude, but bounded; entries live seconds anyway
            self._entries[self.key(job)] = (time.monotonic(), detail)


def _detail(job: Job) -> dict[str, Any] | None:
    """The execution's detail from Step Functions, or None when it cannot be read right now."""
    if not job.execution_arn and job.status == models.PENDING:
        return None
    cache: DetailCache = current_app.extensions["gas_detail_cache"]
    cached = cache.get(job)
    if cached is not None:
        return cached
    try:
        detail = jobs.detail(settings(), job)
    except Exception:  # a throttled or missing execution must not break the page
        current_app.logger.exception("job %s: execution detail unavailable", job.job_id)
        return None
    cache.put(job, detail)
    return detail


def _summary(job: Job) -> dict[str, Any] | None:
    if job.summary:
        summary = job.summary.as_dict()
        if (
            summary.get("by_region")
            or summary.get("by_chromosome")
            or summary.get("by_consequence")
        ):
            return summary
    if job.status not in READABLE:
        return None
    try:
        return json.loads(jobs.read_result(settings(), job, "summary"))
    except Exception:
        current_app.logger.exception("job %s: summary unavailable", job.job_id)
        return None


def _bars(counts: dict[str, Any] | None, limit: int = 30) -> list[dict[str, Any]]:
    """Chart rows for a {label: count} map, largest first, scaled to the largest."""
    if not counts:
        return []
    items = sorted(
        ((str(k), int(v)) for k, v in counts.items() if int(v) > 0), key=lambda kv: -kv[1]
    )[:limit]
    top = max((v for _, v in items), default=0) or 1
    return [{"label": k, "count": v, "width": round(300 * v / top)} for k, v in items]


def _workflow_context(job: Job) -> dict[str, Any]:
    detail = _detail(job)
    drawn = None
    if detail and detail.get("definition"):
        drawn = graph.layout(detail["definition"], detail.get("states", {}))
    archive_at = (detail or {}).get("archive_at") or (
        job.archive_after.isoformat() if job.archive_after else None
    )
    return {"job": job, "detail": detail, "graph": drawn, "archive_at": archive_at}


class JobActionForm(FlaskForm):
    """Just the CSRF token: cancel, resubmit and delete are one button each."""


@bp.route("/annotations/<job_id>")
@login_required
def job_page(job_id: str) -> str:
    job = own_job_or_404(job_id)
    summary = _summary(job)
    context = _workflow_context(job)
    return render_template(
        "annotations/job.html",
        action_form=JobActionForm(),
        can_cancel=jobs.can_cancel(job),
        can_delete=jobs.can_delete(job),
        queue_position=jobs.queue_position(settings(), job),
        view=status_view(job),
        summary=summary,
        consequences=results.consequence_chart(
            (summary or {}).get("by_consequence"), results.owner_links(job)
        ),
        regions=_bars((summary or {}).get("by_region")),
        chromosomes=_bars((summary or {}).get("by_chromosome")),
        restore_time=RESTORE_TIMES.get(job.restore_tier or "", "a few hours"),
        readable=job.status in READABLE,
        is_premium=current_user.record.tier == models.PREMIUM,
        now=datetime.now(UTC),
        shares=results.shares_view(job),
        sources_used=annotation_sources.used(job),
        resubmission=_resubmission(job),
        **results.results_context(job, request.args, results.owner_links(job)),
        **context,
    )


def _resubmission(job: Job) -> dict[str, Any] | None:
    """A resubmitted job's original and how its sources' versions compare with the original's."""
    if not job.resubmitted_from:
        return None
    try:
        original = jobs.get_own(settings(), current_user.record, job.resubmitted_from)
    except jobs.JobNotFound:  # deleted since
        original = None
    return {
        "job_id": job.resubmitted_from,
        "exists": original is not None,
        "sources": annotation_sources.against_original(job, original),
    }


@bp.post("/annotations/<job_id>/cancel")
@login_required
def cancel(job_id: str) -> Response:
    job = own_job_or_404(job_id)
    if JobActionForm().validate_on_submit():
        try:
            jobs.cancel(settings(), job)
        except jobs.JobConflict as refused:
            flash(str(refused), "error")
        else:
            flash("The job was cancelled; its results will not be archived.", "success")
    return redirect(url_for("annotations.job_page", job_id=job_id))


@bp.post("/annotations/<job_id>/resubmit")
@login_required
def resubmit(job_id: str) -> Response:
    job = own_job_or_404(job_id)
    if needs_confirmation():
        flash(_unconfirmed_message(), "error")
        return redirect(url_for("annotations.job_page", job_id=job_id))
    if JobActionForm().validate_on_submit():
        try:
            new = jobs.resubmit(settings(), current_user.record, job)
        except jobs.SubmitError as refused:
            flash(str(refused), "error")
        else:
            flash(f"{new.input_filename} was submitted again as a new job.", "success")
            return redirect(url_for("annotations.job_page", job_id=new.job_id))
    return redirect(url_for("annotations.job_page", job_id=job_id))


@bp.post("/annotations/<job_id>/delete")
@login_required
def delete(job_id: str) -> Response:
    job = own_job_or_404(job_id)
    if JobActionForm().validate_on_submit():
        try:
            jobs.delete(settings(), job)
        except jobs.JobConflict as refused:
            flash(str(refused), "error")
            return redirect(url_for("annotations.job_page", job_id=job_id))
        flash(f"{job.input_filename}: the job, its input and its results were deleted.", "success")
        return redirect(url_for("annotations.list_jobs"))
    return redirect(url_for("annotations.job_page", job_id=job_id))


@bp.route("/annotations/<job_id>/workflow")
@login_required
def workflow_fragment(job_id: str) -> str:
    """The graph and timeline alone, fetched by the job page when the job's status changes."""
    job = own_job_or_404(job_id)
    return render_template("annotations/_workflow.html", **_workflow_context(job))


@bp.route("/annotations/<job_id>/download/<kind>")
@login_required
def download(job_id: str, kind: str) -> Response:
    job = own_job_or_404(job_id)
    cfg = settings()
    if kind == "input":
        return redirect(uploads.input_url(cfg, job.input_key, job.input_filename))
    if kind not in result_kinds.names():
        abort(404)
    if job.status in (models.ARCHIVED, models.RESTORING):
        flash("These results are archived. Upgrade to Premium to restore them.", "error")
        return redirect(url_for("annotations.job_page", job_id=job_id))
    if job.status not in READABLE:
        flash("The results are not ready yet.", "error")
        return redirect(url_for("annotations.job_page", job_id=job_id))
    try:
        return redirect(download_links.link(job, kind))
    except downloads.NotOffered:
        abort(404)


@bp.route("/annotations/<job_id>/log")
@login_required
def log(job_id: str) -> str:
    job = own_job_or_404(job_id)
    text = None
    if job.status in READABLE:
        try:
            text = jobs.read_result(settings(), job, "log").decode("utf-8", "replace")
        except Exception:
            current_app.logger.exception("job %s: log unavailable", job_id)
    return render_template("annotations/log.html", job=job, text=text)
