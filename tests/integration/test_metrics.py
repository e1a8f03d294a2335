"""`gas metrics publish` puts the activity backlog to CloudWatch (LocalStack's); it reads back."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gas import aws, models
from gas.settings import REPO_ROOT, Settings
from workflows import operations


def _read_back(settings: Settings, activity: str, since: datetime) -> list[float]:
    cloudwatch = aws.client(settings, "cloudwatch")
    response = cloudwatch.get_metric_statistics(
        Namespace="GAS",
        MetricName="ActivityBacklog",
        Dimensions=[
            {"Name": "Prefix", "Value": settings.prefix},
            {"Name": "Activity", "Value": activity},
        ],
        StartTime=since,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in response["Datapoints"]]


def test_publish_once_puts_the_backlog_and_it_reads_back(settings: Settings) -> None:
    models.bind(settings)  # another test may have bound the models to its own prefix
    since = datetime.now(UTC) - timedelta(minutes=1)
    waiting = [
        models.Job(
            job_id=f"metrics-{secrets.token_hex(4)}",
            user_id="metrics-test",
            input_key=f"metrics-test/{n}/input.vcf",
            status=models.PENDING,
        )
        for n in range(3)
    ]
    for job in waiting:
        job.save()
    try:
        expected = operations.backlog(settings)
        assert expected["annotate"] >= 3
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "gas"), "metrics", "publish", "--once"],
            env=settings.subprocess_env(),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"annotate={expected['annotate']}" in proc.stdout
        deadline = time.monotonic() + 20
        points: list[float] = []
        while time.monotonic() < deadline and not points:
            points = _read_back(settings, "annotate", since)
            time.sleep(0.5)
        assert float(expected["annotate"]) in points
        # Every activity gets its own series, zero included, so an idle fleet still has data.
        for activity in ("archive", "restore"):
            assert _read_back(settings, activity, since), activity
    finally:
        for job in waiting:
            job.delete()
