"""The resources as code against the real local cloud."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from gas import aws, definitions, models
from gas.settings import REPO_ROOT, Settings
from infra import deploy


def test_second_deploy_changes_nothing(settings: Settings) -> None:
    again = deploy.deploy(settings)
    assert again.changed is False
    assert again.changes == []
    assert again.tables_created == []


def test_every_resource_the_code_uses_exists(settings: Settings) -> None:
    names = aws.resources(settings)
    sfn = aws.client(settings, "stepfunctions")
    activities = {a["name"] for a in sfn.list_activities()["activities"]}
    for activity in ("annotate", "notify", "archive", "record-failure", "restore"):
        assert names.activity_name(activity) in activities
    machines = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert {names.job_state_machine_name, names.thaw_state_machine_name} <= machines
    s3 = aws.client(settings, "s3")
    s3.head_bucket(Bucket=names.inputs_bucket)
    notification = s3.get_bucket_notification_configuration(Bucket=names.results_bucket)
    (queue_config,) = notification["QueueConfigurations"]
    assert queue_config["Events"] == ["s3:ObjectRestore:Completed"]
    assert queue_config["QueueArn"].endswith(names.restore_events_queue)
    sqs = aws.client(settings, "sqs")
    url = sqs.get_queue_url(QueueName=names.restore_events_queue)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(
        names.restore_events_dlq
    )


def test_changed_definition_updates_the_state_machine_in_place(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = aws.resources(settings)
    arn = names.state_machine_arn(names.job_state_machine_name)
    sfn = aws.client(settings, "stepfunctions")
    original = definitions.load_text("annotation-job")
    changed = original.replace('"HeartbeatSeconds": 60', '"HeartbeatSeconds": 61', 1)
    assert changed != original
    # Only the job definition changes; the thaw keeps its own text.
    monkeypatch.setattr(
        definitions,
        "load_text",
        lambda name, _real=definitions.path_of: (
            changed if name == "annotation-job" else _real(name).read_text()
        ),
    )
    result = deploy.deploy(settings)
    assert result.changed
    assert any("AnnotationJobStateMachine" in c for c in result.changes)
    assert '"HeartbeatSeconds": 61' in sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    monkeypatch.undo()
    restored = deploy.deploy(settings)
    assert restored.changed
    assert '"HeartbeatSeconds": 60' in sfn.describe_state_machine(stateMachineArn=arn)["definition"]


def test_dangling_next_is_refused_before_anything_is_deployed(local_cloud, tmp_path) -> None:
    bad = json.loads(definitions.load_text("annotation-job"))
    bad["States"]["NotifyResults"]["Next"] = "NoSuchState"
    prefix = "tdangling"
    env_settings = local_cloud.settings.with_prefix(prefix)
    definition_dir = tmp_path / "definitions"
    (definition_dir / "schemas").mkdir(parents=True)
    for source in (REPO_ROOT / "definitions").rglob("*.json"):
        target = definition_dir / source.relative_to(REPO_ROOT / "definitions")
        target.write_text(source.read_text())
    (definition_dir / "annotation-job.asl.json").write_text(json.dumps(bad))
    code = (
        "import sys; from gas import definitions as d; from pathlib import Path;"
        f"d.DEFINITIONS_DIR = Path({str(definition_dir)!r}); from cli.main import main;"
        "sys.argv = ['gas', 'deploy']; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env_settings.subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "NoSuchState" in proc.stderr
    assert "nothing was deployed" in proc.stderr
    cfn = aws.client(env_settings, "cloudformation")
    stacks = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]]
    assert env_settings.stack_name not in stacks
    models.bind(env_settings)
    assert not models.Job.exists()


def test_template_tables_match_the_models(settings: Settings) -> None:
    """The models' tables on DynamoDB Local and the template's agree on keys and indexes."""
    template = yaml.safe_load(deploy.TEMPLATE.read_text())
    models.bind(settings)  # the dangling-Next test binds the models to its own prefix
    client = aws.client(settings, "dynamodb")
    for logical, model in (
        ("UsersTable", models.User),
        ("JobsTable", models.Job),
        ("TokensTable", models.AccessToken),
    ):
        declared = template["Resources"][logical]["Properties"]
        live = client.describe_table(TableName=model.Meta.table_name)["Table"]
        assert _keys(declared["KeySchema"]) == _keys(live["KeySchema"])
        assert _attrs(declared["AttributeDefinitions"]) == _attrs(live["AttributeDefinitions"])
        declared_indexes = {
            i["IndexName"]: _keys(i["KeySchema"]) for i in declared["GlobalSecondaryIndexes"]
        }
        live_indexes = {
            i["IndexName"]: _keys(i["KeySchema"]) for i in live["GlobalSecondaryIndexes"]
        }
        assert declared_indexes == live_indexes


def _keys(schema: list[dict]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema]


def _attrs(defs: list[dict]) -> set[tuple[str, str]]:
    return {(a["AttributeName"], a["AttributeType"]) for a in defs}
