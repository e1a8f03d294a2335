"""The template without a cloud: cfn-lint clean, and IAM grants only what the code uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra import deploy


def test_rendered_template_passes_cfn_lint(tmp_path: Path) -> None:
    rendered = tmp_path / "template.json"
    rendered.write_text(json.dumps(deploy.render_template()))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- IAM: the roles grant nothing the code does not use -------------------------------------
#
# "What the code uses" is read from the code itself: the modules each role runs (the import
# closure of its entry points), the boto3 services those modules make clients for
# (``aws.client(settings, "<service>")``), every method called and every string literal that names
# one of those services' operations (``getattr(self._sfn, "send_task_success")``, paginators,
# presigned ``ClientMethod``), pynamodb model operations, the AWS CLI commands in the fleet's
# user-data, and the service integrations in the ASL definitions. It over-approximates (a
# ``dict.update`` in a module that uses the models counts as UpdateItem), never under-.

import ast  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from functools import cache  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from botocore import xform_name  # noqa: E402

from gas.settings import REPO_ROOT  # noqa: E402

PACKAGES = ("gas", "activities", "workflows", "webapp", "annotator", "cli", "infra")
ROLE_ENTRY_POINTS = {
    "WorkerRole": ["cli/worker_commands.py", "cli/metrics_commands.py", "activities/*.py"],
    # The reconciler runs on the dashboard instances (a systemd timer in their user-data).
    "WebRole": ["webapp/**/*.py", "cli/reconcile_command.py"],
}
IAM_PREFIX = {"stepfunctions": "states"}
# Operations whose IAM action is not simply service:OperationName (or that need none).
SPECIAL_ACTIONS = {
    ("s3", "head_object"): {"s3:GetObject"},
    ("s3", "copy_object"): {"s3:GetObject", "s3:PutObject"},
    ("s3", "list_objects_v2"): {"s3:ListBucket"},
    ("s3", "delete_objects"): {"s3:DeleteObject"},
    ("s3", "list_object_versions"): {"s3:ListBucketVersions"},
    ("s3", "upload_file"): {"s3:PutObject"},
    ("s3", "upload_fileobj"): {"s3:PutObject"},
    ("s3", "download_file"): {"s3:GetObject"},
    ("s3", "download_fileobj"): {"s3:GetObject"},
    ("s3", "generate_presigned_post"): {"s3:PutObject"},
    ("sts", "get_caller_identity"): set(),  # needs no permission
}
# boto3 methods that are not API operations but still call one.
EXTRA_METHODS = {
    "s3": {"upload_file", "upload_fileobj", "download_file", "download_fileobj"}
    | {"generate_presigned_post"}
}
PYNAMODB_ACTIONS = {
    "save": {"dynamodb:PutItem"},
    "update": {"dynamodb:UpdateItem"},
    "delete": {"dynamodb:DeleteItem"},
    "refresh": {"dynamodb:GetItem"},
    "query": {"dynamodb:Query"},
    "scan": {"dynamodb:Scan"},
    "count": {"dynamodb:Query", "dynamodb:Scan"},
    "batch_get": {"dynamodb:BatchGetItem"},
    "batch_write": {"dynamodb:BatchWriteItem"},
    "exists": {"dynamodb:DescribeTable"},
    "describe_table": {"dynamodb:DescribeTable"},
    "create_table": {"dynamodb:CreateTable"},
    "delete_table": {"dynamodb:DeleteTable"},
}
# Actions AWS authorizes only against "*" (no resource type in the Service Authorization
# Reference); the statement must narrow them with a condition instead.
STAR_ONLY = {"cloudwatch:PutMetricData"}


def _module_path(name: str) -> Path | None:
    base = REPO_ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> Iterator[Path]:
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in PACKAGES and (found := _module_path(name)):
                yield found


@cache
def _closure(role: str) -> frozenset[Path]:
    todo = [p for pattern in ROLE_ENTRY_POINTS[role] for p in REPO_ROOT.glob(pattern)]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_imports(path))
    return frozenset(seen)


@cache
def _operations(service: str) -> frozenset[str]:
    model = boto3.session.Session(region_name="us-east-1").client(service).meta.service_model
    return frozenset(xform_name(op) for op in model.operation_names) | EXTRA_METHODS.get(
        service, set()
    )


def _action(service: str, method: str) -> set[str]:
    if (service, method) in SPECIAL_ACTIONS:
        return SPECIAL_ACTIONS[(service, method)]
    pascal = "".join(part.capitalize() for part in method.split("_"))
    return {f"{IAM_PREFIX.get(service, service)}:{pascal}"}


def _code_actions(files: frozenset[Path]) -> set[str]:
    services: set[str] = set()
    words: set[str] = set()
    pynamodb_words: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text())
        uses_models = path.name == "models.py" and path.parent.name == "gas"
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                words.add(node.func.attr)
                if node.func.attr == "client" and len(node.args) >= 2:
                    arg = node.args[1]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        services.add(arg.value)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                words.add(node.value)
            elif isinstance(node, ast.ImportFrom) and node.module == "gas":
                uses_models |= any(alias.name == "models" for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module == "gas.models":
                uses_models = True
        if uses_models:
            pynamodb_words |= {
                n.func.attr
                for n in ast.walk(tree)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            }
    actions: set[str] = set()
    for service in services:
        for method in words & _operations(service):
            actions |= _action(service, method)
    if pynamodb_words & PYNAMODB_ACTIONS.keys():
        # pynamodb reads the table's description before its first request on a connection.
        actions.add("dynamodb:DescribeTable")
    for word in pynamodb_words & PYNAMODB_ACTIONS.keys():
        actions |= PYNAMODB_ACTIONS[word]
    # Model.get(hash_key) is a GetItem; dict.get is not, so only Model classes count.
    if re.search(r"\b(User|Job|cls)\.get\(", "".join(p.read_text() for p in files)):
        actions.add("dynamodb:GetItem")
    return actions


# What the CloudWatch agent calls to ship files to a log group that the stack already created.
CLOUDWATCH_AGENT_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}


def _user_data(template: dict, launch_template: str) -> str:
    data = template["Resources"][launch_template]["Properties"]["LaunchTemplateData"]
    script = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    return script[0] if isinstance(script, list) else script


def _user_data_actions(template: dict, launch_template: str) -> set[str]:
    """AWS CLI commands a fleet's user-data runs (``aws s3 cp s3://…`` reads an object), and the
    CloudWatch agent's calls when the user-data starts it."""
    script = _user_data(template, launch_template)
    actions = set()
    for service, command in re.findall(r"\baws (\w+) ([a-z-]+)", script):
        if (service, command) == ("s3", "cp"):
            actions.add("s3:GetObject")
        else:
            actions.add(f"{service}:{''.join(w.capitalize() for w in command.split('-'))}")
    if "amazon-cloudwatch-agent-ctl -a fetch-config" in script:
        actions |= CLOUDWATCH_AGENT_ACTIONS
    return actions


