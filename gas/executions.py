"""Starting and reading Step Functions executions, the same way for every workflow."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from gas import aws
from gas.resources import Resources
from gas.settings import Settings


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def start_once(settings: Settings, state_machine: str, name: str, payload: dict[str, Any]) -> str:
    """Start the execution ``name`` of a state machine, unless it exists; returns its ARN."""
    names = Resources.of(settings, aws.account_id(settings))
    try:
        aws.client(settings, "stepfunctions").start_execution(
            stateMachineArn=names.state_machine_arn(state_machine),
            name=name,
            input=json.dumps(payload),
        )
    except ClientError as exc:
        if _code(exc) != "ExecutionAlreadyExists":
            raise
    return names.execution_arn(state_machine, name)


def describe(settings: Settings, execution_arn: str) -> dict[str, Any] | None:
    """DescribeExecution, or None when there is no such execution (yet)."""
    try:
        return aws.client(settings, "stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if _code(exc) == "ExecutionDoesNotExist":
            return None
        raise
