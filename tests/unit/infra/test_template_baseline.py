"""The template's security baseline and operations pieces, without a cloud.

checkov runs on the rendered template with zero unsuppressed findings, and every suppression is
one checkov actually needed; the local deployment's resources are exactly what they were before
the web tier; what checkov cannot see through ``Fn::If`` is checked here directly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gas.settings import REPO_ROOT
from infra import deploy
from tests.unit.infra.conditions import created

# checkov pins boto3==1.35.49 against the project's 1.44.8, so it has its own venv (make setup-dev).
CHECKOV = Path(os.environ.get("GAS_CHECKOV") or REPO_ROOT / ".venv-checkov" / "bin" / "checkov")

# What LocalStack's CloudFormation creates for Target=local; the web tier must add nothing here.
LOCAL_RESOURCES = {
    "InputsBucket",
    "ResultsBucket",
    "RestoreEventsDeadLetterQueue",
    "RestoreEventsQueue",
    "RestoreEventsQueuePolicy",
    "RestoreRequestsDeadLetterQueue",
    "RestoreRequestsQueue",
    "JobResultsTopic",
    "AnnotateActivity",
    "NotifyActivity",
    "ArchiveActivity",
    "RecordFailureActivity",
    "RestoreActivity",
    "StateMachineRole",
    "AnnotationJobStateMachine",
    "ThawStateMachine",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    return deploy.render_template()


# ---- checkov ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkov_results(rendered: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not CHECKOV.is_file():
        pytest.fail(f"checkov not found at {CHECKOV}: run `make setup-dev` (or set GAS_CHECKOV)")
    path = tmp_path_factory.mktemp("checkov") / "template.json"
    path.write_text(json.dumps(rendered))
    proc = subprocess.run(
        [str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        # Offline it warns that it cannot fetch its guidelines, then scans.
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(proc.stdout)
    assert report["summary"]["parsing_errors"] == 0, proc.stderr[-2000:]
    return report["results"]


def _declared_skips(template: dict) -> dict[tuple[str, str], str]:
    skips = {}
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips[(name, skip["id"])] = skip.get("comment", "")
    return skips


def test_checkov_finds_nothing_unsuppressed(checkov_results: dict) -> None:
    failed = [f"{f['check_id']} {f['resource']}" for f in checkov_results["failed_checks"]]
    assert not failed, failed
    assert len(checkov_results["passed_checks"]) > 50, "checkov scanned too little"


def test_every_suppression_is_needed_and_says_why(checkov_results: dict, rendered: dict) -> None:
    declared = _declared_skips(rendered)
    used = {
        (f["resource"].split(".", 1)[1], f["check_id"]) for f in checkov_results["skipped_checks"]
    }
    assert set(declared) == used, {"never fires": set(declared) - used}
    for (resource, check), comment in declared.items():
        assert len(comment.split()) >= 5, f"{resource} {check}: say why in a sentence"


# ---- conditions: the local deployment is unchanged -------------------------------------------


def test_local_deployment_creates_what_it_did(rendered: dict) -> None:
    assert created(rendered, Prefix="gas", Target="local") == LOCAL_RESOURCES
    # Subnets do not bring the fleet or the web tier to the local cloud either.
    assert created(rendered, Prefix="gas", Target="local", SubnetIds="subnet-1,subnet-2") == (
        LOCAL_RESOURCES
    )


def test_the_local_cloud_gets_only_its_own_resources_in_a_body_that_fits(rendered: dict) -> None:
    local = deploy.specialise(rendered, {"Prefix": "gas", "Target": "local"})
    assert set(local["Resources"]) == LOCAL_RESOURCES
    body = json.dumps(local, separators=(",", ":"))
    assert len(body) < deploy.MAX_TEMPLATE_BODY
    # Decided conditions are gone from what LocalStack reads: no AWS-only names, no NoValue.
    for aws_only in ("WebLoadBalancer", "AccessLogsBucket", "OperationsKey", "AWS::NoValue"):
        assert aws_only not in body
    cors = local["Resources"]["InputsBucket"]["Properties"]["CorsConfiguration"]
    assert cors["CorsRules"][0]["AllowedOrigins"] == ["*"]


def test_web_tier_comes_with_the_fleet_and_https_with_a_certificate(rendered: dict) -> None:
    core = created(rendered, Prefix="gas", Target="aws")
    # Without subnets: the role, secret, logs and dashboard for a dashboard run elsewhere.
    assert {n for n in core if n.startswith("Web")} == {
        "WebRole",
        "WebInstanceProfile",
        "WebSessionSecret",
        "WebLogGroup",
    }
    assert {"AccessLogsBucket", "OperationsDashboard", "OperationsKey"} <= core
    plain = created(rendered, Prefix="gas", Target="aws", SubnetIds="s-1,s-2", VpcId="vpc-1")
    assert {"WebLoadBalancer", "WebFleet", "WebHttpListener", "WebRequestsScalingPolicy"} <= plain
    assert not {"WebHttpsListener", "WebHttpRedirectListener"} & plain
    https = created(
        rendered,
        Prefix="gas",
        Target="aws",
        SubnetIds="s-1,s-2",
        VpcId="vpc-1",
        CertificateArn="arn:aws:acm:us-east-1:1:certificate/x",
    )
    assert {"WebHttpsListener", "WebHttpRedirectListener"} <= https
    assert "WebHttpListener" not in https


# ---- what checkov cannot see through Fn::If --------------------------------------------------


def test_results_are_versioned_and_old_versions_expire_on_aws(rendered: dict) -> None:
    props = rendered["Resources"]["ResultsBucket"]["Properties"]
    condition, versioning, local = props["VersioningConfiguration"]["Fn::If"]
    assert (condition, versioning, local) == (
        "IsAws",
        {"Status": "Enabled"},
        {"Ref": "AWS::NoValue"},
    )
    condition, lifecycle, _ = props["LifecycleConfiguration"]["Fn::If"]
    assert condition == "IsAws"
    expiry = [
        r["NoncurrentVersionExpiration"]
        for r in lifecycle["Rules"]
        if r.get("Status") == "Enabled" and "NoncurrentVersionExpiration" in r
    ]
    assert expiry == [{"NoncurrentDays": {"Ref": "ResultsNoncurrentDays"}}]


def test_tables_are_protected(rendered: dict) -> None:
    for table in ("UsersTable", "JobsTable", "TokensTable"):
        props = rendered["Resources"][table]["Properties"]
        assert props["DeletionProtectionEnabled"] is True
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_every_alarm_points_at_the_operations_dashboard(rendered: dict) -> None:
    alarms = {
        n: r for n, r in rendered["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert len(alarms) >= 8
    for name, alarm in alarms.items():
        description = alarm["Properties"]["AlarmDescription"]["Fn::Sub"]
        assert description.endswith("#dashboards/dashboard/${Prefix}-operations"), name


def _substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{([^}!]+)\}", lambda m: values[m.group(1)], text)


@pytest.mark.parametrize("with_web_tier", [True, False])
def test_operations_dashboard_body_is_valid_json(rendered: dict, with_web_tier: bool) -> None:
    body, variables = rendered["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"][
        "Fn::Sub"
    ]
    fleet_branch, no_fleet = variables["WebWidgets"]["Fn::If"][1:]
    common = {
        "AWS::Region": "us-east-1",
        "Prefix": "gas",
        "AnnotationJobStateMachine": "arn:sm:job",
        "ThawStateMachine": "arn:sm:thaw",
        "AnnotateActivity": "arn:activity:annotate",
    }
    web = no_fleet
    if with_web_tier:
        web = _substitute(
            fleet_branch["Fn::Sub"][0],
            {**common, "Balancer": "app/x/1", "Targets": "targetgroup/y/2"},
        )
    widgets = json.loads(_substitute(body, {**common, "WebWidgets": web}))["widgets"]
    titles = " | ".join(w["properties"]["title"] for w in widgets)
    for shown in ("Backlog", "Jobs per minute", "Failed jobs", "Job time", "reconciler"):
        assert shown in titles
    assert ("Dashboard latency" in titles) is with_web_tier
    assert ("5xx" in titles) is with_web_tier
