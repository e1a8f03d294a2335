"""What the local cloud keeps across an orderly restart and a kill -9, on a private cloud.

The module starts its own LocalStack and DynamoDB Local (free ports, a temporary state folder that
shares only the installs), because it stops and kills them; the session's cloud is not touched.
The tests run in order and share the cloud: each leaves it up for the next.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from gas import aws, models
from gas.models import Job, User
from gas.resources import Resources
from gas.settings import Settings
from infra import deploy
from infra.localcloud import LocalCloud
from tests.cloud import private_cloud_settings

pytestmark = pytest.mark.integration

PASS_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
ROLE = "arn:aws:iam::000000000000:role/durability-test"


@pytest.fixture(scope="module")
def cloud(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """The private cloud; the models are bound back to the session's stack afterwards."""
    session = settings
    settings = private_cloud_settings(
        tmp_path_factory.mktemp("durable-state"), prefix=f"d{uuid.uuid4().hex[:6]}"
    )
    private = LocalCloud(settings, progress=lambda _m: None)
    private.up()
    deploy.deploy(settings)
    yield private
    private.down()
    models.bind(session)


@pytest.fixture(scope="module")
def written(cloud: LocalCloud) -> dict[str, object]:
    """One of everything the issue names, written and acknowledged before any restart."""
    settings = cloud.settings
    models.bind(settings)
    names = Resources.of(settings, aws.account_id(settings))
    s3 = aws.client(settings, "s3")
    sfn = aws.client(settings, "stepfunctions")
    user = User(user_id=uuid.uuid4().hex, email=f"{uuid.uuid4().hex[:8]}@example.org")
    user.save()
    job = Job(job_id=uuid.uuid4().hex, user_id=user.user_id, input_key=f"u/{user.user_id}/in.vcf")
    job.save()
    objects = {
        (names.inputs_bucket, job.input_key): os.urandom(20_000),
        (names.results_bucket, f"u/{user.user_id}/{job.job_id}.annot.vcf"): os.urandom(5_000),
        (names.results_bucket, f"u/{user.user_id}/{job.job_id}.archived"): os.urandom(3_000),
    }
    for (bucket, key), body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/x-vcf")
    archived = (names.results_bucket, f"u/{user.user_id}/{job.job_id}.archived")
    s3.copy_object(
        Bucket=archived[0],
        Key=archived[1],
        CopySource={"Bucket": archived[0], "Key": archived[1]},
        StorageClass="GLACIER",
    )
    machine = sfn.create_state_machine(
        name=f"{settings.prefix}-durability-pass",
        definition=json.dumps(PASS_MACHINE),
        roleArn=ROLE,
    )["stateMachineArn"]
    finished = sfn.start_execution(stateMachineArn=machine, input='{"job": 1}')["executionArn"]
    _wait_status(sfn, finished, "SUCCEEDED")
    return {
        "settings": settings,
        "user": user.user_id,
        "job": job.job_id,
        "objects": objects,
        "archived": archived,
        "finished": finished,
        "history": [e["type"] for e in sfn.get_execution_history(executionArn=finished)["events"]],
    }


