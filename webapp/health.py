"""``/healthz``: the load balancer's health check.

Cheap and sessionless: one DescribeTable per table with a short timeout and no retries, so an
instance that cannot reach its tables answers 503 and leaves the balancer's rotation.
"""

from __future__ import annotations

import time

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Response, jsonify

from gas import aws
from gas.resources import Resources
from webapp.security import settings

bp = Blueprint("health", __name__)

# Well inside the balancer's 5 s health-check timeout, even for both tables.
TIMEOUT_SECONDS = 1.0


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when both tables answer DescribeTable as ACTIVE or UPDATING, else 503 with the reason."""
    current = settings()
    names = Resources.of(current, account="")
    dynamodb = aws.client(
        current,
        "dynamodb",
        read_timeout=TIMEOUT_SECONDS,
        connect_timeout=TIMEOUT_SECONDS,
        max_attempts=1,  # a retry would only delay the answer the balancer needs
    )
    started = time.monotonic()
    for table in (names.users_table, names.jobs_table, names.tokens_table):
        try:
            status = dynamodb.describe_table(TableName=table)["Table"]["TableStatus"]
        except (BotoCoreError, ClientError) as exc:
            return _answer(503, f"{table}: {type(exc).__name__}", started)
        if status not in ("ACTIVE", "UPDATING"):
            return _answer(503, f"{table}: {status}", started)
    return _answer(200, "ok", started)


def _answer(code: int, reason: str, started: float) -> tuple[Response, int]:
    body = jsonify(status="ok" if code == 200 else "unavailable", reason=reason)
    body.headers["Cache-Control"] = "no-store"
    body.headers["Server-Timing"] = f"tables;dur={(time.monotonic() - started) * 1000:.1f}"
    return body, code
