"""A job's result routes: exports, gene completion, share links (``/shared/<token>``: that job's
results and downloads, nothing else). What they render comes from :mod:`webapp.results`."""

from __future__ import annotations

from collections.abc import Iterator

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from werkzeug.wrappers import Response

from gas import models
from webapp import downloads as download_links
from webapp.results import EXPORTS, Links, results_context
from webapp.security import own_job_or_404, settings
from workflows import downloads, jobs, results, shares
from workflows import sources as annotation_sources

bp = Blueprint("results", __name__)
shared_bp = Blueprint("shared", __name__, url_prefix="/shared")


def _export(job: models.Job, fmt: str) -> Response:
    if fmt not in EXPORTS or job.status != models.COMPLETED:
        abort(404)
    try:
        query = results.VariantQuery.from_args(request.args)
        results.Sidecar(settings(), job)  # fails here, before the response starts, if missing
    except (results.BadQuery, results.ResultUnavailable):
        abort(404)
    describe = ", ".join(f"{k}={v}" for k, v in query.to_args(page=1, sort="chrom").items())
    body: Iterator[bytes]
    if fmt == "tsv":
        body = results.export_tsv(settings(), job, query)
    else:
        body = results.export_vcf_gz(settings(), job, query, describe or "all variants")
    response = Response(body, mimetype=EXPORTS[fmt])
    response.headers["Content-Disposition"] = jobs.download_disposition(job, f".filtered.{fmt}")
    return response


def _complete(job: models.Job) -> Response:
    try:
        names = results.complete_gene(settings(), job, request.args.get("q", "")[:64])
    except results.ResultUnavailable:
        names = []
    return jsonify({"genes": names})


# --- the owner's routes (the page itself is annotations.job_page) --------------------------------


@bp.route("/annotations/<job_id>/export/<fmt>")
@login_required
def export(job_id: str, fmt: str) -> Response:
    return _export(own_job_or_404(job_id), fmt)


@bp.route("/annotations/<job_id>/genes")
@login_required
def complete(job_id: str) -> Response:
    return _complete(own_job_or_404(job_id))


@bp.route("/annotations/<job_id>/shares", methods=["POST"])
@login_required
def create_share(job_id: str) -> Response:
    job = own_job_or_404(job_id)
    try:
        days = int(request.form.get("days") or shares.DEFAULT_DAYS)
        _share, token = shares.create(current_app.config["SECRET_KEY"], job, days)
    except (ValueError, shares.ShareRefused) as refused:
        flash(str(refused) if isinstance(refused, shares.ShareRefused) else "Days is a number.")
        return redirect(url_for("annotations.job_page", job_id=job_id))
    link = url_for("shared.job_page", token=token, _external=True)
    flash(f"Anyone with this link can see these results until it expires: {link}", "success")
    return redirect(url_for("annotations.job_page", job_id=job_id) + "#shares")


@bp.route("/annotations/<job_id>/shares/<share_id>/revoke", methods=["POST"])
@login_required
def revoke_share(job_id: str, share_id: str) -> Response:
    job = own_job_or_404(job_id)
    if not shares.revoke(job, share_id):
        abort(404)
    flash("The link no longer works.", "success")
    return redirect(url_for("annotations.job_page", job_id=job_id) + "#shares")


# --- a share link's routes: that job's results and downloads, nothing else ---------------------


def _shared(token: str) -> models.Job:
    try:
        job, _share = shares.shared_job(settings(), current_app.config["SECRET_KEY"], token)
    except shares.ShareNotFound:
        abort(404)
    return job


@shared_bp.route("/<token>")
def job_page(token: str) -> str:
    job = _shared(token)
    links = Links("shared", {"token": token})
    return render_template(
        "results/shared.html",
        job=job,
        summary=job.summary.as_dict() if job.summary else None,
        readable=job.status == models.COMPLETED,
        sources_used=annotation_sources.used(job),
        resubmission=None,  # a share shows this job alone
        **results_context(job, request.args, links),
    )


@shared_bp.route("/<token>/download/<kind>")
def download(token: str, kind: str) -> Response:
    job = _shared(token)
    if job.status != models.COMPLETED:
        abort(404)
    try:
        return redirect(download_links.link(job, kind))
    except downloads.NotOffered:
        abort(404)


@shared_bp.route("/<token>/export/<fmt>", endpoint="export")
def export_shared(token: str, fmt: str) -> Response:
    return _export(_shared(token), fmt)


@shared_bp.route("/<token>/genes", endpoint="complete")
def complete_shared(token: str) -> Response:
    return _complete(_shared(token))