# Calls the code is about to make, owned by another change in flight. Each entry must go the
# moment the code makes the call (test_pending_calls_are_not_yet_in_the_code says so).
# Grants the template makes before the code makes the call (none now).
PENDING_IN_CODE: dict[str, set[str]] = {"WebRole": set()}


def _definition_actions() -> set[str]:
    """Service integrations in the ASL definitions (activities need no grant)."""
    actions = set()
    for path in (REPO_ROOT / "definitions").glob("*.asl.json"):
        for service, api in re.findall(r"arn:aws:states:::(\w+):(\w+)", path.read_text()):
            actions.add(f"{service}:{api[0].upper()}{api[1:]}")
    return actions


def _statements(role: dict) -> Iterator[dict]:
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # a conditional grant: check the granted branch
                statement = statement["Fn::If"][1]
            if statement != {"Ref": "AWS::NoValue"}:
                yield statement


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.safe_load(deploy.TEMPLATE.read_text())


@pytest.fixture(scope="module")
def used(template: dict) -> dict[str, set[str]]:
    return {
        "WorkerRole": _code_actions(_closure("WorkerRole"))
        | _user_data_actions(template, "WorkerLaunchTemplate"),
        "WebRole": _code_actions(_closure("WebRole"))
        | _user_data_actions(template, "WebLaunchTemplate")
        | PENDING_IN_CODE["WebRole"],
        "StateMachineRole": _definition_actions(),
    }


def test_pending_calls_are_not_yet_in_the_code() -> None:
    """Once the code makes a pending call, its allow-list entry must be removed."""
    for role, pending in PENDING_IN_CODE.items():
        assert not pending & _code_actions(_closure(role)), f"{role}: drop from PENDING_IN_CODE"


@pytest.mark.parametrize("role", ["WorkerRole", "WebRole", "StateMachineRole"])
def test_role_grants_only_actions_the_code_uses(template, used, role) -> None:
    granted = {
        action
        for statement in _statements(template["Resources"][role])
        for action in _as_list(statement["Action"])
    }
    assert granted, f"{role} grants nothing"
    assert not {a for a in granted if "*" in a}, "no wildcard actions"
    assert granted <= used[role], f"{role} grants unused {sorted(granted - used[role])}"


