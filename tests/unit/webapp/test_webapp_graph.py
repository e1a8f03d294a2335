"""Laying out ASL definitions as the job page's graph."""

from __future__ import annotations

from gas import definitions
from webapp import graph


def test_every_state_of_the_job_workflow_is_drawn_once_and_coloured() -> None:
    definition = definitions.load("annotation-job")
    drawn = graph.layout(definition, {"Annotate": "succeeded", "WaitOutRetention": "waiting"})
    names = [node.name for node in drawn.nodes]
    assert sorted(names) == sorted(definition["States"])
    by_name = {node.name: node for node in drawn.nodes}
    assert by_name["Annotate"].status == "succeeded"
    assert by_name["WaitOutRetention"].words == "waiting"
    assert by_name["ArchiveResults"].status == "not_reached"


def test_states_flow_downwards_and_nodes_do_not_overlap() -> None:
    definition = definitions.load("annotation-job")
    drawn = graph.layout(definition)
    by_name = {node.name: node for node in drawn.nodes}
    assert by_name["Annotate"].y < by_name["NotifyResults"].y < by_name["CheckTier"].y
    assert by_name["CheckTier"].y < by_name["WaitOutRetention"].y < by_name["ArchiveResults"].y
    boxes = [(n.x, n.y) for n in drawn.nodes]
    assert len(set(boxes)) == len(boxes)
    for node in drawn.nodes:
        assert node.x >= 0 and node.x + node.w <= drawn.width
        assert node.y >= 0 and node.y + node.h <= drawn.height


def test_edges_carry_their_kind_and_choice_labels() -> None:
    definition = definitions.load("annotation-job")
    edges = {(e.source, e.target): e for e in graph.layout(definition).edges}
    assert edges[("Annotate", "RecordFailure")].kind == "catch"
    assert edges[("CheckTier", "KeepResultsOnline")].label == "premium"
    assert edges[("CheckTier", "WaitOutRetention")].kind == "default"
    assert all(e.path.startswith("M") for e in edges.values())


def test_a_loop_back_does_not_break_the_layering() -> None:
    machine = {
        "StartAt": "Poll",
        "States": {
            "Poll": {"Type": "Task", "Resource": "x", "Next": "Ready?"},
            "Ready?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ready", "BooleanEquals": True, "Next": "Done"}],
                "Default": "Poll",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    drawn = graph.layout(machine)
    by_name = {node.name: node for node in drawn.nodes}
    assert by_name["Poll"].y < by_name["Ready?"].y < by_name["Done"].y
    back = next(e for e in drawn.edges if e.target == "Poll")
    assert " C" in back.path


def test_the_thaw_workflow_lays_out_too() -> None:
    drawn = graph.layout(definitions.load("thaw"))
    assert {n.name for n in drawn.nodes} == set(definitions.load("thaw")["States"])
