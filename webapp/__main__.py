"""Serve the dashboard with waitress: ``python -m webapp`` (what ``gas up`` runs).

``--behind-load-balancer`` (the AWS web tier) trusts the balancer's X-Forwarded-For/-Proto, so the
login rate limit sees each researcher's address and the app knows the request came over HTTPS.
"""

from __future__ import annotations

import argparse
import logging

from waitress import serve

from gas.secret_key import SecretKeyError
from gas.settings import Settings
from webapp import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m webapp", description=__doc__)
    parser.add_argument(
        "--behind-load-balancer",
        action="store_true",
        help="trust one proxy hop's X-Forwarded-For and X-Forwarded-Proto",
    )
    args = parser.parse_args(argv)
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
    proxy: dict[str, object] = {}
    if args.behind_load_balancer:
        # Only the balancer's security group reaches this port, so any peer is the balancer.
        proxy = {
            "trusted_proxy": "*",
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True,
        }
    serve(app, host=settings.web_host, port=settings.web_port, threads=16, ident="gas", **proxy)


if __name__ == "__main__":
    main()
