"""`gas deploy`: validate the definitions, then deploy infra/template.yaml through CloudFormation.

The same path serves LocalStack and AWS. A change set is made first, so a deploy with nothing to
change says so and touches nothing; a changed definition updates its state machine in place.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from botocore.exceptions import ClientError, WaiterError

from gas import aws, definitions, models
from gas.settings import REPO_ROOT, Settings

TEMPLATE = REPO_ROOT / "infra" / "template.yaml"
# CloudFormation's limit on TemplateBody; a larger template goes by TemplateURL from S3.
MAX_TEMPLATE_BODY = 51_200
NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "no changes")

Progress = Callable[[str], None]


class DeployError(RuntimeError):
    """The deployment failed; the message carries CloudFormation's reasons."""


@dataclass
class DeployResult:
    stack: str
    changed: bool
    changes: list[str] = field(default_factory=list)
    tables_created: list[str] = field(default_factory=list)


def load_template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text())


def render_template(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template with each state machine's definition filled in from ``definitions/``.

    Every definition is validated first (schema, graph, substitutions against the resource's
    ``DefinitionSubstitutions``); a bad one raises DefinitionError and nothing is deployed.
    """
    template = json.loads(json.dumps(template or load_template()))
    problems: list[str] = []
    for logical_id, resource in template["Resources"].items():
        name = resource.get("Metadata", {}).get("GasDefinition")
        if not name:
            continue
        props = resource["Properties"]
        supplied = props.get("DefinitionSubstitutions", {}).keys()
        text = definitions.load_text(name)
        try:
            definitions.validate_text(name, text, supplied)
        except definitions.DefinitionError as exc:
            problems += [f"{logical_id} ({name}): {p}" for p in exc.problems]
            continue
        props["DefinitionString"] = text
    if problems:
        raise definitions.DefinitionError("deployment", problems)
    return template


def specialise(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The template with every condition these parameters decide applied.

    Resources and outputs whose condition is false are dropped, and ``Fn::If`` on a decided
    condition becomes its branch; conditions that depend on unknown parameters stay as they are.
    The local cloud so never sees the AWS-only resources (and the body stays under the limit).
    """
    conditions = template.get("Conditions", {})
    decided: dict[str, bool | None] = {}

    def evaluate(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return parameters.get(arg)
        if fn == "Condition":
            return decide(arg)
        if not isinstance(arg, list):
            return None  # every condition function takes a list: left to CloudFormation
        values = [evaluate(a) for a in arg]
        if fn == "Fn::Equals":
            return None if None in values else values[0] == values[1]
        if fn == "Fn::Not":
            return None if values[0] is None else not values[0]
        if fn == "Fn::And":
            return False if False in values else (None if None in values else True)
        if fn == "Fn::Or":
            return True if True in values else (None if None in values else False)
        return None  # Fn::Join over a list parameter and the like: left to CloudFormation

    def decide(name: str) -> bool | None:
        if name not in decided:
            decided[name] = evaluate(conditions[name])
        return decided[name]

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            items = [resolve(item) for item in node]
            return [item for item in items if item is not _DROP]
        if not isinstance(node, dict):
            return node
        if list(node) == ["Fn::If"] and decide(node["Fn::If"][0]) is not None:
            return resolve(node["Fn::If"][1 if decide(node["Fn::If"][0]) else 2])
        if node == {"Ref": "AWS::NoValue"}:
            return _DROP
        resolved = {key: resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _DROP}

    out = dict(template)
    for section in ("Resources", "Outputs"):
        out[section] = {
            name: resolve(body)
            for name, body in template.get(section, {}).items()
            if "Condition" not in body or decide(body["Condition"]) is not False
        }
    return out


_DROP = object()


def _stack_status(cfn: Any, stack: str) -> str | None:
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return found[0]["StackStatus"] if found else None


def _failure_reasons(cfn: Any, stack: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    except ClientError:
        return "(no stack events)"
    reasons = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED") and e.get("ResourceStatusReason")
    ]
    return "; ".join(reasons[:8]) or "(no reason given)"


def deploy(
    settings: Settings,
    progress: Progress | None = None,
    parameters: dict[str, str] | None = None,
) -> DeployResult:
    """Deploy (or update) this prefix's stack; idempotent.

    ``parameters`` sets template parameters beyond Prefix and Target (the AWS fleet's subnets,
    sizes, source); on an update, parameters not given keep the values the stack already has.
    """
    say = progress or (lambda message: None)
    rendered = render_template()  # validation happens here, before anything is touched
    unknown = sorted(set(parameters or {}) - set(rendered["Parameters"]))
    if unknown:
        raise DeployError(f"the template has no parameter(s) {', '.join(unknown)}")
    if settings.is_local:
        rendered = specialise(rendered, {"Prefix": settings.prefix, "Target": settings.cloud})
    body = json.dumps(rendered, separators=(",", ":"))
    result = DeployResult(stack=settings.stack_name, changed=False)

    if settings.is_local:
        result.tables_created = models.create_tables(settings)
        for table in result.tables_created:
            say(f"created table {table}")
        ses = aws.client(settings, "ses")
        ses.verify_email_identity(EmailAddress=settings.mail_from)

    cfn = aws.client(settings, "cloudformation")
    status = _stack_status(cfn, settings.stack_name)
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "REVIEW_IN_PROGRESS"):
        say(f"removing stack {settings.stack_name} left {status} by a failed first deploy")
        cfn.delete_stack(StackName=settings.stack_name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=settings.stack_name)
        status = None
    change_type = "CREATE" if status is None else "UPDATE"
    change_set = f"gas-{int(time.time() * 1000)}"
    given = {**(parameters or {}), "Prefix": settings.prefix, "Target": settings.cloud}
    stack_parameters: list[dict[str, Any]] = [
        {"ParameterKey": k, "ParameterValue": v} for k, v in given.items()
    ]
    if status is not None:
        # A change set resets an omitted parameter to its default: keep the stack's own values.
        stack_parameters += [
            {"ParameterKey": key, "UsePreviousValue": True}
            for key in _stack_parameter_keys(cfn, settings.stack_name)
            if key not in given and key in rendered["Parameters"]
        ]
    cfn.create_change_set(
        StackName=settings.stack_name,
        ChangeSetName=change_set,
        ChangeSetType=change_type,
        **_template_argument(settings, body),
        Parameters=stack_parameters,
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    described = _wait_change_set(cfn, settings.stack_name, change_set)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        cfn.delete_change_set(StackName=settings.stack_name, ChangeSetName=change_set)
        if any(marker in reason for marker in NO_CHANGES):
            return result
        raise DeployError(f"change set for {settings.stack_name} failed: {reason}")
    changes = [
        f"{c['ResourceChange']['Action']} {c['ResourceChange']['LogicalResourceId']}"
        for c in described.get("Changes", [])
    ]
    if change_type == "UPDATE" and not changes:
        cfn.delete_change_set(StackName=settings.stack_name, ChangeSetName=change_set)
        return result
    say(f"{change_type.lower()} stack {settings.stack_name}: {len(changes)} change(s)")
    cfn.execute_change_set(StackName=settings.stack_name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if change_type == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(
            StackName=settings.stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 600}
        )
    except WaiterError as exc:
        reasons = _failure_reasons(cfn, settings.stack_name)
        raise DeployError(f"stack {settings.stack_name} did not deploy: {reasons}") from exc
    result.changed = True
    result.changes = changes
    return result


def _template_argument(settings: Settings, body: str) -> dict[str, str]:
    """TemplateBody when it fits; else the body in S3 (``<prefix>-deploy-<account>``) by URL."""
    if len(body.encode()) <= MAX_TEMPLATE_BODY:
        return {"TemplateBody": body}
    s3 = aws.client(settings, "s3")
    bucket = f"{settings.prefix}-deploy-{aws.account_id(settings)}"
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        where = {} if settings.region == "us-east-1" else {"LocationConstraint": settings.region}
        s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": where} if where else {}))
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    key = f"templates/{hashlib.sha256(body.encode()).hexdigest()}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    # The virtual-hosted form; moto's server reads it from its own S3 as well.
    return {"TemplateURL": f"https://{bucket}.s3.{settings.region}.amazonaws.com/{key}"}


def _stack_parameter_keys(cfn: Any, stack: str) -> list[str]:
    found = cfn.describe_stacks(StackName=stack)["Stacks"]
    return [p["ParameterKey"] for p in (found[0].get("Parameters") or [])] if found else []


def _wait_change_set(cfn: Any, stack: str, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if time.monotonic() > deadline:
            raise DeployError(f"change set {name} still {described['Status']} after {timeout} s")
        time.sleep(0.5)


def destroy(settings: Settings) -> None:
    """Delete this prefix's stack and (locally) its tables: for test sessions and teardown."""
    cfn = aws.client(settings, "cloudformation")
    s3 = aws.client(settings, "s3")
    for bucket in (f"{settings.prefix}-inputs", f"{settings.prefix}-results"):
        _empty_bucket(s3, bucket)
    if _stack_status(cfn, settings.stack_name) is not None:
        cfn.delete_stack(StackName=settings.stack_name)
        try:
            cfn.get_waiter("stack_delete_complete").wait(
                StackName=settings.stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
            )
        except WaiterError as exc:
            raise DeployError(f"stack {settings.stack_name} was not deleted: {exc}") from exc
    if settings.is_local:
        models.delete_tables(settings)


def _empty_bucket(s3: Any, bucket: str) -> None:
    try:
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            objects = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    except ClientError as exc:
        if "NoSuchBucket" not in str(exc):
            raise
