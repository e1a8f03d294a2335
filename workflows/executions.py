"""Starting and reading Step Functions executions, the same way for every workflow."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from gas import aws
from gas.settings import Settings


def start_once(settings: Settings, state_machine: str, name: str, payload: dict[str, Any]) -> str:
    """Start the execution ``name`` of a state machine, unless it exists; returns its ARN."""
    names = aws.resources(settings)
    try:
        aws.client(settings, "stepfunctions").start_execution(
            stateMachineArn=names.state_machine_arn(state_machine),
            name=name,
            input=json.dumps(payload),
        )
    except ClientError as exc:
        if aws.error_code(exc) != "ExecutionAlreadyExists":
            raise
    return names.execution_arn(state_machine, name)


def describe(settings: Settings, execution_arn: str) -> dict[str, Any] | None:
    """DescribeExecution, or None when there is no such execution (yet)."""
    try:
        return aws.client(settings, "stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if aws.error_code(exc) == "ExecutionDoesNotExist":
            return None
        raise


def running(settings: Settings, state_machine: str) -> dict[str, str]:
    """Name -> ARN of the state machine's RUNNING executions (ListExecutions; no histories)."""
    names = aws.resources(settings)
    paginator = aws.client(settings, "stepfunctions").get_paginator("list_executions")
    found = {}
    for page in paginator.paginate(
        stateMachineArn=names.state_machine_arn(state_machine),
        statusFilter="RUNNING",
        PaginationConfig={"PageSize": 1000},
    ):
        for execution in page["executions"]:
            found[execution["name"]] = execution["executionArn"]
    return found


def stop(settings: Settings, execution_arn: str, cause: str) -> bool:
    """StopExecution; False when there is no such execution or it has ended already."""
    try:
        aws.client(settings, "stepfunctions").stop_execution(
            executionArn=execution_arn, error="Cancelled", cause=cause
        )
    except ClientError as exc:
        if aws.error_code(exc) in ("ExecutionDoesNotExist", "ExecutionNotRunning"):
            return False
        raise
    return True
