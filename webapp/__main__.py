"""Serve the dashboard with waitress: ``python -m webapp`` (what ``gas up`` runs)."""

from __future__ import annotations

import logging

from waitress import serve

from gas.secret_key import SecretKeyError
from gas.settings import Settings
from webapp import create_app


def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        app = create_app(settings)
    except SecretKeyError as exc:
        raise SystemExit(f"dashboard not started: {exc}") from exc
    logging.getLogger("webapp").info(
        "dashboard on http://%s:%s (base URL %s)",
        settings.web_host,
        settings.web_port,
        settings.base_url,
    )
    serve(app, host=settings.web_host, port=settings.web_port, threads=16, ident="gas")


if __name__ == "__main__":
    main()
