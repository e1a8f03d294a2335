"""The rendered Target=aws template, created end to end by moto's CloudFormation in server mode.

LocalStack's community build has no Auto Scaling or ELBv2, so the web tier and the fleet are
created by a second emulator: moto's server, started here on a free loopback port and stopped
afterwards (no LocalStack needed). moto skips the resource types it does not model; the test pins
exactly which, so a moto upgrade that models more (or a template that needs more) shows up here.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from gas.settings import Settings
from infra import deploy
from tests.unit.infra.conditions import created

pytestmark = pytest.mark.moto

# Types moto 5.2.5's CloudFormation skips ("No Moto CloudFormation support for …"): the stack
# still completes, the resource is not made. Everything else in the template is created.
NOT_MODELLED_BY_MOTO = {
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::CloudFormation::WaitConditionHandle",
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::MetricFilter",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::StepFunctions::Activity",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "moto server did not start in 30 s"
                time.sleep(0.2)
        yield endpoint, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def network(moto_server: tuple[str, Path]) -> dict[str, str]:
    endpoint, _ = moto_server
    ec2 = _client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    ]
    return {
        "VpcId": vpc,
        "SubnetIds": ",".join(subnets),
        # moto does not resolve resolve:ssm: AMI parameters; any AMI it knows will do.
        "ImageId": ec2.describe_images()["Images"][0]["ImageId"],
        "SourceGitUrl": "https://example.org/gas.git",
    }


def _create_stack(endpoint: str, prefix: str, parameters: dict[str, str]) -> tuple[dict, dict]:
    cfn = _client(endpoint, "cloudformation")
    rendered = deploy.render_template()
    given = {"Prefix": prefix, "Target": "aws", **parameters}
    cfn.create_stack(
        StackName=f"{prefix}-stack",
        TemplateBody=json.dumps(rendered),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + 60
    while (stack := cfn.describe_stacks(StackName=f"{prefix}-stack")["Stacks"][0])[
        "StackStatus"
    ].endswith("IN_PROGRESS"):
        assert time.monotonic() < deadline, "stack still in progress after 60 s"
        time.sleep(0.5)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    made = {
        r["LogicalResourceId"]: r
        for r in cfn.describe_stack_resources(StackName=f"{prefix}-stack")["StackResources"]
        if r.get("LogicalResourceId")  # moto lists skipped resources without a name
    }
    expected = created(rendered, **given)
    skipped = expected - made.keys()
    skipped_types = {rendered["Resources"][name]["Type"] for name in skipped}
    # Exactly the types moto does not model are missing; everything else was made.
    assert skipped_types == NOT_MODELLED_BY_MOTO, sorted(skipped)
    assert not {n for n in made.keys() - expected if n in rendered["Resources"]}, (
        "made a resource whose condition is false"
    )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return made, outputs


def test_https_web_tier_is_created(moto_server, network) -> None:
    endpoint, log = moto_server
    cert = _client(endpoint, "acm").request_certificate(DomainName="gas.example.org")
    made, outputs = _create_stack(
        endpoint,
        "motohttps",
        {**network, "CertificateArn": cert["CertificateArn"], "DomainName": "gas.example.org"},
    )
    assert {
        "WebLoadBalancer",
        "WebTargetGroup",
        "WebHttpsListener",
        "WebHttpRedirectListener",
        "WebLaunchTemplate",
        "WebFleet",
        "WebServerSecurityGroup",
        "WebLoadBalancerSecurityGroup",
        "WebServerIngressFromBalancer",
        "WorkerFleet",
        "UsersTable",
        "OperationsKey",
        "WebLogGroup",
        "OperationsDashboard",
    } <= made.keys()
    assert outputs["WebUrl"] == "https://gas.example.org"
    assert outputs["WebProtocol"].startswith("HTTPS")
    skipped_log = log.read_text()
    assert "No Moto CloudFormation support for AWS::SecretsManager::Secret" in skipped_log

    elbv2 = _client(endpoint, "elbv2")
    balancer = made["WebLoadBalancer"]["PhysicalResourceId"]
    listeners = {
        listener["Port"]: listener
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer)["Listeners"]
    }
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["DefaultActions"][0]["Type"] == "forward"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    (group,) = elbv2.describe_target_groups(LoadBalancerArn=balancer)["TargetGroups"]
    assert (group["HealthCheckPath"], group["Port"]) == ("/healthz", 8080)

    (fleet,) = _client(endpoint, "autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["motohttps-web"]
    )["AutoScalingGroups"]
    assert fleet["TargetGroupARNs"] == [group["TargetGroupArn"]]
    assert fleet["HealthCheckType"] == "ELB"
    assert len(fleet["Instances"]) == 2
    # Both subnets (zones) are the group's; moto itself places every instance in the first.
    assert sorted(fleet["VPCZoneIdentifier"].split(",")) == sorted(network["SubnetIds"].split(","))

    # Only the balancer's group reaches the dashboard servers, and only on their port.
    ec2 = _client(endpoint, "ec2")
    servers = made["WebServerSecurityGroup"]["PhysicalResourceId"]
    (server_group,) = ec2.describe_security_groups(GroupIds=[servers])["SecurityGroups"]
    assert [
        (p["FromPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]], p.get("IpRanges"))
        for p in server_group["IpPermissions"]
    ] == [(8080, [made["WebLoadBalancerSecurityGroup"]["PhysicalResourceId"]], [])]

    data = ec2.describe_launch_template_versions(LaunchTemplateName="motohttps-web")[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    script = base64.b64decode(data["UserData"]).decode()
    assert "GAS_BASE_URL=https://gas.example.org" in script
    assert "python -m webapp --behind-load-balancer" in script
    assert "ExecStart=/opt/gas/venv/bin/gas reconcile" in script
    assert '"log_group_name": "/gas/motohttps/web"' in script
    # moto made no secret, so it left the reference as written; AWS puts the secret's ARN here.
    assert "GAS_SECRET_KEY_ARN=${WebSessionSecret}" in script


def test_plain_http_without_a_certificate(moto_server, network) -> None:
    endpoint, _ = moto_server
    made, outputs = _create_stack(endpoint, "motohttp", network)
    assert "WebHttpListener" in made
    assert not {"WebHttpsListener", "WebHttpRedirectListener"} & made.keys()
    dns = outputs["WebLoadBalancerDnsName"]
    assert outputs["WebUrl"] == f"http://{dns}"
    assert outputs["WebProtocol"].startswith("Plain HTTP only")
    (listener,) = _client(endpoint, "elbv2").describe_listeners(
        LoadBalancerArn=made["WebLoadBalancer"]["PhysicalResourceId"]
    )["Listeners"]
    assert (listener["Port"], listener["DefaultActions"][0]["Type"]) == (80, "forward")


def test_gas_deploy_sends_the_large_template_by_url_and_is_idempotent(moto_server, network):
    """The AWS template is over CloudFormation's 51,200-byte body limit: gas deploy puts it in
    S3 and passes TemplateURL; a second deploy with nothing to change changes nothing."""
    endpoint, _ = moto_server
    settings = Settings(
        cloud="aws",
        endpoint_url=endpoint,
        dynamodb_endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        prefix="motodeploy",
        secret_key="unit-test-key",
    )
    assert (
        len(json.dumps(deploy.render_template(), separators=(",", ":"))) > deploy.MAX_TEMPLATE_BODY
    )
    first = deploy.deploy(settings, parameters=network)
    assert first.changed and "Add WebFleet" in first.changes
    listed = _client(endpoint, "s3").list_objects_v2(Bucket="motodeploy-deploy-123456789012")
    assert listed["KeyCount"] == 1
    second = deploy.deploy(settings)
    assert (second.changed, second.changes) == (False, [])
