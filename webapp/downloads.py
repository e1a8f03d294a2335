"""Where a download link goes, for the job page, share links and the API alike
(``workflows.downloads`` holds the rule): a presigned GET for a stored result, else a signed,
expiring link to the dashboard's stream of one made on request."""

from __future__ import annotations

from itertools import chain

from botocore.exceptions import ClientError
from flask import Blueprint, abort, current_app, url_for
from werkzeug.wrappers import Response

from gas import models
from webapp.security import settings
from workflows import downloads, jobs

bp = Blueprint("downloads", __name__)


def link(job: models.Job, kind: str) -> str:
    """The URL that downloads ``kind`` of ``job``; raises downloads.NotOffered."""
    chosen = downloads.plan(job, kind)
    if chosen.stored:
        return jobs.result_url(settings(), job, kind)
    token = downloads.stream_token(current_app.config["SECRET_KEY"], job.job_id, kind)
    return url_for("downloads.stream", token=token, _external=True)


@bp.route("/results/stream/<token>")
def stream(token: str) -> Response:
    """A made-on-request result, streamed: the signed token is the authorisation, as a presigned
    URL's signature is."""
    cfg = settings()
    try:
        job_id, kind = downloads.read_stream_token(
            current_app.config["SECRET_KEY"], token, cfg.presigned_url_seconds
        )
        job = jobs.get(cfg, job_id)
        chosen = downloads.plan(job, kind)
        if job.status != models.COMPLETED or chosen.stored:
            abort(404)
        body = downloads.stream(cfg, chosen)
        first = next(body, b"")  # a missing object fails here, before the response starts
    except (downloads.NotOffered, jobs.JobNotFound, ClientError, OSError):
        abort(404)
    response = Response(chain([first], body), mimetype=chosen.kind.media_type)
    response.headers["Content-Disposition"] = jobs.download_disposition(
        job, chosen.kind.download_name
    )
    return response