def test_code_paths_are_found(used) -> None:
    """The scan sees the calls it must: a scan that finds nothing would pass any template."""
    assert {
        "states:GetActivityTask",
        "states:SendTaskSuccess",
        "states:SendTaskHeartbeat",
        "s3:RestoreObject",
        "sqs:ReceiveMessage",
        "cloudwatch:PutMetricData",
        "dynamodb:UpdateItem",
        "autoscaling:CompleteLifecycleAction",
    } <= used["WorkerRole"]
    assert {
        "states:StartExecution",
        "states:GetExecutionHistory",
        "s3:PutObject",
        "dynamodb:DescribeTable",  # /healthz
        "logs:PutLogEvents",  # the CloudWatch agent in the web user-data
        "s3:GetObject",
    } <= used["WebRole"]
    assert "logs:PutLogEvents" in used["WorkerRole"]
    assert used["StateMachineRole"] == {"sqs:SendMessage", "states:StartExecution"}


def _names_own_resource(template: dict, resource: object) -> bool:
    """A Ref/GetAtt to one of the stack's resources, or an ARN naming the prefix's resources."""
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"] in template["Resources"]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0] in template["Resources"]
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        # The prefix names the resource itself, not just some part of the ARN.
        return re.search(r"[:/]\$\{Prefix\}-[a-z-]+(/|:|\*|$)", text) is not None or (
            ":identity/" in text  # SES identities: the sender the deployment was given
        )
    return False


@pytest.mark.parametrize("role", ["WorkerRole", "WebRole", "StateMachineRole"])
def test_role_resources_are_the_prefixes_own(template, role) -> None:
    for statement in _statements(template["Resources"][role]):
        actions = set(_as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"]):
            if resource == "*":
                assert actions <= STAR_ONLY, f"{statement.get('Sid')}: '*' for {actions}"
                assert statement.get("Condition"), f"{statement.get('Sid')}: '*' unconditioned"
            elif statement.get("Sid") == "InstallArtifact":
                # The one object outside the prefix: the source archive the fleet installs.
                assert resource == {
                    "Fn::Sub": "arn:${AWS::Partition}:s3:::${ArtifactBucket}/${ArtifactKey}"
                }
            elif statement.get("Sid") == "ReadGenomeFasta":
                # Also outside the prefix: the genome FASTA of a build and its index, each only
                # when the stack names that build's FASTA.
                condition, arn, otherwise = resource["Fn::If"]
                build = condition.removeprefix("HasGenomeFasta")
                assert build in ("GRCh38", "GRCh37") and otherwise == {"Ref": "AWS::NoValue"}
                assert re.fullmatch(
                    r"arn:\$\{AWS::Partition\}:s3:::\$\{GenomeFastaBucket\}/"
                    rf"\$\{{GenomeFasta{build}Key\}}(\.fai|\.gzi)?",
                    arn["Fn::Sub"],
                ), arn
            else:
                assert _names_own_resource(template, resource), (statement.get("Sid"), resource)


# What a role's code can reach but does not need on AWS, each with the reason.
NOT_NEEDED_ON_AWS = {
    # gas deploy creates and deletes tables on DynamoDB Local only; on AWS the template does.
    "dynamodb:CreateTable": "local tables only",
    "dynamodb:DeleteTable": "local tables only",
}
WORKER_NOT_NEEDED = {
    # `gas metrics publish` imports workflows.operations for backlog(), which only queries
    # DynamoDB; submitting, retrying, redriving and the dashboard's job lists are the web server's.
    "dynamodb:BatchGetItem",
    "states:StartExecution",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "states:ListExecutions",
    "states:RedriveExecution",
    # The researcher's job controls (workflows.jobs: cancel, delete) and usage listing.
    "states:StopExecution",
    "s3:DeleteObject",
    "s3:ListBucket",
    "dynamodb:DeleteItem",
}


@pytest.mark.parametrize("role", ["WorkerRole", "WebRole", "StateMachineRole"])
def test_role_grants_everything_the_code_needs(template, used, role) -> None:
    """The other direction: a call the code makes and the role lacks is AccessDenied on AWS."""
    granted = {
        action
        for statement in _statements(template["Resources"][role])
        for action in _as_list(statement["Action"])
    }
    needed = used[role] - NOT_NEEDED_ON_AWS.keys()
    if role == "WorkerRole":
        needed -= WORKER_NOT_NEEDED
    assert needed <= granted, f"{role} lacks {sorted(needed - granted)}"