def _wait_status(sfn, arn: str, status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sfn.describe_execution(executionArn=arn)["status"] == status:
            return
        time.sleep(0.2)
    pytest.fail(f"{arn} never reached {status}")


def _redeploy(settings: Settings) -> None:
    deploy.deploy(settings)
    aws._cached_client.cache_clear()  # fresh connections to the new processes


def assert_everything_is_back(written: dict[str, object]) -> None:
    settings = written["settings"]
    models.bind(settings)
    assert User.get(written["user"]).user_id == written["user"]
    assert Job.get(written["job"]).user_id == written["user"]
    s3 = aws.client(settings, "s3")
    archived = written["archived"]
    for (bucket, key), body in written["objects"].items():
        if (bucket, key) == archived:
            continue
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body, key
        assert got["ContentType"] == "text/x-vcf"
    head = s3.head_object(Bucket=archived[0], Key=archived[1])
    assert head["StorageClass"] == "GLACIER"
    assert head["ContentLength"] == len(written["objects"][archived])
    with pytest.raises(ClientError, match="InvalidObjectState"):
        s3.get_object(Bucket=archived[0], Key=archived[1])
    sfn = aws.client(settings, "stepfunctions")
    described = sfn.describe_execution(executionArn=written["finished"])
    assert described["status"] == "SUCCEEDED" and json.loads(described["input"]) == {"job": 1}
    events = sfn.get_execution_history(executionArn=written["finished"])["events"]
    assert [e["type"] for e in events] == written["history"]
    assert events[-1]["type"] == "ExecutionSucceeded"


def test_an_orderly_restart_keeps_everything(cloud: LocalCloud, written: dict) -> None:
    assert cloud.down() == ["localstack", "dynamodb-local"]
    cloud.up()
    _redeploy(written["settings"])
    assert_everything_is_back(written)


def test_a_kill_9_keeps_acknowledged_writes_and_forgets_running_executions(
    cloud: LocalCloud, written: dict
) -> None:
    settings = written["settings"]
    s3 = aws.client(settings, "s3")
    sfn = aws.client(settings, "stepfunctions")
    names = Resources.of(settings, aws.account_id(settings))
    job_machine = names.state_machine_arn(names.job_state_machine_name)
    models.bind(settings)
    # No annotate worker runs here: this job's execution waits in Annotate, RUNNING.
    running = sfn.start_execution(
        stateMachineArn=job_machine,
        name=f"running-{uuid.uuid4().hex[:8]}",
        input=json.dumps(
            {
                "job_id": "x",
                "user_id": "y",
                "input_key": "uploads/x",
                "build": "auto",
                "retention_seconds": 60,
                "archive_warning_seconds": 0,
                "resume_from": "annotation",
                "limits": {
                    "annotate_timeout_seconds": 3600,
                    "annotate_heartbeat_seconds": 60,
                    "annotate_run_seconds": 600,
                    "expedited_timeout_seconds": 60,
                    "standard_timeout_seconds": 60,
                },
            }
        ),
    )["executionArn"]
    # Fresh writes, acknowledged, then both emulators die at once with no chance to flush.
    late_key = f"u/{written['user']}/late.vcf"
    late = os.urandom(7_000)
    s3.put_object(Bucket=written["archived"][0], Key=late_key, Body=late)
    Job(job_id="late-" + written["job"], user_id=written["user"], input_key=late_key).save()
    assert sfn.describe_execution(executionArn=running)["status"] == "RUNNING"
    for emulator in cloud.emulators:
        os.killpg(emulator.pid(), signal.SIGKILL)
    for emulator in cloud.emulators:
        _wait_gone(emulator.pid_file)
    cloud.up()
    _redeploy(settings)
    assert_everything_is_back(written)
    assert s3.get_object(Bucket=written["archived"][0], Key=late_key)["Body"].read() == late
    assert Job.get("late-" + written["job"]).input_key == late_key
    # What ran at the kill is not there (not RUNNING, not ended): the reconciler's to resume.
    sfn = aws.client(settings, "stepfunctions")
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        sfn.describe_execution(executionArn=running)
    listed = sfn.list_executions(stateMachineArn=job_machine)["executions"]
    assert running not in [e["executionArn"] for e in listed]


def test_reset_starts_empty(cloud: LocalCloud, written: dict) -> None:
    settings = written["settings"]
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "local", "reset", "--yes"],
        env=settings.subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert cloud.status()["localstack"]["running"] is False
    assert not (settings.state_dir / "localstack-state").exists()
    assert (settings.state_dir / "localstack-venv").exists()  # installs stay
    cloud.up()
    _redeploy(settings)
    models.bind(settings)
    with pytest.raises(models.DoesNotExist):
        User.get(written["user"])
    s3 = aws.client(settings, "s3")
    assert s3.list_objects_v2(Bucket=written["archived"][0]).get("KeyCount") == 0
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        aws.client(settings, "stepfunctions").describe_execution(executionArn=written["finished"])


def _wait_gone(pid_file: Path, timeout: float = 10) -> None:
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            os.waitpid(pid, os.WNOHANG)
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} outlived kill -9")
