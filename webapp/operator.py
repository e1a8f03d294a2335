"""The operator's page: backlog per activity, running and failed jobs, retrying a failed job, and
on the local cloud the e-mails researchers were sent (none leaves the machine there).

Only operators see it; to everyone else it does not exist (404), like another user's job.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from webapp.security import settings
from workflows import jobs, operations, reconcile
from workflows import sources as annotation_sources

bp = Blueprint("operator", __name__, url_prefix="/operator")
LIST_LIMIT = 50


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.record.is_operator:
            abort(404)
        return view(*args, **kwargs)

    return wrapper


class RetryForm(FlaskForm):
    """Just the CSRF token: retry is one button per failed job."""


@bp.route("")
@operator_required
def overview() -> str:
    cfg = settings()
    problems = []
    try:
        backlog = operations.backlog(cfg)
        in_progress = operations.in_progress(cfg)
    except Exception:
        current_app.logger.exception("operator page: backlog unavailable")
        backlog, in_progress = {}, {}
        problems.append("The activity backlog could not be read.")
    try:
        reconciled = reconcile.last_run(cfg)
    except Exception:
        current_app.logger.exception("operator page: the reconciler's last run unavailable")
        reconciled = None
        problems.append("The reconciler's last run could not be read.")
    try:
        failed_executions = operations.failed_executions(cfg)
    except Exception:
        current_app.logger.exception("operator page: failed executions unavailable")
        failed_executions = []
        problems.append("Failed executions could not be listed.")
    try:
        sent_mail = operations.sent_mail(cfg, LIST_LIMIT)
    except Exception:
        current_app.logger.exception("operator page: the local cloud's mailbox unavailable")
        sent_mail = []
        problems.append("The e-mails sent could not be read from the local cloud's SES mailbox.")
    try:
        sources = annotation_sources.registered(cfg)
    except Exception:
        current_app.logger.exception("operator page: the sources registry unavailable")
        sources = []
        problems.append("The annotation sources registry could not be read.")
    return render_template(
        "operator/overview.html",
        sources=sources,
        sent_mail=sent_mail,
        failed_executions=failed_executions,
        reconciled=reconciled,
        backlog=backlog,
        in_progress=in_progress,
        failed=operations.failed_jobs(cfg, LIST_LIMIT),
        running=operations.running_jobs(cfg, LIST_LIMIT),
        form=RetryForm(),
        problems=problems,
    )


@bp.route("/jobs/<job_id>/retry", methods=["POST"])
@operator_required
def retry(job_id: str) -> Response:
    try:
        job = jobs.get(settings(), job_id)
    except jobs.JobNotFound:
        abort(404)
    form = RetryForm()
    if form.validate_on_submit():
        try:
            arn = operations.retry(settings(), job)
        except operations.RetryRefused as refused:
            flash(str(refused), "error")
        else:
            flash(f"Job {job_id} is running again ({arn.rsplit(':', 1)[-1]}).", "success")
    return redirect(url_for("operator.overview"))


@bp.route("/executions/redrive", methods=["POST"])
@operator_required
def redrive() -> Response:
    form = RetryForm()
    arn = request.form.get("execution_arn", "")
    if form.validate_on_submit():
        try:
            operations.redrive(settings(), arn)
        except operations.RedriveRefused as refused:
            flash(str(refused), "error")
        else:
            flash(
                f"Execution {arn.rsplit(':', 1)[-1]} redriven from the state that failed.",
                "success",
            )
    return redirect(url_for("operator.overview"))
