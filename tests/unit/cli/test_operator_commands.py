"""Operator commands without a cloud: deploy's parameters, destroy's question, the local cloud's
status and logs, the fleet's choices and the metrics' datapoints."""

from __future__ import annotations

import json

from cli import metrics_commands


def test_deploy_refuses_a_parameter_that_is_not_key_value(run) -> None:
    result = run("deploy", "-p", "SubnetIds")
    assert result.exit_code == 2
    assert "'SubnetIds' is not KEY=VALUE" in result.output


def test_destroy_asks_first_and_does_nothing_when_told_no(run) -> None:
    result = run("destroy", input="n\n")
    assert result.exit_code == 1
    assert "delete clitest" in result.output and "Aborted" in result.output


def test_local_status_says_down_and_exits_1_when_nothing_runs(run) -> None:
    result = run("local", "status", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert set(report) == {"localstack", "dynamodb-local", "data"}
    emulators = [report["localstack"], report["dynamodb-local"]]
    assert all(not entry["running"] and entry["pid"] is None for entry in emulators)
    assert report["localstack"]["endpoint"] == "http://127.0.0.1:9"
    words = run("local", "status")
    assert words.exit_code == 1
    assert words.output.splitlines()[0].split()[:2] == ["localstack", "down"]


def test_local_logs_without_logs_say_so(run) -> None:
    result = run("local", "logs", "dynamodb-local")
    assert result.exit_code == 0
    assert "dynamodb-local.log" in result.output and "(no log yet)" in result.output
    assert "localstack.log" not in result.output
    assert run("local", "logs", "elsewhere").exit_code == 2


def test_fleet_serves_only_scalable_activities(run) -> None:
    result = run("fleet", "--activity", "notify")
    assert result.exit_code == 2 and "'notify' is not one of" in result.output


def test_metric_data_is_one_datapoint_per_metric_and_activity() -> None:
    data = metrics_commands.metric_data("lab", {"annotate": 3, "archive": 0}, {"annotate": 1})
    points = {
        (d["MetricName"], {x["Name"]: x["Value"] for x in d["Dimensions"]}["Activity"]): d["Value"]
        for d in data
    }
    assert points == {
        ("ActivityBacklog", "annotate"): 3.0,
        ("ActivityBacklog", "archive"): 0.0,
        ("ActivityInProgress", "annotate"): 1.0,
    }
    assert all({"Name": "Prefix", "Value": "lab"} in d["Dimensions"] for d in data)
    assert {d["Unit"] for d in data} == {"Count"} and len({d["Timestamp"] for d in data}) == 1
