"""Executions that end where no state can record it (stopped, timed out) still reach the job.

On AWS, EventBridge delivers "Step Functions Execution Status Change" events to the
execution-events queue (infra/template.yaml). LocalStack 2026.3.0 delivers them for RUNNING through
the same rule and queue, but its StopExecution ends an execution waiting on an activity as FAILED
and emits no ABORTED event (both checked by hand), so after really stopping the execution this test
posts the event AWS's EventBridge sends for it, unchanged in shape, to the real queue; the relay
consumes it from there.
"""

from __future__ import annotations

import json
import threading

from activities.callbacks import Relay
from gas import aws, keys, models
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.processes import wait_for
from workflows import jobs, users


def test_a_stopped_execution_marks_its_job_failed(settings: Settings, vcf: bytes) -> None:
    user = users.ensure_user(settings, "stopped@example.org")
    key = keys.upload_key(user.user_id, keys.new_id())
    names = Resources.of(settings)
    aws.client(settings, "s3").put_object(Bucket=names.inputs_bucket, Key=key, Body=vcf)
    relay = Relay(settings, wait_seconds=1)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        # No annotate worker runs in this module: the job waits in Annotate until stopped.
        job = jobs.submit(settings, user, key, "test.vcf")
        sfn = aws.client(settings, "stepfunctions")
        sfn.stop_execution(executionArn=job.execution_arn)

        def stopped() -> dict | None:
            now = sfn.describe_execution(executionArn=job.execution_arn)
            return now if now["status"] != "RUNNING" else None

        described = wait_for(stopped, 30, what="the execution to stop")
        event = {
            "version": "0",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": described["executionArn"].split(":")[4],
            "region": settings.region,
            "resources": [described["executionArn"]],
            "detail": {
                "executionArn": described["executionArn"],
                "stateMachineArn": described["stateMachineArn"],
                "name": described["name"],
                "status": "ABORTED",
                "startDate": int(described["startDate"].timestamp() * 1000),
                "stopDate": int(described["stopDate"].timestamp() * 1000),
            },
        }
        sqs = aws.client(settings, "sqs")
        url = sqs.get_queue_url(QueueName=names.execution_events_queue)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))

        def failed() -> models.Job | None:
            record = models.Job.get(job.job_id)
            return record if record.status == models.FAILED else None

        done = wait_for(failed, 60, what="the stopped job to be marked FAILED")
    finally:
        relay.stopping.set()
        thread.join(timeout=30)
    assert done.failure_error == "Execution.Aborted"
    assert "stopped" in done.failure_reason
