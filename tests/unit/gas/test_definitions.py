import copy
import json
import re

import pytest

from gas import definitions

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


# ---- where a job goes: the Choice states walked for the inputs the workflow gets -----------


def _value(data: dict, path: str) -> object:
    here: object = data
    for part in path.removeprefix("$.").split("."):
        if not isinstance(here, dict) or part not in here:
            return _ABSENT
        here = here[part]
    return here


_ABSENT = object()


def _holds(rule: dict, data: dict) -> bool:
    """The Choice comparisons the job definition uses, as Step Functions evaluates them."""
    if "And" in rule:
        return all(_holds(r, data) for r in rule["And"])
    value = _value(data, rule["Variable"])
    if "IsPresent" in rule:
        return (value is not _ABSENT) == rule["IsPresent"]
    if "IsString" in rule:
        return isinstance(value, str) == rule["IsString"]
    if "StringEquals" in rule:
        return value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return value is rule["BooleanEquals"]
    raise AssertionError(f"a comparison this walk does not know: {rule}")


def _walk(data: dict, start: str | None = None, stop: str = "ArchiveResults") -> list[str]:
    """The states a job passes from ``start`` to ``stop`` when every task succeeds."""
    machine = definitions.load("annotation-job")
    states, name, seen = machine["States"], start or machine["StartAt"], []
    while True:
        seen.append(name)
        state = states[name]
        if name == stop or state["Type"] in ("Succeed", "Fail"):
            return seen
        if state["Type"] == "Choice":
            name = next((c["Next"] for c in state["Choices"] if _holds(c, data)), state["Default"])
        else:
            name = state["Next"]


def _annotated(tier: str, warning_at: str | None) -> dict:
    return {
        "resume_from": "annotation",
        "annotation": {
            "tier": tier,
            "archive_at": "2026-11-28T10:00:00Z",
            "archive_warning_at": warning_at,
        },
    }


def test_a_free_job_is_warned_between_two_waits_then_archived() -> None:
    path = _walk(_annotated("free", "2026-11-28T09:59:00Z"))
    assert path[path.index("CheckTier") :] == [
        "CheckTier",
        "WaitForArchiveWarning",
        "WarnBeforeArchive",
        "WaitOutRetention",
        "ArchiveResults",
    ]


def test_no_warning_time_no_warning_and_premium_is_never_warned() -> None:
    path = _walk(_annotated("free", None))
    assert path[path.index("CheckTier") :] == ["CheckTier", "WaitOutRetention", "ArchiveResults"]
    premium = _walk(_annotated("premium", None))
    assert premium[-1] == "KeepResultsOnline" and "WarnBeforeArchive" not in premium


def test_a_resumed_job_is_warned_only_if_its_input_still_has_a_warning_time() -> None:
    resumed = _annotated("free", "2026-11-28T09:59:00Z") | {"resume_from": "retention"}
    assert _walk(resumed) == [
        "ChooseStartingPoint",
        "WaitForArchiveWarning",
        "WarnBeforeArchive",
        "WaitOutRetention",
        "ArchiveResults",
    ]
    warned = _annotated("free", None) | {"resume_from": "retention"}
    assert _walk(warned) == ["ChooseStartingPoint", "WaitOutRetention", "ArchiveResults"]
    older = {"resume_from": "retention", "annotation": {"tier": "free", "archive_at": "x"}}
    assert _walk(older) == ["ChooseStartingPoint", "WaitOutRetention", "ArchiveResults"]


def test_both_waits_read_their_times_from_the_annotation() -> None:
    states = definitions.load("annotation-job")["States"]
    assert states["WaitForArchiveWarning"]["TimestampPath"] == "$.annotation.archive_warning_at"
    assert states["WaitOutRetention"]["TimestampPath"] == "$.annotation.archive_at"
    annotate = states["Annotate"]["Parameters"]
    assert annotate["archive_warning_seconds.$"] == "$.archive_warning_seconds"


def test_the_archive_warning_never_stops_the_archive() -> None:
    warn = definitions.load("annotation-job")["States"]["WarnBeforeArchive"]
    assert warn["Resource"] == "${NotifyActivityArn}"
    assert warn["Parameters"]["event"] == "archive-soon"
    assert warn["Next"] == "WaitOutRetention"
    (catch,) = warn["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "WaitOutRetention"
    assert warn["ResultPath"] != "$"  # the job's input (its waits) goes on unchanged


def test_a_failed_job_is_recorded_then_e_mailed_and_ends_failed_whatever_the_e_mail_does() -> None:
    states = definitions.load("annotation-job")["States"]
    assert states["RecordFailure"]["Next"] == "NotifyFailure"
    notify = states["NotifyFailure"]
    assert notify["Resource"] == "${NotifyActivityArn}"
    assert notify["Parameters"]["event"] == "job-failed"
    assert notify["Next"] == "JobFailed"
    (catch,) = notify["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "JobFailed"
    assert states["JobFailed"]["Type"] == "Fail"


def test_every_notify_event_in_the_definitions_is_one_the_activity_accepts() -> None:
    from gas import schemas

    accepted = set(schemas.load("notify.input.schema.json")["properties"]["event"]["enum"])
    used = set()
    for name in definitions.WORKFLOWS:
        text = definitions.load_text(name)
        used |= set(re.findall(r'"event": "([a-z-]+)"', text))
    assert used == accepted


@pytest.mark.parametrize("name", ["annotation-job", "thaw"])
def test_an_email_never_changes_where_a_workflow_goes(name: str) -> None:
    # Every notify task, after its retries, goes on where it would have gone had the mail been
    # sent: a mail problem neither fails a finished thaw nor hides a failed job.
    def tasks(states: dict):
        for state_name, state in states.items():
            yield state_name, state
            for branch in state.get("Branches", []):
                yield from tasks(branch["States"])
            if "ItemProcessor" in state:
                yield from tasks(state["ItemProcessor"]["States"])

    machine = definitions.load(name)
    notify = [
        (n, s) for n, s in tasks(machine["States"]) if "NotifyActivityArn" in s.get("Resource", "")
    ]
    assert notify
    for state_name, state in notify:
        assert "Catch" in state, f"{state_name} has no Catch"
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], state_name
        assert catch["Next"] == state.get("Next"), state_name
