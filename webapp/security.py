"""Security headers, safe redirects, limits on JSON bodies, and the one way the views find a job
they may show."""

from __future__ import annotations

import math
import re
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, Response, abort, current_app, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from gas.models import Job
from gas.settings import Settings
from webapp.extensions import limiter
from workflows import jobs


def _s3_origin(app: Flask) -> str:
    settings = app.config["GAS_SETTINGS"]
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        return f"{parts.scheme}://{parts.netloc}"
    return "https://*.amazonaws.com"


def init_app(app: Flask) -> None:
    s3 = _s3_origin(app)
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            # The upload page sends each file to S3 itself, to show its progress.
            f"connect-src 'self' {s3}",
            # The upload form posts straight to S3, which redirects back here.
            f"form-action 'self' {s3}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )
    secure = app.config["SESSION_COOKIE_SECURE"]

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint and not request.endpoint.startswith("static"):
            # Pages show one user's data: never keep them in a shared cache.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


# No JSON body the dashboard takes is nested more than a few levels; Python's parser recurses.
MAX_JSON_DEPTH = 32
# A string, closed or running to the end (so every match succeeds at once: linear time).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``data`` opens more than ``limit`` arrays or objects inside one
    another (strings skipped; malformed text is left for the parser to refuse)."""
    depth = 0
    for bracket in _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS):
        if bracket in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class LimitedRequest(Request):
    """Flask's request, whose JSON body is measured before it is parsed: a body nested deeper
    than :data:`MAX_JSON_DEPTH` is a 400, silent or not (the parser would raise RecursionError)."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if (force or self.is_json) and json_too_deep(self.get_data(cache=True)):
            raise BadRequest(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        return super().get_json(force=force, silent=silent, cache=cache)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirect after login)."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def own_job_or_404(job_id: str) -> Job:
    """The current user's job ``job_id``; 404 for anyone else's or none, so ids never leak."""
    try:
        return jobs.get_own(settings(), current_user.record, job_id)
    except jobs.JobNotFound:
        abort(404)


def settings() -> Settings:
    """The settings of the app serving this request."""
    return current_app.config["GAS_SETTINGS"]


def retry_after(default: int = 60) -> str:
    """Seconds until the limit this request broke lets it through again (``Retry-After``)."""
    broken = limiter.current_limit
    if broken is None:
        return str(default)
    try:
        return str(max(1, math.ceil(broken.window.reset_time - time.time())))
    except Exception:  # the limiter's storage unreadable: a cautious guess beats no header
        return str(default)
