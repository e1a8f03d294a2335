import copy
import json

import pytest

from workflows import definitions

JOB_SUBS = [
    "AnnotateActivityArn",
    "NotifyActivityArn",
    "ArchiveActivityArn",
    "RecordFailureActivityArn",
    "ThawStateMachineArn",
]
THAW_SUBS = ["RestoreRequestsQueueUrl", "RestoreActivityArn", "NotifyActivityArn"]


@pytest.mark.parametrize(("name", "subs"), [("annotation-job", JOB_SUBS), ("thaw", THAW_SUBS)])
def test_shipped_definitions_are_valid(name: str, subs: list[str]) -> None:
    definitions.validate(name, subs)


def _check(machine: dict, subs=JOB_SUBS) -> list[str]:
    with pytest.raises(definitions.DefinitionError) as refused:
        definitions.validate_text("test", json.dumps(machine), subs)
    return refused.value.problems


@pytest.fixture
def job() -> dict:
    return copy.deepcopy(definitions.load("annotation-job"))


def test_dangling_next(job: dict) -> None:
    job["States"]["NotifyResults"]["Next"] = "Nowhere"
    assert any("Nowhere" in p for p in _check(job))


def test_dangling_catch_target(job: dict) -> None:
    job["States"]["Annotate"]["Catch"][0]["Next"] = "Nowhere"
    assert any("Nowhere" in p for p in _check(job))


def test_unreachable_state(job: dict) -> None:
    job["States"]["Orphan"] = {"Type": "Succeed"}
    assert any("Orphan: unreachable" in p for p in _check(job))


def test_a_loop_with_no_way_out(job: dict) -> None:
    job["States"]["WaitOutRetention"]["Next"] = "Spin"
    job["States"]["Spin"] = {"Type": "Pass", "Next": "WaitOutRetention"}
    problems = _check(job)
    assert any("no path from here ends" in p for p in problems)
    assert any("ArchiveResults: unreachable" in p for p in problems)


def test_missing_substitution(job: dict) -> None:
    assert any("ArchiveActivityArn" in p for p in _check(job, JOB_SUBS[:2]))


def test_schema_catches_a_state_without_next_or_end(job: dict) -> None:
    del job["States"]["NotifyResults"]["Next"]
    assert any(p.startswith("schema:") for p in _check(job))


def test_schema_catches_unknown_fields(job: dict) -> None:
    job["States"]["Annotate"]["HeartBeatSeconds"] = 5  # wrong case: AWS would refuse it
    assert any(p.startswith("schema:") for p in _check(job))


def test_map_branches_are_checked_too() -> None:
    thaw = copy.deepcopy(definitions.load("thaw"))
    states = thaw["States"]["ThawEachArchivedJob"]["ItemProcessor"]["States"]
    states["RestoreResults"]["Catch"][0]["Next"] = "Gone"
    assert any("Gone" in p for p in _check(thaw, THAW_SUBS))


def test_render_substitutes_everything() -> None:
    text = definitions.load_text("annotation-job")
    rendered = definitions.render(text, {name: f"arn:{name}" for name in JOB_SUBS})
    assert "${" not in rendered
    assert json.loads(rendered)["States"]["Annotate"]["Resource"] == "arn:AnnotateActivityArn"
