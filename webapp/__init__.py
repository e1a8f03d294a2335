"""The researcher's dashboard: a Flask app factory and one blueprint per area of the site.

Settings come in through :func:`create_app`, so tests build their own app; ``overrides`` are Flask
config values (``TESTING``, ``WTF_CSRF_ENABLED``, ``LOGIN_RATE_LIMIT`` …).
"""

from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from gas import models, secret_key
from gas.settings import Settings
from webapp import security
from webapp.extensions import csrf, limiter, login_manager


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the dashboard for ``settings`` (read from the environment when None)."""
    settings = settings or Settings.from_env()
    key = secret_key.load(settings)  # first: without a key the dashboard must not start
    models.bind(settings)  # the web process's one binding: every workflows call assumes it
    app = Flask(__name__)
    app.request_class = security.LimitedRequest  # JSON bodies are measured before parsing
    secure = settings.base_url.startswith("https://")
    app.config.from_mapping(
        SECRET_KEY=key,
        GAS_SETTINGS=settings,
        SESSION_COOKIE_NAME="gas_session",
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: S3's redirect back after an upload is a cross-site top-level GET that
        # must still carry the session.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=1024 * 1024,  # files go to S3, never through the dashboard
        # Failed logins per (account, address), and per address over every account.
        LOGIN_RATE_LIMIT="10 per minute",
        LOGIN_ADDRESS_RATE_LIMIT="100 per minute",
        # Sending a confirmation link again, per account.
        CONFIRM_RATE_LIMIT="5 per hour",
        JOBS_PER_PAGE=20,
        DETAIL_CACHE_SECONDS=5.0,
    )
    app.config.update(overrides)

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    limiter.init_app(app)

    # Here, not at the top: importing a light module of the package (api_spec, page_tokens) must
    # not load the browser's Parquet engine (pyarrow, numpy) that the blueprints bring. No cycle:
    # the blueprints import nothing from this module.
    from webapp import (
        annotations,
        api,
        auth,
        downloads,
        health,
        operator,
        result_pages,
        subscribe,
    )

    security.init_app(app)
    api.init_app(app)
    app.extensions["gas_detail_cache"] = annotations.DetailCache(app.config["DETAIL_CACHE_SECONDS"])
    app.register_blueprint(auth.bp)
    app.register_blueprint(annotations.bp)
    app.register_blueprint(result_pages.bp)
    app.register_blueprint(result_pages.shared_bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(subscribe.bp)
    app.register_blueprint(operator.bp)
    app.register_blueprint(api.bp)
    # The balancer's probe: no login, and never counted against a rate limit.
    app.register_blueprint(health.bp)
    limiter.exempt(health.bp)
    app.add_url_rule("/", endpoint="index", view_func=annotations.index)

    # Under /api/v1 every error is a problem document, also for paths no route matched.
    @app.errorhandler(404)
    def not_found(exc: HTTPException) -> tuple[str, int] | Response:
        if api.is_api_request():
            return api.problem_for(exc)
        return render_template("errors/404.html"), 404

    @app.errorhandler(429)
    def too_many(exc: HTTPException) -> tuple[str, int, dict[str, str]] | Response:
        if api.is_api_request():
            return api.problem_for(exc)
        return render_template("errors/429.html"), 429, {"Retry-After": security.retry_after()}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> HTTPException | Response:
        # 405, 413, 400 … before any API route was found: still a problem document there.
        if api.is_api_request() and (exc.code or 500) >= 400:
            return api.problem_for(exc)
        return exc

    return app
