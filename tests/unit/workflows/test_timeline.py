"""The timeline and graph colours, from execution histories shaped like Step Functions' own."""

from datetime import UTC, datetime, timedelta

from gas import definitions
from workflows.jobs import state_colours, timeline

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(second: float, kind: str, **details) -> dict:
    event = {"timestamp": T0 + timedelta(seconds=second), "type": kind}
    event.update(details)
    return event


def entered(second: float, kind: str, name: str) -> dict:
    return ev(second, f"{kind}StateEntered", stateEnteredEventDetails={"name": name})


def exited(second: float, kind: str, name: str) -> dict:
    return ev(second, f"{kind}StateExited", stateExitedEventDetails={"name": name})


def test_a_retried_annotation_then_waiting_for_retention() -> None:
    events = [
        ev(0, "ExecutionStarted"),
        entered(0, "Task", "Annotate"),
        ev(0.1, "ActivityScheduled"),
        ev(0.2, "ActivityStarted"),
        ev(
            20.2,
            "ActivityTimedOut",
            activityTimedOutEventDetails={"error": "States.HeartbeatTimeout"},
        ),
        ev(21.2, "ActivityScheduled"),
        ev(21.3, "ActivityStarted"),
        ev(24, "ActivitySucceeded"),
        exited(24, "Task", "Annotate"),
        entered(24, "Task", "NotifyResults"),
        ev(24.1, "ActivityScheduled"),
        ev(25, "ActivitySucceeded"),
        exited(25, "Task", "NotifyResults"),
        entered(25, "Choice", "CheckTier"),
        exited(25, "Choice", "CheckTier"),
        entered(25, "Wait", "WaitOutRetention"),
    ]
    steps = timeline(events, "RUNNING")
    assert [s["state"] for s in steps] == [
        "Annotate",
        "NotifyResults",
        "CheckTier",
        "WaitOutRetention",
    ]
    annotate = steps[0]
    assert annotate["attempts"] == 2
    assert annotate["status"] == "retried"
    assert annotate["error"] == "States.HeartbeatTimeout"
    assert annotate["duration_seconds"] == 24
    assert steps[3]["status"] == "waiting"
    assert steps[3]["ended_at"] is None
    colours = state_colours(definitions.load("annotation-job"), steps)
    assert colours["Annotate"] == "retried"
    assert colours["NotifyResults"] == "succeeded"
    assert colours["WaitOutRetention"] == "waiting"
    assert colours["ArchiveResults"] == "not_reached"


def test_a_caught_failure_is_coloured_failed() -> None:
    events = [
        entered(0, "Task", "Annotate"),
        ev(0.1, "ActivityScheduled"),
        ev(
            1,
            "ActivityFailed",
            activityFailedEventDetails={"error": "MalformedVcf", "cause": "Line 3: bad"},
        ),
        exited(1, "Task", "Annotate"),
        entered(1, "Task", "RecordFailure"),
        ev(1.1, "ActivityScheduled"),
        ev(2, "ActivitySucceeded"),
        exited(2, "Task", "RecordFailure"),
        entered(2, "Fail", "JobFailed"),
        ev(2, "ExecutionFailed", executionFailedEventDetails={"error": "AnnotationFailed"}),
    ]
    steps = timeline(events, "FAILED")
    assert steps[0]["status"] == "failed"
    assert steps[0]["cause"] == "Line 3: bad"
    assert steps[1]["status"] == "succeeded"
    assert steps[2]["status"] == "failed"
    colours = state_colours(definitions.load("annotation-job"), steps)
    assert colours["Annotate"] == "failed"
    assert colours["NotifyResults"] == "not_reached"


def test_a_running_task_is_running() -> None:
    steps = timeline([entered(0, "Task", "Annotate"), ev(0.1, "ActivityScheduled")], "RUNNING")
    assert steps[0]["status"] == "running"
