"""`gas metrics publish`: the activity backlog as a CloudWatch metric, for the fleet's scaling.

Step Functions has no "scheduled but not started" gauge, so GAS counts it itself (from the jobs
table's status index, see workflows.operations.backlog) and puts it to CloudWatch, where the auto
scaling group's target-tracking policy reads it. Every fleet instance may run one publisher: a gauge
put twice in the same minute is the same datapoint as far as the policy's average is concerned.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import click

from gas import aws
from gas.settings import Settings
from workflows import operations

NAMESPACE = "GAS"
BACKLOG_METRIC = "ActivityBacklog"
IN_PROGRESS_METRIC = "ActivityInProgress"

log = logging.getLogger("gas.metrics")


def metric_data(prefix: str, backlog: dict[str, int], in_progress: dict[str, int]) -> list[dict]:
    """CloudWatch datapoints for one reading: one per (metric, activity), stamped now."""
    stamp = datetime.now(UTC)
    data: list[dict[str, Any]] = []
    for metric, counts in ((BACKLOG_METRIC, backlog), (IN_PROGRESS_METRIC, in_progress)):
        for activity, count in sorted(counts.items()):
            data.append(
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "Prefix", "Value": prefix},
                        {"Name": "Activity", "Value": activity},
                    ],
                    "Timestamp": stamp,
                    "Value": float(count),
                    "Unit": "Count",
                }
            )
    return data


def publish(settings: Settings) -> dict[str, int]:
    """Read the backlog once and put it to CloudWatch; returns the backlog that was put."""
    backlog = operations.backlog(settings)
    # Busy workers count too, so a fleet whose queue is empty but whose workers are busy holds.
    in_progress = operations.in_progress(settings)
    aws.client(settings, "cloudwatch").put_metric_data(
        Namespace=NAMESPACE, MetricData=metric_data(settings.prefix, backlog, in_progress)
    )
    return backlog


@click.group("metrics")
def metrics() -> None:
    """CloudWatch metrics GAS publishes itself."""


@metrics.command("publish")
@click.option("--once", is_flag=True, help="Publish one reading and exit.")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between readings.")
@click.pass_obj
def publish_command(settings: Settings, once: bool, interval: float) -> None:
    """Publish the activity backlog (namespace GAS, metric ActivityBacklog) until SIGTERM."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    stopping = threading.Event()
    if not once:
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while True:
        began = time.monotonic()
        try:
            backlog = publish(settings)
        except Exception as exc:  # noqa: BLE001 - a publisher that dies stops the fleet scaling
            if once:
                raise click.ClickException(f"could not publish the backlog: {exc}") from exc
            log.warning("backlog-publish-failed %r", exc)
        else:
            readable = " ".join(f"{k}={v}" for k, v in sorted(backlog.items()))
            if once:
                click.echo(readable)
            else:
                log.info("backlog-published %s", readable)
        if once or stopping.wait(max(0.0, interval - (time.monotonic() - began))):
            return


def register(group: click.Group) -> None:
    group.add_command(metrics)
